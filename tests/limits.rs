//! Limits, on the real binary: a request over one fails with RESOURCE_EXHAUSTED naming the limit
//! and its flag, nothing else is affected, and a freed subscription slot is usable again; HTTP/2
//! keepalive ends the calls of a peer that stopped answering.

mod common;
use common::*;

use std::net::SocketAddr;
use std::time::Duration;

use eventstream::pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tonic::Code;

/// A live subscription to `topic` from its end.
fn live(topic: &str) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        topic: topic.to_string(),
        start: Some(pb::subscribe_request::Start::Position(
            pb::StartPosition::Latest as i32,
        )),
        ..Default::default()
    }
}

/// Asserts `status` is RESOURCE_EXHAUSTED naming `max` and `flag`.
fn assert_limit(status: &tonic::Status, flag: &str, max: usize) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let message = status.message();
    assert!(
        message.contains(&format!("at most {max} ")) && message.contains(&format!("{flag})")),
        "{message}"
    );
}

/// Subscribes with `request` until the server accepts, while it refuses with
/// RESOURCE_EXHAUSTED: a freed slot is given back when the server notices the stream ended,
/// shortly after the client dropped it.
async fn subscribe_once_freed(
    client: &mut Client,
    request: pb::SubscribeRequest,
) -> tonic::Streaming<pb::SubscribeResponse> {
    within(async {
        loop {
            match client.subscribe(request.clone()).await {
                Ok(response) => return response.into_inner(),
                Err(status) if status.code() == Code::ResourceExhausted => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(status) => panic!("subscribe failed: {status:?}"),
            }
        }
    })
    .await
}

/// Publishes to `topic` and reads the event back from every one of `streams`.
async fn assert_serving(
    client: &mut Client,
    topic: &str,
    streams: &mut [&mut tonic::Streaming<pb::SubscribeResponse>],
) {
    let offset = publish(client, topic, vec![event("Ping", "p")]).await[0].offset;
    for stream in streams {
        let (events, _) = collect_events(stream, 1).await;
        assert_eq!(events.last().map(|event| event.offset), Some(offset));
    }
}

#[tokio::test]
async fn subscriptions_over_the_server_limit_are_refused_until_one_closes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &["--max-subscriptions=2"]).await;
    let mut first_client = server.client().await;
    let mut other_client = server.client().await;
    let mut first = subscribe(&mut first_client, live("t")).await;
    let mut second = subscribe(&mut other_client, live("t")).await;
    next_response(&mut first).await;
    next_response(&mut second).await;

    let status = subscribe_error(&mut server.client().await, live("t")).await;
    assert_limit(&status, "--max-subscriptions", 2);
    assert_serving(&mut other_client, "t", &mut [&mut first, &mut second]).await;

    drop(first);
    let mut third = subscribe_once_freed(&mut server.client().await, live("t")).await;
    next_response(&mut third).await;
    assert_serving(&mut other_client, "t", &mut [&mut second, &mut third]).await;
}

#[tokio::test]
async fn subscriptions_over_the_connection_limit_are_refused_on_that_connection_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &["--max-subscriptions-per-connection=2"]).await;
    let mut busy = server.client().await;
    let mut first = subscribe(&mut busy, live("t")).await;
    let mut second = subscribe(&mut busy, live("t")).await;

    let status = subscribe_error(&mut busy.clone(), live("t")).await;
    assert_limit(&status, "--max-subscriptions-per-connection", 2);
    let mut other = server.client().await;
    let mut elsewhere = subscribe(&mut other, live("t")).await;
    // The busy connection still publishes, and its open streams still deliver.
    assert_serving(
        &mut busy,
        "t",
        &mut [&mut first, &mut second, &mut elsewhere],
    )
    .await;

    drop(first);
    let mut again = subscribe_once_freed(&mut busy, live("t")).await;
    next_response(&mut again).await;
    assert_serving(&mut other, "t", &mut [&mut second, &mut again]).await;
}

#[tokio::test]
async fn topics_over_the_limit_are_refused_whichever_way_they_are_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &["--max-topics=2"]).await;
    let mut client = server.client().await;
    create_topic(&mut client, "created", None).await;
    publish(&mut client, "auto-created", vec![event("E", "1")]).await;

    let refused = within(client.create_topic(pb::CreateTopicRequest {
        name: "third".into(),
        config: None,
    }))
    .await;
    assert_limit(
        &expect_code(refused, Code::ResourceExhausted),
        "--max-topics",
        2,
    );
    let refused = try_publish(&mut client, "third", vec![event("E", "1")]).await;
    assert_limit(
        &expect_code(refused, Code::ResourceExhausted),
        "--max-topics",
        2,
    );
    assert_limit(
        &subscribe_error(&mut client, earliest_to_end("third")).await,
        "--max-topics",
        2,
    );
    expect_code(try_get_topic(&mut client, "third").await, Code::NotFound);
    // Existing topics are untouched.
    publish(&mut client, "created", vec![event("E", "2")]).await;
    assert_eq!(read_all(&mut client, "auto-created").await.len(), 1);

    within(client.delete_topic(pb::DeleteTopicRequest {
        name: "created".into(),
    }))
    .await
    .expect("delete");
    publish(&mut client, "third", vec![event("E", "1")]).await;
}

