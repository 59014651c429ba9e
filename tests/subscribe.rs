//! Subscribe: start positions, stop_at_end, caught_up and resuming from next_offset.

mod common;
use common::*;

use std::time::Duration;

use eventstream::pb;
use pb::subscribe_request::Start;
use tonic::Code;

/// Events one response carries at most.
const RESPONSE_EVENTS: usize = 4096;

fn request(topic: &str, start: Option<Start>) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        topic: topic.to_string(),
        start,
        ..Default::default()
    }
}

fn at(position: pb::StartPosition) -> Option<Start> {
    Some(Start::Position(position as i32))
}

fn stop_at_end(mut request: pb::SubscribeRequest) -> pb::SubscribeRequest {
    request.stop_at_end = true;
    request
}

/// Publishes `count` numbered events in one request.
async fn publish_numbered(client: &mut Client, topic: &str, from: usize, count: usize) {
    let events = (from..from + count)
        .map(|i| event("E", i.to_string()))
        .collect();
    publish(client, topic, events).await;
}

/// The offsets a stop_at_end subscription delivers.
async fn offsets_until_end(client: &mut Client, request: pb::SubscribeRequest) -> Vec<u64> {
    let mut stream = subscribe(client, stop_at_end(request)).await;
    let responses = read_to_end(&mut stream).await;
    offsets_of(
        &responses
            .into_iter()
            .flat_map(|r| r.events)
            .collect::<Vec<_>>(),
    )
}

/// Reads responses until one is caught up; returns them all.
async fn until_caught_up(
    stream: &mut tonic::Streaming<pb::SubscribeResponse>,
) -> Vec<pb::SubscribeResponse> {
    let mut responses = Vec::new();
    loop {
        let response = next_response(stream).await;
        let caught_up = response.caught_up;
        responses.push(response);
        if caught_up {
            return responses;
        }
    }
}

fn caught_up_empty(next_offset: u64) -> pb::SubscribeResponse {
    pb::SubscribeResponse::from_encoded(vec![], next_offset, true)
}

fn plus_nanos(time: prost_types::Timestamp, nanos: i64) -> prost_types::Timestamp {
    let total =
        i128::from(time.seconds) * 1_000_000_000 + i128::from(time.nanos) + i128::from(nanos);
    prost_types::Timestamp {
        seconds: (total / 1_000_000_000) as i64,
        nanos: (total % 1_000_000_000) as i32,
    }
}

/// The decimal numbers in `text`.
fn numbers_in(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number"))
        .collect()
}

#[tokio::test]
async fn from_offset_starts_at_that_offset_inclusive() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_numbered(&mut client, "orders", 0, 10).await;

    let offsets = offsets_until_end(&mut client, from_offset("orders", 4)).await;
    assert_eq!(offsets, (4..10).collect::<Vec<_>>());
    let offsets = offsets_until_end(&mut client, from_offset("orders", 9)).await;
    assert_eq!(offsets, vec![9]);
}

#[tokio::test]
async fn from_time_starts_at_first_event_at_or_after_it() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let first = publish(&mut client, "orders", vec![event("A", "0"); 3]).await;
    // Not synchronisation: makes the second batch's append time later than the first's.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = publish(&mut client, "orders", vec![event("B", "1"); 2]).await;
    let first_time = first[0].time.expect("time");
    let second_time = second[0].time.expect("time");
    assert!(
        (first_time.seconds, first_time.nanos) < (second_time.seconds, second_time.nanos),
        "batches share a time"
    );

    let from_time = |time| request("orders", Some(Start::FromTime(time)));
    assert_eq!(
        offsets_until_end(&mut client, from_time(second_time)).await,
        vec![3, 4]
    );
    assert_eq!(
        offsets_until_end(&mut client, from_time(plus_nanos(first_time, 1))).await,
        vec![3, 4]
    );
    assert_eq!(
        offsets_until_end(&mut client, from_time(first_time)).await,
        vec![0, 1, 2, 3, 4]
    );
    let epoch = prost_types::Timestamp {
        seconds: 0,
        nanos: 0,
    };
    assert_eq!(
        offsets_until_end(&mut client, from_time(epoch)).await,
        vec![0, 1, 2, 3, 4]
    );
}

