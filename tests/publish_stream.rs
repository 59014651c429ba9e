//! PublishStream: pipelined requests, answered in order once durable; a bad request fails alone.

mod common;
use common::*;

use eventstream::pb;
use pb::publish_stream_response::Outcome;
use tokio_stream::StreamExt;

fn stream_request(topic: &str, events: Vec<pb::EventData>) -> pb::PublishStreamRequest {
    pb::PublishStreamRequest {
        request: Some(pb::PublishRequest {
            topic: topic.to_string(),
            events,
            ..Default::default()
        }),
    }
}

/// Sends every request at once and returns one outcome per request, in order.
async fn publish_pipelined(
    client: &mut Client,
    requests: Vec<pb::PublishStreamRequest>,
) -> Vec<Outcome> {
    let count = requests.len();
    let mut responses = within(client.publish_stream(tokio_stream::iter(requests)))
        .await
        .expect("open PublishStream")
        .into_inner();
    let mut outcomes = Vec::with_capacity(count);
    while let Some(response) = within(responses.next()).await {
        outcomes.push(response.expect("response").outcome.expect("outcome set"));
    }
    assert_eq!(outcomes.len(), count, "one response per request");
    outcomes
}

fn results(outcome: &Outcome) -> &[pb::PublishResult] {
    match outcome {
        Outcome::Response(response) => &response.results,
        Outcome::Error(error) => panic!("request failed: {error:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order_with_gapless_offsets() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let requests = (0..500)
        .map(|n| {
            stream_request(
                "orders",
                vec![
                    event("Placed", format!("{n}-a")),
                    event("Placed", format!("{n}-b")),
                ],
            )
        })
        .collect();
    let outcomes = publish_pipelined(&mut client, requests).await;
    let offsets: Vec<u64> = outcomes
        .iter()
        .flat_map(results)
        .map(|r| r.offset)
        .collect();
    assert_eq!(offsets, (0..1000).collect::<Vec<_>>());
    let stored = read_all(&mut client, "orders").await;
    let payloads: Vec<String> = stored
        .iter()
        .take(4)
        .map(|e| String::from_utf8_lossy(&e.payload).into_owned())
        .collect();
    assert_eq!(payloads, ["0-a", "0-b", "1-a", "1-b"]);
}

#[tokio::test]
async fn a_bad_request_fails_alone_and_the_stream_goes_on() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let outcomes = publish_pipelined(
        &mut client,
        vec![
            stream_request("orders", vec![event("Placed", "1")]),
            stream_request("orders", vec![event("", "no type")]),
            stream_request("bad/name", vec![event("Placed", "2")]),
            stream_request("orders", vec![event("Placed", "3")]),
        ],
    )
    .await;
    assert_eq!(results(&outcomes[0])[0].offset, 0);
    for failed in &outcomes[1..3] {
        let Outcome::Error(error) = failed else {
            panic!("expected an error, got {failed:?}")
        };
        assert_eq!(error.code, tonic::Code::InvalidArgument as i32);
        assert!(!error.message.is_empty());
    }
    assert_eq!(results(&outcomes[3])[0].offset, 1);
}

#[tokio::test]
async fn idempotency_holds_per_request_on_the_stream() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let outcomes = publish_pipelined(
        &mut client,
        vec![
            stream_request("orders", vec![keyed_event("Placed", "1", "k1")]),
            stream_request(
                "orders",
                vec![
                    keyed_event("Placed", "1", "k1"),
                    keyed_event("Placed", "2", "k2"),
                ],
            ),
            stream_request(
                "orders",
                vec![
                    keyed_event("Placed", "changed", "k1"),
                    keyed_event("Placed", "3", "k3"),
                ],
            ),
        ],
    )
    .await;
    let retry = results(&outcomes[1]);
    assert!(retry[0].duplicate);
    assert_eq!(retry[0].offset, results(&outcomes[0])[0].offset);
    assert_eq!((retry[1].offset, retry[1].duplicate), (1, false));
    let Outcome::Error(conflict) = &outcomes[2] else {
        panic!("expected a conflict")
    };
    assert_eq!(conflict.code, tonic::Code::FailedPrecondition as i32);
    assert_eq!(
        get_topic(&mut client, "orders").await.next_offset,
        2,
        "nothing of the conflicting request appended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_an_idle_stream_with_unavailable_at_once() {
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let (outgoing, requests) = tokio::sync::mpsc::channel(1);
    let mut responses =
        within(client.publish_stream(tokio_stream::wrappers::ReceiverStream::new(requests)))
            .await
            .expect("open PublishStream")
            .into_inner();
    outgoing
        .send(stream_request("orders", vec![event("Placed", "1")]))
        .await
        .expect("request sent");
    let first = within(responses.next())
        .await
        .expect("a response")
        .expect("no error");
    assert_eq!(
        results(first.outcome.as_ref().expect("outcome set"))[0].offset,
        0
    );

    // Nothing in flight and the client's side still open: only the shutdown can end the call.
    let started = std::time::Instant::now();
    let ((), ended) = tokio::join!(server.shutdown(), within(responses.next()));
    let status = ended
        .expect("the call ends with a status")
        .expect_err("an error status");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("shutting down"), "{status:?}");
    // Well within the server's 5 s drain timeout, after which it would cut the call instead.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );
    drop(outgoing);
}
