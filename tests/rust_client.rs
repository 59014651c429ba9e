//! The Rust client (`eventstream::client`) against the real server binary: exactly-once publish
//! through lost replies and restarts, unary and pipelined on a PublishStream, subscriptions
//! resumed across server kills, and the durable consumer across a handler failure and a consumer
//! process crash.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{ChildServer, TEST_RETRY, client_of, within};
use eventstream::client::fault::LoseReplies;
use eventstream::client::{
    BoxError, Client, ClientError, DurableConsumer, PUBLISHER_WINDOW, PendingPublish, Publisher,
    RetryPolicy, RunUntil, StagedState, StartAt, SubscribeOptions, Subscription, event,
};
use eventstream::pb;

/// Events `first..first + count` of a test, each payload naming its number.
fn numbered(first: usize, count: usize, payload_bytes: usize) -> Vec<pb::EventData> {
    (first..first + count)
        .map(|n| {
            let mut payload = format!("event {n};").into_bytes();
            payload.resize(payload_bytes.max(payload.len()), b'.');
            event("Numbered", payload)
        })
        .collect()
}

/// Reads `count` events from `subscription`.
async fn take(subscription: &mut Subscription, count: usize) -> Vec<pb::Event> {
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        let event = within(subscription.next())
            .await
            .expect("subscription")
            .expect("a live subscription does not end");
        events.push(event);
    }
    events
}

fn offsets(events: &[pb::Event]) -> Vec<u64> {
    events.iter().map(|event| event.offset).collect()
}

#[tokio::test]
async fn publish_and_subscribe_roundtrip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let client = client_of(&server);

    let mut events = numbered(0, 3, 0);
    events[0].key = "acc-1".into();
    events[1].idempotency_key = "my-own-key".into();
    let published = within(client.publish("roundtrip", events))
        .await
        .expect("publish");
    assert_eq!(
        published.iter().map(|p| p.offset).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(published[1].idempotency_key, "my-own-key");
    for assigned in [&published[0], &published[2]] {
        let key = uuid::Uuid::parse_str(&assigned.idempotency_key).expect("a UUID key");
        assert_eq!(key.get_version_num(), 4);
    }
    assert!(published.iter().all(|p| !p.duplicate));

    let mut replay = client.subscribe(SubscribeOptions::new("roundtrip").stop_at_end(true));
    assert_eq!(replay.position(), None);
    let mut seen = Vec::new();
    while let Some(event) = within(replay.next()).await.expect("replay") {
        seen.push(event);
        assert_eq!(replay.position(), Some(seen.len() as u64));
    }
    assert_eq!(offsets(&seen), [0, 1, 2]);
    assert_eq!(seen[0].payload, &b"event 0;"[..]);
    assert_eq!(seen[1].idempotency_key, "my-own-key");
    assert_eq!(
        seen.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        published.iter().map(|p| p.id.clone()).collect::<Vec<_>>()
    );
    assert!(replay.caught_up());

    let mut by_key = client.subscribe(
        SubscribeOptions::new("roundtrip")
            .key("acc-1")
            .stop_at_end(true),
    );
    let only = within(by_key.next()).await.expect("filtered").expect("one");
    assert_eq!(only.offset, 0);
    assert!(within(by_key.next()).await.expect("end").is_none());
    assert_eq!(
        by_key.position(),
        Some(3),
        "the position moves past skipped events"
    );

    // Live: a subscription from the end gets what is published next.
    let mut live = client.subscribe(SubscribeOptions::new("roundtrip").start(StartAt::Latest));
    let first = within(live.next_batch())
        .await
        .expect("caught-up")
        .expect("batch");
    assert!(first.events.is_empty() && first.caught_up);
    assert_eq!(live.position(), Some(3));
    within(client.publish("roundtrip", numbered(3, 1, 0)))
        .await
        .expect("publish");
    assert_eq!(offsets(&take(&mut live, 1).await), [3]);

    // The same key again is a duplicate with the original result.
    let mut again = numbered(1, 1, 0);
    again[0].idempotency_key = "my-own-key".into();
    let repeated = within(client.publish("roundtrip", again))
        .await
        .expect("publish");
    assert!(repeated[0].duplicate);
    assert_eq!((repeated[0].offset, &repeated[0].id), (1, &published[1].id));

    let topic = within(client.get_topic("roundtrip")).await.expect("topic");
    assert_eq!(topic.next_offset, 4);
}

