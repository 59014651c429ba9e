//! The soak: a mixed workload against the server binary on the power-loss filesystem for a
//! configurable time, interrupted every interval by a power cut, `kill -9` or SIGTERM in turn,
//! with every invariant checked after each restart and the server's memory and open files
//! watched for growth.
//!
//! The workload: keyed publishers (each cut-off request retried after the restart, and every
//! seventh request sent twice on purpose), a keyless publisher, live subscribers that follow two
//! topics across every restart through the resumable client, replays from the earliest event,
//! an offset and a time, two topics trimmed by retention (by count and by size), and topics
//! created, filled and deleted over and over under the same names.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventstream::client::{self, StartAt, SubscribeOptions};
use eventstream::pb;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::common::{
    Client, TIMEOUT, process_rss_bytes, read_topic_to_end, try_get_topic, wait_for_topic, within,
};
use crate::fs::{Cut, PowerLossFs, Rng};
use crate::server::Server;
use crate::workload::{
    self, Ack, Fsync, Publisher, Request, Shared, Stored, Summary, assert_intact, event_for,
    name_of,
};

/// Minutes to run (default 2).
pub const MINUTES_ENV: &str = "EVENTSTREAM_SOAK_MINUTES";
/// Seconds between interruptions (default 60, at most a sixth of the run so that the growth
/// check has early and late cycles to compare).
pub const INTERVAL_ENV: &str = "EVENTSTREAM_SOAK_INTERVAL_SECONDS";

/// Topics that live for the whole run, never trimmed: everything acknowledged stays.
const PLAIN: &[&str] = &["soak-a", "soak-b"];
/// Keeps the newest [`RETAIN_EVENTS`] events.
const TRIM_EVENTS: &str = "soak-trim-events";
const RETAIN_EVENTS: u64 = 400;
/// Keeps at most [`RETAIN_BYTES`] stored bytes.
const TRIM_BYTES: &str = "soak-trim-bytes";
const RETAIN_BYTES: u64 = 512 * 1024;
/// Every topic that lives for the whole run.
const LASTING: &[&str] = &["soak-a", "soak-b", TRIM_EVENTS, TRIM_BYTES];
/// The keyless publisher's topics: one kept whole, one trimmed.
const KEYLESS: &[&str] = &["soak-a", TRIM_EVENTS];
/// Created, filled, deleted and created again under the same names.
const CHURN: &[&str] = &["soak-churn-0", "soak-churn-1", "soak-churn-2"];

const KEYED_PUBLISHERS: usize = 4;
/// Each publisher's pause between requests: enough load to keep the server busy, little enough
/// that reading every topic back after each restart stays quick over a long run.
const PACE: Duration = Duration::from_millis(250);
/// Pause between churn steps and between replays.
const STEP: Duration = Duration::from_millis(500);
/// Events a replay reads at most: a replay from offset 0 of a long run would otherwise read
/// the whole topic every time.
const REPLAY_LIMIT: usize = 2000;
/// Events per churn topic generation, published in requests of three.
const CHURN_EVENTS: usize = 6;

/// How a cycle ends.
#[derive(Debug, Clone, Copy)]
enum Interruption {
    PowerCut(Cut),
    Kill,
    Terminate,
}

/// The interruption ending `cycle`: power cut (each mode in turn), kill -9, SIGTERM.
fn interruption(cycle: usize) -> Interruption {
    const CUTS: [Cut; 3] = [Cut::DropAll, Cut::KeepPrefix, Cut::Torn];
    match cycle % 3 {
        0 => Interruption::PowerCut(CUTS[(cycle / 3) % CUTS.len()]),
        1 => Interruption::Kill,
        _ => Interruption::Terminate,
    }
}

impl std::fmt::Display for Interruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PowerCut(cut) => write!(f, "power cut ({cut:?})"),
            Self::Kill => f.write_str("kill -9"),
            Self::Terminate => f.write_str("SIGTERM"),
        }
    }
}

/// How long and how often.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub duration: Duration,
    pub interval: Duration,
}