#[tokio::test]
async fn requests_over_the_size_limit_are_refused_and_the_connection_carries_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &["--max-request-bytes=4096"]).await;
    let mut client = server.client().await;

    let refused = try_publish(&mut client, "t", vec![event("E", vec![b'x'; 8192])]).await;
    let status = expect_code(refused, Code::ResourceExhausted);
    assert!(
        status
            .message()
            .contains("limit of 4096 bytes (--max-request-bytes)"),
        "{status:?}"
    );
    publish(&mut client, "t", vec![event("E", vec![b'x'; 1024])]).await;

    // On a PublishStream, the requests before the oversized one are answered.
    let (requests, outgoing) = tokio::sync::mpsc::channel(4);
    let mut responses =
        within(client.publish_stream(tokio_stream::wrappers::ReceiverStream::new(outgoing)))
            .await
            .expect("publish stream")
            .into_inner();
    for payload in [vec![b'y'; 10], vec![b'z'; 8192]] {
        let request = pb::PublishStreamRequest {
            request: Some(pb::PublishRequest {
                topic: "t".into(),
                events: vec![event("E", payload)],
                ..Default::default()
            }),
        };
        requests.send(request).await.expect("send");
    }
    let first = within(responses.message())
        .await
        .expect("first response")
        .expect("stream open");
    assert!(
        matches!(
            first.outcome,
            Some(pb::publish_stream_response::Outcome::Response(_))
        ),
        "{first:?}"
    );
    let ended = within(responses.message())
        .await
        .expect_err("oversized request");
    assert_eq!(ended.code(), Code::ResourceExhausted, "{ended:?}");

    assert_eq!(read_all(&mut client, "t").await.len(), 2);
}

/// A TCP proxy that can freeze: from then on it forwards nothing either way but keeps both
/// connections open, like a peer that vanished without closing (power loss, a dropped route).
async fn freezable_proxy(target: SocketAddr, frozen: CancellationToken) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("proxy address");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(target).await.expect("connect to server");
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pump(client_read, server_write, frozen.clone()));
            tokio::spawn(pump(server_read, client_write, frozen.clone()));
        }
    });
    addr
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: CancellationToken,
) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            () = frozen.cancelled() => break,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(read) => {
                if to.write_all(&buffer[..read]).await.is_err() {
                    return;
                }
            }
        }
    }
    // Hold both halves, so neither side sees the connection close.
    std::future::pending::<()>().await;
    drop((from, to));
}

#[tokio::test]
async fn keepalive_frees_the_subscriptions_of_a_peer_that_stopped_answering() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(
        dir.path(),
        &[
            "--max-subscriptions=1",
            "--keepalive-interval=1s",
            "--keepalive-timeout=1s",
        ],
    )
    .await;
    let frozen = CancellationToken::new();
    let proxy = freezable_proxy(server.addr, frozen.clone()).await;
    let mut vanishing = connect(proxy).await;
    let mut stream = subscribe(&mut vanishing, live("t")).await;
    next_response(&mut stream).await;

    frozen.cancel();
    let mut client = server.client().await;
    assert_limit(
        &subscribe_error(&mut client, live("t")).await,
        "--max-subscriptions",
        1,
    );
    // Unanswered pings close the connection after about two seconds, which frees the slot.
    let mut stream = subscribe_once_freed(&mut client, live("t")).await;
    next_response(&mut stream).await;
}

#[tokio::test]
async fn consumer_groups_over_the_limit_are_refused_whichever_way_they_are_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &["--max-consumer-groups=1"]).await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("E", "1")]).await;
    let create = |name: &str| pb::CreateConsumerGroupRequest {
        topic: "orders".into(),
        name: name.into(),
        config: None,
        start: None,
    };
    within(client.create_consumer_group(create("email")))
        .await
        .expect("the first group");
    let refused = within(client.create_consumer_group(create("fraud"))).await;
    assert_limit(
        &expect_code(refused, Code::ResourceExhausted),
        "--max-consumer-groups",
        1,
    );
    // A first Consume, which would create the group, is refused the same way.
    let (requests, outgoing) = tokio::sync::mpsc::channel(1);
    requests
        .send(pb::ConsumeRequest {
            join: Some(pb::ConsumeJoin {
                topic: "orders".into(),
                group: "fraud".into(),
                max_in_flight: 1,
            }),
            ..Default::default()
        })
        .await
        .expect("queue join");
    let refused =
        within(client.consume(tokio_stream::wrappers::ReceiverStream::new(outgoing))).await;
    assert_limit(
        &expect_code(refused.map(drop), Code::ResourceExhausted),
        "--max-consumer-groups",
        1,
    );
}
