//! Idempotent publishing with idempotency keys.

mod common;
use common::*;

use std::time::Duration;

use eventstream::pb;
use tonic::Code;

fn nanos(time: &Option<prost_types::Timestamp>) -> i128 {
    let time = time.expect("time set");
    i128::from(time.seconds) * 1_000_000_000 + i128::from(time.nanos)
}

/// `result` as the duplicate of `original`.
fn as_duplicate(original: &pb::PublishResult) -> pb::PublishResult {
    pb::PublishResult {
        duplicate: true,
        ..original.clone()
    }
}

#[tokio::test]
async fn republish_with_same_key_returns_original_result_and_appends_nothing() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("Seed", "s")]).await;
    let original = publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;
    assert_eq!(original[0].offset, 1);
    assert!(!original[0].duplicate);

    let again = publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;

    assert_eq!(again, vec![as_duplicate(&original[0])]);
    assert_eq!(get_topic(&mut client, "orders").await.next_offset, 2);
    assert_eq!(
        offsets_of(&read_all(&mut client, "orders").await),
        vec![0, 1]
    );
}

#[tokio::test]
async fn duplicate_in_a_mixed_request_appends_only_the_new_events() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let original = publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;

    let results = publish(
        &mut client,
        "orders",
        vec![
            event("B", "new"),
            keyed_event("A", "x", "k1"),
            keyed_event("C", "y", "k2"),
        ],
    )
    .await;

    assert_eq!((results[0].offset, results[0].duplicate), (1, false));
    assert_eq!(results[1], as_duplicate(&original[0]));
    assert_eq!((results[2].offset, results[2].duplicate), (2, false));
    let stored = read_all(&mut client, "orders").await;
    assert_eq!(
        stored.iter().map(|e| e.r#type.as_str()).collect::<Vec<_>>(),
        vec!["A", "B", "C"]
    );
}

#[tokio::test]
async fn duplicate_within_one_request_points_at_its_first_occurrence() {
    let server = TestServer::start().await;
    let mut client = server.client().await;

    let results = publish(
        &mut client,
        "orders",
        vec![
            keyed_event("A", "x", "k1"),
            event("B", "y"),
            keyed_event("A", "x", "k1"),
        ],
    )
    .await;

    assert_eq!((results[0].offset, results[0].duplicate), (0, false));
    assert_eq!((results[1].offset, results[1].duplicate), (1, false));
    assert_eq!(results[2], as_duplicate(&results[0]));
    assert_eq!(get_topic(&mut client, "orders").await.next_offset, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_of_one_key_append_it_once() {
    let server = TestServer::start().await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.extend(within(task).await.expect("publisher task"));
    }

    let originals: Vec<_> = results.iter().filter(|r| !r.duplicate).collect();
    assert_eq!(originals.len(), 1, "{results:?}");
    let original = originals[0];
    assert_eq!(original.offset, 0);
    for result in &results {
        assert_eq!(
            (&result.id, result.offset, result.time),
            (&original.id, 0, original.time)
        );
    }
    let mut client = server.client().await;
    assert_eq!(get_topic(&mut client, "orders").await.next_offset, 1);
}

/// A duplicate reports its original's key version wherever the original was found: earlier in
/// the same request, earlier in the same group commit (not stored yet), or stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_report_the_key_version_of_their_original() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let deposit = |transaction: &str| pb::EventData {
        key: "acc-1".into(),
        ..keyed_event("Deposited", "10", transaction)
    };
    let results = publish(
        &mut client,
        "ledger",
        vec![deposit("tx-1"), deposit("tx-1")],
    )
    .await;
    assert_eq!(results[0].key_version, Some(0));
    assert_eq!(results[1], as_duplicate(&results[0]));

    for round in 0..5 {
        let transaction = format!("tx-concurrent-{round}");
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let mut client = server.client().await;
            let event = deposit(&transaction);
            tasks.push(tokio::spawn(async move {
                publish(&mut client, "ledger", vec![event]).await
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.extend(within(task).await.expect("publisher task"));
        }
        let original = results
            .iter()
            .find(|result| !result.duplicate)
            .expect("one original")
            .clone();
        assert_eq!(original.key_version, Some(round + 1));
        for result in &results {
            assert!(
                *result == original || *result == as_duplicate(&original),
                "{result:?} is not the original {original:?}"
            );
        }
    }
}

/// A retry found in the stored log reports its original's key version even when it carries
/// another entity key, or none: the version is the original's, like its offset and id.
#[tokio::test]
async fn a_stored_duplicate_reports_its_originals_key_version_whatever_key_the_retry_has() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let deposit = |key: &str, transaction: &str| pb::EventData {
        key: key.into(),
        ..keyed_event("Deposited", "10", transaction)
    };
    publish(&mut client, "ledger", vec![deposit("acc-1", "tx-1")]).await;
    let original = publish(&mut client, "ledger", vec![deposit("acc-1", "tx-2")]).await;
    assert_eq!(original[0].key_version, Some(1));
    for retry_key in ["acc-1", "acc-2", ""] {
        let retried = publish(&mut client, "ledger", vec![deposit(retry_key, "tx-2")]).await;
        assert_eq!(
            retried[0],
            as_duplicate(&original[0]),
            "retry with key {retry_key:?}"
        );
    }
    let unkeyed = publish(
        &mut client,
        "ledger",
        vec![keyed_event("Noted", "n", "tx-3")],
    )
    .await;
    let retried = publish(
        &mut client,
        "ledger",
        vec![keyed_event("Noted", "n", "tx-3")],
    )
    .await;
    assert_eq!(retried[0], as_duplicate(&unkeyed[0]));
    assert_eq!(retried[0].key_version, None);
}

