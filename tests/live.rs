//! Live streaming: the catch-up/live boundary under concurrent publishing, and fan-out.

mod common;
use common::*;

use std::collections::BTreeMap;

use eventstream::pb;
use pb::subscribe_request::Start;
use tokio::sync::watch;

fn earliest(topic: &str) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        topic: topic.to_string(),
        start: Some(Start::Position(pb::StartPosition::Earliest as i32)),
        ..Default::default()
    }
}

/// Publishes `tasks` × `per_task` events concurrently in requests of 1 to 5 events, adding each
/// acknowledged request's size to `published`; returns the payload stored at every offset.
async fn publish_concurrently(
    server: &TestServer,
    topic: &'static str,
    tasks: usize,
    per_task: usize,
    published: watch::Sender<usize>,
) -> BTreeMap<u64, String> {
    let published = std::sync::Arc::new(published);
    let mut handles = Vec::new();
    for task in 0..tasks {
        let mut client = server.client().await;
        let published = std::sync::Arc::clone(&published);
        handles.push(tokio::spawn(async move {
            let mut stored = Vec::new();
            let mut sent = 0;
            let mut request = 0;
            while sent < per_task {
                let size = (1 + (task + request) % 5).min(per_task - sent);
                let payloads: Vec<String> =
                    (sent..sent + size).map(|i| format!("{task}/{i}")).collect();
                let events = payloads.iter().map(|p| event("E", p.clone())).collect();
                let results = publish(&mut client, topic, events).await;
                for (result, payload) in results.into_iter().zip(payloads) {
                    stored.push((result.offset, payload));
                }
                published.send_modify(|count| *count += size);
                sent += size;
                request += 1;
            }
            stored
        }));
    }
    let mut by_offset = BTreeMap::new();
    for handle in handles {
        for (offset, payload) in within(handle).await.expect("publisher task") {
            assert!(by_offset.insert(offset, payload).is_none());
        }
    }
    by_offset
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_joining_during_publishing_see_every_offset_once_in_order() {
    const TOTAL: usize = 2000;
    let server = TestServer::start().await;
    let mut admin = server.client().await;
    create_topic(&mut admin, "orders", None).await;
    let (published, watcher) = watch::channel(0usize);

    // Subscribers from EARLIEST, each joining once this many events have been acknowledged.
    let mut subscribers = Vec::new();
    for threshold in [0, 1, 150, 500, 900, 1300, 1700, 1990] {
        let mut client = server.client().await;
        let mut watcher = watcher.clone();
        subscribers.push(tokio::spawn(async move {
            within(watcher.wait_for(|count| *count >= threshold))
                .await
                .expect("publishers alive");
            let mut stream = subscribe(&mut client, earliest("orders")).await;
            let (events, last) = collect_events(&mut stream, TOTAL).await;
            (0, events, last)
        }));
    }
    // Subscribers from the end of the log as it stands at a moment during publishing.
    for threshold in [400, 1100] {
        let mut client = server.client().await;
        let mut watcher = watcher.clone();
        subscribers.push(tokio::spawn(async move {
            within(watcher.wait_for(|count| *count >= threshold))
                .await
                .expect("publishers alive");
            let start = get_topic(&mut client, "orders").await.next_offset;
            let mut stream = subscribe(&mut client, from_offset("orders", start)).await;
            let (events, last) = collect_events(&mut stream, TOTAL - start as usize).await;
            (start, events, last)
        }));
    }

    let by_offset = publish_concurrently(&server, "orders", 4, TOTAL / 4, published).await;
    assert_eq!(
        by_offset.keys().copied().collect::<Vec<_>>(),
        (0..TOTAL as u64).collect::<Vec<_>>()
    );
    for subscriber in subscribers {
        let (start, events, last) = within(subscriber).await.expect("subscriber task");
        assert_eq!(
            offsets_of(&events),
            (start..TOTAL as u64).collect::<Vec<_>>(),
            "subscriber from {start}"
        );
        for event in &events {
            assert_eq!(&event.payload[..], by_offset[&event.offset].as_bytes());
        }
        assert_eq!(last.next_offset, TOTAL as u64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_subscribers_each_get_every_event_in_order() {
    const SUBSCRIBERS: usize = 5;
    const TOTAL: usize = 300;
    let server = TestServer::start().await;
    let mut admin = server.client().await;
    create_topic(&mut admin, "orders", None).await;

    let mut streams = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let mut client = server.client().await;
        let mut stream = subscribe(&mut client, from_offset("orders", 0)).await;
        let first = next_response(&mut stream).await;
        assert_eq!((first.events.len(), first.caught_up), (0, true));
        streams.push(tokio::spawn(async move {
            let (events, _) = collect_events(&mut stream, TOTAL).await;
            events
        }));
    }

    let (published, _watcher) = watch::channel(0usize);
    let by_offset = publish_concurrently(&server, "orders", 3, TOTAL / 3, published).await;

    let stored = read_all(&mut admin, "orders").await;
    assert_eq!(offsets_of(&stored), (0..TOTAL as u64).collect::<Vec<_>>());
    for stream in streams {
        let events = within(stream).await.expect("subscriber task");
        assert_eq!(events, stored);
        for event in &events {
            assert_eq!(&event.payload[..], by_offset[&event.offset].as_bytes());
        }
    }
}
