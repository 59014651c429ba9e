//! A live topic: its handle, shared by publishers and subscribers, and its writer task, the one
//! place that changes the topic's log.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::EngineError;
use super::instruments::TopicInstruments;
use super::syncer::{AppendReply, Commit};
use crate::model::{
    AppendResult, CursorName, Event, LogBounds, NewEvent, Publication, Timestamp, TopicInfo,
    id_text, to_proto_time,
};
use crate::storage::{
    Append, DedupEntry, KeyHash, KeyHashMap, LogState, TopicLog, fingerprint, key_hash,
};

/// Publish requests a writer queues before publishers wait for room.
const APPEND_QUEUE: usize = 1024;
/// A group commit stops gathering requests at this many events...
const MAX_GROUP_EVENTS: usize = 8192;
/// ...or at this many payload bytes.
const MAX_GROUP_BYTES: usize = 8 * 1024 * 1024;

/// The part of a log subscribers may read: durable (or, with `--fsync never`, applied) events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Visible {
    /// The oldest retained offset.
    pub first_offset: u64,
    /// Just past the newest readable event.
    pub next_offset: u64,
}

/// A request to append one Publish's events.
struct AppendRequest {
    publication: Publication,
    reply: AppendReply,
}

/// Shared access to a live topic. Dropping the last handle does not stop the writer; use
/// [`TopicHandle::stop`].
pub struct TopicHandle {
    log: TopicLog,
    appends: mpsc::Sender<AppendRequest>,
    visible: watch::Receiver<Visible>,
    size_bytes: Arc<AtomicU64>,
    /// Cancelled when the topic is deleted or the server stops; ends the writer.
    stop: CancellationToken,
    /// Cancelled when the topic is deleted; ends its subscriptions with NOT_FOUND.
    deleted: CancellationToken,
    writer_done: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
    instruments: TopicInstruments,
    /// The position of each open subscription, for monitoring their lag.
    subscribers: Mutex<Vec<Weak<AtomicU64>>>,
}

/// An append accepted by a topic's writer, not yet answered.
pub struct PendingAppend {
    topic: Arc<TopicHandle>,
    answer: oneshot::Receiver<Result<Vec<AppendResult>, EngineError>>,
    submitted: Instant,
}

/// Resolves once the events are durable (or the append failed).
impl Future for PendingAppend {
    type Output = Result<Vec<AppendResult>, EngineError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = match ready!(Pin::new(&mut self.answer).poll(cx)) {
            Ok(outcome) => outcome,
            Err(_) => Err(self.topic.writer_gone()),
        };
        self.topic
            .instruments
            .publish_seconds
            .record(self.submitted.elapsed());
        Poll::Ready(outcome)
    }
}

/// What [`TopicHandle::submit_now`] did with a publication.
pub enum SubmitNow {
    /// Queued for the writer.
    Queued(PendingAppend),
    /// Refused: the writer is gone.
    Refused(EngineError),
    /// Given back: queueing it would have to wait.
    WouldWait(Publication),
}

/// What a writer needs besides its log.
pub(super) struct WriterContext {
    pub commits: mpsc::Sender<Commit>,
    pub retention_interval: Duration,
    pub stop: CancellationToken,
}

impl TopicHandle {
    /// Starts the writer task of `log`, whose stored state is `state`.
    pub(super) fn start(
        log: TopicLog,
        state: LogState,
        context: WriterContext,
        tasks: &tokio_util::task::TaskTracker,
    ) -> Arc<Self> {
        let (appends, requests) = mpsc::channel(APPEND_QUEUE);
        let (visible_tx, visible) = watch::channel(Visible {
            first_offset: state.bounds.first_offset,
            next_offset: state.bounds.next_offset,
        });
        let size_bytes = Arc::new(AtomicU64::new(state.bounds.size_bytes));
        let (done_tx, done_rx) = oneshot::channel();
        let instruments = TopicInstruments::new(log.name());
        let writer = Writer {
            log: log.clone(),
            state,
            visible: Arc::new(visible_tx),
            size_bytes: Arc::clone(&size_bytes),
            commits: context.commits,
            in_syncer: Arc::default(),
            instruments: instruments.clone(),
            key_maintenance: None,
        };
        let stop = context.stop;
        tasks.spawn(writer.run(requests, context.retention_interval, stop.clone(), done_tx));
        Arc::new(Self {
            log,
            appends,
            visible,
            size_bytes,
            stop,
            deleted: CancellationToken::new(),
            writer_done: tokio::sync::Mutex::new(Some(done_rx)),
            instruments,
            subscribers: Mutex::new(Vec::new()),
        })
    }