#[tokio::test]
async fn idempotency_keys_are_per_topic() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("Seed", "s")]).await;
    let in_orders = publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;

    let in_payments = publish(&mut client, "payments", vec![keyed_event("A", "x", "k1")]).await;

    assert_eq!(in_orders[0].offset, 1);
    assert_eq!(
        (in_payments[0].offset, in_payments[0].duplicate),
        (0, false)
    );
    assert_ne!(in_payments[0].id, in_orders[0].id);
    assert_eq!(get_topic(&mut client, "payments").await.next_offset, 1);
}

#[tokio::test]
async fn key_reused_with_different_payload_is_failed_precondition_and_appends_nothing() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;

    let result = try_publish(
        &mut client,
        "orders",
        vec![
            event("B", "other"),
            keyed_event("C", "z", "k2"),
            keyed_event("A", "DIFFERENT", "k1"),
        ],
    )
    .await;

    expect_code(result, Code::FailedPrecondition);
    assert_eq!(get_topic(&mut client, "orders").await.next_offset, 1);
    assert_eq!(offsets_of(&read_all(&mut client, "orders").await), vec![0]);
    // The rejected request's other key was not recorded either.
    let k2 = publish(&mut client, "orders", vec![keyed_event("C", "z", "k2")]).await;
    assert_eq!((k2[0].offset, k2[0].duplicate), (1, false));
}

#[tokio::test]
async fn key_reused_with_different_type_is_failed_precondition_and_appends_nothing() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;

    let result = try_publish(
        &mut client,
        "orders",
        vec![keyed_event("B", "x", "k1"), event("C", "other")],
    )
    .await;

    expect_code(result, Code::FailedPrecondition);
    assert_eq!(get_topic(&mut client, "orders").await.next_offset, 1);
    assert_eq!(offsets_of(&read_all(&mut client, "orders").await), vec![0]);
}