impl Plan {
    /// From [`MINUTES_ENV`] and [`INTERVAL_ENV`].
    pub fn from_env() -> Self {
        let number = |name: &str| {
            std::env::var(name).ok().map(|value| {
                value
                    .parse::<f64>()
                    .unwrap_or_else(|_| panic!("{name}={value}: not a number"))
            })
        };
        let duration = Duration::from_secs_f64(number(MINUTES_ENV).unwrap_or(2.0) * 60.0);
        let interval = number(INTERVAL_ENV)
            .map_or((duration / 6).min(Duration::from_secs(60)), |seconds| {
                Duration::from_secs_f64(seconds)
            });
        Self { duration, interval }
    }

    fn cycles(&self) -> usize {
        ((self.duration.as_secs_f64() / self.interval.as_secs_f64()) as usize).max(1)
    }
}

/// The server's resident memory and open file descriptors, sampled every second of a cycle.
#[derive(Debug, Clone, Copy)]
struct Usage {
    rss: (u64, u64),
    fds: (usize, usize),
}

fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Samples `pid` until `stop` fires.
async fn sample(pid: u32, mut stop: oneshot::Receiver<()>) -> Usage {
    let mut usage = Usage {
        rss: (u64::MAX, 0),
        fds: (usize::MAX, 0),
    };
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = &mut stop => return usage,
            _ = every.tick() => {
                if let (Some(rss), Some(fds)) = (process_rss_bytes(pid), open_fds(pid)) {
                    usage.rss = (usage.rss.0.min(rss), usage.rss.1.max(rss));
                    usage.fds = (usage.fds.0.min(fds), usage.fds.1.max(fds));
                }
            }
        }
    }
}

/// A live subscriber's progress, shared with the test.
struct Follower {
    topic: &'static str,
    start: StartAt,
    /// Events delivered since the last check after a restart, to be found in the log there.
    unchecked: Mutex<Vec<(String, Stored)>>,
    delivered: AtomicUsize,
    position: watch::Sender<u64>,
}

/// Follows `follower.topic` live for the whole run, through every restart: each event must be
/// the one after the previous (nothing lost, nothing twice) and intact.
async fn follow(addr: SocketAddr, follower: Arc<Follower>) {
    let client = client::Client::connect_lazy(&format!("http://{addr}")).expect("client");
    let options = SubscribeOptions::new(follower.topic).start(follower.start);
    let mut subscription = client.subscribe(options);
    let mut expected = match follower.start {
        StartAt::Earliest => Some(0),
        _ => None,
    };
    loop {
        let event = match subscription.next().await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("{}: a live subscription ended", follower.topic),
            Err(error) => panic!(
                "{}: live subscription failed after {:?}: {error}",
                follower.topic,
                subscription.position()
            ),
        };
        let topic = follower.topic;
        if let Some(expected) = expected {
            assert_eq!(
                event.offset, expected,
                "{topic}: a live subscriber got offset {} after {}",
                event.offset, expected
            );
        }
        expected = Some(event.offset + 1);
        assert_intact(&event, topic);
        follower
            .unchecked
            .lock()
            .unwrap()
            .push((name_of(&event).to_string(), Stored::of(&event)));
        follower.delivered.fetch_add(1, Ordering::Relaxed);
        follower.position.send_replace(event.offset + 1);
    }
}

/// What the replays of one cycle did.
#[derive(Debug, Default)]
struct Replayed {
    replays: usize,
    events: usize,
    /// Replays of a trimmed topic whose start was trimmed away while they read (OUT_OF_RANGE).
    overtaken: usize,
}

