//! Event sourcing on a topic: key versions, reads through the key index, optimistic
//! concurrency (expected next offset, expected key versions) and cursors moved atomically with a
//! Publish.

mod common;
use common::*;

use std::collections::HashMap;
use std::sync::Arc;

use eventstream::pb;
use pb::precondition::Expected;
use tonic_types::StatusExt;

fn keyed(key: &str, event_type: &str, payload: impl Into<Vec<u8>>) -> pb::EventData {
    pb::EventData {
        key: key.to_string(),
        ..event(event_type, payload)
    }
}

fn expecting(mut event: pb::EventData, expected: Expected) -> pb::EventData {
    event.expected_key_version = Some(pb::Precondition {
        expected: Some(expected),
    });
    event
}

fn request(topic: &str, events: Vec<pb::EventData>) -> pb::PublishRequest {
    pb::PublishRequest {
        topic: topic.to_string(),
        events,
        ..Default::default()
    }
}

async fn try_publish_request(
    client: &mut Client,
    request: pb::PublishRequest,
) -> Result<Vec<pb::PublishResult>, tonic::Status> {
    within(client.publish(request))
        .await
        .map(|response| response.into_inner().results)
}

/// Asserts `status` is ABORTED for `reason`, and returns the ErrorInfo metadata.
fn conflict(status: &tonic::Status, reason: &str) -> HashMap<String, String> {
    assert_eq!(status.code(), tonic::Code::Aborted, "{status:?}");
    let info = status
        .get_details_error_info()
        .expect("an ErrorInfo detail");
    assert_eq!(info.reason, reason, "{status:?}");
    assert_eq!(info.domain, "eventstream");
    info.metadata
}

fn key_request(topic: &str, key: &str) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        key: key.to_string(),
        ..earliest_to_end(topic)
    }
}

async fn read_key(client: &mut Client, topic: &str, key: &str) -> Vec<pb::Event> {
    let mut stream = subscribe(client, key_request(topic, key)).await;
    read_to_end(&mut stream)
        .await
        .into_iter()
        .flat_map(|response| response.events)
        .collect()
}

#[tokio::test]
async fn each_key_counts_its_own_versions_and_keeps_counting_after_retention() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let retain_three = pb::TopicConfig {
        retention_events: 3,
        ..Default::default()
    };
    create_topic(&mut client, "accounts", Some(retain_three)).await;
    let results = publish(
        &mut client,
        "accounts",
        vec![
            keyed("acc-1", "Deposited", "10"),
            keyed("acc-2", "Deposited", "5"),
            keyed("acc-1", "Withdrawn", "3"),
            event("Audit", "no key"),
            keyed("acc-1", "Deposited", "1"),
        ],
    )
    .await;
    let versions: Vec<_> = results.iter().map(|result| result.key_version).collect();
    assert_eq!(versions, vec![Some(0), Some(0), Some(1), None, Some(2)]);
    // Retention trims the first two on its own timer: read once it has, as a read from offset 0
    // racing the trim would end with OUT_OF_RANGE.
    wait_for_topic(&mut client, "accounts", |topic| topic.first_offset >= 2).await;
    let stored = read_all(&mut client, "accounts").await;
    let first = stored.first().map_or(0, |event| event.offset as usize);
    assert!(first <= 2, "retention keeps the newest 3: {stored:?}");
    let stored_versions: Vec<_> = stored.iter().map(|event| event.key_version).collect();
    assert_eq!(
        stored_versions,
        versions[first..],
        "delivered events carry their version"
    );

    // Retention keeps 3 events: acc-1's first two go, its count does not restart.
    publish(&mut client, "accounts", vec![event("Audit", "x")]).await;
    wait_for_topic(&mut client, "accounts", |topic| topic.first_offset >= 3).await;
    let results = publish(
        &mut client,
        "accounts",
        vec![keyed("acc-1", "Deposited", "7")],
    )
    .await;
    assert_eq!(results[0].key_version, Some(3));
    let remaining = read_key(&mut client, "accounts", "acc-1").await;
    assert_eq!(
        offsets_of(&remaining),
        vec![4, 6],
        "the index follows retention"
    );
}