#[tokio::test]
async fn from_time_after_every_event_waits_for_the_next_event() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let results = publish(&mut client, "orders", vec![event("A", "0"); 3]).await;

    let start = Start::FromTime(plus_nanos(results[2].time.expect("time"), 1));
    let mut stream = subscribe(&mut client, request("orders", Some(start))).await;
    assert_eq!(next_response(&mut stream).await, caught_up_empty(3));
    publish(&mut client, "orders", vec![event("B", "1")]).await;
    let (events, _) = collect_events(&mut stream, 1).await;
    assert_eq!(offsets_of(&events), vec![3]);
}

#[tokio::test]
async fn earliest_starts_at_the_oldest_event() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_numbered(&mut client, "orders", 0, 5).await;

    let offsets = offsets_until_end(
        &mut client,
        request("orders", at(pb::StartPosition::Earliest)),
    )
    .await;
    assert_eq!(offsets, vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn no_start_set_means_earliest() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_numbered(&mut client, "orders", 0, 5).await;

    let offsets = offsets_until_end(&mut client, request("orders", None)).await;
    assert_eq!(offsets, vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn start_position_unspecified_means_earliest() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_numbered(&mut client, "orders", 0, 5).await;

    let offsets = offsets_until_end(
        &mut client,
        request("orders", at(pb::StartPosition::Unspecified)),
    )
    .await;
    assert_eq!(offsets, vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn latest_delivers_only_events_after_the_call() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_numbered(&mut client, "orders", 0, 5).await;

    let mut stream = subscribe(
        &mut client,
        request("orders", at(pb::StartPosition::Latest)),
    )
    .await;
    assert_eq!(next_response(&mut stream).await, caught_up_empty(5));
    publish_numbered(&mut client, "orders", 5, 2).await;
    let (events, last) = collect_events(&mut stream, 2).await;
    assert_eq!(offsets_of(&events), vec![5, 6]);
    assert_eq!(last.next_offset, 7);
    assert!(last.caught_up);
}

#[tokio::test]
async fn from_next_offset_waits_for_the_next_event() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_numbered(&mut client, "orders", 0, 3).await;

    let mut stream = subscribe(&mut client, from_offset("orders", 3)).await;
    assert_eq!(next_response(&mut stream).await, caught_up_empty(3));
    publish_numbered(&mut client, "orders", 3, 1).await;
    let response = next_response(&mut stream).await;
    assert_eq!(offsets_of(&response.events), vec![3]);
    assert_eq!(&response.events[0].payload[..], b"3");
    assert_eq!((response.next_offset, response.caught_up), (4, true));
}

#[tokio::test]
async fn from_offset_beyond_next_offset_is_out_of_range_naming_the_valid_range() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_numbered(&mut client, "orders", 0, 5).await;

    for requested in [6, 1000] {
        let status = subscribe_error(&mut client, from_offset("orders", requested)).await;
        assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
        let numbers = numbers_in(status.message());
        assert!(
            numbers.contains(&0) && numbers.contains(&5),
            "message does not name the range 0..=5: {:?}",
            status.message()
        );
    }
    // The topic still serves subscriptions.
    assert_eq!(
        offsets_until_end(&mut client, from_offset("orders", 5)).await,
        Vec::<u64>::new()
    );
}

#[tokio::test]
async fn from_offset_on_empty_topic_beyond_zero_is_out_of_range() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", None).await;

    let status = subscribe_error(&mut client, from_offset("orders", 1)).await;
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
}

#[tokio::test]
async fn stop_at_end_delivers_up_to_the_end_as_of_the_call_then_ends_ok() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_numbered(&mut client, "orders", 0, 5).await;

    let mut stream = subscribe(&mut client, stop_at_end(from_offset("orders", 0))).await;
    // Published after the call: not part of this subscription.
    publish_numbered(&mut client, "orders", 5, 3).await;
    let responses = read_to_end(&mut stream).await;

    let events: Vec<_> = responses.iter().flat_map(|r| r.events.clone()).collect();
    assert_eq!(offsets_of(&events), vec![0, 1, 2, 3, 4]);
    let last = responses.last().expect("a response");
    assert_eq!((last.next_offset, last.caught_up), (5, true));
}