/// Replays with `request` (`stop_at_end`) for up to [`REPLAY_LIMIT`] events: gapless, intact,
/// and where the log as read back at the cycle's start knows an event, the same one. `None` if
/// the server went down.
async fn replay_stream(
    client: &mut Client,
    shared: &Shared,
    request: pb::SubscribeRequest,
    replayed: &mut Replayed,
) -> Option<Vec<pb::Event>> {
    let topic = request.topic.clone();
    let trimmed = [TRIM_EVENTS, TRIM_BYTES].contains(&topic.as_str());
    let outcome: Result<Vec<pb::Event>, tonic::Status> = within(async {
        let mut stream = client.subscribe(request).await?.into_inner();
        let mut events: Vec<pb::Event> = Vec::new();
        while let Some(response) = stream.message().await? {
            events.extend(response.events);
            if events.len() >= REPLAY_LIMIT {
                break;
            }
        }
        Ok(events)
    })
    .await;
    let events = match outcome {
        Err(status) if trimmed && status.code() == tonic::Code::OutOfRange => {
            replayed.overtaken += 1;
            return Some(Vec::new());
        }
        outcome => shared.outcome(&format!("replay of {topic}"), outcome)?,
    };
    for (event, next) in events.iter().zip(events.iter().skip(1)) {
        assert_eq!(next.offset, event.offset + 1, "{topic}: replay gapless");
        assert!(
            time_of(next) >= time_of(event),
            "{topic}: times never decrease"
        );
    }
    for event in &events {
        assert_intact(event, &topic);
        if let Some(known) = shared.stored.get(name_of(event)) {
            assert_eq!(&Stored::of(event), known, "replayed {}", name_of(event));
        }
    }
    replayed.replays += 1;
    replayed.events += events.len();
    Some(events)
}

/// `topic`'s first offset; `None` if the server went down.
async fn first_offset(client: &mut Client, shared: &Shared, topic: &str) -> Option<u64> {
    let request = pb::GetTopicRequest {
        name: topic.to_string(),
    };
    let info = shared.outcome("get topic", within(client.get_topic(request)).await)?;
    Some(info.into_inner().topic.expect("topic").first_offset)
}

fn time_of(event: &pb::Event) -> std::time::SystemTime {
    client::system_time(event.time.as_ref())
}

fn subscribe_request(topic: &str, start: pb::subscribe_request::Start) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        topic: topic.to_string(),
        start: Some(start),
        stop_at_end: true,
        ..Default::default()
    }
}

/// Replays lasting topics until the server goes down: from the earliest event, from a random
/// offset, and from the time of the event there (which must start at or before it).
async fn replayer(addr: SocketAddr, mut rng: Rng, shared: Arc<Shared>) -> Replayed {
    use pb::subscribe_request::Start;
    let mut client = crate::common::connect(addr).await;
    let mut replayed = Replayed::default();
    let mut every = tokio::time::interval(STEP);
    loop {
        every.tick().await;
        let topic = LASTING[rng.below(LASTING.len() as u64) as usize];
        let earliest = Start::Position(pb::StartPosition::Earliest as i32);
        let Some(events) = replay_stream(
            &mut client,
            &shared,
            subscribe_request(topic, earliest),
            &mut replayed,
        )
        .await
        else {
            return replayed;
        };
        let Some(first) = events.first() else {
            continue;
        };
        let Some(first_now) = first_offset(&mut client, &shared, topic).await else {
            return replayed;
        };
        // Retention may have moved the first offset on since the replay started, never back.
        assert!(
            first.offset <= first_now,
            "{topic}: replay from the earliest event started at {}, after {first_now}",
            first.offset
        );
        if PLAIN.contains(&topic) {
            assert_eq!(first.offset, 0, "{topic}: replay from the earliest event");
        }
        let pick = &events[rng.below(events.len() as u64) as usize];
        let request = subscribe_request(topic, Start::FromOffset(pick.offset));
        let Some(from_offset) = replay_stream(&mut client, &shared, request, &mut replayed).await
        else {
            return replayed;
        };
        if let Some(head) = from_offset.first() {
            assert_eq!(head.offset, pick.offset, "{topic}: replay from an offset");
            assert_eq!(head.id, pick.id, "{topic}@{}: same event", pick.offset);
        }
        let time = pick.time.expect("event time");
        let request = subscribe_request(topic, Start::FromTime(time));
        let time = time_of(pick);
        let Some(from_time) = replay_stream(&mut client, &shared, request, &mut replayed).await
        else {
            return replayed;
        };
        if let Some(head) = from_time.first() {
            // Events of one group commit share a time: the replay may start a little earlier,
            // and later only if retention has removed the picked event since.
            if head.offset > pick.offset {
                let Some(first_now) = first_offset(&mut client, &shared, topic).await else {
                    return replayed;
                };
                assert!(
                    pick.offset < first_now,
                    "{topic}: from_time of {}@{} started late, at {}",
                    pick.id,
                    pick.offset,
                    head.offset
                );
            }
            assert!(time_of(head) >= time, "{topic}: from_time started early");
            let at_pick = from_time.iter().find(|event| event.offset == pick.offset);
            if let Some(event) = at_pick {
                assert_eq!(event.id, pick.id, "{topic}@{}: same event", pick.offset);
            }
        }
    }
}