#[tokio::test]
async fn a_publish_whose_reply_was_lost_is_retried_without_duplicating() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let lose = LoseReplies::default();
    let client = Client::builder(&format!("http://{}", server.addr))
        .layer(lose.clone())
        .connect_lazy()
        .expect("client");
    let policy = RetryPolicy {
        attempt_timeout: Duration::from_millis(300),
        ..TEST_RETRY
    };
    within(client.create_topic("lossy", Default::default()))
        .await
        .expect("create");

    lose.lose_next(1);
    let published = within(client.publish_with("lossy", numbered(0, 2, 0), &policy))
        .await
        .expect("publish");
    assert_eq!(lose.lost(), 1, "the first attempt's reply was lost");
    assert!(published.iter().all(|p| p.duplicate), "{published:?}");
    assert_eq!(
        published.iter().map(|p| p.offset).collect::<Vec<_>>(),
        [0, 1]
    );
    let topic = within(client.get_topic("lossy")).await.expect("topic");
    assert_eq!(topic.next_offset, 2, "appended once");
}

#[tokio::test]
async fn a_publish_started_while_the_server_is_down_lands_once_it_is_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let addr = server.addr;
    let client = client_of(&server);
    within(client.publish("downtime", numbered(0, 1, 0)))
        .await
        .expect("publish");
    server.kill().await;

    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.publish("downtime", numbered(1, 2, 0)).await }
    });
    let server = ChildServer::start_at(addr, dir.path(), &[]).await;
    let published = within(pending).await.expect("task").expect("publish");
    assert_eq!(
        published.iter().map(|p| p.offset).collect::<Vec<_>>(),
        [1, 2]
    );
    let topic = within(client_of(&server).get_topic("downtime"))
        .await
        .expect("topic");
    assert_eq!(topic.next_offset, 3);
}

/// Sends each of `events` as a publish of its own on `publisher`, all before awaiting any.
async fn send_each(
    publisher: &Publisher,
    topic: &str,
    events: Vec<pb::EventData>,
) -> Vec<PendingPublish> {
    let mut pending = Vec::with_capacity(events.len());
    for event in events {
        pending.push(
            within(publisher.send(topic, vec![event]))
                .await
                .expect("send"),
        );
    }
    pending
}

/// The offset of each answered one-event publish, in the order sent.
async fn answered_offsets(pending: Vec<PendingPublish>) -> Vec<u64> {
    let mut offsets = Vec::with_capacity(pending.len());
    for publish in pending {
        let published = within(publish).await.expect("publish");
        assert_eq!(published.len(), 1);
        offsets.push(published[0].offset);
    }
    offsets
}

#[tokio::test]
async fn a_publisher_pipelines_publishes_and_appends_them_in_the_order_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let client = client_of(&server);
    let publisher = client.publisher();
    // More than a window, so some wait in the queue for answers.
    let count = PUBLISHER_WINDOW + 500;
    let pending = send_each(&publisher, "piped", numbered(0, count, 0)).await;
    assert_eq!(
        answered_offsets(pending).await,
        (0..count as u64).collect::<Vec<_>>()
    );

    let mut subscription = client.subscribe(SubscribeOptions::new("piped").stop_at_end(true));
    let events = take(&mut subscription, count).await;
    for (n, event) in events.iter().enumerate() {
        assert!(event.payload.starts_with(format!("event {n};").as_bytes()));
    }
}

#[tokio::test]
async fn a_publish_the_server_refuses_fails_alone_on_a_publisher() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let publisher = client_of(&server).publisher();
    let first = within(publisher.send("refusals", numbered(0, 1, 0)))
        .await
        .expect("send");
    let invalid = within(publisher.send("refusals", vec![event("", "no type")]))
        .await
        .expect("send");
    let stale = within(publisher.send_request(pb::PublishRequest {
        topic: "refusals".into(),
        events: numbered(1, 1, 0),
        expected_next_offset: Some(0),
        ..Default::default()
    }))
    .await
    .expect("send");
    let last = within(publisher.send("refusals", numbered(1, 1, 0)))
        .await
        .expect("send");

    assert_eq!(within(first).await.expect("first")[0].offset, 0);
    let invalid = within(invalid).await;
    assert!(
        matches!(invalid, Err(ClientError::InvalidArgument(_))),
        "{invalid:?}"
    );
    let stale = within(stale).await;
    assert!(
        matches!(stale, Err(ClientError::Conflict { .. })),
        "{stale:?}"
    );
    assert_eq!(within(last).await.expect("last")[0].offset, 1);
}

