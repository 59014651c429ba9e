//! Graceful shutdown of the real binary: SIGTERM ends open streams, answers or refuses in-flight
//! publishes, exits 0 promptly, and a restart finds everything acknowledged exactly as it was.

mod common;
use common::*;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventstream::pb;
use tokio::sync::watch;

/// The limit the issue sets for SIGTERM to exit.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

fn shutdown_event(key: &str) -> pb::EventData {
    pb::EventData {
        r#type: "ShutdownTest".to_string(),
        payload: format!("payload of {key}").into_bytes().into(),
        idempotency_key: key.to_string(),
        ..Default::default()
    }
}

/// How a subscription stream ended.
#[derive(Debug)]
enum Ended {
    Eof,
    Status(tonic::Status),
}

/// Reads `stream` until it ends, reporting the events delivered so far through `seen`.
async fn follow(
    mut stream: tonic::Streaming<pb::SubscribeResponse>,
    seen: watch::Sender<Vec<pb::Event>>,
) -> Ended {
    loop {
        match stream.message().await {
            Ok(Some(response)) => seen.send_modify(|events| events.extend(response.events)),
            Ok(None) => return Ended::Eof,
            Err(status) => return Ended::Status(status),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_and_exits_zero_within_10s() {
    let topic = "shutdown-live";
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;

    let acks: Arc<Mutex<Vec<(u64, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let history: Vec<pb::EventData> = (0..20).map(|i| shutdown_event(&format!("h{i}"))).collect();
    for result in publish(&mut client, topic, history).await {
        acks.lock().unwrap().push((result.offset, result.id));
    }

    // A live subscription, caught up with the history before the publisher starts.
    let mut stream = subscribe(&mut client, from_offset(topic, 0)).await;
    let (caught_up, _) = collect_events(&mut stream, 20).await;
    assert_eq!(caught_up.len(), 20);
    let (seen_tx, mut seen) = watch::channel(caught_up);
    let subscriber = tokio::spawn(follow(stream, seen_tx));

    // A publisher that keeps going until the server stops answering.
    let (terminating_tx, terminating) = watch::channel(false);
    let publisher = {
        let mut client = server.client().await;
        let acks = Arc::clone(&acks);
        tokio::spawn(async move {
            for seq in 0.. {
                let events = (0..1 + seq % 3)
                    .map(|i| shutdown_event(&format!("live-{seq}-{i}")))
                    .collect();
                let request = pb::PublishRequest {
                    topic: topic.to_string(),
                    events,
                    ..Default::default()
                };
                let answer = within(client.publish(request)).await;
                match answer {
                    Ok(response) => acks.lock().unwrap().extend(
                        response
                            .into_inner()
                            .results
                            .into_iter()
                            .map(|result| (result.offset, result.id)),
                    ),
                    Err(status) => {
                        assert!(
                            *terminating.borrow(),
                            "publish failed before SIGTERM: {status:?}"
                        );
                        return status;
                    }
                }
            }
            unreachable!()
        })
    };

    // Shut down once live events are flowing to the subscriber.
    within(seen.wait_for(|events| events.len() >= 100))
        .await
        .expect("subscriber alive");
    terminating_tx.send_replace(true);
    let signalled = Instant::now();
    let status = server.terminate(EXIT_LIMIT).await;
    let exit_time = signalled.elapsed();
    println!("SIGTERM to exit: {exit_time:.2?}, {status}");
    assert!(status.success(), "exit status after SIGTERM: {status}");

    let ended = within(subscriber).await.expect("subscriber task");
    println!("subscription ended with {ended:?}");
    if let Ended::Status(status) = &ended {
        assert_eq!(
            status.code(),
            tonic::Code::Unavailable,
            "a stream cut by shutdown ends with UNAVAILABLE: {status:?}"
        );
    }
    let publish_error = within(publisher).await.expect("publisher task");
    println!("publisher stopped by {:?}", publish_error.code());

    // The subscriber saw a gapless prefix of the log.
    let delivered = seen.borrow().clone();
    for (position, event) in delivered.iter().enumerate() {
        assert_eq!(
            event.offset, position as u64,
            "delivered offsets are gapless"
        );
    }

    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    let (stored, next_offset) = read_topic_to_end(&mut client, topic).await;
    assert_eq!(next_offset, stored.len() as u64);
    for (position, event) in stored.iter().enumerate() {
        assert_eq!(event.offset, position as u64, "stored offsets are gapless");
    }
    let acks = acks.lock().unwrap().clone();
    for (offset, id) in &acks {
        let event = stored
            .get(usize::try_from(*offset).unwrap())
            .unwrap_or_else(|| panic!("acknowledged offset {offset} lost"));
        assert_eq!(&event.id, id, "acknowledged event at {offset} changed id");
    }
    for event in &delivered {
        assert_eq!(
            stored[usize::try_from(event.offset).unwrap()].id,
            event.id,
            "a delivered event changed"
        );
    }
    let keys: HashSet<&str> = stored.iter().map(|e| e.idempotency_key.as_str()).collect();
    assert_eq!(keys.len(), stored.len(), "no event stored twice");
    println!(
        "{} events acknowledged, {} delivered live before shutdown, {} stored after restart",
        acks.len(),
        delivered.len(),
        stored.len()
    );
    let status = server.terminate(EXIT_LIMIT).await;
    assert!(status.success(), "second exit status: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_stalled_subscriber_exits_within_10s() {
    let topic = "shutdown-stalled";
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    // Far more than HTTP/2 flow control lets the server hand to a client that does not read.
    let payload = vec![7u8; 256 * 1024];
    let mut acked = 0;
    for _ in 0..16 {
        let events = (0..4).map(|_| event("Big", payload.clone())).collect();
        acked += publish(&mut client, topic, events).await.len();
    }
    // Read the first response, then stop reading with the stream still open.
    let mut stalled = subscribe(&mut client, from_offset(topic, 0)).await;
    let first = within(stalled.message())
        .await
        .expect("first response")
        .expect("stream open");
    assert!(!first.events.is_empty());

    let signalled = Instant::now();
    let status = server.terminate(EXIT_LIMIT).await;
    println!(
        "SIGTERM to exit with a stalled subscriber: {:.2?}, {status}",
        signalled.elapsed()
    );
    assert!(status.success(), "exit status after SIGTERM: {status}");

    // What was buffered may still arrive; then the stream ends.
    let ended = within(follow(stalled, watch::channel(Vec::new()).0)).await;
    println!("stalled subscription ended with {ended:?}");

    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    let (stored, next_offset) = read_topic_to_end(&mut client, topic).await;
    assert_eq!((stored.len(), next_offset), (acked, acked as u64));
    let status = server.terminate(EXIT_LIMIT).await;
    assert!(status.success(), "second exit status: {status}");
}

/// Every topic's description and events, as read through the API.
async fn snapshot(client: &mut Client) -> (Vec<pb::Topic>, HashMap<String, Vec<pb::Event>>) {
    let topics = within(client.list_topics(pb::ListTopicsRequest {}))
        .await
        .expect("list topics")
        .into_inner()
        .topics;
    let mut events = HashMap::new();
    for topic in &topics {
        let (stored, next_offset) = read_topic_to_end(client, &topic.name).await;
        assert_eq!(
            next_offset, topic.next_offset,
            "{}: next_offset",
            topic.name
        );
        events.insert(topic.name.clone(), stored);
    }
    (topics, events)
}

fn rich_event(i: usize, idempotency_key: &str) -> pb::EventData {
    pb::EventData {
        r#type: format!("Type{}", i % 3),
        payload: format!("{{\"n\":{i}}}").into_bytes().into(),
        idempotency_key: idempotency_key.to_string(),
        key: format!("entity-{}", i % 5),
        headers: HashMap::from([
            ("trace".to_string(), format!("t{i}")),
            ("producer".to_string(), "shutdown-test".to_string()),
        ]),
        content_type: "application/json".to_string(),
        schema_version: u32::try_from(i % 4).unwrap(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_restart_keeps_offsets_and_ids() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;

    within(client.create_topic(pb::CreateTopicRequest {
        name: "configured".to_string(),
        config: Some(pb::TopicConfig {
            retention_age: Some(prost_types::Duration {
                seconds: 7 * 24 * 3600,
                nanos: 0,
            }),
            retention_events: 1_000_000,
            retention_bytes: 1 << 30,
            dedup_window: Some(prost_types::Duration {
                seconds: 3600,
                nanos: 0,
            }),
        }),
    }))
    .await
    .expect("create topic");

    let mut next = 0;
    let mut all_keys: Vec<(String, String)> = Vec::new();
    for round in 0..3 {
        // Appends in this round continue where the log ended.
        let (_, before) = snapshot(&mut client).await;
        for topic in ["configured", "restart-a", "restart-b"] {
            let mut end = before.get(topic).map_or(0, Vec::len) as u64;
            for size in [1, 4, 2] {
                let events: Vec<_> = (0..size)
                    .map(|_| {
                        next += 1;
                        // Every third event has no idempotency key.
                        let key = if next % 3 == 0 {
                            String::new()
                        } else {
                            all_keys.push((topic.to_string(), format!("k{next}")));
                            format!("k{next}")
                        };
                        rich_event(next, &key)
                    })
                    .collect();
                for result in publish(&mut client, topic, events).await {
                    assert!(!result.duplicate);
                    assert_eq!(
                        result.offset, end,
                        "round {round}: {topic} offsets continue"
                    );
                    end += 1;
                }
            }
        }

        let (topics, events) = snapshot(&mut client).await;
        let ids: Vec<&str> = events.values().flatten().map(|e| e.id.as_str()).collect();
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "event ids are unique");

        let signalled = Instant::now();
        let status = server.terminate(EXIT_LIMIT).await;
        println!("round {round}: SIGTERM to exit {:.2?}", signalled.elapsed());
        assert!(status.success(), "exit status: {status}");

        server = ChildServer::start(dir.path(), &[]).await;
        client = server.client().await;
        let (topics_after, events_after) = snapshot(&mut client).await;
        assert_eq!(topics_after, topics, "round {round}: topics after restart");
        assert_eq!(events_after, events, "round {round}: events after restart");

        // Every idempotency key so far is still remembered, with its original result.
        for (topic, key) in all_keys.iter().step_by(3) {
            let original = events[topic]
                .iter()
                .find(|e| &e.idempotency_key == key)
                .expect("keyed event stored");
            let n: usize = key[1..].parse().unwrap();
            let results = publish(&mut client, topic, vec![rich_event(n, key)]).await;
            assert!(results[0].duplicate, "{topic}/{key} after restart");
            assert_eq!(results[0].offset, original.offset);
            assert_eq!(results[0].id, original.id);
            assert_eq!(results[0].time, original.time);
        }
    }
    let status = server.terminate(EXIT_LIMIT).await;
    assert!(status.success(), "exit status: {status}");
}