/// What a churn topic is, as far as the test knows.
#[derive(Debug, Clone)]
enum ChurnState {
    Absent,
    /// With these events, from offset 0.
    Present(Vec<(String, Stored)>),
}

/// A call the server may or may not have carried out when it went down.
#[derive(Debug, Clone)]
enum ChurnCall {
    Create,
    Publish(Vec<String>),
    Delete,
}

#[derive(Debug, Clone)]
struct ChurnTopic {
    name: &'static str,
    state: ChurnState,
    in_flight: Option<ChurnCall>,
}

/// What the churn did in one cycle.
#[derive(Debug, Default)]
struct Churned {
    created: usize,
    deleted: usize,
}

/// Creates, fills and deletes the churn topics in turn until the server goes down. Every
/// generation of a topic reuses the same idempotency keys: a recreated topic must not know
/// them.
async fn churn(
    addr: SocketAddr,
    mut topics: Vec<ChurnTopic>,
    shared: Arc<Shared>,
) -> (Vec<ChurnTopic>, Churned) {
    let mut client = crate::common::connect(addr).await;
    let mut churned = Churned::default();
    let mut every = tokio::time::interval(STEP);
    for step in 0.. {
        every.tick().await;
        let topic = &mut topics[step % CHURN.len()];
        let name = topic.name.to_string();
        match &topic.state {
            ChurnState::Present(_) => {
                topic.in_flight = Some(ChurnCall::Delete);
                let deleted = within(client.delete_topic(pb::DeleteTopicRequest { name })).await;
                if shared.outcome("delete topic", deleted).is_none() {
                    break;
                }
                topic.state = ChurnState::Absent;
                churned.deleted += 1;
            }
            ChurnState::Absent => {
                topic.in_flight = Some(ChurnCall::Create);
                let request = pb::CreateTopicRequest {
                    name: name.clone(),
                    config: None,
                };
                let created = within(client.create_topic(request)).await;
                if shared.outcome("create topic", created).is_none() {
                    break;
                }
                topic.state = ChurnState::Present(Vec::new());
                churned.created += 1;
                for keys in (0..CHURN_EVENTS)
                    .map(|i| format!("{name}-e{i}"))
                    .collect::<Vec<_>>()
                    .chunks(3)
                {
                    topic.in_flight = Some(ChurnCall::Publish(keys.to_vec()));
                    let request = pb::PublishRequest {
                        topic: name.clone(),
                        events: keys.iter().map(|key| event_for(key)).collect(),
                        ..Default::default()
                    };
                    let Some(response) =
                        shared.outcome("churn publish", within(client.publish(request)).await)
                    else {
                        return (topics, churned);
                    };
                    let ChurnState::Present(events) = &mut topic.state else {
                        unreachable!("created above")
                    };
                    for (key, result) in keys.iter().zip(response.into_inner().results) {
                        assert!(
                            !result.duplicate,
                            "{name}: key {key} of a deleted generation deduplicated"
                        );
                        assert_eq!(result.offset, events.len() as u64, "{name}: offsets");
                        let at = Stored {
                            topic: name.clone(),
                            offset: result.offset,
                            id: result.id,
                            keyed: true,
                        };
                        events.push((key.clone(), at));
                    }
                }
            }
        }
        topics[step % CHURN.len()].in_flight = None;
    }
    (topics, churned)
}