    /// The topic's metric handles.
    pub(super) fn instruments(&self) -> &TopicInstruments {
        &self.instruments
    }

    /// Tracks a new subscription starting at `position`; it keeps the returned position current
    /// and is forgotten once it drops it.
    pub(super) fn track_subscriber(&self, position: u64) -> Arc<AtomicU64> {
        let position = Arc::new(AtomicU64::new(position));
        let mut subscribers = self.subscribers();
        subscribers.retain(|subscriber| subscriber.strong_count() > 0);
        subscribers.push(Arc::downgrade(&position));
        position
    }

    /// How many subscriptions are open, and how many events the furthest behind has yet to read.
    pub(super) fn subscriber_lag(&self) -> (usize, u64) {
        let end = self.visible.borrow().next_offset;
        let positions: Vec<u64> = self
            .subscribers()
            .iter()
            .filter_map(Weak::upgrade)
            .map(|position| position.load(Ordering::Relaxed))
            .collect();
        let behind = positions
            .iter()
            .map(|position| end.saturating_sub(*position));
        (positions.len(), behind.max().unwrap_or(0))
    }

    fn subscribers(&self) -> std::sync::MutexGuard<'_, Vec<Weak<AtomicU64>>> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The topic's log.
    pub fn log(&self) -> &TopicLog {
        &self.log
    }

    /// A receiver of the readable range, notified on every change.
    pub fn visible(&self) -> watch::Receiver<Visible> {
        self.visible.clone()
    }

    /// Cancelled once the topic is deleted.
    pub fn deleted(&self) -> &CancellationToken {
        &self.deleted
    }

    /// The topic's description, as subscribers see it.
    pub fn info(&self) -> TopicInfo {
        let visible = *self.visible.borrow();
        TopicInfo {
            name: self.log.name().clone(),
            config: self.log.meta().config,
            bounds: LogBounds {
                first_offset: visible.first_offset,
                next_offset: visible.next_offset,
                size_bytes: self.size_bytes.load(Ordering::Relaxed),
            },
            create_time: self.log.meta().create_time,
        }
    }

    /// Queues `publication` for the writer's group commit (waiting while the queue is full); the
    /// returned [`PendingAppend`] resolves once its events are durable.
    pub async fn submit(
        self: &Arc<Self>,
        publication: Publication,
    ) -> Result<PendingAppend, EngineError> {
        let (request, pending) = self.request(publication);
        self.appends
            .send(request)
            .await
            .map_err(|_| self.writer_gone())?;
        Ok(pending)
    }

