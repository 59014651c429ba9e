//! Retention by count, size and age; trimmed offsets are never reused.

mod common;
use common::*;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eventstream::pb;
use pb::subscribe_request::Start;
use tonic::Code;

async fn start() -> TestServer {
    TestServer::start_with(|config| config.retention_interval = Duration::from_millis(50)).await
}

fn keep_events(limit: u64) -> Option<pb::TopicConfig> {
    Some(pb::TopicConfig {
        retention_events: limit,
        ..Default::default()
    })
}

fn keep_for(seconds: i64) -> Option<pb::TopicConfig> {
    Some(pb::TopicConfig {
        retention_age: Some(prost_types::Duration { seconds, nanos: 0 }),
        ..Default::default()
    })
}

fn numbered(range: std::ops::Range<usize>) -> Vec<pb::EventData> {
    range.map(|i| event("E", i.to_string())).collect()
}

fn nanos(time: &Option<prost_types::Timestamp>) -> i128 {
    let time = time.expect("time set");
    i128::from(time.seconds) * 1_000_000_000 + i128::from(time.nanos)
}

fn now_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128
}

/// The decimal numbers in `text`.
fn numbers_in(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number"))
        .collect()
}

/// Asserts the retained events are exactly offsets `range`, each with its own number as payload.
async fn assert_retained(client: &mut Client, topic: &str, range: std::ops::Range<u64>) {
    let events = read_all(client, topic).await;
    assert_eq!(offsets_of(&events), range.collect::<Vec<_>>());
    for event in &events {
        assert_eq!(&event.payload[..], event.offset.to_string().as_bytes());
    }
}

/// Creates a topic keeping 10 events, publishes 25 in one request and waits for the trim.
async fn topic_trimmed_to_15(client: &mut Client) {
    create_topic(client, "orders", keep_events(10)).await;
    publish(client, "orders", numbered(0..25)).await;
    let topic = wait_for_topic(client, "orders", |t| t.first_offset >= 15).await;
    assert_eq!((topic.first_offset, topic.next_offset), (15, 25));
}

#[tokio::test]
async fn retention_events_keeps_the_newest_events_of_one_request() {
    let server = start().await;
    let mut client = server.client().await;
    topic_trimmed_to_15(&mut client).await;

    assert_retained(&mut client, "orders", 15..25).await;
}

#[tokio::test]
async fn retention_events_keeps_the_newest_events_over_several_requests() {
    let server = start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", keep_events(10)).await;
    // Requests of 4, 4, 4, 4, 4 and 5 events: offset 15 falls inside the fourth.
    for range in [0..4, 4..8, 8..12, 12..16, 16..20, 20..25] {
        publish(&mut client, "orders", numbered(range)).await;
    }

    let topic = wait_for_topic(&mut client, "orders", |t| t.first_offset >= 15).await;
    assert_eq!((topic.first_offset, topic.next_offset), (15, 25));
    assert_retained(&mut client, "orders", 15..25).await;
}

#[tokio::test]
async fn subscribing_below_the_first_retained_offset_is_out_of_range() {
    let server = start().await;
    let mut client = server.client().await;
    topic_trimmed_to_15(&mut client).await;

    for offset in [0, 14] {
        let status = subscribe_error(&mut client, from_offset("orders", offset)).await;
        assert_eq!(
            status.code(),
            Code::OutOfRange,
            "offset {offset}: {status:?}"
        );
        let numbers = numbers_in(status.message());
        assert!(
            numbers.contains(&15) && numbers.contains(&25),
            "message does not name the range 15..=25: {:?}",
            status.message()
        );
    }
    let mut stream = subscribe(&mut client, from_offset("orders", 15)).await;
    let (events, _) = collect_events(&mut stream, 10).await;
    assert_eq!(offsets_of(&events), (15..25).collect::<Vec<_>>());
}

#[tokio::test]
async fn earliest_starts_at_the_first_retained_offset() {
    let server = start().await;
    let mut client = server.client().await;
    topic_trimmed_to_15(&mut client).await;

    let request = pb::SubscribeRequest {
        topic: "orders".into(),
        start: Some(Start::Position(pb::StartPosition::Earliest as i32)),
        ..Default::default()
    };
    let mut stream = subscribe(&mut client, request).await;
    let (events, _) = collect_events(&mut stream, 10).await;
    assert_eq!(offsets_of(&events), (15..25).collect::<Vec<_>>());
}