#[tokio::test]
async fn a_key_filter_reads_only_that_keys_events_live_and_from_history() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for round in 0..50 {
        let events = (0..20)
            .map(|i| keyed(&format!("k{i}"), "Changed", format!("{round}-{i}")))
            .collect();
        publish(&mut client, "entities", events).await;
    }
    let history = read_key(&mut client, "entities", "k7").await;
    assert_eq!(history.len(), 50);
    assert!(history.iter().all(|event| event.key == "k7"));
    let versions: Vec<_> = history.iter().map(|event| event.key_version).collect();
    assert_eq!(versions, (0..50).map(Some).collect::<Vec<_>>());

    let mut from_middle = subscribe(
        &mut client,
        pb::SubscribeRequest {
            key: "k7".into(),
            stop_at_end: true,
            ..from_offset("entities", history[25].offset)
        },
    )
    .await;
    let responses = read_to_end(&mut from_middle).await;
    let events: Vec<_> = responses.iter().flat_map(|r| r.events.clone()).collect();
    assert_eq!(offsets_of(&events), offsets_of(&history[25..]));
    assert_eq!(responses.last().expect("a response").next_offset, 1000);

    let mut live = subscribe(
        &mut client,
        pb::SubscribeRequest {
            key: "k7".into(),
            ..from_offset("entities", 1000)
        },
    )
    .await;
    publish(
        &mut client,
        "entities",
        vec![keyed("k1", "Changed", "a"), keyed("k7", "Changed", "b")],
    )
    .await;
    let (events, _) = collect_events(&mut live, 1).await;
    assert_eq!((events[0].offset, events[0].key_version), (1001, Some(50)));
}

#[tokio::test]
async fn a_key_read_never_touches_other_keys_events() {
    // Damage a batch holding only other keys' events: a scan of the topic would hit it, a read
    // through the key index does not.
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    publish(&mut client, "ledger", vec![keyed("mine", "Deposited", "1")]).await;
    publish(
        &mut client,
        "ledger",
        vec![keyed("other", "Deposited", "2"); 5],
    )
    .await;
    publish(&mut client, "ledger", vec![keyed("mine", "Deposited", "3")]).await;
    drop(client);
    assert!(server.terminate(TIMEOUT).await.success());
    damage_stored_batch(dir.path(), "ledger", 1);
    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    let mine = read_key(&mut client, "ledger", "mine").await;
    assert_eq!(offsets_of(&mine), vec![0, 6]);
    let mut scan = subscribe(&mut client, earliest_to_end("ledger")).await;
    let (events, ended) = read_until_error(&mut scan, Vec::new()).await;
    assert_eq!(offsets_of(&events), vec![0]);
    assert_eq!(ended.expect("DATA_LOSS").code(), tonic::Code::DataLoss);
}

#[tokio::test]
async fn expected_next_offset_appends_only_onto_the_log_the_caller_saw() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(
        &mut client,
        "orders",
        vec![event("A", "1"), event("B", "2")],
    )
    .await;

    let mut stale = request("orders", vec![event("C", "3")]);
    stale.expected_next_offset = Some(1);
    let status = try_publish_request(&mut client, stale)
        .await
        .expect_err("the log has moved on");
    let current = conflict(&status, "NEXT_OFFSET_MISMATCH");
    assert_eq!(current["next_offset"], "2");
    assert!(status.message().contains("ends at offset 2"), "{status:?}");
    assert_topic_range(&mut client, "orders", 0, 2).await;

    let mut fresh = request("orders", vec![event("C", "3")]);
    fresh.expected_next_offset = Some(2);
    let results = try_publish_request(&mut client, fresh)
        .await
        .expect("publish");
    assert_eq!(results[0].offset, 2);
}

#[tokio::test]
async fn expected_key_versions_hold_per_event_in_request_order() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let opened = try_publish_request(
        &mut client,
        request(
            "accounts",
            vec![
                expecting(keyed("acc-1", "Opened", ""), Expected::Absent(true)),
                expecting(keyed("acc-1", "Deposited", "100"), Expected::Equals(0)),
            ],
        ),
    )
    .await
    .expect("both expectations hold");
    assert_eq!(opened[1].key_version, Some(1));

    let status = try_publish_request(
        &mut client,
        request(
            "accounts",
            vec![
                expecting(keyed("acc-2", "Opened", ""), Expected::Absent(true)),
                expecting(keyed("acc-1", "Opened", ""), Expected::Absent(true)),
            ],
        ),
    )
    .await
    .expect_err("acc-1 exists");
    let current = conflict(&status, "KEY_VERSION_MISMATCH");
    assert_eq!(
        (current["key"].as_str(), current["key_version"].as_str()),
        ("acc-1", "1")
    );
    assert_eq!(current["event_index"], "1");

    let status = try_publish_request(
        &mut client,
        request(
            "accounts",
            vec![expecting(
                keyed("acc-1", "Withdrawn", "80"),
                Expected::Equals(0),
            )],
        ),
    )
    .await
    .expect_err("stale version");
    assert_eq!(
        conflict(&status, "KEY_VERSION_MISMATCH")["key_version"],
        "1"
    );
    assert_topic_range(&mut client, "accounts", 0, 2).await;
    assert!(read_key(&mut client, "accounts", "acc-2").await.is_empty());
}

