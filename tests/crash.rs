//! Crash safety of the real binary: SIGKILL while publishes are in flight loses no acknowledged
//! event, and retried requests are deduplicated instead of appended twice.

mod common;
use common::*;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use eventstream::pb;
use tokio::sync::watch;

const TOPICS: [&str; 2] = ["crash-a", "crash-b"];
const PUBLISHERS: usize = 4;
/// Acknowledged events after which each cycle's server is killed (varied, so the kill lands at
/// different log sizes).
const ACKS_BEFORE_KILL: [usize; 3] = [300, 700, 150];
/// Events per request, cycled through by each publisher: singles and batches mixed.
const REQUEST_SIZES: [usize; 6] = [1, 3, 1, 5, 2, 8];
const EVENT_TYPE: &str = "CrashTest";
/// Small generations of idempotency keys, so that by each kill some keys are sealed in key files
/// and some are only in memory (and their batches' index entries): both must survive.
const SERVER_ARGS: [&str; 1] = ["--dedup-generation-keys=40"];

/// An acknowledged event.
#[derive(Debug, Clone)]
struct Ack {
    topic: String,
    offset: u64,
    id: String,
    key: String,
}

/// A Publish request, rebuilt identically from its topic and idempotency keys.
#[derive(Debug, Clone)]
struct Request {
    topic: String,
    keys: Vec<String>,
}

impl Request {
    fn to_proto(&self) -> pb::PublishRequest {
        pb::PublishRequest {
            topic: self.topic.clone(),
            events: self.keys.iter().map(|key| event_for(key)).collect(),
            ..Default::default()
        }
    }
}

fn payload_for(key: &str) -> Vec<u8> {
    format!("payload of {key};").repeat(8).into_bytes()
}

fn event_for(key: &str) -> pb::EventData {
    pb::EventData {
        r#type: EVENT_TYPE.to_string(),
        payload: payload_for(key).into(),
        idempotency_key: key.to_string(),
        ..Default::default()
    }
}

/// Where a stored event is, by idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    topic: String,
    offset: u64,
    id: String,
}

/// What a publisher task shares with the test.
struct Shared {
    acks: Mutex<Vec<Ack>>,
    /// Events acknowledged in the current cycle.
    progress: watch::Sender<usize>,
    /// Set just before the server is killed: an error before that is a test failure.
    killed: AtomicBool,
    /// The log as read back after the last restart (empty before the first crash).
    stored: HashMap<String, Stored>,
}

impl Shared {
    fn record(&self, acks: Vec<Ack>) {
        let count = acks.len();
        self.acks.lock().unwrap().extend(acks);
        self.progress.send_modify(|n| *n += count);
    }
}

/// What a publisher task reports when its connection is gone.
struct Outcome {
    /// The request that failed (unknown whether it was appended).
    failed: Request,
    /// Requests acknowledged.
    acknowledged: usize,
    /// Events of a retried request that came back as duplicates.
    retried_duplicates: usize,
    /// Events of a retried request that were appended by the retry.
    retried_appended: usize,
}

/// Sends `request`; `Err` only once the server has been killed.
async fn send(
    client: &mut Client,
    shared: &Shared,
    request: &Request,
) -> Result<Vec<pb::PublishResult>, tonic::Status> {
    let answer = tokio::time::timeout(TIMEOUT, client.publish(request.to_proto()))
        .await
        .expect("publish timed out");
    match answer {
        Ok(response) => {
            let results = response.into_inner().results;
            assert_eq!(results.len(), request.keys.len(), "one result per event");
            Ok(results)
        }
        Err(status) => {
            assert!(
                shared.killed.load(Ordering::SeqCst),
                "publish failed while the server was up: {status:?}"
            );
            Err(status)
        }
    }
}

fn acks_of(request: &Request, results: &[pb::PublishResult]) -> Vec<Ack> {
    request
        .keys
        .iter()
        .zip(results)
        .map(|(key, result)| Ack {
            topic: request.topic.clone(),
            offset: result.offset,
            id: result.id.clone(),
            key: key.clone(),
        })
        .collect()
}

