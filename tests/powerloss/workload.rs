//! The crash cycle: publishers under load, power cut, restart on what reached the disk, verify.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventstream::pb;
use tokio::sync::watch;

use crate::common::{Client, TIMEOUT, assert_topic_range, connect, within};
use crate::fs::{Cut, CutReport, PowerLossFs, Rng};
use crate::server::{Server, ServerLog};

const EVENT_TYPE: &str = "PowerLossTest";
/// Set to a directory to get a copy of the data directory after each power cut, as the next
/// server finds it.
pub const DUMP_ENV: &str = "EVENTSTREAM_POWERLOSS_DUMP";
/// Events per request, cycled through by each publisher: singles and batches mixed.
const REQUEST_SIZES: [usize; 6] = [1, 3, 1, 5, 2, 8];
/// The power is cut after up to this many more filesystem changes once a cycle has its
/// acknowledgements: a few group commits' worth.
const MAX_CHANGES_BEFORE_CUT: u64 = 64;

/// The server's `--fsync` setting under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// Acknowledged means durable: nothing acknowledged may be lost.
    Always,
    /// Acknowledged from memory: the newest events may be lost, but what comes back is a
    /// consistent prefix of each topic.
    Never,
}

/// What a run does.
pub struct Settings {
    pub fsync: Fsync,
    pub cycles: usize,
    pub publishers: usize,
    pub topics: &'static [&'static str],
    /// Acknowledged events after which a cycle's power is cut (drawn per cycle).
    pub acks_per_cycle: Range<usize>,
    /// Cut modes, used in turn.
    pub cuts: &'static [Cut],
    /// The data directory inside the mount; `None` for the mount itself.
    pub data_subdir: Option<&'static str>,
    /// One event in this many is huge (see [`HUGE`]); 0 for none.
    pub huge_one_in: u64,
    /// Arguments for the server besides `--fsync`.
    pub server_args: &'static [&'static str],
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct Summary {
    pub cycles: usize,
    pub acknowledged: usize,
    /// Events read back and checked, over every verification.
    pub events_checked: usize,
    /// Acknowledged events not there after a power cut.
    pub lost: usize,
    /// Power cuts after which some acknowledged event was missing.
    pub cycles_with_loss: usize,
    /// Acknowledged keys republished and recognised as duplicates.
    pub dedup_checked: usize,
    /// Events of requests cut off by the power cut found appended after the restart.
    pub unacknowledged_kept: usize,
    pub pending_writes_dropped: usize,
    pub torn_writes: usize,
    /// Slowest restart after a power cut: start, recovery, and reading every event back.
    pub slowest_recovery: Duration,
}

impl Summary {
    /// Counts a power cut.
    pub fn record_cut(&mut self, report: &CutReport) {
        self.cycles += 1;
        self.pending_writes_dropped += report.pending_ops - report.kept_ops;
        self.torn_writes += usize::from(report.torn.is_some());
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} power cuts; {} events acknowledged, {} events read back and checked, \
             {} acknowledged events lost (in {} cuts); {} keys republished as duplicates; \
             {} unacknowledged events kept; {} unsynced writes dropped, {} torn; slowest \
             restart and read-back {:.1?}",
            self.cycles,
            self.acknowledged,
            self.events_checked,
            self.lost,
            self.cycles_with_loss,
            self.dedup_checked,
            self.unacknowledged_kept,
            self.pending_writes_dropped,
            self.torn_writes,
            self.slowest_recovery
        )
    }
}

/// An acknowledged event.
#[derive(Debug, Clone)]
pub struct Ack {
    key: String,
    at: Stored,
    /// The request it came in, for the all-or-nothing check.
    request: u64,
}

/// A Publish request, rebuilt identically from its topic and event names.
#[derive(Debug, Clone)]
pub struct Request {
    id: u64,
    topic: String,
    /// The events' names: their idempotency keys, or for keyless events what their payloads
    /// are made of.
    keys: Vec<String>,
    keyed: bool,
}

