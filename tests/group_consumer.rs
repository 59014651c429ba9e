//! The Rust client's consumer group member (`eventstream::client::GroupConsumer`) against the
//! real server binary: sharing, a failing handler, and a server killed between the handler and
//! the acknowledgement.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ChildServer, client_of, within};
use eventstream::client::{BoxError, Client, ClientError, GroupConsumer, GroupOptions, event};
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

async fn publish_numbered(client: &Client, topic: &str, count: usize) {
    let events = (0..count)
        .map(|n| event("Paid", format!("{n}").into_bytes()))
        .collect();
    within(client.publish(topic, events))
        .await
        .expect("publish");
}

/// Handler calls per offset, shared by the members of a test.
type Calls = Arc<Mutex<BTreeMap<u64, u32>>>;

async fn wait_until_handled(calls: &Calls, count: usize) {
    within(async {
        while calls.lock().unwrap().len() < count {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn two_members_share_the_events_and_handle_each_once() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(data_dir.path(), &[]).await;
    let client = client_of(&server);
    publish_numbered(&client, "payments", 200).await;
    let calls: Calls = Arc::default();
    let per_member = Arc::new(Mutex::new([0u32; 2]));
    let stop = CancellationToken::new();
    let mut runs = Vec::new();
    for member in 0..2 {
        let store = sled::Config::new().temporary(true).open().expect("store");
        let consumer = GroupConsumer::open(
            client.clone(),
            &store,
            GroupOptions::new("payments", "email").max_in_flight(10),
        )
        .expect("open");
        let calls = Arc::clone(&calls);
        let per_member = Arc::clone(&per_member);
        let stop = stop.clone();
        runs.push(tokio::spawn(async move {
            consumer
                .run(stop.cancelled_owned(), |event, _attempt| {
                    *calls.lock().unwrap().entry(event.offset).or_default() += 1;
                    per_member.lock().unwrap()[member] += 1;
                    async {
                        // Long enough that both members get a share.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        Ok::<_, BoxError>(())
                    }
                })
                .await
        }));
    }
    wait_until_handled(&calls, 200).await;
    stop.cancel();
    for run in runs {
        within(run).await.expect("run").expect("stats");
    }
    let calls = calls.lock().unwrap();
    assert_eq!(
        calls.keys().copied().collect::<BTreeSet<_>>(),
        (0..200).collect()
    );
    assert!(calls.values().all(|&count| count == 1), "{calls:?}");
    let shares = *per_member.lock().unwrap();
    assert!(shares.iter().all(|&share| share > 20), "uneven: {shares:?}");
}

#[tokio::test]
async fn a_failed_handler_gets_the_event_again_with_the_next_attempt() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(data_dir.path(), &[]).await;
    let client = client_of(&server);
    publish_numbered(&client, "payments", 3).await;
    let store = sled::Config::new().temporary(true).open().expect("store");
    let consumer = GroupConsumer::open(
        client.clone(),
        &store,
        GroupOptions::new("payments", "fraud"),
    )
    .expect("open");
    let attempts: Arc<Mutex<Vec<(u64, u32)>>> = Arc::default();
    let done = CancellationToken::new();
    let stats = within(
        consumer.run(done.clone().cancelled_owned(), |event, attempt| {
            attempts.lock().unwrap().push((event.offset, attempt));
            let finished = attempts.lock().unwrap().len() == 4;
            let done = done.clone();
            async move {
                if event.offset == 1 && attempt == 1 {
                    return Err::<(), BoxError>("card network timeout".into());
                }
                if finished {
                    done.cancel();
                }
                Ok(())
            }
        }),
    )
    .await
    .expect("run");
    let attempts = attempts.lock().unwrap().clone();
    assert!(
        attempts.contains(&(1, 1)) && attempts.contains(&(1, 2)),
        "{attempts:?}"
    );
    assert_eq!((stats.handled, stats.failed), (3, 1));
    let group = within(client.get_group("payments", "fraud"))
        .await
        .expect("group");
    assert_eq!(group.redeliveries, 1);
}

#[tokio::test]
async fn an_event_handled_before_a_server_crash_is_not_handled_again() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(data_dir.path(), &[]).await;
    let addr = server.addr;
    let client = client_of(&server);
    publish_numbered(&client, "orders", 300).await;
    let store = sled::Config::new().temporary(true).open().expect("store");
    let consumer = GroupConsumer::open(
        client.clone(),
        &store,
        GroupOptions::new("orders", "shipping").max_in_flight(100),
    )
    .expect("open");
    let calls: Calls = Arc::default();
    let (reached, reached_rx) = oneshot::channel::<()>();
    let reached = Mutex::new(Some(reached));
    let resume = Arc::new(Notify::new());
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let calls = Arc::clone(&calls);
        let resume = Arc::clone(&resume);
        let stop = stop.clone();
        async move {
            consumer
                .run(stop.cancelled_owned(), move |event, _attempt| {
                    *calls.lock().unwrap().entry(event.offset).or_default() += 1;
                    // Hold the handler of offset 50 (mid-batch: nothing of it acknowledged yet)
                    // until the server was killed and restarted.
                    let hold = (event.offset == 50)
                        .then(|| reached.lock().unwrap().take())
                        .flatten();
                    let resume = Arc::clone(&resume);
                    async move {
                        if let Some(reached) = hold {
                            let _ = reached.send(());
                            resume.notified().await;
                        }
                        Ok::<_, BoxError>(())
                    }
                })
                .await
        }
    });
    within(reached_rx).await.expect("offset 50 reached");
    server.kill().await;
    let server = ChildServer::start_at(addr, data_dir.path(), &[]).await;
    resume.notify_one();
    wait_until_handled(&calls, 300).await;
    within(async {
        loop {
            let group = client.get_group("orders", "shipping").await?;
            if group.ack_floor == 300 {
                return Ok::<_, ClientError>(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("group");
    stop.cancel();
    let stats = within(run).await.expect("run").expect("stats");
    // The first batch (0..100) was never acknowledged: it came again, and was skipped.
    assert!(stats.skipped_as_handled >= 100, "{stats:?}");
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 300);
    assert!(
        calls.values().all(|&count| count == 1),
        "handled twice: {calls:?}"
    );
    drop(server);
}