/// Publishes until the connection is lost; first retries the request that failed last cycle.
async fn publisher(
    addr: SocketAddr,
    me: usize,
    cycle: usize,
    retry: Option<Request>,
    shared: Arc<Shared>,
) -> Outcome {
    let mut client = connect(addr).await;
    let mut acknowledged = 0;
    let mut retried_duplicates = 0;
    let mut retried_appended = 0;
    if let Some(request) = retry {
        let results = match send(&mut client, &shared, &request).await {
            Ok(results) => results,
            Err(_) => {
                return Outcome {
                    failed: request,
                    acknowledged,
                    retried_duplicates,
                    retried_appended,
                };
            }
        };
        for (key, result) in request.keys.iter().zip(&results) {
            match shared.stored.get(key) {
                Some(stored) => {
                    assert!(
                        result.duplicate,
                        "retried key {key} stored before: {result:?}"
                    );
                    assert_eq!(
                        (result.offset, &result.id),
                        (stored.offset, &stored.id),
                        "retry of {key} must return the original offset and id"
                    );
                    retried_duplicates += 1;
                }
                None => {
                    assert!(
                        !result.duplicate,
                        "retried key {key} was not stored, yet came back duplicate: {result:?}"
                    );
                    retried_appended += 1;
                }
            }
        }
        acknowledged += 1;
        shared.record(acks_of(&request, &results));
    }
    for seq in 0.. {
        let size = REQUEST_SIZES[(seq + me) % REQUEST_SIZES.len()];
        let request = Request {
            topic: TOPICS[(seq + me) % TOPICS.len()].to_string(),
            keys: (0..size)
                .map(|i| format!("c{cycle}-p{me}-s{seq}-e{i}"))
                .collect(),
        };
        let results = match send(&mut client, &shared, &request).await {
            Ok(results) => results,
            Err(_) => {
                return Outcome {
                    failed: request,
                    acknowledged,
                    retried_duplicates,
                    retried_appended,
                };
            }
        };
        for (i, result) in results.iter().enumerate() {
            assert!(
                !result.duplicate,
                "fresh key came back duplicate: {result:?}"
            );
            assert_eq!(
                result.offset,
                results[0].offset + i as u64,
                "a request's events are appended contiguously"
            );
        }
        acknowledged += 1;
        shared.record(acks_of(&request, &results));
    }
    unreachable!()
}