impl Request {
    pub fn event_count(&self) -> usize {
        self.keys.len()
    }

    fn to_proto(&self) -> pb::PublishRequest {
        pb::PublishRequest {
            topic: self.topic.clone(),
            events: self
                .keys
                .iter()
                .map(|key| {
                    let event = event_for(key);
                    if self.keyed {
                        event
                    } else {
                        pb::EventData {
                            idempotency_key: String::new(),
                            ..event
                        }
                    }
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// FNV-1a: a stable hash, so a key alone determines its payload.
fn hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, byte| {
        (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Marks the key of an event of 136–264 KiB: a page over sled's 128 KiB limit, which sled
/// writes to a file of its own under `blobs/`.
const HUGE: &str = "-huge";

/// The payload of `key`'s event, a function of the key alone: huge if the key says so, else
/// mostly small with one in twelve 16–40 KiB (a record batch of several stored fragments, too
/// few for sled to need a blob file even when several such batches share a page).
fn payload_for(key: &str) -> Vec<u8> {
    let h = hash(key);
    let len = if key.ends_with(HUGE) {
        136 * 1024 + (h >> 8) as usize % (128 * 1024)
    } else if h.is_multiple_of(12) {
        16 * 1024 + (h >> 8) as usize % (24 * 1024)
    } else {
        40 + (h >> 8) as usize % 400
    };
    key.bytes().chain(*b";").cycle().take(len).collect()
}

pub fn event_for(key: &str) -> pb::EventData {
    pb::EventData {
        r#type: EVENT_TYPE.to_string(),
        payload: payload_for(key).into(),
        idempotency_key: key.to_string(),
        ..Default::default()
    }
}

/// The name of a stored event: its idempotency key, or for a keyless event what its payload is
/// made of (see [`payload_for`]).
pub fn name_of(event: &pb::Event) -> &str {
    if !event.idempotency_key.is_empty() {
        return &event.idempotency_key;
    }
    let end = event
        .payload
        .iter()
        .position(|&byte| byte == b';')
        .unwrap_or(event.payload.len());
    std::str::from_utf8(&event.payload[..end]).unwrap_or_default()
}

/// Checks that `event` is one this workload published to `topic`, undamaged.
pub fn assert_intact(event: &pb::Event, topic: &str) {
    assert_eq!(event.topic, topic);
    assert_eq!(event.r#type, EVENT_TYPE, "{topic}@{}: type", event.offset);
    let name = name_of(event);
    assert!(
        event.payload.as_ref() == payload_for(name).as_slice(),
        "{topic}@{}: payload of {name} damaged ({} bytes)",
        event.offset,
        event.payload.len()
    );
}

/// Where a stored event is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub topic: String,
    pub offset: u64,
    pub id: String,
    /// Published with an idempotency key (its name), so a republish must be recognised.
    pub keyed: bool,
}

impl Stored {
    pub fn of(event: &pb::Event) -> Self {
        Self {
            topic: event.topic.clone(),
            offset: event.offset,
            id: event.id.clone(),
            keyed: !event.idempotency_key.is_empty(),
        }
    }
}

/// What the clients of one cycle share with the test.
pub struct Shared {
    acks: Mutex<Vec<Ack>>,
    progress: watch::Sender<usize>,
    /// Set just before the server is stopped: a call failing before that fails the test.
    killed: AtomicBool,
    /// The log as read back at the start of the cycle, plus what retention trimmed earlier.
    pub stored: Arc<HashMap<String, Stored>>,
    /// The server's log, for failure messages.
    server_log: ServerLog,
}

impl Shared {
    /// Shared state for a cycle that starts with `stored`; the receiver counts acknowledged
    /// events.
    pub fn new(
        stored: Arc<HashMap<String, Stored>>,
        server_log: ServerLog,
    ) -> (Arc<Self>, watch::Receiver<usize>) {
        let (progress, acked) = watch::channel(0);
        let shared = Self {
            acks: Mutex::new(Vec::new()),
            progress,
            killed: AtomicBool::new(false),
            stored,
            server_log,
        };
        (Arc::new(shared), acked)
    }

    /// From now on calls may fail: the server is going down.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }

    /// Checks a call's outcome: `None` for a failure after [`Shared::kill`], a panic naming
    /// `what` before.
    pub fn outcome<T>(&self, what: &str, result: Result<T, tonic::Status>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(status) => {
                assert!(
                    self.killed.load(Ordering::SeqCst),
                    "{what} failed while the server was up: {status:?}\nserver log:\n{}",
                    self.server_log.tail()
                );
                None
            }
        }
    }

    /// The events acknowledged this cycle, once every client task is done.
    pub fn into_acks(self: Arc<Self>) -> Vec<Ack> {
        let shared = Arc::into_inner(self).expect("clients done");
        shared.acks.into_inner().unwrap()
    }
}

async fn send(
    client: &mut Client,
    shared: &Shared,
    request: &Request,
) -> Option<Vec<pb::PublishResult>> {
    let answer = tokio::time::timeout(TIMEOUT, client.publish(request.to_proto()))
        .await
        .expect("publish timed out");
    let results = shared.outcome("publish", answer)?.into_inner().results;
    assert_eq!(results.len(), request.keys.len(), "one result per event");
    Some(results)
}

/// One publisher of a cycle.
pub struct Publisher {
    /// Its number, unique among the publishers of a run: part of its events' names.
    pub me: usize,
    pub cycle: usize,
    /// Where it publishes, in turn.
    pub topics: &'static [&'static str],
    /// One event in this many is huge (see [`HUGE`]); 0 for none.
    pub huge_one_in: u64,
    /// Whether its events carry idempotency keys. Keyless requests cut off by a failure are not
    /// retried: nothing could tell a retry from a new event.
    pub keyed: bool,
    /// The pause between requests; `None` to publish flat out.
    pub pace: Option<Duration>,
    /// Keyed: every this many requests, one is sent a second time once acknowledged, and must
    /// come back as duplicates of itself; 0 for never.
    pub resend_every: usize,
}

impl Publisher {
    /// Publishes until the connection is lost, then returns the request that got no answer
    /// (whether it was appended is unknown). First retries `retry`, the request cut off last
    /// cycle, checking that keys already stored come back as duplicates of the stored event.
    pub async fn run(
        self,
        addr: SocketAddr,
        retry: Option<Request>,
        shared: Arc<Shared>,
    ) -> Request {
        let Self {
            me,
            cycle,
            topics,
            huge_one_in,
            keyed,
            pace,
            resend_every,
        } = self;
        let mut client = connect(addr).await;
        let mut pace = pace.map(tokio::time::interval);
        let requests = retry.into_iter().chain((0..).map(|seq| {
            let size = REQUEST_SIZES[(seq + me) % REQUEST_SIZES.len()];
            Request {
                id: ((cycle as u64) << 40) | ((me as u64) << 32) | seq as u64,
                // Two requests per topic in turn: with as many topics as request sizes have
                // a common factor, `seq` alone would send each topic only some sizes.
                topic: topics[(seq / 2 + me) % topics.len()].to_string(),
                keys: (0..size)
                    .map(|i| {
                        let key = format!("c{cycle}-p{me}-s{seq}-e{i}");
                        if huge_one_in > 0 && hash(&key).is_multiple_of(huge_one_in) {
                            key + HUGE
                        } else {
                            key
                        }
                    })
                    .collect(),
                keyed,
            }
        }));
        for (seq, request) in requests.enumerate() {
            if let Some(pace) = &mut pace {
                pace.tick().await;
            }
            let Some(results) = send(&mut client, &shared, &request).await else {
                return request;
            };
            let acks = acknowledged(&request, &results, &shared.stored);
            if keyed && resend_every > 0 && seq % resend_every == resend_every - 1 {
                // A client retrying after a reply it did not get: same keys, same answer.
                let Some(again) = send(&mut client, &shared, &request).await else {
                    return request;
                };
                for (ack, result) in acks.iter().zip(&again) {
                    assert!(result.duplicate, "resent {} not a duplicate", ack.key);
                    assert_eq!(
                        (result.offset, &result.id),
                        (ack.at.offset, &ack.at.id),
                        "resent {} returns the first answer's offset and id",
                        ack.key
                    );
                }
            }
            let count = acks.len();
            shared.acks.lock().unwrap().extend(acks);
            shared.progress.send_modify(|n| *n += count);
        }
        unreachable!("the request sequence is endless")
    }
}

/// The acknowledgements in `results`, checked against the request and the keys already
/// `stored`.
fn acknowledged(
    request: &Request,
    results: &[pb::PublishResult],
    stored: &HashMap<String, Stored>,
) -> Vec<Ack> {
    let mut acks = Vec::with_capacity(results.len());
    for (i, (key, result)) in request.keys.iter().zip(results).enumerate() {
        match stored.get(key).filter(|_| request.keyed) {
            Some(stored) => {
                assert!(result.duplicate, "key {key} is stored, not a duplicate");
                assert_eq!(
                    (result.offset, &result.id),
                    (stored.offset, &stored.id),
                    "a duplicate of {key} returns the stored offset and id"
                );
            }
            None => {
                assert!(!result.duplicate, "key {key} not stored, yet a duplicate");
                assert_eq!(
                    result.offset,
                    results[0].offset + i as u64,
                    "a request's events are appended contiguously"
                );
            }
        }
        acks.push(Ack {
            key: key.clone(),
            at: Stored {
                topic: request.topic.clone(),
                offset: result.offset,
                id: result.id.clone(),
                keyed: request.keyed,
            },
            request: request.id,
        });
    }
    acks
}

/// The log as read back after a restart, checked for internal consistency.
struct Recovered {
    /// Events by name.
    stored: HashMap<String, Stored>,
    /// Each topic's retained range: first and next offset.
    ranges: HashMap<String, (u64, u64)>,
    events: usize,
}

/// Reads `topic` from its oldest retained event to the end of the log as it stands; returns the
/// events and the last `next_offset`. Failures carry `context()`.
async fn read_topic(
    client: &mut Client,
    topic: &str,
    context: &dyn Fn() -> String,
) -> (Vec<pb::Event>, u64) {
    let request = pb::SubscribeRequest {
        topic: topic.to_string(),
        start: Some(pb::subscribe_request::Start::Position(
            pb::StartPosition::Earliest as i32,
        )),
        stop_at_end: true,
        ..Default::default()
    };
    within(async {
        let mut stream = match client.subscribe(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => panic!("reading {topic} back: {status:?}\n{}", context()),
        };
        let (mut events, mut next_offset) = (Vec::new(), 0);
        loop {
            match stream.message().await {
                Ok(Some(response)) => {
                    next_offset = response.next_offset;
                    events.extend(response.events);
                }
                Ok(None) => return (events, next_offset),
                Err(status) => panic!(
                    "reading {topic} back after {} events: {status:?}\n{}",
                    events.len(),
                    context()
                ),
            }
        }
    })
    .await
}

/// Reads `topics` back whole. Retention must not be trimming them meanwhile.
async fn read_back(
    client: &mut Client,
    topics: &[&str],
    context: &dyn Fn() -> String,
) -> Recovered {
    let mut recovered = Recovered {
        stored: HashMap::new(),
        ranges: HashMap::new(),
        events: 0,
    };
    for &topic in topics {
        let (events, next_offset) = read_topic(client, topic, context).await;
        let first = events.first().map_or(next_offset, |event| event.offset);
        for (position, event) in events.iter().enumerate() {
            assert_eq!(
                event.offset,
                first + position as u64,
                "{topic}: offsets gapless from {first}"
            );
            assert_intact(event, topic);
            let previous = recovered
                .stored
                .insert(name_of(event).to_string(), Stored::of(event));
            assert!(
                previous.is_none(),
                "event {} appended twice: {previous:?} and {topic}@{}",
                name_of(event),
                event.offset
            );
        }
        assert_eq!(
            next_offset,
            first + events.len() as u64,
            "{topic}: next_offset"
        );
        assert_topic_range(client, topic, first, next_offset).await;
        recovered.events += events.len();
        recovered
            .ranges
            .insert(topic.to_string(), (first, next_offset));
    }
    recovered
}

/// Checks the recovered log against what was known before the cut: `before` (the log as read
/// back at the cycle's start, and earlier events since trimmed), `acks` (acknowledged during the
/// cycle) and `unknown` (requests cut off without an answer). Events below a topic's first
/// offset count as trimmed by retention. Returns the acknowledged events lost.
fn verify(
    fsync: Fsync,
    recovered: &Recovered,
    before: &HashMap<String, Stored>,
    acks: &[Ack],
    unknown: &[Request],
    context: &dyn Fn() -> String,
) -> Vec<Ack> {
    let trimmed = |at: &Stored| at.offset < recovered.ranges[&at.topic].0;
    let mut lost = Vec::new();
    let known = before
        .iter()
        .map(|(key, at)| (key, at, None))
        .chain(acks.iter().map(|ack| (&ack.key, &ack.at, Some(ack))));
    for (key, at, ack) in known {
        match recovered.stored.get(key) {
            Some(found) => assert_eq!(
                found,
                at,
                "event {key} changed place after the power cut\n{}",
                context()
            ),
            None if trimmed(at) => {}
            None if fsync == Fsync::Always => {
                panic!("acknowledged event lost: {key} at {at:?}\n{}", context())
            }
            None => {
                // Fsync never may lose the newest events, never older ones: the topic must
                // have come back shorter than this event's offset (a prefix).
                assert!(
                    recovered.ranges[&at.topic].1 <= at.offset,
                    "{key} at {at:?} is missing from the middle of the log\n{}",
                    context()
                );
                match ack {
                    Some(ack) => lost.push(ack.clone()),
                    None => panic!(
                        "{key} at {at:?} was read back after the previous power cut and is \
                         gone after this one\n{}",
                        context()
                    ),
                }
            }
        }
    }
    // Requests are appended all or nothing, contiguously: acknowledged ones (which may be lost
    // whole with fsync never) and those cut off.
    let mut requests: HashMap<u64, Vec<&Ack>> = HashMap::new();
    for ack in acks {
        requests.entry(ack.request).or_default().push(ack);
    }
    for (id, events) in requests {
        let present = events
            .iter()
            .filter(|ack| recovered.stored.contains_key(&ack.key) || trimmed(&ack.at))
            .count();
        assert!(
            present == 0 || present == events.len(),
            "request {id} came back in part: {present} of {} events\n{}",
            events.len(),
            context()
        );
    }
    for request in unknown {
        let found: Vec<Option<&Stored>> = request
            .keys
            .iter()
            .map(|key| recovered.stored.get(key))
            .collect();
        let Some(start) = found.iter().position(Option::is_some) else {
            continue;
        };
        // Retention may have trimmed the request's first events since, nothing else.
        let first_found = found[start].expect("found");
        assert!(
            start == 0 || first_found.offset == recovered.ranges[&request.topic].0,
            "request appended in part: {request:?}\n{}",
            context()
        );
        for (i, stored) in found[start..].iter().enumerate() {
            let stored = stored
                .unwrap_or_else(|| panic!("request appended in part: {request:?}\n{}", context()));
            assert_eq!(stored.topic, request.topic);
            assert_eq!(
                stored.offset,
                first_found.offset + i as u64,
                "cut-off request appended out of order: {request:?}"
            );
        }
    }
    // Nothing came back that was never sent.
    let sent: HashSet<&String> = before
        .keys()
        .chain(acks.iter().map(|ack| &ack.key))
        .chain(unknown.iter().flat_map(|request| &request.keys))
        .collect();
    for key in recovered.stored.keys() {
        assert!(
            sent.contains(key),
            "{key} is in the log but was never published\n{}",
            context()
        );
    }
    lost
}

/// Republishes `sample` (keys and where they are stored) in requests of one to four events:
/// each must come back a duplicate with the stored offset and id.
async fn republish(client: &mut Client, sample: &[(String, Stored)], rng: &mut Rng) {
    let mut by_topic: HashMap<&str, Vec<&(String, Stored)>> = HashMap::new();
    for entry in sample {
        by_topic.entry(&entry.1.topic).or_default().push(entry);
    }
    for (topic, entries) in by_topic {
        let mut rest = &entries[..];
        while !rest.is_empty() {
            let take = (1 + rng.below(4) as usize).min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            let request = pb::PublishRequest {
                topic: topic.to_string(),
                events: chunk.iter().map(|(key, _)| event_for(key)).collect(),
                ..Default::default()
            };
            let results = within(client.publish(request))
                .await
                .expect("republish")
                .into_inner()
                .results;
            assert_eq!(results.len(), chunk.len());
            for ((key, at), result) in chunk.iter().zip(&results) {
                assert!(result.duplicate, "republished {key} not a duplicate");
                assert_eq!(
                    (result.offset, &result.id),
                    (at.offset, &at.id),
                    "republished {key} returns the original offset and id"
                );
            }
        }
    }
}

/// Up to `count` stored keys, drawn at random, plus the newest acknowledged ones (the most at
/// risk).
fn dedup_sample(
    stored: &HashMap<String, Stored>,
    newest: &[Ack],
    count: usize,
    rng: &mut Rng,
) -> Vec<(String, Stored)> {
    let mut keys: Vec<&String> = stored
        .iter()
        .filter_map(|(key, at)| at.keyed.then_some(key))
        .collect();
    keys.sort_unstable();
    let mut sample: HashMap<String, Stored> = HashMap::new();
    for _ in 0..count.min(keys.len()) {
        let key = keys[rng.below(keys.len() as u64) as usize];
        sample.insert(key.clone(), stored[key].clone());
    }
    for ack in newest.iter().rev().filter(|ack| ack.at.keyed).take(count) {
        if let Some(at) = stored.get(&ack.key) {
            sample.insert(ack.key.clone(), at.clone());
        }
    }
    sample.into_iter().collect()
}

/// What a check after a restart found.
pub struct Checked {
    /// Every event known to be stored: those read back, and earlier ones retention has
    /// trimmed since (their keys are still deduplicated).
    pub stored: HashMap<String, Stored>,
    /// Each topic's retained range: first and next offset.
    pub ranges: HashMap<String, (u64, u64)>,
    /// Events read back.
    pub events: usize,
    pub lost: usize,
    /// Keys republished and recognised as duplicates.
    pub republished: usize,
}

/// After a restart: reads `topics` back, verifies them against what was known before (`known`:
/// the stored events, those acknowledged since, the requests cut off; see [`verify`]), and
/// republishes a sample of stored keys, which must come back as duplicates. Adds to `summary`.
pub async fn check_recovery(
    client: &mut Client,
    fsync: Fsync,
    topics: &[&str],
    known: (&HashMap<String, Stored>, &[Ack], &[Request]),
    rng: &mut Rng,
    context: &dyn Fn() -> String,
    summary: &mut Summary,
) -> Checked {
    let (before, newest, unknown) = known;
    let recovered = read_back(client, topics, context).await;
    let lost = verify(fsync, &recovered, before, newest, unknown, context);
    summary.events_checked += recovered.events;
    summary.lost += lost.len();
    summary.cycles_with_loss += usize::from(!lost.is_empty());
    summary.unacknowledged_kept += recovered
        .stored
        .len()
        .saturating_sub(before.len() + newest.len());
    let Recovered {
        mut stored,
        ranges,
        events,
    } = recovered;
    let trimmed = before
        .iter()
        .chain(newest.iter().map(|ack| (&ack.key, &ack.at)))
        .filter(|(key, at)| !stored.contains_key(*key) && at.offset < ranges[&at.topic].0)
        .map(|(key, at)| (key.clone(), at.clone()))
        .collect::<Vec<_>>();
    stored.extend(trimmed);
    let sample = dedup_sample(&stored, newest, 12, rng);
    republish(client, &sample, rng).await;
    summary.dedup_checked += sample.len();
    Checked {
        stored,
        ranges,
        events,
        lost: lost.len(),
        republished: sample.len(),
    }
}

/// Cuts the power under `server` at a random point of its stream of writes and fsyncs (a cut
/// right after an acknowledgement would mostly find nothing unsynced), kills it, and remounts
/// what reached the disk. Calls fail from now on (`shared`). Copies the data directory to
/// [`DUMP_ENV`] if set.
pub async fn cut_power(
    mut fs: PowerLossFs,
    mut rng: Rng,
    server: Server,
    shared: &Shared,
    cut: Cut,
    cycle: usize,
) -> (PowerLossFs, Rng, CutReport) {
    let frozen = fs.cut_after(rng.below(MAX_CHANGES_BEFORE_CUT));
    within(frozen).await.expect("the server keeps writing");
    shared.kill();
    server.kill_then(|| fs.release_stalled()).await;
    let (fs, report, rng) = within(tokio::task::spawn_blocking(move || {
        let report = fs.power_cut(cut, &mut rng);
        (fs, report, rng)
    }))
    .await
    .expect("power cut task");
    let report = report.unwrap_or_else(|why| panic!("cycle {cycle}: power cut: {why}"));
    if let Some(dump) = std::env::var_os(DUMP_ENV) {
        // What the next server will start on, for a post-mortem.
        let target = PathBuf::from(dump).join(format!("cycle-{}", cycle + 1));
        fs.dump_to(&target).expect("dump the data directory");
        println!(
            "data directory after the cut copied to {}",
            target.display()
        );
    }
    (fs, rng, report)
}

/// Prints what is in the filesystem and what it went through.
pub fn print_filesystem(fs: &PowerLossFs) {
    let files: Vec<String> = fs
        .files()
        .into_iter()
        .map(|(name, size)| format!("{name} ({size} bytes)"))
        .collect();
    println!("data directory at the end: {}", files.join(", "));
    let stats = fs.stats();
    println!(
        "filesystem: {} writes ({} bytes), {} file fsyncs, {} directory fsyncs, {} power cuts",
        stats.writes, stats.bytes_written, stats.fsyncs, stats.dir_fsyncs, stats.power_cuts
    );
}

/// Runs `settings.cycles` crash cycles on `fs` and a final check; panics on any violation.
pub async fn run(mut fs: PowerLossFs, settings: Settings, mut rng: Rng) -> Summary {
    let data_dir: PathBuf = match settings.data_subdir {
        Some(sub) => fs.path().join(sub),
        None => fs.path().to_path_buf(),
    };
    let mut args: Vec<&str> = settings.server_args.to_vec();
    if settings.fsync == Fsync::Never {
        args.push("--fsync=never");
    }
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut stored: Arc<HashMap<String, Stored>> = Arc::default();
    let mut unknown: Vec<Option<Request>> = vec![None; settings.publishers];
    let mut last_report = CutReport::default();
    let mut newest: Vec<Ack> = Vec::new();

    for cycle in 0..=settings.cycles {
        let start = Instant::now();
        let server = match Server::start(&data_dir, &args).await {
            Ok(server) => server,
            Err(why) => panic!(
                "cycle {cycle}: the server cannot start after the power cut ({last_report}): \
                 {why}"
            ),
        };
        let mut client = server.client().await;
        if cycle > 0 {
            let context = || {
                format!(
                    "cycle {cycle}, after the cut: {last_report}\nserver log:\n{}",
                    server.log_tail()
                )
            };
            let pending: Vec<Request> = unknown.iter().flatten().cloned().collect();
            let checked = check_recovery(
                &mut client,
                settings.fsync,
                settings.topics,
                (&stored, &newest, &pending),
                &mut rng,
                &context,
                &mut summary,
            )
            .await;
            for (topic, range) in &checked.ranges {
                assert_eq!(range.0, 0, "{topic}: nothing trims it");
            }
            summary.slowest_recovery = summary.slowest_recovery.max(start.elapsed());
            println!(
                "cycle {cycle}: {} events back ({} topics), {} acknowledged lost, {} keys \
                 republished as duplicates; restart and read-back took {:.1?}",
                checked.events,
                settings.topics.len(),
                checked.lost,
                checked.republished,
                start.elapsed()
            );
            stored = Arc::new(checked.stored);
        }
        if cycle == settings.cycles {
            // The server accepts new events after everything.
            let request = pb::PublishRequest {
                topic: settings.topics[0].to_string(),
                events: vec![event_for("after-the-last-power-cut")],
                ..Default::default()
            };
            let results = within(client.publish(request))
                .await
                .expect("publish after the last power cut")
                .into_inner()
                .results;
            let topic_end = stored
                .values()
                .filter(|at| at.topic == settings.topics[0])
                .count() as u64;
            assert_eq!(
                (results[0].offset, results[0].duplicate),
                (topic_end, false)
            );
            server.kill().await;
            break;
        }

        let kill_after = settings.acks_per_cycle.start
            + rng.below(settings.acks_per_cycle.len() as u64) as usize;
        let (shared, mut acked) = Shared::new(Arc::clone(&stored), server.log());
        let tasks: Vec<_> = unknown
            .iter_mut()
            .enumerate()
            .map(|(me, retry)| {
                let publisher = Publisher {
                    me,
                    cycle,
                    topics: settings.topics,
                    huge_one_in: settings.huge_one_in,
                    keyed: true,
                    pace: None,
                    resend_every: 0,
                };
                tokio::spawn(publisher.run(server.addr, retry.take(), Arc::clone(&shared)))
            })
            .collect();
        if settings.fsync == Fsync::Never {
            // The operating system writes everything back now and then on its own; without it
            // nothing but sled's periodic fsync of its main file would ever reach the disk (not
            // even the files' names), and every power cut would lose everything.
            let writeback_at = rng.below(kill_after as u64) as usize;
            within(acked.wait_for(|n| *n >= writeback_at))
                .await
                .expect("publishers alive");
            fs.writeback();
        }
        within(acked.wait_for(|n| *n >= kill_after))
            .await
            .expect("publishers alive");
        let cut = settings.cuts[cycle % settings.cuts.len()];
        let report;
        (fs, rng, report) = cut_power(fs, rng, server, &shared, cut, cycle).await;
        for (me, task) in tasks.into_iter().enumerate() {
            unknown[me] = Some(within(task).await.expect("publisher task"));
        }
        newest = shared.into_acks();
        summary.acknowledged += newest.len();
        summary.record_cut(&report);
        println!(
            "cycle {cycle}: {} events acknowledged, power cut ({cut:?}): {}",
            newest.len(),
            report.brief()
        );
        last_report = report;
    }
    print_filesystem(&fs);
    println!(
        "{:?}: {summary}; {:.1?} in all",
        settings.fsync,
        started.elapsed()
    );
    summary
}
