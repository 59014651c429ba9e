//! Subscription filters: `types` and `key`.

mod common;
use common::*;

use eventstream::pb;

fn typed(event_type: &str, key: &str, payload: &str) -> pb::EventData {
    pb::EventData {
        key: key.to_string(),
        ..event(event_type, payload)
    }
}

fn filtered(topic: &str, types: &[&str], key: &str, stop_at_end: bool) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        types: types.iter().map(|t| t.to_string()).collect(),
        key: key.to_string(),
        stop_at_end,
        ..from_offset(topic, 0)
    }
}

/// Ten events: types cycle A, B, C; keys cycle k0, k1.
async fn publish_mixed(client: &mut Client, topic: &str) {
    let events = (0..10)
        .map(|i| {
            typed(
                ["A", "B", "C"][i % 3],
                &format!("k{}", i % 2),
                &i.to_string(),
            )
        })
        .collect();
    publish(client, topic, events).await;
}

async fn read_filtered(
    client: &mut Client,
    request: pb::SubscribeRequest,
) -> (Vec<pb::Event>, Vec<pb::SubscribeResponse>) {
    let mut stream = subscribe(client, request).await;
    let responses = read_to_end(&mut stream).await;
    let events = responses.iter().flat_map(|r| r.events.clone()).collect();
    (events, responses)
}

#[tokio::test]
async fn types_filter_delivers_only_events_of_those_types() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_mixed(&mut client, "orders").await;

    let (events, responses) =
        read_filtered(&mut client, filtered("orders", &["A", "C"], "", true)).await;
    assert_eq!(offsets_of(&events), vec![0, 2, 3, 5, 6, 8, 9]);
    assert!(events.iter().all(|e| e.r#type == "A" || e.r#type == "C"));
    assert_eq!(responses.last().unwrap().next_offset, 10);
}

#[tokio::test]
async fn key_filter_delivers_only_events_with_that_key() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_mixed(&mut client, "orders").await;
    publish(&mut client, "orders", vec![event("A", "no key")]).await;

    let (events, responses) = read_filtered(&mut client, filtered("orders", &[], "k1", true)).await;
    assert_eq!(offsets_of(&events), vec![1, 3, 5, 7, 9]);
    assert!(events.iter().all(|e| e.key == "k1"));
    assert_eq!(responses.last().unwrap().next_offset, 11);
}

#[tokio::test]
async fn types_and_key_filters_both_apply() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_mixed(&mut client, "orders").await;

    let (events, _) = read_filtered(&mut client, filtered("orders", &["A"], "k0", true)).await;
    assert_eq!(offsets_of(&events), vec![0, 6]);
}

#[tokio::test]
async fn filtered_live_stream_delivers_only_matching_new_events() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", None).await;

    let mut stream = subscribe(&mut client, filtered("orders", &["B"], "", false)).await;
    let first = next_response(&mut stream).await;
    assert_eq!((first.events.len(), first.caught_up), (0, true));
    publish_mixed(&mut client, "orders").await;
    let (events, _) = collect_events(&mut stream, 3).await;
    assert_eq!(offsets_of(&events), vec![1, 4, 7]);
}

#[tokio::test]
async fn next_offset_advances_past_skipped_events() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(
        &mut client,
        "orders",
        vec![event("A", "0"), event("B", "1"), event("B", "2")],
    )
    .await;

    // The response that catches up reaches the end of the log, skipped events included.
    let mut stream = subscribe(&mut client, filtered("orders", &["A"], "", false)).await;
    let mut events = Vec::new();
    let caught_up = loop {
        let response = next_response(&mut stream).await;
        events.extend(response.events.clone());
        if response.caught_up {
            break response;
        }
    };
    assert_eq!(offsets_of(&events), vec![0]);
    assert_eq!(caught_up.next_offset, 3);

    // Resuming from it goes on after the skipped events.
    drop(stream);
    let mut resumed = subscribe(
        &mut client,
        pb::SubscribeRequest {
            types: vec!["A".into()],
            ..from_offset("orders", caught_up.next_offset)
        },
    )
    .await;
    publish(
        &mut client,
        "orders",
        vec![event("B", "3"), event("A", "4")],
    )
    .await;
    let (events, last) = collect_events(&mut resumed, 1).await;
    assert_eq!(offsets_of(&events), vec![4]);
    assert_eq!(last.next_offset, 5);
}

#[tokio::test]
async fn stop_at_end_with_filtered_out_tail_ends_at_the_end() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(
        &mut client,
        "orders",
        vec![event("A", "0"), event("B", "1"), event("B", "2")],
    )
    .await;
    publish(&mut client, "orders", vec![event("B", "3")]).await;

    let (events, responses) =
        read_filtered(&mut client, filtered("orders", &["A"], "", true)).await;
    assert_eq!(offsets_of(&events), vec![0]);
    let last = responses.last().expect("a response");
    assert_eq!((last.next_offset, last.caught_up), (4, true));
}

#[tokio::test]
async fn stop_at_end_with_nothing_matching_ends_at_the_end_without_events() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_mixed(&mut client, "orders").await;

    let (events, responses) =
        read_filtered(&mut client, filtered("orders", &["Z"], "", true)).await;
    assert_eq!(events, vec![]);
    let last = responses.last().expect("a response");
    assert_eq!((last.next_offset, last.caught_up), (10, true));

    let (events, responses) =
        read_filtered(&mut client, filtered("orders", &[], "nobody", true)).await;
    assert_eq!(events, vec![]);
    assert_eq!(responses.last().expect("a response").next_offset, 10);
}

#[tokio::test]
async fn live_stream_reports_the_position_of_skipped_events() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", None).await;

    let mut stream = subscribe(&mut client, filtered("orders", &["Keep"], "", false)).await;
    let first = next_response(&mut stream).await;
    assert_eq!((first.next_offset, first.caught_up), (0, true));
    publish(
        &mut client,
        "orders",
        vec![event("Skip", "0"), event("Skip", "1")],
    )
    .await;

    // No event passes the filter, yet the stream soon says it has looked past both.
    let progress = next_response(&mut stream).await;
    assert!(progress.events.is_empty());
    assert_eq!((progress.next_offset, progress.caught_up), (2, true));
}