/// Reads both topics back and checks them against everything acknowledged so far and against
/// the requests whose outcome is unknown. Returns the stored events by idempotency key.
async fn verify(client: &mut Client, acks: &[Ack], unknown: &[Request]) -> HashMap<String, Stored> {
    let mut stored: HashMap<String, Stored> = HashMap::new();
    for topic in TOPICS {
        let (events, next_offset) = read_topic_to_end(client, topic).await;
        for (position, event) in events.iter().enumerate() {
            assert_eq!(
                event.offset, position as u64,
                "{topic}: offsets are gapless from 0"
            );
            assert_eq!(event.topic, topic);
            assert_eq!(event.r#type, EVENT_TYPE);
            assert_eq!(
                event.payload.as_ref(),
                payload_for(&event.idempotency_key).as_slice(),
                "{topic}@{}: payload",
                event.offset
            );
            let previous = stored.insert(
                event.idempotency_key.clone(),
                Stored {
                    topic: topic.to_string(),
                    offset: event.offset,
                    id: event.id.clone(),
                },
            );
            assert!(
                previous.is_none(),
                "idempotency key {} appended twice: {previous:?} and {topic}@{}",
                event.idempotency_key,
                event.offset
            );
        }
        assert_eq!(next_offset, events.len() as u64, "{topic}: next_offset");
        assert_topic_range(client, topic, 0, next_offset).await;
    }
    for ack in acks {
        let found = stored.get(&ack.key).unwrap_or_else(|| {
            panic!("acknowledged event lost: {ack:?}");
        });
        assert_eq!(
            found,
            &Stored {
                topic: ack.topic.clone(),
                offset: ack.offset,
                id: ack.id.clone(),
            },
            "acknowledged event {} changed",
            ack.key
        );
    }
    for request in unknown {
        let found: Vec<_> = request.keys.iter().map(|key| stored.get(key)).collect();
        if found.iter().all(Option::is_none) {
            continue;
        }
        let found: Vec<&Stored> = found
            .into_iter()
            .map(|f| f.unwrap_or_else(|| panic!("request appended in part: {request:?}")))
            .collect();
        for (i, stored) in found.iter().enumerate() {
            assert_eq!(stored.topic, request.topic);
            assert_eq!(
                stored.offset,
                found[0].offset + i as u64,
                "unacknowledged request appended out of order: {request:?}"
            );
        }
    }
    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut acks: Vec<Ack> = Vec::new();
    let mut unknown: Vec<Option<Request>> = vec![None; PUBLISHERS];
    let mut stored = HashMap::new();
    let (mut failed_requests, mut retried_duplicates, mut retried_appended) = (0, 0, 0);

    for (cycle, kill_after) in ACKS_BEFORE_KILL.into_iter().enumerate() {
        let server = ChildServer::start(dir.path(), &SERVER_ARGS).await;
        if cycle > 0 {
            let mut client = server.client().await;
            let pending: Vec<Request> = unknown.iter().flatten().cloned().collect();
            stored = verify(&mut client, &acks, &pending).await;
        }
        let (progress, mut acked) = watch::channel(0);
        let shared = Arc::new(Shared {
            acks: Mutex::new(Vec::new()),
            progress,
            killed: AtomicBool::new(false),
            stored: std::mem::take(&mut stored),
        });
        let tasks: Vec<_> = unknown
            .iter_mut()
            .enumerate()
            .map(|(me, retry)| {
                tokio::spawn(publisher(
                    server.addr,
                    me,
                    cycle,
                    retry.take(),
                    Arc::clone(&shared),
                ))
            })
            .collect();
        within(acked.wait_for(|n| *n >= kill_after))
            .await
            .expect("publishers alive");
        shared.killed.store(true, Ordering::SeqCst);
        server.kill().await;
        let mut acknowledged_requests = 0;
        for (me, task) in tasks.into_iter().enumerate() {
            let outcome = within(task).await.expect("publisher task");
            acknowledged_requests += outcome.acknowledged;
            retried_duplicates += outcome.retried_duplicates;
            retried_appended += outcome.retried_appended;
            unknown[me] = Some(outcome.failed);
        }
        failed_requests += PUBLISHERS;
        let shared = Arc::into_inner(shared).expect("publishers done");
        let cycle_acks = shared.acks.into_inner().unwrap();
        println!(
            "cycle {cycle}: {} events in {acknowledged_requests} requests acknowledged, then kill -9 with {PUBLISHERS} requests unanswered",
            cycle_acks.len()
        );
        acks.extend(cycle_acks);
    }
    let mut keys: Vec<&str> = acks.iter().map(|ack| ack.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), acks.len(), "every key acknowledged once");

    let server = ChildServer::start(dir.path(), &SERVER_ARGS).await;
    let mut client = server.client().await;
    let pending: Vec<Request> = unknown.iter().flatten().cloned().collect();
    let stored = verify(&mut client, &acks, &pending).await;
    let unacknowledged_stored = stored.len() - acks.len();

    // Republishing acknowledged keys (singles and batches) appends nothing.
    let sample: Vec<&Ack> = acks.iter().step_by(7).collect();
    for topic in TOPICS {
        let of_topic: Vec<&&Ack> = sample.iter().filter(|ack| ack.topic == topic).collect();
        for (i, chunk) in of_topic.chunks(1 + of_topic.len() % 4).enumerate() {
            let chunk = if i % 2 == 0 { &chunk[..1] } else { chunk };
            let request = Request {
                topic: topic.to_string(),
                keys: chunk.iter().map(|ack| ack.key.clone()).collect(),
            };
            let results = within(client.publish(request.to_proto()))
                .await
                .expect("republish")
                .into_inner()
                .results;
            assert_eq!(results.len(), chunk.len());
            for (ack, result) in chunk.iter().zip(&results) {
                assert!(result.duplicate, "republished {} not a duplicate", ack.key);
                assert_eq!((result.offset, &result.id), (ack.offset, &ack.id));
            }
        }
    }
    let after = verify(&mut client, &acks, &pending).await;
    assert_eq!(after.len(), stored.len(), "republishing appended nothing");
    server.kill().await;

    println!(
        "{} events acknowledged over {} crashes; {unacknowledged_stored} stored without an acknowledgement; \
         {failed_requests} requests cut off, on retry {retried_duplicates} events were duplicates and \
         {retried_appended} appended; {} sample keys republished as duplicates; {:.1?} total",
        acks.len(),
        ACKS_BEFORE_KILL.len(),
        sample.len(),
        started.elapsed()
    );
}