/// After a restart: each churn topic is as last acknowledged, or as the call in flight would
/// have left it; deleted ones stay deleted. Returns the topics as found.
async fn check_churn(
    client: &mut Client,
    topics: Vec<ChurnTopic>,
    context: &dyn Fn() -> String,
) -> Vec<ChurnTopic> {
    let mut found_topics = Vec::new();
    for topic in topics {
        let name = topic.name;
        // GetTopic first: a Subscribe would create a missing topic.
        let found = match try_get_topic(client, name).await {
            Ok(_) => {
                let (events, next) = read_topic_to_end(client, name).await;
                let offsets: Vec<u64> = events.iter().map(|event| event.offset).collect();
                assert_eq!(
                    offsets,
                    (0..next).collect::<Vec<_>>(),
                    "{name}: from 0, gapless"
                );
                let found: Vec<(String, Stored)> = events
                    .iter()
                    .map(|event| {
                        assert_intact(event, name);
                        (name_of(event).to_string(), Stored::of(event))
                    })
                    .collect();
                ChurnState::Present(found)
            }
            Err(status) if status.code() == tonic::Code::NotFound => ChurnState::Absent,
            Err(status) => panic!("{name}: GetTopic: {status:?}\n{}", context()),
        };
        let allowed = match (&topic.state, &found, &topic.in_flight) {
            (ChurnState::Absent, ChurnState::Absent, _) => true,
            (ChurnState::Absent, ChurnState::Present(events), Some(ChurnCall::Create)) => {
                events.is_empty()
            }
            (ChurnState::Present(_), ChurnState::Absent, Some(ChurnCall::Delete)) => true,
            (ChurnState::Present(known), ChurnState::Present(events), in_flight) => {
                let (head, tail) = events.split_at(known.len().min(events.len()));
                head == known.as_slice()
                    && match in_flight {
                        Some(ChurnCall::Publish(keys)) if !tail.is_empty() => {
                            tail.iter().map(|(key, _)| key).eq(keys.iter())
                        }
                        _ => tail.is_empty(),
                    }
            }
            _ => false,
        };
        assert!(
            allowed,
            "{name}: after the restart {found:?}, but the test knew {:?} with {:?} in flight\n{}",
            topic.state,
            topic.in_flight,
            context()
        );
        found_topics.push(ChurnTopic {
            name,
            state: found,
            in_flight: None,
        });
    }
    found_topics
}

/// Waits until retention has trimmed the lasting topics after a restart (so that reading them
/// back does not race it), checking that no state seen on the way keeps fewer events than
/// retention allows. Returns their first offsets.
async fn settle_retention(client: &mut Client) -> (u64, u64) {
    let by_count = wait_for_topic(client, TRIM_EVENTS, |topic| {
        let kept = topic.next_offset - topic.first_offset;
        assert!(
            kept >= RETAIN_EVENTS.min(topic.next_offset),
            "{TRIM_EVENTS}: {kept} events kept of {}, retention keeps {RETAIN_EVENTS}",
            topic.next_offset
        );
        kept <= RETAIN_EVENTS
    })
    .await;
    let by_size =
        wait_for_topic(client, TRIM_BYTES, |topic| topic.size_bytes <= RETAIN_BYTES).await;
    // Its batches are far below the limit, so the newest always fits.
    assert!(
        by_size.next_offset == 0 || by_size.first_offset < by_size.next_offset,
        "{TRIM_BYTES}: retention removed every event"
    );
    (by_count.first_offset, by_size.first_offset)
}

/// One cycle's line in the summary table.
struct Row {
    interruption: String,
    acknowledged: usize,
    checked: usize,
    lost: usize,
    usage: Usage,
}

const MIB: f64 = 1024.0 * 1024.0;