#[tokio::test]
async fn a_retried_request_is_a_duplicate_not_a_conflict() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut withdraw = request(
        "accounts",
        vec![expecting(
            pb::EventData {
                idempotency_key: "withdrawal-17".into(),
                ..keyed("acc-1", "Withdrawn", "80")
            },
            Expected::Absent(true),
        )],
    );
    withdraw.expected_next_offset = Some(0);
    let first = try_publish_request(&mut client, withdraw.clone())
        .await
        .expect("first attempt");
    let retry = try_publish_request(&mut client, withdraw)
        .await
        .expect("the retry of an appended request succeeds");
    assert!(retry[0].duplicate);
    assert_eq!(
        (retry[0].offset, retry[0].key_version),
        (first[0].offset, Some(0))
    );
    assert_topic_range(&mut client, "accounts", 0, 1).await;
}

/// Many writers withdraw from one account, each reading the balance and publishing with the
/// version it read; conflicts are retried. No update is lost: the final balance is what a serial
/// execution gives, and versions run gapless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_one_key_never_lose_an_update() {
    const WRITERS: usize = 8;
    const WITHDRAWALS_EACH: usize = 10;
    let server = Arc::new(TestServer::start().await);
    let mut client = server.client().await;
    publish(&mut client, "bank", vec![keyed("acc", "Deposited", "1000")]).await;
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let server = Arc::clone(&server);
        writers.push(tokio::spawn(async move {
            let mut client = server.client().await;
            let mut conflicts = 0;
            for n in 0..WITHDRAWALS_EACH {
                loop {
                    let history = read_key(&mut client, "bank", "acc").await;
                    let balance: i64 = history.iter().map(amount).sum();
                    let version = history.last().and_then(|e| e.key_version).expect("version");
                    assert!(
                        balance >= 5,
                        "the balance never goes below what is withdrawn"
                    );
                    let withdrawal = expecting(
                        pb::EventData {
                            idempotency_key: format!("w{writer}-{n}"),
                            ..keyed("acc", "Withdrawn", "5")
                        },
                        Expected::Equals(version),
                    );
                    match try_publish_request(&mut client, request("bank", vec![withdrawal])).await
                    {
                        Ok(_) => break,
                        Err(status) => {
                            conflict(&status, "KEY_VERSION_MISMATCH");
                            conflicts += 1;
                        }
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for writer in writers {
        conflicts += writer.await.expect("writer");
    }
    let history = read_key(&mut client, "bank", "acc").await;
    let balance: i64 = history.iter().map(amount).sum();
    assert_eq!(balance, 1000 - 5 * (WRITERS * WITHDRAWALS_EACH) as i64);
    let versions: Vec<_> = history.iter().map(|event| event.key_version).collect();
    assert_eq!(
        versions,
        (0..=(WRITERS * WITHDRAWALS_EACH) as u64)
            .map(Some)
            .collect::<Vec<_>>()
    );
    println!("{conflicts} conflicts retried");
}

fn amount(event: &pb::Event) -> i64 {
    let value: i64 = std::str::from_utf8(&event.payload)
        .expect("utf-8")
        .parse()
        .expect("an amount");
    if event.r#type == "Withdrawn" {
        -value
    } else {
        value
    }
}

fn with_cursor(
    mut request: pb::PublishRequest,
    position: u64,
    expected: Option<Expected>,
) -> pb::PublishRequest {
    request.cursor = Some(pb::CursorUpdate {
        name: "projector".into(),
        position,
        expected_position: expected.map(|expected| pb::Precondition {
            expected: Some(expected),
        }),
    });
    request
}

async fn cursor_position(client: &mut Client, topic: &str) -> Result<u64, tonic::Status> {
    within(client.get_cursor(pb::GetCursorRequest {
        topic: topic.to_string(),
        name: "projector".into(),
    }))
    .await
    .map(|response| response.into_inner().cursor.expect("cursor").position)
}

#[tokio::test]
async fn a_cursor_moves_with_the_events_of_its_publish_or_not_at_all() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "balances", None).await;
    let status = cursor_position(&mut client, "balances")
        .await
        .expect_err("never set");
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");

    let first = with_cursor(
        request("balances", vec![keyed("acc", "BalanceChanged", "10")]),
        3,
        Some(Expected::Absent(true)),
    );
    try_publish_request(&mut client, first)
        .await
        .expect("first output");
    assert_eq!(
        cursor_position(&mut client, "balances").await.expect("set"),
        3
    );

    // A stale instance of the projector: its output is refused along with its cursor move.
    let stale = with_cursor(
        request("balances", vec![keyed("acc", "BalanceChanged", "99")]),
        4,
        Some(Expected::Equals(1)),
    );
    let status = try_publish_request(&mut client, stale)
        .await
        .expect_err("stale cursor");
    assert_eq!(conflict(&status, "CURSOR_MISMATCH")["position"], "3");
    assert_topic_range(&mut client, "balances", 0, 1).await;

    // Processed input that produced no output still moves the cursor.
    let no_output = with_cursor(
        request("balances", Vec::new()),
        5,
        Some(Expected::Equals(3)),
    );
    let results = try_publish_request(&mut client, no_output)
        .await
        .expect("cursor only");
    assert!(results.is_empty());
    assert_eq!(
        cursor_position(&mut client, "balances").await.expect("set"),
        5
    );
}

/// A cursor read back is never ahead of what can be read: the events published with it are
/// durable and delivered by then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_is_read_only_once_the_events_written_with_it_are_readable() {
    let server = TestServer::start().await;
    let client = server.client().await;
    for n in 0..30u64 {
        let mut publisher = client.clone();
        let publish = tokio::spawn(async move {
            let request = with_cursor(
                request("output", vec![event("Result", n.to_string())]),
                n + 1,
                None,
            );
            try_publish_request(&mut publisher, request).await
        });
        let mut reader = client.clone();
        if let Ok(position) = cursor_position(&mut reader, "output").await {
            let (events, _) = read_topic_to_end(&mut reader, "output").await;
            assert!(
                events.len() as u64 >= position,
                "cursor at {position} but only {} events readable",
                events.len()
            );
        }
        publish.await.expect("task").expect("publish");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_index_and_cursors_survive_kill_9_and_go_with_a_deleted_topic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    for n in 0..30 {
        let publish = with_cursor(
            request(
                "ledger",
                vec![keyed(&format!("acc-{}", n % 3), "Deposited", "1")],
            ),
            n + 1,
            None,
        );
        try_publish_request(&mut client, publish)
            .await
            .expect("publish");
    }
    server.kill().await;

    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    assert_eq!(
        cursor_position(&mut client, "ledger")
            .await
            .expect("cursor"),
        30
    );
    let acc1 = read_key(&mut client, "ledger", "acc-1").await;
    assert_eq!(acc1.len(), 10);
    let results = publish(
        &mut client,
        "ledger",
        vec![keyed("acc-1", "Deposited", "1")],
    )
    .await;
    assert_eq!(results[0].key_version, Some(10));

    within(client.delete_topic(pb::DeleteTopicRequest {
        name: "ledger".into(),
    }))
    .await
    .expect("delete");
    let results = publish(
        &mut client,
        "ledger",
        vec![keyed("acc-1", "Deposited", "1")],
    )
    .await;
    assert_eq!(
        results[0].key_version,
        Some(0),
        "a new topic starts its keys anew"
    );
    assert!(cursor_position(&mut client, "ledger").await.is_err());
}

#[tokio::test]
async fn malformed_expectations_are_invalid_arguments() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let cases = [
        request("t", vec![expecting(event("A", ""), Expected::Equals(0))]),
        request(
            "t",
            vec![expecting(keyed("k", "A", ""), Expected::Absent(false))],
        ),
        request("t", Vec::new()),
        request("t", vec![keyed(&"k".repeat(1025), "A", "")]),
        with_cursor(request("t", Vec::new()), 1, Some(Expected::Absent(false))),
    ];
    for case in cases {
        let status = try_publish_request(&mut client, case)
            .await
            .expect_err("invalid");
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    }
}