#[tokio::test]
async fn a_publisher_sends_unanswered_publishes_again_after_a_lost_reply() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let lose = LoseReplies::default();
    let client = Client::builder(&format!("http://{}", server.addr))
        .layer(lose.clone())
        .publish_retry(RetryPolicy {
            attempt_timeout: Duration::from_millis(300),
            ..TEST_RETRY
        })
        .connect_lazy()
        .expect("client");
    within(client.create_topic("lossy", Default::default()))
        .await
        .expect("create");

    lose.lose_next(1);
    let publisher = client.publisher();
    let pending = send_each(&publisher, "lossy", numbered(0, 3, 0)).await;
    assert_eq!(answered_offsets(pending).await, [0, 1, 2]);
    assert_eq!(lose.lost(), 1, "the first stream's replies were lost");
    let topic = within(client.get_topic("lossy")).await.expect("topic");
    assert_eq!(topic.next_offset, 3, "appended once");
}

#[tokio::test]
async fn a_publisher_carries_on_across_a_server_kill_without_loss_or_duplicate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let addr = server.addr;
    let client = client_of(&server);
    let publisher = client.publisher();
    let before = send_each(&publisher, "killed", numbered(0, 2_000, 0)).await;
    // Killed with publishes in flight: some appended and not answered, some not sent.
    let mut before = before.into_iter();
    let first = within(before.next().expect("a publish"))
        .await
        .expect("first");
    assert_eq!(first[0].offset, 0);
    server.kill().await;
    // Sent while the server is down: queued behind those in flight until it is back.
    let during = tokio::spawn({
        let publisher = publisher.clone();
        async move { send_each(&publisher, "killed", numbered(2_000, 100, 0)).await }
    });
    let server = ChildServer::start_at(addr, dir.path(), &[]).await;
    let during = within(during).await.expect("sending task");

    let offsets = answered_offsets(before.chain(during).collect()).await;
    assert_eq!(offsets, (1..2_100).collect::<Vec<_>>());
    let topic = within(client.get_topic("killed")).await.expect("topic");
    assert_eq!(topic.next_offset, 2_100, "each publish appended once");
    drop(server);
}

#[tokio::test]
async fn permanent_errors_fail_at_once_and_transient_ones_give_up_in_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &["--auto-create-topics=false"]).await;
    let client = client_of(&server);
    let invalid = within(client.publish("t", vec![event("", "no type")])).await;
    assert!(
        matches!(invalid, Err(ClientError::InvalidArgument(_))),
        "{invalid:?}"
    );
    let missing = within(client.get_topic("absent")).await;
    assert!(
        matches!(missing, Err(ClientError::NotFound(_))),
        "{missing:?}"
    );
    within(client.create_topic("t", Default::default()))
        .await
        .expect("create");
    let taken = within(client.create_topic("t", Default::default())).await;
    assert!(
        matches!(taken, Err(ClientError::AlreadyExists(_))),
        "{taken:?}"
    );
    let mut past_end = client.subscribe(SubscribeOptions::new("t").start(StartAt::Offset(5)));
    let out_of_range = within(past_end.next()).await;
    assert!(
        matches!(out_of_range, Err(ClientError::OutOfRange(_))),
        "{out_of_range:?}"
    );

    let addr = server.addr;
    server.kill().await;
    let impatient = Client::builder(&format!("http://{addr}"))
        .publish_retry(RetryPolicy {
            max_attempts: Some(3),
            initial_backoff: Duration::from_millis(10),
            ..RetryPolicy::PUBLISH
        })
        .connect_lazy()
        .expect("client");
    match within(impatient.list_topics()).await {
        Err(ClientError::Unavailable { attempts, .. }) => assert_eq!(attempts, 3),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_subscription_resumes_across_server_kills_without_loss_or_duplicate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let addr = server.addr;
    let client = client_of(&server);
    // 300 events of 10 KiB: the history spans several responses (about 1 MiB each).
    for chunk in 0..3 {
        within(client.publish("resume", numbered(chunk * 100, 100, 10 * 1024)))
            .await
            .expect("publish");
    }

    let mut subscription = client.subscribe(SubscribeOptions::new("resume"));
    let mut seen = take(&mut subscription, 1).await;
    // Killed in the middle of the history.
    server.kill().await;
    let server = ChildServer::start_at(addr, dir.path(), &[]).await;
    seen.extend(take(&mut subscription, 299).await);
    assert!(subscription.caught_up());

    // Killed while idle on the live tail; events published after the restart arrive.
    server.kill().await;
    let server = ChildServer::start_at(addr, dir.path(), &[]).await;
    within(client.publish("resume", numbered(300, 20, 0)))
        .await
        .expect("publish");
    seen.extend(take(&mut subscription, 20).await);

    assert_eq!(offsets(&seen), (0..320).collect::<Vec<_>>());
    for (n, event) in seen.iter().enumerate() {
        assert!(event.payload.starts_with(format!("event {n};").as_bytes()));
    }
    assert!(
        subscription.reconnects() >= 2,
        "{}",
        subscription.reconnects()
    );
    assert_eq!(subscription.position(), Some(320));
    drop(server);
}