fn table(rows: &[Row]) -> String {
    let mut table = String::from(
        "cycle | interruption           | acked | events checked | lost | RSS MiB min-max | fds min-max\n",
    );
    for (cycle, row) in rows.iter().enumerate() {
        let _ = writeln!(
            table,
            "{cycle:>5} | {:<22} | {:>5} | {:>14} | {:>4} | {:>6.1}-{:<6.1} | {:>4}-{:<4}",
            row.interruption,
            row.acknowledged,
            row.checked,
            row.lost,
            row.usage.rss.0 as f64 / MIB,
            row.usage.rss.1 as f64 / MIB,
            row.usage.fds.0,
            row.usage.fds.1
        );
    }
    table
}

/// Fails on sustained growth: the late cycles' peak memory and open files against the early
/// cycles' (each a third of the run). Memory may grow by half or 48 MiB, whichever is more
/// (sled's page cache fills as the topics grow, up to the server's 64 MiB `--cache-bytes`);
/// open files by 8 (connections come and go).
fn assert_no_growth(rows: &[Row]) {
    let third = (rows.len() / 3).max(1);
    let (early, late) = (&rows[..third], &rows[rows.len() - third..]);
    let peak = |rows: &[Row], f: fn(&Usage) -> u64| rows.iter().map(|row| f(&row.usage)).max();
    let rss = |usage: &Usage| usage.rss.1;
    let fds = |usage: &Usage| usage.fds.1 as u64;
    let (early_rss, late_rss) = (peak(early, rss).unwrap(), peak(late, rss).unwrap());
    let allowed_rss = early_rss + (early_rss / 2).max(48 << 20);
    assert!(
        late_rss <= allowed_rss,
        "server memory grew: late peak {:.1} MiB, early peak {:.1} MiB (allowed {:.1})",
        late_rss as f64 / MIB,
        early_rss as f64 / MIB,
        allowed_rss as f64 / MIB
    );
    let (early_fds, late_fds) = (peak(early, fds).unwrap(), peak(late, fds).unwrap());
    assert!(
        late_fds <= early_fds + 8,
        "server open files grew: late peak {late_fds}, early peak {early_fds}"
    );
}

/// Fails the run if a task that should run for the whole of it has stopped (its panic).
async fn assert_running(followers: &mut [(Arc<Follower>, JoinHandle<()>)]) {
    for (follower, task) in followers {
        if task.is_finished() {
            let outcome = task.await;
            panic!("{}: live subscriber stopped: {outcome:?}", follower.topic);
        }
    }
}