#[tokio::test]
async fn retention_bytes_keeps_the_stored_size_within_the_limit() {
    let server = start().await;
    let mut client = server.client().await;
    // One published event of this size is one stored batch; measure its stored size.
    let payload = vec![b'x'; 1000];
    publish(&mut client, "sized-ctl", vec![event("E", payload.clone())]).await;
    let batch_bytes = get_topic(&mut client, "sized-ctl").await.size_bytes;
    assert!(batch_bytes >= 1000, "{batch_bytes}");
    // Room for four such batches, not five.
    let limit = 4 * batch_bytes + batch_bytes / 2;
    create_topic(
        &mut client,
        "sized-ret",
        Some(pb::TopicConfig {
            retention_bytes: limit,
            ..Default::default()
        }),
    )
    .await;

    for _ in 0..20 {
        publish(&mut client, "sized-ret", vec![event("E", payload.clone())]).await;
    }

    let topic = wait_for_topic(&mut client, "sized-ret", |t| t.size_bytes <= limit).await;
    assert_eq!((topic.first_offset, topic.next_offset), (16, 20));
    assert!(
        topic.size_bytes > 3 * batch_bytes,
        "size {} after trimming to limit {limit}",
        topic.size_bytes
    );
    let events = read_all(&mut client, "sized-ret").await;
    assert_eq!(offsets_of(&events), vec![16, 17, 18, 19]);
}

#[tokio::test]
async fn retention_age_removes_only_events_older_than_the_age() {
    let server = start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", keep_for(1)).await;
    let old = publish(&mut client, "orders", numbered(0..3)).await;
    // Not synchronisation: gives the two batches append times 700 ms apart.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let young = publish(&mut client, "orders", numbered(3..5)).await;

    let topic = wait_for_topic(&mut client, "orders", |t| t.first_offset >= 3).await;
    let observed = now_nanos();
    assert!(
        observed - nanos(&old[0].time) >= 1_000_000_000,
        "events removed before they were 1 s old"
    );
    assert!(
        observed - nanos(&young[0].time) < 1_000_000_000,
        "test too slow to observe the younger batch"
    );
    assert_eq!((topic.first_offset, topic.next_offset), (3, 5));
    assert_retained(&mut client, "orders", 3..5).await;

    let topic = wait_for_topic(&mut client, "orders", |t| t.first_offset >= 5).await;
    assert_eq!(
        (topic.first_offset, topic.next_offset, topic.size_bytes),
        (5, 5, 0)
    );
    assert_retained(&mut client, "orders", 5..5).await;
}

/// Retention may remove an event before its idempotency key lapses: a retry is still its
/// duplicate, with the original's offset, id and time, and no key version to report.
#[tokio::test]
async fn a_retry_of_an_event_retention_removed_is_still_a_duplicate() {
    retry_an_event_retention_removed(false).await;
}

#[tokio::test]
async fn a_retry_of_an_event_retention_removed_is_still_a_duplicate_after_a_restart() {
    retry_an_event_retention_removed(true).await;
}

/// Publishes a keyed event, lets retention remove it, optionally restarts the server, then
/// retries it: the retry must still be its duplicate.
async fn retry_an_event_retention_removed(restart: bool) {
    let mut server = start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", keep_events(1)).await;
    let original = publish(
        &mut client,
        "orders",
        vec![pb::EventData {
            key: "order-1".into(),
            ..keyed_event("OrderPlaced", "0", "order-1-placed")
        }],
    )
    .await;
    publish(&mut client, "orders", numbered(1..3)).await;
    wait_for_topic(&mut client, "orders", |t| t.first_offset >= 2).await;
    if restart {
        server = server.restart().await;
        client = server.client().await;
    }

    let retried = publish(
        &mut client,
        "orders",
        vec![keyed_event("OrderPlaced", "0", "order-1-placed")],
    )
    .await;

    assert_eq!(
        retried[0],
        pb::PublishResult {
            duplicate: true,
            key_version: None,
            ..original[0].clone()
        }
    );
    assert_eq!(get_topic(&mut client, "orders").await.next_offset, 3);
}

#[tokio::test]
async fn trimmed_offsets_are_never_reused() {
    let server = start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", keep_for(1)).await;
    publish(&mut client, "orders", numbered(0..5)).await;
    wait_for_topic(&mut client, "orders", |t| t.first_offset >= 5).await;

    let results = publish(&mut client, "orders", numbered(5..7)).await;

    assert_eq!(
        results.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![5, 6]
    );
    assert_retained(&mut client, "orders", 5..7).await;
}