/// Environment of [`consumer_process`], set by [`a_durable_consumer_crashing_mid_event_neither_skips_nor_repeats`].
const CHILD_SERVER: &str = "EVENTSTREAM_TEST_CONSUMER_SERVER";
const CHILD_DIR: &str = "EVENTSTREAM_TEST_CONSUMER_DIR";
const CHILD_CRASH_AT: &str = "EVENTSTREAM_TEST_CONSUMER_CRASH_AT";
const CONSUMED_TOPIC: &str = "orders";

/// Handles `event` for the crash tests: an effect outside the store (a line in `effects.log`,
/// at least once) and one inside it (a per-offset counter in the staged state, exactly once).
async fn count_order(dir: &Path, event: pb::Event, state: StagedState) -> Result<(), BoxError> {
    use std::io::Write;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("effects.log"))?;
    writeln!(log, "{}", event.offset)?;
    let key = format!("count/{:08}", event.offset);
    let count = state.get(key.as_bytes())?.map_or(0, |bytes| bytes[0]);
    state.insert(key, vec![count + 1]);
    Ok(())
}

/// Not a test by itself: the consumer process that
/// `a_durable_consumer_crashing_mid_event_neither_skips_nor_repeats` runs (by re-running this
/// test binary with only this test selected) and lets crash.
#[tokio::test]
#[ignore = "run as a child process by a_durable_consumer_crashing_mid_event_neither_skips_nor_repeats"]
async fn consumer_process() {
    let (Ok(server), Ok(dir)) = (std::env::var(CHILD_SERVER), std::env::var(CHILD_DIR)) else {
        return;
    };
    let dir = Path::new(&dir);
    let crash_at: Option<u64> = std::env::var(CHILD_CRASH_AT)
        .ok()
        .and_then(|n| n.parse().ok());
    let client = Client::connect_lazy(&server).expect("client");
    let (_db, consumer) = open_consumer(client, dir);
    within(consumer.run(RunUntil::CaughtUp, |event, state| async move {
        let offset = event.offset;
        count_order(dir, event, state).await?;
        if Some(offset) == crash_at {
            // Mid-event: the external effect happened, the commit did not.
            std::process::abort();
        }
        Ok::<_, BoxError>(())
    }))
    .await
    .expect("consume");
}

/// The crash tests' consumer, with its store in `dir` (the database handle keeps it open).
fn open_consumer(client: Client, dir: &Path) -> (sled::Db, DurableConsumer) {
    let db = sled::open(dir.join("consumer.db")).expect("open store");
    let options = SubscribeOptions::new(CONSUMED_TOPIC);
    let consumer = DurableConsumer::open(client, &db, "billing", options).expect("consumer");
    (db, consumer)
}