/// Runs the soak on `fs` for `plan`; panics on any violation.
pub async fn run(mut fs: PowerLossFs, plan: Plan, mut rng: Rng) {
    let data_dir = fs.path().to_path_buf();
    let cycles = plan.cycles();
    println!(
        "soak: {cycles} cycles of {:.0?} ({:.1} minutes); interruptions in turn: power cut, kill \
         -9, SIGTERM",
        plan.interval,
        plan.duration.as_secs_f64() / 60.0
    );
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut stored: Arc<HashMap<String, Stored>> = Arc::default();
    let mut retries: Vec<Option<Request>> = vec![None; KEYED_PUBLISHERS];
    let mut unknown: Vec<Request> = Vec::new();
    let mut newest: Vec<Ack> = Vec::new();
    let mut churn_topics: Vec<ChurnTopic> = CHURN
        .iter()
        .map(|&name| ChurnTopic {
            name,
            state: ChurnState::Absent,
            in_flight: None,
        })
        .collect();
    let mut followers = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let (mut replayed, mut churned, mut published) = (Replayed::default(), Churned::default(), 0);
    let mut last = String::from("none");
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));

    for cycle in 0..=cycles {
        let restarted = Instant::now();
        let server = Server::start_at(addr, &data_dir, &[])
            .await
            .unwrap_or_else(|why| panic!("cycle {cycle}: no restart after {last}: {why}"));
        addr = server.addr;
        let mut client = server.client().await;
        let context = || {
            format!(
                "cycle {cycle}, after {last}\nserver log:\n{}",
                server.log_tail()
            )
        };
        if cycle == 0 {
            let topics = [
                (TRIM_EVENTS, RETAIN_EVENTS, 0),
                (TRIM_BYTES, 0, RETAIN_BYTES),
            ];
            for (name, retention_events, retention_bytes) in topics {
                let config = pb::TopicConfig {
                    retention_events,
                    retention_bytes,
                    ..Default::default()
                };
                crate::common::create_topic(&mut client, name, Some(config)).await;
            }
            for (topic, start) in [
                (PLAIN[0], StartAt::Earliest),
                (PLAIN[1], StartAt::Earliest),
                (PLAIN[0], StartAt::Latest),
            ] {
                let follower = Arc::new(Follower {
                    topic,
                    start,
                    unchecked: Mutex::default(),
                    delivered: AtomicUsize::new(0),
                    position: watch::Sender::new(0),
                });
                let task = tokio::spawn(follow(addr, Arc::clone(&follower)));
                followers.push((follower, task));
            }
        } else {
            let firsts = settle_retention(&mut client).await;
            let checked = workload::check_recovery(
                &mut client,
                Fsync::Always,
                LASTING,
                (&stored, &newest, &unknown),
                &mut rng,
                &context,
                &mut summary,
            )
            .await;
            assert_eq!(
                (checked.ranges[TRIM_EVENTS].0, checked.ranges[TRIM_BYTES].0),
                firsts,
                "retention trimmed while the topics were read back"
            );
            churn_topics = check_churn(&mut client, churn_topics, &context).await;
            assert_running(&mut followers).await;
            for (follower, _) in &followers {
                for (name, at) in follower.unchecked.lock().unwrap().drain(..) {
                    assert_eq!(
                        checked.stored.get(&name),
                        Some(&at),
                        "{name}, delivered to a live subscriber, is not in the log as it was \
                         delivered\n{}",
                        context()
                    );
                }
            }
            summary.slowest_recovery = summary.slowest_recovery.max(restarted.elapsed());
            let row = rows.last_mut().expect("row of the cycle");
            (row.checked, row.lost) = (checked.events, checked.lost);
            println!(
                "cycle {cycle}: restarted after {last}; {} events read back and checked, {} \
                 lost, {} keys republished as duplicates; first offsets of the trimmed topics \
                 {firsts:?}; took {:.1?}",
                checked.events,
                checked.lost,
                checked.republished,
                restarted.elapsed()
            );
            stored = Arc::new(checked.stored);
            if cycle == cycles {
                finish(&followers, &checked.ranges).await;
                server.kill().await;
                break;
            }
        }

        let running = Instant::now();
        let (stop_sampling, sampling) = oneshot::channel();
        let sampler = tokio::spawn(sample(server.pid(), sampling));
        let (shared, _acked) = Shared::new(Arc::clone(&stored), server.log());
        let keyed: Vec<_> = retries
            .iter_mut()
            .enumerate()
            .map(|(me, retry)| {
                let publisher = Publisher {
                    me,
                    cycle,
                    topics: LASTING,
                    huge_one_in: 0,
                    keyed: true,
                    pace: Some(PACE),
                    resend_every: 7,
                };
                tokio::spawn(publisher.run(addr, retry.take(), Arc::clone(&shared)))
            })
            .collect();
        let keyless = Publisher {
            me: KEYED_PUBLISHERS,
            cycle,
            topics: KEYLESS,
            huge_one_in: 0,
            keyed: false,
            pace: Some(PACE),
            resend_every: 0,
        };
        let keyless = tokio::spawn(keyless.run(addr, None, Arc::clone(&shared)));
        let replays = tokio::spawn(replayer(
            addr,
            Rng::new(rng.next_u64()),
            Arc::clone(&shared),
        ));
        let churning = tokio::spawn(churn(addr, churn_topics, Arc::clone(&shared)));

        // The workload runs for the interval: a timer, not a wait for something to happen.
        tokio::time::sleep_until((running + plan.interval).into()).await;
        let _ = stop_sampling.send(());
        let usage = within(sampler).await.expect("sampler");
        let interruption = interruption(cycle);
        match interruption {
            Interruption::PowerCut(cut) => {
                let report;
                (fs, rng, report) = workload::cut_power(fs, rng, server, &shared, cut, cycle).await;
                summary.record_cut(&report);
                last = format!("{interruption}: {}", report.brief());
            }
            Interruption::Kill => {
                shared.kill();
                server.kill().await;
                last = interruption.to_string();
            }
            Interruption::Terminate => {
                shared.kill();
                let status = server.terminate().await;
                assert!(status.success(), "SIGTERM: the server exited with {status}");
                last = interruption.to_string();
            }
        }
        unknown.clear();
        for (me, task) in keyed.into_iter().enumerate() {
            let cut_off = within(task).await.expect("publisher task");
            unknown.push(cut_off.clone());
            retries[me] = Some(cut_off);
        }
        unknown.push(within(keyless).await.expect("keyless publisher task"));
        let this_replay = within(replays).await.expect("replayer task");
        let this_churn;
        (churn_topics, this_churn) = within(churning).await.expect("churn task");
        newest = shared.into_acks();
        summary.acknowledged += newest.len();
        published += newest.len() + unknown.iter().map(Request::event_count).sum::<usize>();
        replayed.replays += this_replay.replays;
        replayed.events += this_replay.events;
        replayed.overtaken += this_replay.overtaken;
        churned.created += this_churn.created;
        churned.deleted += this_churn.deleted;
        println!(
            "cycle {cycle}: {} events acknowledged, {} replays ({} events), {} topics created \
             and {} deleted; RSS {:.1}-{:.1} MiB, {}-{} open files; then {last}",
            newest.len(),
            this_replay.replays,
            this_replay.events,
            this_churn.created,
            this_churn.deleted,
            usage.rss.0 as f64 / MIB,
            usage.rss.1 as f64 / MIB,
            usage.fds.0,
            usage.fds.1
        );
        rows.push(Row {
            interruption: interruption.to_string(),
            acknowledged: newest.len(),
            checked: 0,
            lost: 0,
            usage,
        });
    }

    workload::print_filesystem(&fs);
    let delivered: Vec<String> = followers
        .iter()
        .map(|(follower, _)| {
            format!(
                "{} from {:?}: {}",
                follower.topic,
                follower.start,
                follower.delivered.load(Ordering::Relaxed)
            )
        })
        .collect();
    println!("\n{}", table(&rows));
    println!(
        "soak: {} cycles in {:.1?}; {published} events published, {} acknowledged, {} read back \
         and checked after restarts, {} lost; {} keys republished as duplicates; {} replays \
         ({} events, {} overtaken by retention); live subscribers delivered {}; churn topics \
         created {} and deleted {} times; slowest restart and check {:.1?}",
        rows.len(),
        started.elapsed(),
        summary.acknowledged,
        summary.events_checked,
        summary.lost,
        summary.dedup_checked,
        replayed.replays,
        replayed.events,
        replayed.overtaken,
        delivered.join(", "),
        churned.created,
        churned.deleted,
        summary.slowest_recovery
    );
    assert_eq!(summary.lost, 0);
    assert_no_growth(&rows);
}

/// The end of the run: every live subscriber catches up with the log as it ends, and one
/// started from the earliest event has seen each event exactly once. Retention has trimmed.
async fn finish(
    followers: &[(Arc<Follower>, JoinHandle<()>)],
    ranges: &HashMap<String, (u64, u64)>,
) {
    for (follower, _) in followers {
        let end = ranges[follower.topic].1;
        let mut position = follower.position.subscribe();
        tokio::time::timeout(TIMEOUT, position.wait_for(|&at| at >= end))
            .await
            .unwrap_or_else(|_| panic!("{}: live subscriber behind", follower.topic))
            .expect("follower alive");
        if follower.start == StartAt::Earliest {
            assert_eq!(
                follower.delivered.load(Ordering::Relaxed) as u64,
                end,
                "{}: delivered to a live subscriber",
                follower.topic
            );
        }
    }
    for topic in [TRIM_EVENTS, TRIM_BYTES] {
        assert!(ranges[topic].0 > 0, "{topic}: retention never trimmed it");
    }
}
