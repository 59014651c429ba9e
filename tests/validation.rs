//! Bad input is refused with the documented status, appends nothing, and leaves the server
//! serving.

mod common;
use common::*;

use eventstream::pb;
use tonic::Code;

const MAX_EVENT_BYTES: usize = 1024;

async fn start() -> (TestServer, Client) {
    let server = TestServer::start_with(|config| config.max_event_bytes = MAX_EVENT_BYTES).await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("Seed", "s")]).await;
    (server, client)
}

/// Asserts the bad request appended nothing and a good publish still gets the next offset.
async fn assert_still_serving(client: &mut Client) {
    assert_eq!(get_topic(client, "orders").await.next_offset, 1);
    let results = publish(client, "orders", vec![event("Good", "g")]).await;
    assert_eq!((results[0].offset, results[0].duplicate), (1, false));
    assert_eq!(offsets_of(&read_all(client, "orders").await), vec![0, 1]);
}

fn with_key(key: String) -> pb::EventData {
    pb::EventData {
        idempotency_key: key,
        ..event("A", "x")
    }
}

#[tokio::test]
async fn empty_type_is_invalid_argument() {
    let (_server, mut client) = start().await;
    let result = try_publish(&mut client, "orders", vec![event("", "x")]).await;
    expect_code(result, Code::InvalidArgument);
    assert_still_serving(&mut client).await;
}

#[tokio::test]
async fn one_invalid_event_rejects_the_whole_request() {
    let (_server, mut client) = start().await;
    let result = try_publish(
        &mut client,
        "orders",
        vec![event("A", "1"), event("B", "2"), event("", "3")],
    )
    .await;
    expect_code(result, Code::InvalidArgument);
    assert_still_serving(&mut client).await;
}

#[tokio::test]
async fn publish_without_events_is_invalid_argument() {
    let (_server, mut client) = start().await;
    let result = try_publish(&mut client, "orders", vec![]).await;
    expect_code(result, Code::InvalidArgument);
    assert_still_serving(&mut client).await;
}

#[tokio::test]
async fn idempotency_key_of_257_bytes_is_invalid_argument() {
    let (_server, mut client) = start().await;
    let ascii = "k".repeat(257);
    // 129 characters, 257 bytes: the limit counts bytes.
    let multibyte = format!("{}k", "é".repeat(128));
    assert_eq!(multibyte.len(), 257);
    for key in [ascii, multibyte] {
        let result = try_publish(&mut client, "orders", vec![with_key(key)]).await;
        expect_code(result, Code::InvalidArgument);
    }
    assert_still_serving(&mut client).await;
}

#[tokio::test]
async fn idempotency_key_of_256_bytes_is_accepted() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let multibyte = "é".repeat(128);
    assert_eq!(multibyte.len(), 256);
    for (i, key) in ["k".repeat(256), multibyte].into_iter().enumerate() {
        let results = publish(&mut client, "orders", vec![with_key(key.clone())]).await;
        assert_eq!((results[0].offset, results[0].duplicate), (i as u64, false));
        let again = publish(&mut client, "orders", vec![with_key(key.clone())]).await;
        assert_eq!((again[0].offset, again[0].duplicate), (i as u64, true));
    }
    let events = read_all(&mut client, "orders").await;
    assert_eq!(events[0].idempotency_key, "k".repeat(256));
    assert_eq!(events[1].idempotency_key, "é".repeat(128));
}

#[tokio::test]
async fn payload_over_max_event_bytes_is_invalid_argument() {
    let (_server, mut client) = start().await;
    let result = try_publish(
        &mut client,
        "orders",
        vec![event("A", "ok"), event("A", vec![0; MAX_EVENT_BYTES + 1])],
    )
    .await;
    expect_code(result, Code::InvalidArgument);
    assert_still_serving(&mut client).await;
}

#[tokio::test]
async fn payload_of_max_event_bytes_is_accepted() {
    let (_server, mut client) = start().await;
    let payload = vec![7; MAX_EVENT_BYTES];
    let results = publish(&mut client, "orders", vec![event("A", payload.clone())]).await;
    assert_eq!(results[0].offset, 1);
    let events = read_all(&mut client, "orders").await;
    assert_eq!(&events[1].payload[..], &payload[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_over_the_request_size_limit_is_refused() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("Seed", "s")]).await;
    // 20 events of 1 MiB each: every event within the event limit, the request over 16 MiB.
    let events = vec![event("Big", vec![1; 1024 * 1024]); 20];

    let result = try_publish(&mut client, "orders", events).await;

    let status = result.expect_err("a 20 MiB request was accepted");
    assert_ne!(status.code(), Code::Ok);
    let mut client = server.client().await;
    assert_still_serving(&mut client).await;
}

#[tokio::test]
async fn unknown_start_position_is_invalid_argument() {
    let (_server, mut client) = start().await;
    let request = pb::SubscribeRequest {
        topic: "orders".into(),
        start: Some(pb::subscribe_request::Start::Position(99)),
        ..Default::default()
    };
    let status = subscribe_error(&mut client, request).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_still_serving(&mut client).await;
}

#[tokio::test]
async fn empty_payload_is_accepted_and_delivered() {
    let (_server, mut client) = start().await;
    let results = publish(&mut client, "orders", vec![event("Empty", "")]).await;
    assert_eq!(results[0].offset, 1);
    let events = read_all(&mut client, "orders").await;
    assert_eq!(
        (events[1].r#type.as_str(), events[1].payload.len()),
        ("Empty", 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_under_the_request_size_limit_is_accepted() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // 15 events of 1 MiB each: under the default 16 MiB request limit.
    let events = vec![event("Big", vec![1; 1024 * 1024]); 15];

    let results = publish(&mut client, "orders", events).await;

    assert_eq!(
        results.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (0..15).collect::<Vec<_>>()
    );
    let stored = read_all(&mut client, "orders").await;
    assert_eq!(offsets_of(&stored), (0..15).collect::<Vec<_>>());
    assert!(stored.iter().all(|e| e.payload.len() == 1024 * 1024));
}