#[tokio::test]
async fn trimmed_offsets_are_never_reused_after_a_restart() {
    let server = start().await;
    let mut client = server.client().await;
    topic_trimmed_to_15(&mut client).await;

    let server = server.restart().await;
    let mut client = server.client().await;
    let topic = get_topic(&mut client, "orders").await;
    assert_eq!((topic.first_offset, topic.next_offset), (15, 25));
    let results = publish(&mut client, "orders", numbered(25..26)).await;
    assert_eq!(results[0].offset, 25);
    let topic = wait_for_topic(&mut client, "orders", |t| t.first_offset >= 16).await;
    assert_eq!((topic.first_offset, topic.next_offset), (16, 26));
    assert_retained(&mut client, "orders", 16..26).await;
}

#[tokio::test]
async fn fully_trimmed_topic_keeps_its_next_offset_after_a_restart() {
    let server = start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", keep_for(1)).await;
    publish(&mut client, "orders", numbered(0..5)).await;
    wait_for_topic(&mut client, "orders", |t| t.first_offset >= 5).await;

    let server = server.restart().await;
    let mut client = server.client().await;
    let topic = get_topic(&mut client, "orders").await;
    assert_eq!(
        (topic.first_offset, topic.next_offset, topic.size_bytes),
        (5, 5, 0)
    );
    let results = publish(&mut client, "orders", numbered(5..6)).await;
    assert_eq!(results[0].offset, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_overtaken_by_retention_gets_out_of_range() {
    let server = start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", keep_events(512)).await;
    // 32 MiB of history: far more than the server and the connection buffer for one stream.
    for _ in 0..32 {
        publish(
            &mut client,
            "orders",
            vec![event("Big", vec![0; 64 * 1024]); 16],
        )
        .await;
    }
    let mut reader = server.client().await;
    let mut stream = subscribe(&mut reader, from_offset("orders", 0)).await;
    let first = next_response(&mut stream).await;
    assert!(!first.caught_up);

    // While the subscriber is not reading, retention removes everything it has not seen.
    publish(&mut client, "orders", numbered(0..512)).await;
    wait_for_topic(&mut client, "orders", |t| t.first_offset >= 512).await;

    let (events, ended) = read_until_error(&mut stream, first.events).await;
    assert_cut_short_with(&events, ended, 512, Code::OutOfRange);
}

#[tokio::test]
async fn from_time_before_the_first_retained_event_starts_at_the_first_retained_offset() {
    let server = start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", keep_events(10)).await;
    let results = publish(&mut client, "orders", numbered(0..25)).await;
    wait_for_topic(&mut client, "orders", |t| t.first_offset >= 15).await;

    for time in [
        prost_types::Timestamp {
            seconds: 0,
            nanos: 0,
        },
        results[0].time.expect("time"),
    ] {
        let request = pb::SubscribeRequest {
            topic: "orders".into(),
            start: Some(Start::FromTime(time)),
            stop_at_end: true,
            ..Default::default()
        };
        let mut stream = subscribe(&mut client, request).await;
        let events: Vec<_> = read_to_end(&mut stream)
            .await
            .into_iter()
            .flat_map(|r| r.events)
            .collect();
        assert_eq!(offsets_of(&events), (15..25).collect::<Vec<_>>());
    }
}

/// The sequence numbers of the segment files of every topic in `data_dir`.
fn segment_files(data_dir: &std::path::Path) -> Vec<u64> {
    let mut found = Vec::new();
    for topic_dir in std::fs::read_dir(data_dir.join("segments")).expect("segments dir") {
        for file in std::fs::read_dir(topic_dir.expect("entry").path()).expect("topic dir") {
            let path = file.expect("entry").path();
            let number = path
                .file_stem()
                .and_then(|stem| stem.to_str()?.parse().ok());
            found.push(number.expect("segment files are named by number"));
        }
    }
    found.sort_unstable();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_frees_disk_space_a_segment_file_at_a_time() {
    let server = TestServer::start_with(|config| {
        config.retention_interval = Duration::from_millis(50);
        config.segment_bytes = 64 * 1024;
    })
    .await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", keep_events(100)).await;
    for _ in 0..20 {
        let events = (0..50).map(|_| event("E", "x".repeat(1000))).collect();
        publish(&mut client, "orders", events).await;
    }
    wait_for_topic(&mut client, "orders", |t| t.first_offset >= 900).await;

    // About 1 MB went through 64 KiB files; the newest 100 events (about 100 KiB) need at most
    // three of them, plus the one being appended to. Files go at the first index sync after the
    // trim that emptied them, which the server runs every second.
    let files = within(async {
        loop {
            let files = segment_files(server.data_dir());
            if files.len() <= 4 {
                return files;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        files.last().is_some_and(|&newest| newest >= 14),
        "{files:?}"
    );
    let events = read_all(&mut client, "orders").await;
    assert_eq!(offsets_of(&events), (900..1000).collect::<Vec<_>>());
}