/// Runs [`consumer_process`] against `server`, crashing at `crash_at`; returns whether it exited
/// cleanly.
async fn run_consumer_process(server: &ChildServer, dir: &Path, crash_at: Option<u64>) -> bool {
    let mut command = tokio::process::Command::new(std::env::current_exe().expect("test binary"));
    command
        .args(["consumer_process", "--exact", "--ignored", "--quiet"])
        .env(CHILD_SERVER, format!("http://{}", server.addr))
        .env(CHILD_DIR, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(offset) = crash_at {
        command.env(CHILD_CRASH_AT, offset.to_string());
    }
    let status = within(command.status()).await.expect("consumer process");
    status.success()
}

/// Every offset's committed count, and how often its external effect ran.
fn counts(consumer: &DurableConsumer, dir: &Path) -> (BTreeMap<u64, u8>, BTreeMap<u64, usize>) {
    let committed = consumer
        .state_entries(b"count/")
        .expect("state")
        .into_iter()
        .map(|(key, value)| {
            let offset = String::from_utf8_lossy(&key[b"count/".len()..])
                .parse()
                .expect("offset");
            (offset, value[0])
        })
        .collect();
    let mut effects = BTreeMap::new();
    let log = std::fs::read_to_string(dir.join("effects.log")).expect("effects log");
    for line in log.lines() {
        *effects.entry(line.parse().expect("offset")).or_default() += 1;
    }
    (committed, effects)
}

#[tokio::test]
async fn a_durable_consumer_crashing_mid_event_neither_skips_nor_repeats() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(&dir.path().join("server"), &[]).await;
    let client = client_of(&server);
    within(client.publish(CONSUMED_TOPIC, numbered(0, 30, 0)))
        .await
        .expect("publish");

    assert!(
        !run_consumer_process(&server, dir.path(), Some(12)).await,
        "crashed"
    );
    assert!(
        run_consumer_process(&server, dir.path(), None).await,
        "finished"
    );

    let (_db, consumer) = open_consumer(client, dir.path());
    assert_eq!(consumer.position().expect("position"), Some(30));
    let (committed, effects) = counts(&consumer, dir.path());
    assert_eq!(
        committed,
        (0..30).map(|offset| (offset, 1)).collect(),
        "exactly once"
    );
    let expected_effects = (0..30).map(|offset| (offset, if offset == 12 { 2 } else { 1 }));
    assert_eq!(
        effects,
        expected_effects.collect(),
        "at least once, twice for the crash"
    );
}

#[tokio::test]
async fn a_failing_handler_commits_nothing_and_the_next_run_handles_the_event() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(&dir.path().join("server"), &[]).await;
    let addr = server.addr;
    let client = client_of(&server);
    within(client.publish(CONSUMED_TOPIC, numbered(0, 10, 0)))
        .await
        .expect("publish");
    let dir_path = dir.path();
    let (_db, consumer) = open_consumer(client.clone(), dir.path());

    let failed = within(consumer.run(RunUntil::CaughtUp, |event, state| async move {
        if event.offset == 4 {
            state.insert("poisoned", "written by the failing handler");
            return Err(BoxError::from("cannot handle offset 4"));
        }
        count_order(dir_path, event, state).await
    }))
    .await;
    assert!(
        matches!(failed, Err(ClientError::Handler { offset: 4, .. })),
        "{failed:?}"
    );
    assert_eq!(consumer.position().expect("position"), Some(4));
    assert_eq!(consumer.state(b"poisoned").expect("state"), None);

    // The server restarts before the next run; the consumer carries on from offset 4.
    server.kill().await;
    let server = ChildServer::start_at(addr, &dir.path().join("server"), &[]).await;
    let handled = within(consumer.run(RunUntil::CaughtUp, |event, state| {
        count_order(dir.path(), event, state)
    }))
    .await
    .expect("second run");
    assert_eq!(handled, 6);
    let (committed, effects) = counts(&consumer, dir.path());
    assert_eq!(committed, (0..10).map(|offset| (offset, 1)).collect());
    assert_eq!(effects, (0..10).map(|offset| (offset, 1)).collect());
    assert_eq!(consumer.prune_processed(10).expect("prune"), 10);
    drop(server);
}
