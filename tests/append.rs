//! Publish: offsets, results, ids and times.

mod common;
use common::*;

use std::collections::{BTreeMap, HashSet};

use eventstream::pb;

fn time_nanos(time: &Option<prost_types::Timestamp>) -> i128 {
    let time = time.expect("time set");
    i128::from(time.seconds) * 1_000_000_000 + i128::from(time.nanos)
}

#[tokio::test]
async fn offsets_start_at_zero_per_topic_and_grow_by_one_per_event() {
    let server = TestServer::start().await;
    let mut client = server.client().await;

    let first = publish(
        &mut client,
        "orders",
        vec![event("A", "1"), event("A", "2"), event("A", "3")],
    )
    .await;
    let second = publish(
        &mut client,
        "orders",
        vec![event("B", "4"), event("B", "5")],
    )
    .await;
    let other = publish(&mut client, "payments", vec![event("C", "1")]).await;
    let third = publish(&mut client, "orders", vec![event("D", "6")]).await;

    let offsets =
        |results: &[pb::PublishResult]| results.iter().map(|r| r.offset).collect::<Vec<_>>();
    assert_eq!(offsets(&first), vec![0, 1, 2]);
    assert_eq!(offsets(&second), vec![3, 4]);
    assert_eq!(offsets(&other), vec![0]);
    assert_eq!(offsets(&third), vec![5]);
    assert_eq!(get_topic(&mut client, "orders").await.next_offset, 6);
    assert_eq!(get_topic(&mut client, "payments").await.next_offset, 1);
}

#[tokio::test]
async fn results_are_one_per_event_in_request_order() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("Seed", "seed")]).await;

    let events: Vec<_> = (0..7)
        .map(|i| event(&format!("T{i}"), format!("p{i}")))
        .collect();
    let results = publish(&mut client, "orders", events).await;

    assert_eq!(results.len(), 7);
    assert_eq!(
        results.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (1..8).collect::<Vec<_>>()
    );
    assert!(results.iter().all(|r| !r.duplicate));
    let stored = read_all(&mut client, "orders").await;
    assert_eq!(stored.len(), 8);
    for (i, (result, stored)) in results.iter().zip(&stored[1..]).enumerate() {
        assert_eq!(stored.offset, result.offset);
        assert_eq!(stored.id, result.id);
        assert_eq!(stored.time, result.time);
        assert_eq!(stored.r#type, format!("T{i}"));
        assert_eq!(&stored.payload[..], format!("p{i}").as_bytes());
    }
}