    /// [`TopicHandle::submit`] if the writer's queue has room, without waiting.
    pub fn submit_now(self: &Arc<Self>, publication: Publication) -> SubmitNow {
        let (request, pending) = self.request(publication);
        match self.appends.try_send(request) {
            Ok(()) => SubmitNow::Queued(pending),
            Err(mpsc::error::TrySendError::Full(request)) => {
                SubmitNow::WouldWait(request.publication)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => SubmitNow::Refused(self.writer_gone()),
        }
    }

    /// The writer's request to append `publication`, and the append awaiting its answer.
    fn request(self: &Arc<Self>, publication: Publication) -> (AppendRequest, PendingAppend) {
        let (reply, answer) = oneshot::channel();
        let pending = PendingAppend {
            topic: Arc::clone(self),
            answer,
            submitted: Instant::now(),
        };
        (AppendRequest { publication, reply }, pending)
    }

    /// Why the writer is not there: it only stops for a deletion or a shutdown.
    fn writer_gone(&self) -> EngineError {
        if self.deleted.is_cancelled() {
            EngineError::TopicNotFound(self.log.name().clone())
        } else {
            EngineError::ShuttingDown
        }
    }

    /// Marks the topic deleted, stops its writer and waits until it has stopped.
    pub async fn stop_for_delete(&self) {
        self.deleted.cancel();
        self.stop.cancel();
        if let Some(done) = self.writer_done.lock().await.take() {
            let _ = done.await;
        }
    }
}

/// The task that owns a topic's log state and performs its appends and trims.
struct Writer {
    log: TopicLog,
    state: LogState,
    visible: Arc<watch::Sender<Visible>>,
    size_bytes: Arc<AtomicU64>,
    commits: mpsc::Sender<Commit>,
    /// The topic's commits handed to the syncer and not yet completed.
    in_syncer: Arc<AtomicUsize>,
    instruments: TopicInstruments,
    /// The last expiry and sealing of idempotency keys, which runs beside the appends.
    key_maintenance: Option<tokio::task::JoinHandle<()>>,
}

/// One Publish request's events, checked against the dedup index and its expectations, and
/// given offsets and key versions.
struct PreparedRequest {
    reply: AppendReply,
    results: Vec<AppendResult>,
    appended: Appended,
}

/// What a prepared request adds to the log.
#[derive(Default)]
struct Appended {
    events: Vec<Event>,
    cursor: Option<(CursorName, u64)>,
}

/// What the requests of one group commit already claimed: later requests of the group see it
/// as if it were stored.
#[derive(Default)]
struct GroupClaims {
    dedup: KeyHashMap<ClaimedKey>,
    key_versions: HashMap<String, u64>,
    cursors: HashMap<CursorName, u64>,
}

/// An idempotency key claimed by an event not yet stored, with the event's key version: the log
/// cannot tell it before the event is stored.
#[derive(Clone, Copy)]
struct ClaimedKey {
    entry: DedupEntry,
    key_version: Option<u64>,
}

impl Writer {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<AppendRequest>,
        retention_interval: Duration,
        stop: CancellationToken,
        done: oneshot::Sender<()>,
    ) {
        let mut retention = tokio::time::interval(retention_interval);
        retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut group = Vec::new();
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                received = requests.recv_many(&mut group, APPEND_QUEUE) => {
                    if received == 0 {
                        break;
                    }
                    self.gather_more(&mut requests, &mut group);
                    self.commit_group(std::mem::take(&mut group)).await;
                }
                _ = retention.tick() => self.enforce_retention().await,
            }
        }
        if let Some(maintenance) = self.key_maintenance.take() {
            let _ = maintenance.await;
        }
        let _ = done.send(());
    }

    /// Adds already queued requests to `group` while it stays within the group limits.
    fn gather_more(
        &self,
        requests: &mut mpsc::Receiver<AppendRequest>,
        group: &mut Vec<AppendRequest>,
    ) {
        let (mut events, mut bytes) = group.iter().fold((0, 0), |(events, bytes), request| {
            (
                events + request.publication.events.len(),
                bytes + payload_bytes(&request.publication.events),
            )
        });
        while events < MAX_GROUP_EVENTS && bytes < MAX_GROUP_BYTES {
            let Ok(request) = requests.try_recv() else {
                break;
            };
            events += request.publication.events.len();
            bytes += payload_bytes(&request.publication.events);
            group.push(request);
        }
    }

    /// Appends one group of requests as one record batch, then hands it to the syncer.
    async fn commit_group(&mut self, group: Vec<AppendRequest>) {
        // A request without events is a barrier: it waits for what was written to the index
        // before it (a cursor, a consumer group's record) to be durable.
        let barrier = group
            .iter()
            .any(|request| request.publication.events.is_empty());
        let now = Timestamp::now();
        // All events of a group share one time, never earlier than the log's last one.
        let time = now.max(self.state.last_time);
        let mut claims = GroupClaims::default();
        let mut prepared = Vec::with_capacity(group.len());
        let mut next_offset = self.state.bounds.next_offset;
        for request in group {
            match self.prepare(request, &mut claims, now, time, next_offset) {
                Ok(request) => {
                    next_offset += request.appended.events.len() as u64;
                    prepared.push(request);
                }
                Err((reply, error)) => {
                    let _ = reply.send(Err(error));
                }
            }
        }
        let events: Vec<Event> = prepared
            .iter_mut()
            .flat_map(|p| p.appended.events.drain(..))
            .collect();
        let cursors: Vec<(CursorName, u64)> = prepared
            .iter_mut()
            .filter_map(|p| p.appended.cursor.take())
            .collect();
        // The group's new keys, as claimed: the log need not derive them from the events again.
        let keys: Vec<(KeyHash, DedupEntry)> = claims
            .dedup
            .iter()
            .map(|(hash, claimed)| (*hash, claimed.entry))
            .collect();
        // Events, and the cursors moved with them, are durable in their segment file once
        // appended; cursors moved without events only in the index.
        let needs_index_sync = barrier || (events.is_empty() && !cursors.is_empty());
        // Durable once appended, and no earlier commit of the topic left to answer first: the
        // syncer would only add a hop.
        let answer_here = !needs_index_sync && self.in_syncer.load(Ordering::Acquire) == 0;
        if !events.is_empty() || !cursors.is_empty() {
            let log = self.log.clone();
            let state = self.state;
            let count = events.len();
            let requests = prepared.len();
            let bytes: u64 = events.iter().map(|event| event.payload.len() as u64).sum();
            let started = Instant::now();
            let (readable_tx, readable) = oneshot::channel();
            let appending = tokio::task::spawn_blocking(move || {
                log.append_then(
                    state,
                    Append {
                        events: &events,
                        time,
                        cursors: &cursors,
                        keys: Some(keys),
                    },
                    |state| {
                        let _ = readable_tx.send(state);
                    },
                )
            });
            // The publishers need nothing from the index entries the append writes after that.
            if answer_here && let Ok(readable) = readable.await {
                // GetTopic after the answer must count the events it acknowledged.
                self.size_bytes
                    .store(readable.bounds.size_bytes, Ordering::Relaxed);
                let prepared = std::mem::take(&mut prepared);
                self.commit(prepared, readable.bounds.next_offset, false)
                    .complete(Ok(()));
            }
            let appended = appending.await;
            tracing::debug!(count, elapsed = ?started.elapsed(), "appended");
            match appended
                .map_err(EngineError::from)
                .and_then(|r| r.map_err(EngineError::from))
            {
                Ok(state) => {
                    self.state = state;
                    self.size_bytes
                        .store(state.bounds.size_bytes, Ordering::Relaxed);
                    self.instruments.appended_events.increment(count as u64);
                    self.instruments.appended_bytes.increment(bytes);
                    self.instruments.commit_events.record(count as f64);
                    if count > 0 {
                        self.instruments.fsync_seconds.record(started.elapsed());
                        self.instruments.fsync_requests.record(requests as f64);
                    }
                }
                Err(error) => {
                    if matches!(&error, EngineError::Storage(store) if store.is_out_of_space()) {
                        // Expected while the disk is full; the publishers are told why.
                        tracing::warn!(topic = %self.log.name(), %error, "append refused");
                    } else {
                        // Publishers answered already keep their events: they are in their
                        // segment file, which start-up indexes again; the log refuses more.
                        tracing::error!(topic = %self.log.name(), %error, "append failed");
                    }
                    for request in prepared {
                        let _ = request.reply.send(Err(error.clone()));
                    }
                    return;
                }
            }
            if prepared.is_empty() {
                return;
            }
        }
        let commit = self.commit(prepared, self.state.bounds.next_offset, needs_index_sync);
        if answer_here {
            commit.complete(Ok(()));
            return;
        }
        self.in_syncer.fetch_add(1, Ordering::AcqRel);
        if let Err(mpsc::error::SendError(commit)) = self.commits.send(commit).await {
            self.in_syncer.fetch_sub(1, Ordering::AcqRel);
            commit.complete(Err(EngineError::ShuttingDown));
        }
    }

    /// The commit answering `prepared`, which ends the log at `next_offset`.
    fn commit(
        &self,
        prepared: Vec<PreparedRequest>,
        next_offset: u64,
        needs_index_sync: bool,
    ) -> Commit {
        let duplicates = prepared
            .iter()
            .flat_map(|request| &request.results)
            .filter(|result| result.duplicate)
            .count();
        self.instruments
            .duplicate_events
            .increment(duplicates as u64);
        Commit {
            visible: Arc::clone(&self.visible),
            in_syncer: Arc::clone(&self.in_syncer),
            next_offset,
            needs_index_sync,
            replies: prepared.into_iter().map(|p| (p.reply, p.results)).collect(),
        }
    }

    /// Resolves idempotency keys, checks expectations and assigns offsets and key versions for
    /// one request; all or nothing.
    ///
    /// Idempotency first, per event: an earlier event of the same request, then of the same
    /// group, then the stored index (entries older than the topic's dedup window count as
    /// absent). A request whose events are all duplicates is a retry: it gets the original
    /// results and checks nothing more. Otherwise the expected next offset, each new event's
    /// expected key version (in request order), then the cursor's expected position.
    fn prepare(
        &self,
        request: AppendRequest,
        claims: &mut GroupClaims,
        now: Timestamp,
        time: Timestamp,
        first_offset: u64,
    ) -> Result<PreparedRequest, (AppendReply, EngineError)> {
        let AppendRequest { publication, reply } = request;
        match self.check(publication, claims, now, time, first_offset) {
            Ok((results, appended)) => Ok(PreparedRequest {
                reply,
                results,
                appended,
            }),
            Err(error) => Err((reply, error)),
        }
    }

    fn check(
        &self,
        publication: Publication,
        claims: &mut GroupClaims,
        now: Timestamp,
        time: Timestamp,
        first_offset: u64,
    ) -> Result<(Vec<AppendResult>, Appended), EngineError> {
        let Publication {
            events,
            expected_next_offset,
            cursor,
        } = publication;
        let topic = self.log.name();
        let window_start = now.saturating_sub(self.log.meta().config.dedup_window);
        let mut results = Vec::with_capacity(events.len());
        let mut new_events = Vec::with_capacity(events.len());

        // Duplicates of this request's own events, and the results they take the version of.
        let mut own_duplicates = Vec::new();
        // The stored originals of this request's duplicates last read from the log.
        let mut originals = Vec::new();
        let keyed: Vec<Option<(KeyHash, u64)>> = events
            .iter()
            .map(|event| {
                let key = event.idempotency_key.as_ref()?;
                Some((
                    key_hash(key),
                    fingerprint(&event.event_type, &event.payload),
                ))
            })
            .collect();
        // Every key's stored entry, looked up together: one index lock, overlapping misses.
        let hashes: Vec<KeyHash> = keyed.iter().flatten().map(|(hash, _)| *hash).collect();
        // This request's own keys, each with the index of its event's result.
        let mut own_entries: KeyHashMap<(DedupEntry, usize)> =
            KeyHashMap::with_capacity_and_hasher(hashes.len(), Default::default());
        let mut stored = self.log.dedup_entries(&hashes, window_start)?.into_iter();
        for (event, keyed) in events.into_iter().zip(keyed) {
            if let Some((hash, print)) = keyed {
                let stored = stored.next().flatten();
                let (earlier, key_version) = if let Some((entry, original)) = own_entries.get(&hash)
                {
                    own_duplicates.push((results.len(), *original));
                    (Some(*entry), None)
                } else if let Some(claimed) = claims.dedup.get(&hash) {
                    (Some(claimed.entry), claimed.key_version)
                } else if let Some(entry) = stored {
                    let key_version = self.log.stored_key_version(entry.offset, &mut originals)?;
                    (Some(entry), key_version)
                } else {
                    (None, None)
                };
                if let Some(entry) = earlier {
                    if entry.fingerprint != print {
                        return Err(EngineError::IdempotencyConflict {
                            topic: topic.clone(),
                            key: event.idempotency_key.unwrap_or_default(),
                            offset: entry.offset,
                        });
                    }
                    results.push(AppendResult {
                        offset: entry.offset,
                        id: entry.id,
                        time: entry.time,
                        duplicate: true,
                        key_version,
                    });
                    continue;
                }
            }
            let offset = first_offset + new_events.len() as u64;
            let id = Uuid::now_v7();
            if let Some((hash, print)) = keyed {
                // Claimed now, so a repeat later in the request is its duplicate.
                let entry = DedupEntry {
                    offset,
                    time,
                    id,
                    fingerprint: print,
                };
                own_entries.insert(hash, (entry, results.len()));
            }
            results.push(AppendResult {
                offset,
                id,
                time,
                duplicate: false,
                key_version: None,
            });
            new_events.push((results.len() - 1, event));
        }
        let is_retry = !results.is_empty() && new_events.is_empty();
        if is_retry {
            return Ok((results, Appended::default()));
        }
        if let Some(expected) = expected_next_offset.filter(|expected| *expected != first_offset) {
            return Err(EngineError::NextOffsetMismatch {
                topic: topic.clone(),
                expected,
                actual: first_offset,
            });
        }
        let mut own_versions: HashMap<String, u64> = HashMap::new();
        let mut stored = Vec::with_capacity(new_events.len());
        for (index, event) in new_events {
            let result = &mut results[index];
            if !event.key.is_empty() {
                let current = match own_versions
                    .get(&event.key)
                    .or_else(|| claims.key_versions.get(&event.key))
                {
                    Some(version) => Some(*version),
                    None => self.log.key_version(&event.key)?,
                };
                if !event.expected_key_version.holds(current) {
                    return Err(EngineError::KeyVersionMismatch {
                        topic: topic.clone(),
                        index,
                        key: event.key,
                        expected: event.expected_key_version,
                        actual: current,
                    });
                }
                let version = current.map_or(0, |version| version + 1);
                own_versions.insert(event.key.clone(), version);
                result.key_version = Some(version);
            }
            stored.push(Event {
                id: id_text(result.id),
                topic: topic.as_str().to_owned(),
                offset: result.offset,
                time: Some(to_proto_time(time)),
                event_type: event.event_type,
                payload: event.payload,
                idempotency_key: event.idempotency_key.unwrap_or_default(),
                key: event.key,
                headers: event.headers,
                content_type: event.content_type,
                schema_version: event.schema_version,
                key_version: result.key_version,
            });
        }
        let cursor = match cursor {
            Some(update) => {
                let current = match claims.cursors.get(&update.name) {
                    Some(position) => Some(*position),
                    None => self.log.cursor(&update.name)?.map(|cursor| cursor.position),
                };
                if !update.expected.holds(current) {
                    return Err(EngineError::CursorMismatch {
                        topic: topic.clone(),
                        cursor: update.name,
                        expected: update.expected,
                        actual: current,
                    });
                }
                Some((update.name, update.position))
            }
            None => None,
        };
        for (duplicate, original) in own_duplicates {
            results[duplicate].key_version = results[original].key_version;
        }
        claims
            .dedup
            .extend(own_entries.into_iter().map(|(hash, (entry, original))| {
                let key_version = results[original].key_version;
                (hash, ClaimedKey { entry, key_version })
            }));
        claims.key_versions.extend(own_versions);
        if let Some((name, position)) = &cursor {
            claims.cursors.insert(name.clone(), *position);
        }
        Ok((
            results,
            Appended {
                events: stored,
                cursor,
            },
        ))
    }

    /// Trims what retention no longer keeps and forgets lapsed idempotency keys.
    async fn enforce_retention(&mut self) {
        self.maintain_keys();
        let log = self.log.clone();
        let state = self.state;
        let durable_end = self.visible.borrow().next_offset;
        let trimmed = tokio::task::spawn_blocking(move || {
            // Never trim past what is durable: subscribers must not lose sight of events that
            // publishers are still waiting to see acknowledged.
            let point = log
                .retention_point(&state, Timestamp::now())?
                .min(durable_end);
            log.trim(state, point)
        })
        .await;
        match trimmed
            .map_err(EngineError::from)
            .and_then(|r| r.map_err(EngineError::from))
        {
            Ok(state) => {
                if state.bounds.first_offset != self.state.bounds.first_offset {
                    tracing::debug!(topic = %self.log.name(), first_offset = state.bounds.first_offset, "retention trimmed");
                    self.visible.send_modify(|visible| {
                        visible.first_offset = visible.first_offset.max(state.bounds.first_offset);
                    });
                }
                self.state = state;
                self.size_bytes
                    .store(state.bounds.size_bytes, Ordering::Relaxed);
            }
            Err(error) => tracing::error!(topic = %self.log.name(), %error, "retention failed"),
        }
    }

    /// Expires lapsed idempotency keys and seals full generations in the background, unless the
    /// last round is still running: sealing writes and fsyncs whole files, which on the writer's
    /// path would hold up every publisher of the topic meanwhile.
    fn maintain_keys(&mut self) {
        if self
            .key_maintenance
            .as_ref()
            .is_some_and(|running| !running.is_finished())
        {
            return;
        }
        let log = self.log.clone();
        self.key_maintenance = Some(tokio::task::spawn_blocking(move || {
            let cutoff = Timestamp::now().saturating_sub(log.meta().config.dedup_window);
            if let Err(error) = log.expire_dedup(cutoff).and_then(|_| log.seal_dedup()) {
                tracing::warn!(topic = %log.name(), %error, "expiring or sealing idempotency keys failed");
            }
        }));
    }
}

fn payload_bytes(events: &[NewEvent]) -> usize {
    events.iter().map(|event| event.payload.len()).sum()
}