#[tokio::test]
async fn key_reused_within_one_request_for_a_different_event_is_failed_precondition() {
    let server = TestServer::start().await;
    let mut client = server.client().await;

    let result = try_publish(
        &mut client,
        "orders",
        vec![keyed_event("A", "x", "k1"), keyed_event("A", "y", "k1")],
    )
    .await;

    expect_code(result, Code::FailedPrecondition);
    assert_eq!(get_topic(&mut client, "orders").await.next_offset, 0);
    // Nothing of it was recorded: the key is still free.
    let results = publish(&mut client, "orders", vec![keyed_event("A", "y", "k1")]).await;
    assert_eq!((results[0].offset, results[0].duplicate), (0, false));
}

#[tokio::test]
async fn dedup_survives_a_graceful_restart() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let original = publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;

    let server = server.restart().await;
    let mut client = server.client().await;
    let again = publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;

    assert_eq!(again, vec![as_duplicate(&original[0])]);
    assert_eq!(get_topic(&mut client, "orders").await.next_offset, 1);
    let conflict = try_publish(&mut client, "orders", vec![keyed_event("A", "y", "k1")]).await;
    expect_code(conflict, Code::FailedPrecondition);
}

#[tokio::test]
async fn keys_sealed_into_key_files_survive_a_restart() {
    let server = TestServer::start_with(|config| config.dedup_generation_keys = 4).await;
    let mut client = server.client().await;
    let requests: Vec<Vec<pb::EventData>> = (0..20)
        .map(|request| {
            (0..3)
                .map(|n| keyed_event("A", format!("{request}-{n}"), &format!("k{request}-{n}")))
                .collect()
        })
        .collect();
    let mut originals = Vec::new();
    for events in &requests {
        originals.extend(publish(&mut client, "orders", events.clone()).await);
    }
    let mut key_files = Vec::new();
    for entry in walk(server.data_dir()) {
        if entry
            .extension()
            .is_some_and(|extension| extension == "dedup")
        {
            key_files.push(entry);
        }
    }
    assert!(!key_files.is_empty(), "no key file was written");

    let server = server.restart().await;
    let mut client = server.client().await;
    let mut again = Vec::new();
    for events in &requests {
        again.extend(publish(&mut client, "orders", events.clone()).await);
    }

    let expected: Vec<_> = originals.iter().map(as_duplicate).collect();
    assert_eq!(again, expected);
    assert_eq!(get_topic(&mut client, "orders").await.next_offset, 60);
    let conflict = try_publish(
        &mut client,
        "orders",
        vec![keyed_event("A", "other", "k0-0")],
    )
    .await;
    expect_code(conflict, Code::FailedPrecondition);
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn keys_expire_after_the_topics_dedup_window() {
    let server = TestServer::start_with(|config| {
        config.retention_interval = Duration::from_millis(50);
    })
    .await;
    let mut client = server.client().await;
    let window = prost_types::Duration {
        seconds: 1,
        nanos: 0,
    };
    create_topic(
        &mut client,
        "orders",
        Some(pb::TopicConfig {
            dedup_window: Some(window),
            ..Default::default()
        }),
    )
    .await;
    let original = publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;

    // Republish until the key has lapsed; until then every answer is the duplicate.
    let renewed = within(async {
        loop {
            let results = publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;
            if !results[0].duplicate {
                return results;
            }
            assert_eq!(results, vec![as_duplicate(&original[0])]);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    assert_eq!(renewed[0].offset, 1);
    assert_ne!(renewed[0].id, original[0].id);
    let remembered_for = nanos(&renewed[0].time) - nanos(&original[0].time);
    assert!(
        remembered_for >= 1_000_000_000,
        "key forgotten after {remembered_for} ns, before the 1 s window"
    );
    // The key now points at the new event.
    let again = publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;
    assert_eq!(again, vec![as_duplicate(&renewed[0])]);
    assert_eq!(get_topic(&mut client, "orders").await.next_offset, 2);
}

#[tokio::test]
async fn events_without_key_are_never_deduplicated() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(
        &mut client,
        "orders",
        vec![event("A", "x"), event("A", "x")],
    )
    .await;
    let results = publish(&mut client, "orders", vec![event("A", "x")]).await;
    assert_eq!((results[0].offset, results[0].duplicate), (2, false));
}