#[tokio::test]
async fn stop_at_end_on_an_empty_topic_ends_after_one_caught_up_response() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", None).await;

    let mut stream = subscribe(&mut client, stop_at_end(request("orders", None))).await;
    assert_eq!(read_to_end(&mut stream).await, vec![caught_up_empty(0)]);
}

#[tokio::test]
async fn stop_at_end_from_the_end_ends_after_one_caught_up_response() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_numbered(&mut client, "orders", 0, 4).await;

    let mut stream = subscribe(&mut client, stop_at_end(from_offset("orders", 4))).await;
    assert_eq!(read_to_end(&mut stream).await, vec![caught_up_empty(4)]);
    let mut stream = subscribe(
        &mut client,
        stop_at_end(request("orders", at(pb::StartPosition::Latest))),
    )
    .await;
    assert_eq!(read_to_end(&mut stream).await, vec![caught_up_empty(4)]);
}

#[tokio::test]
async fn caught_up_is_false_while_history_remains_and_true_at_the_end() {
    const TOTAL: usize = 20_000;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for from in (0..TOTAL).step_by(1000) {
        publish_numbered(&mut client, "orders", from, 1000).await;
    }

    let mut stream = subscribe(&mut client, from_offset("orders", 0)).await;
    let responses = until_caught_up(&mut stream).await;

    assert!(
        responses.len() >= TOTAL.div_ceil(RESPONSE_EVENTS),
        "only {} responses",
        responses.len()
    );
    for response in &responses {
        assert!(response.events.len() <= RESPONSE_EVENTS);
        assert_eq!(
            response.next_offset,
            response.events.last().expect("events").offset + 1
        );
    }
    let (last, behind) = responses.split_last().expect("responses");
    assert!(behind.iter().all(|r| !r.caught_up));
    assert_eq!((last.next_offset, last.caught_up), (TOTAL as u64, true));
    let events: Vec<_> = responses.into_iter().flat_map(|r| r.events).collect();
    assert_eq!(offsets_of(&events), (0..TOTAL as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn resume_from_next_offset_loses_nothing() {
    const TOTAL: usize = 20_000;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for from in (0..TOTAL).step_by(1000) {
        publish_numbered(&mut client, "orders", from, 1000).await;
    }

    let mut stream = subscribe(&mut client, from_offset("orders", 0)).await;
    let first = next_response(&mut stream).await;
    assert!(!first.caught_up);
    drop(stream);

    let mut resumed = subscribe(&mut client, from_offset("orders", first.next_offset)).await;
    let rest = until_caught_up(&mut resumed).await;
    let events: Vec<_> = std::iter::once(first)
        .chain(rest)
        .flat_map(|r| r.events)
        .collect();
    assert_eq!(offsets_of(&events), (0..TOTAL as u64).collect::<Vec<_>>());
    for event in &events {
        assert_eq!(&event.payload[..], event.offset.to_string().as_bytes());
    }
}

#[tokio::test]
async fn resume_from_next_offset_after_live_events_loses_nothing() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", None).await;

    let mut stream = subscribe(&mut client, from_offset("orders", 0)).await;
    publish_numbered(&mut client, "orders", 0, 10).await;
    let (mut events, last) = collect_events(&mut stream, 10).await;
    drop(stream);
    // Published while disconnected.
    publish_numbered(&mut client, "orders", 10, 10).await;

    let mut resumed = subscribe(&mut client, from_offset("orders", last.next_offset)).await;
    let (more, _) = collect_events(&mut resumed, 10).await;
    events.extend(more);
    publish_numbered(&mut client, "orders", 20, 5).await;
    let (live, last) = collect_events(&mut resumed, 5).await;
    events.extend(live);

    assert_eq!(offsets_of(&events), (0..25).collect::<Vec<_>>());
    assert_eq!(last.next_offset, 25);
}