#[tokio::test]
async fn event_fields_are_stored_and_delivered_unchanged() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let sent = pb::EventData {
        r#type: "OrderPlaced".into(),
        payload: vec![0, 1, 2, 255, 254].into(),
        idempotency_key: "order-7-placed".into(),
        key: "order-7".into(),
        headers: [
            ("trace".to_string(), "abc".to_string()),
            ("producer".to_string(), "shop".to_string()),
        ]
        .into(),
        content_type: "application/octet-stream".into(),
        schema_version: 3,
        ..Default::default()
    };
    let results = publish(&mut client, "orders", vec![sent.clone()]).await;

    let stored = read_all(&mut client, "orders").await;
    assert_eq!(
        stored,
        vec![pb::Event {
            id: results[0].id.clone(),
            topic: "orders".into(),
            offset: 0,
            time: results[0].time,
            r#type: sent.r#type,
            payload: sent.payload,
            idempotency_key: sent.idempotency_key,
            key: sent.key,
            headers: sent.headers,
            content_type: sent.content_type,
            schema_version: sent.schema_version,
            key_version: Some(0),
        }]
    );
    assert_eq!(results[0].key_version, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_get_gapless_offsets_contiguous_per_request() {
    const TASKS: usize = 8;
    const REQUESTS: usize = 50;
    let server = TestServer::start().await;
    let mut client = server.client().await;

    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for request in 0..REQUESTS {
                let size = 1 + (task + request) % 4;
                let payloads: Vec<String> =
                    (0..size).map(|i| format!("{task}/{request}/{i}")).collect();
                let events = payloads.iter().map(|p| event("E", p.clone())).collect();
                let results = publish(&mut client, "orders", events).await;
                sent.push((payloads, results));
            }
            sent
        }));
    }
    let mut by_offset = BTreeMap::new();
    for task in tasks {
        for (payloads, results) in within(task).await.expect("publisher task") {
            assert_eq!(results.len(), payloads.len());
            let first = results[0].offset;
            for (i, (payload, result)) in payloads.into_iter().zip(results).enumerate() {
                assert_eq!(result.offset, first + i as u64, "request not contiguous");
                assert!(!result.duplicate);
                assert!(by_offset.insert(result.offset, payload).is_none());
            }
        }
    }

    let total: usize = (0..TASKS)
        .map(|task| (0..REQUESTS).map(|r| 1 + (task + r) % 4).sum::<usize>())
        .sum();
    assert_eq!(
        by_offset.keys().copied().collect::<Vec<_>>(),
        (0..total as u64).collect::<Vec<_>>()
    );
    let stored = read_all(&mut client, "orders").await;
    assert_eq!(offsets_of(&stored), (0..total as u64).collect::<Vec<_>>());
    for event in &stored {
        assert_eq!(&event.payload[..], by_offset[&event.offset].as_bytes());
    }
    assert_eq!(
        get_topic(&mut client, "orders").await.next_offset,
        total as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_unique_uuid_v7_across_topics() {
    let server = TestServer::start().await;
    let mut tasks = Vec::new();
    for topic in ["orders", "payments", "users", "carts"] {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..20 {
                let events = (0..5).map(|_| event("E", "x")).collect();
                ids.extend(
                    publish(&mut client, topic, events)
                        .await
                        .into_iter()
                        .map(|r| r.id),
                );
            }
            ids
        }));
    }
    let mut ids = HashSet::new();
    for task in tasks {
        for id in within(task).await.expect("publisher task") {
            let uuid = uuid::Uuid::parse_str(&id).expect("id is a UUID");
            assert_eq!(uuid.get_version(), Some(uuid::Version::SortRand), "{id}");
            assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{id}");
            assert!(ids.insert(id.clone()), "id {id} repeated");
        }
    }
    assert_eq!(ids.len(), 4 * 20 * 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_never_decrease_along_offsets() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for i in 0..25 {
                let events = (0..=i % 3).map(|_| event("E", "x")).collect();
                results.extend(publish(&mut client, "orders", events).await);
            }
            results
        }));
    }
    let mut published = BTreeMap::new();
    for task in tasks {
        for result in within(task).await.expect("publisher task") {
            published.insert(result.offset, result.time);
        }
    }

    let stored = read_all(&mut client, "orders").await;
    assert_eq!(stored.len(), published.len());
    for pair in stored.windows(2) {
        assert!(
            time_nanos(&pair[0].time) <= time_nanos(&pair[1].time),
            "time decreases from offset {} to {}",
            pair[0].offset,
            pair[1].offset
        );
    }
    for event in &stored {
        assert_eq!(event.time, published[&event.offset]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishing_to_several_topics_keeps_each_topic_gapless() {
    const TOPICS: [&str; 4] = ["orders", "payments", "users", "carts"];
    const REQUESTS: u64 = 30;
    let server = TestServer::start().await;
    let mut client = server.client().await;

    let mut tasks = Vec::new();
    for topic in TOPICS {
        for _ in 0..2 {
            let mut client = server.client().await;
            tasks.push(tokio::spawn(async move {
                for _ in 0..REQUESTS {
                    let results = publish(
                        &mut client,
                        topic,
                        vec![event("E", topic), event("E", topic)],
                    )
                    .await;
                    assert_eq!(results[1].offset, results[0].offset + 1);
                }
            }));
        }
    }
    for task in tasks {
        within(task).await.expect("publisher task");
    }

    for topic in TOPICS {
        let stored = read_all(&mut client, topic).await;
        assert_eq!(offsets_of(&stored), (0..4 * REQUESTS).collect::<Vec<_>>());
        assert!(
            stored
                .iter()
                .all(|e| e.topic == topic && e.payload == topic)
        );
        assert_eq!(
            get_topic(&mut client, topic).await.next_offset,
            4 * REQUESTS
        );
    }
}
