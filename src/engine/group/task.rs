//! The task that runs one consumer group: it reads the topic's log, hands events to members,
//! takes their acknowledgements, and makes those durable in batches.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::state::{AckOutcome, Assignment, DeadLetter, GroupState, MemberId};
use super::{
    Command, ConfirmationsSender, GroupDelivery, GroupGauges, Joined, MAX_IN_FLIGHT, Settlement,
};
use crate::engine::limits::SubscriptionSlot;
use crate::engine::subscription::{StartAt, resolve_start};
use crate::engine::topic::{TopicHandle, Visible};
use crate::engine::{Broker, EngineError};
use crate::model::{
    Expectation, GroupConfig, GroupCounters, GroupInfo, GroupName, NewEvent, OutOfRangePolicy,
    Publication, Timestamp,
};
use crate::storage::record_batch::EncodedEvent;
use crate::storage::{GroupRecord, StoreError};

/// Events admitted but not yet acknowledged, at most; the group reads no further until the
/// oldest are acknowledged (visible as lag in GetConsumerGroup).
const MAX_OUTSTANDING: usize = 100_000;
/// Bytes of read-but-undelivered events kept in memory; beyond it they are read again later.
const UNSENT_BYTES: usize = 8 * 1024 * 1024;
/// Events one read of new events asks for at least.
const READ_MIN_EVENTS: u64 = 256;
/// Payload bytes one read from the log aims for.
const READ_CHUNK_BYTES: usize = 1024 * 1024;
/// Payload bytes one message to a member aims for.
const MESSAGE_BYTES: usize = 1024 * 1024;
/// Rounds of dispatch between looks at the command queue, so acknowledgements are never starved.
const ROUNDS_PER_TURN: usize = 16;
/// How long a failed flush or dead-letter publish waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Messages a member's channel holds beyond its in-flight limit: copies of deliveries sent again
/// after their deadline passed while the member had not read the first. A member that lets more
/// pile up is not reading its stream.
const STALE_COPIES: usize = 64;

/// The outcome of one flush, with the acknowledgements it made durable, per member.
type Flushed = (Result<(), EngineError>, Vec<(MemberId, Vec<u64>)>);

/// A member as the task sees it.
struct MemberLink {
    deliveries: mpsc::Sender<Vec<GroupDelivery>>,
    confirmations: ConfirmationsSender,
    failure: Option<oneshot::Sender<EngineError>>,
    /// Acknowledgements received since the last flush started.
    awaiting: Vec<u64>,
    /// Counts the member against the server's subscription limits.
    _slot: SubscriptionSlot,
}

/// What woke the task.
enum Wake {
    Command(Option<Command>),
    Flushed(Flushed),
    Appended(bool),
    Timer,
    Shutdown,
    TopicDeleted,
}

/// Whether the task goes on after a command.
enum Next {
    Continue,
    Exit,
}

/// How a group's task is connected to the rest of the server.
pub(super) struct Links {
    /// For publishing dead letters.
    pub broker: Weak<Broker>,
    /// Requests from members and the API.
    pub commands: mpsc::Receiver<Command>,
    /// Where monitoring reads the group's numbers.
    pub gauges: watch::Sender<Option<GroupGauges>>,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
}

/// One consumer group's task and everything it owns.
pub(super) struct GroupTask {
    topic: Arc<TopicHandle>,
    name: GroupName,
    config: GroupConfig,
    create_time: Timestamp,
    counters: GroupCounters,
    state: GroupState,
    /// The record read at load, restored when the task starts.
    loaded: Option<GroupRecord>,
    members: HashMap<MemberId, MemberLink>,
    next_member: MemberId,
    /// Events read but not yet delivered, by offset.
    unsent: BTreeMap<u64, EncodedEvent>,
    unsent_bytes: usize,
    /// Why the group delivers nothing, if it does not.
    problem: Option<EngineError>,
    /// Why dead letters cannot be published, while they cannot.
    dead_letters_failing: Option<String>,
    /// The oldest retained offset as a failed read found it, ahead of the visible range.
    trimmed_to: u64,
    /// Acknowledgements or positions changed since the last flush started.
    dirty: bool,
    /// The flush under way, as its own task so the group keeps serving meanwhile.
    flushing: Option<JoinHandle<Flushed>>,
    retry_flush_at: Option<Instant>,
    /// More dispatch work is waiting than one turn did.
    busy: bool,
    broker: Weak<Broker>,
    commands: mpsc::Receiver<Command>,
    gauges: watch::Sender<Option<GroupGauges>>,
    visible: watch::Receiver<Visible>,
    shutdown: CancellationToken,
}

impl GroupTask {
    pub(super) fn new(
        topic: Arc<TopicHandle>,
        name: GroupName,
        record: GroupRecord,
        links: Links,
    ) -> Self {
        let visible = topic.visible();
        Self {
            state: GroupState::new(record.ack_floor, max_deliveries(&record.config)),
            config: record.config.clone(),
            create_time: record.create_time,
            counters: record.counters,
            loaded: Some(record),
            topic,
            name,
            members: HashMap::new(),
            next_member: 0,
            unsent: BTreeMap::new(),
            unsent_bytes: 0,
            problem: None,
            dead_letters_failing: None,
            trimmed_to: 0,
            dirty: false,
            flushing: None,
            retry_flush_at: None,
            busy: false,
            broker: links.broker,
            commands: links.commands,
            gauges: links.gauges,
            visible,
            shutdown: links.shutdown,
        }
    }

    pub(super) async fn run(mut self) {
        if let Some(record) = self.loaded.take()
            && let Err(error) = self.restore(record).await
        {
            tracing::error!(topic = %self.topic.log().name(), group = %self.name, %error, "consumer group could not be loaded");
            self.problem = Some(error);
        }
        loop {
            self.pump().await;
            self.start_flush();
            self.publish_gauges();
            match self.wait().await {
                Wake::Command(Some(command)) => {
                    if let Next::Exit = self.handle(command).await {
                        return;
                    }
                }
                Wake::Flushed(flushed) => self.finish_flush(flushed),
                Wake::Appended(true) | Wake::Timer => {}
                Wake::Appended(false) | Wake::TopicDeleted => {
                    self.end_members(&EngineError::TopicNotFound(self.topic.log().name().clone()));
                    return;
                }
                Wake::Command(None) | Wake::Shutdown => {
                    self.end_members(&EngineError::ShuttingDown);
                    self.save_on_shutdown().await;
                    return;
                }
            }
        }
    }

    async fn wait(&mut self) -> Wake {
        let wake_at = [self.state.next_due(), self.retry_flush_at]
            .into_iter()
            .flatten()
            .min();
        let busy = self.busy;
        let commands = &mut self.commands;
        let flushing = &mut self.flushing;
        let visible = &mut self.visible;
        let shutdown = &self.shutdown;
        let deleted = self.topic.deleted();
        tokio::select! {
            command = commands.recv() => Wake::Command(command),
            flushed = async {
                match flushing.as_mut() {
                    Some(flush) => flush.await,
                    None => std::future::pending().await,
                }
            } => {
                *flushing = None;
                Wake::Flushed(flushed.unwrap_or_else(|panicked| (Err(panicked.into()), Vec::new())))
            }
            changed = visible.changed() => Wake::Appended(changed.is_ok()),
            () = async {
                match wake_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => Wake::Timer,
            () = std::future::ready(()), if busy => Wake::Timer,
            () = shutdown.cancelled() => Wake::Shutdown,
            () = deleted.cancelled() => Wake::TopicDeleted,
        }
    }

    /// Rebuilds the outstanding events from the stored record: everything between the floor
    /// and the end of what the record knows (its last acknowledged range or its last delivered
    /// event) that was not acknowledged.
    async fn restore(&mut self, record: GroupRecord) -> Result<(), EngineError> {
        let bounds = *self.visible.borrow();
        let mut resume_at = record.ack_floor;
        if record.ack_floor < bounds.first_offset {
            let jump_to = match self.config.out_of_range {
                OutOfRangePolicy::Fail => {
                    self.problem =
                        Some(self.behind_retention(record.ack_floor, bounds.first_offset));
                    return Ok(());
                }
                OutOfRangePolicy::Earliest => bounds.first_offset,
                OutOfRangePolicy::Latest => bounds.next_offset,
            };
            let acked_below = overlap(&record.acked_above, record.ack_floor, jump_to);
            self.counters.skipped += (jump_to - record.ack_floor) - acked_below;
            self.warn_skipped(record.ack_floor, jump_to);
            self.state = GroupState::new(jump_to, max_deliveries(&self.config));
            self.dirty = true;
            resume_at = jump_to;
        }
        let attempts: HashMap<u64, u32> = record.attempts.iter().copied().collect();
        for &(acked_start, acked_end) in &record.acked_above {
            if acked_start > resume_at {
                self.admit_stored(resume_at, acked_start, &attempts).await?;
            }
            self.state.advance_to(acked_end);
            resume_at = resume_at.max(acked_end);
        }
        // Delivered but unacknowledged events past the last acknowledged range keep their
        // attempts too.
        let delivered_end = record
            .attempts
            .last()
            .map_or(resume_at, |&(offset, _)| offset + 1);
        if delivered_end > resume_at {
            self.admit_stored(resume_at, delivered_end, &attempts)
                .await?;
        }
        Ok(())
    }

    /// Admits the stored events of `[from, to)` as outstanding, with their past attempts.
    async fn admit_stored(
        &mut self,
        from: u64,
        to: u64,
        attempts: &HashMap<u64, u32>,
    ) -> Result<(), EngineError> {
        let mut next = from;
        while next < to {
            let events = self.read(next, to).await?;
            let Some(last) = events.last() else {
                break;
            };
            next = last.offset + 1;
            for event in events {
                let tried = attempts.get(&event.offset).copied().unwrap_or(0);
                self.state
                    .admit(event.offset, self.event_key(&event)?, tried);
            }
        }
        Ok(())
    }

    fn event_key(&self, event: &EncodedEvent) -> Result<Option<Arc<str>>, EngineError> {
        let fields = event
            .filter_fields()
            .map_err(|source| StoreError::Corrupt {
                topic: self.topic.log().name().clone(),
                offset: event.offset,
                end: event.offset + 1,
                source,
            })?;
        Ok((!fields.key.is_empty()).then(|| Arc::from(fields.key)))
    }

    async fn read(&self, from: u64, to: u64) -> Result<Vec<EncodedEvent>, EngineError> {
        let log = self.topic.log().clone();
        Ok(tokio::task::spawn_blocking(move || log.read(from, to, READ_CHUNK_BYTES)).await??)
    }

    /// Delivers what can be delivered, reading new events as members have room.
    async fn pump(&mut self) {
        self.busy = false;
        for _ in 0..ROUNDS_PER_TURN {
            if self.problem.is_some() {
                return;
            }
            let now = Instant::now();
            self.state.release_due(now);
            self.check_retention();
            if self.problem.is_some() {
                return;
            }
            let dispatch = self.state.assign(now + self.config.ack_deadline);
            let progressed = !dispatch.deliveries.is_empty() || !dispatch.dead_letters.is_empty();
            // Attempts are saved with the next flush, so a restart cannot reset them (and let an
            // event dodge `max_deliveries`).
            self.dirty |= !dispatch.deliveries.is_empty();
            self.send(dispatch.deliveries).await;
            // After the sends: a delivery taken back uncounts its redelivery.
            self.counters.redeliveries += self.state.take_redeliveries();
            self.dead_letter(dispatch.dead_letters).await;
            if self.state.capacity() > 0 && !self.state.has_ready() && self.read_new().await {
                continue;
            }
            if !progressed {
                return;
            }
        }
        self.busy = true;
    }

    /// Applies the group's policy if retention removed events it had not acknowledged.
    fn check_retention(&mut self) {
        let bounds = *self.visible.borrow();
        let first = bounds.first_offset.max(self.trimmed_to);
        let floor = self.state.ack_floor();
        if floor >= first {
            return;
        }
        let jump_to = match self.config.out_of_range {
            OutOfRangePolicy::Fail => {
                let error = self.behind_retention(floor, first);
                self.end_members(&error);
                self.problem = Some(error);
                return;
            }
            OutOfRangePolicy::Earliest => first,
            OutOfRangePolicy::Latest => bounds.next_offset.max(first),
        };
        self.counters.skipped += self.state.drop_below(jump_to);
        self.warn_skipped(floor, jump_to);
        self.unsent = self.unsent.split_off(&jump_to);
        self.unsent_bytes = self.unsent.values().map(|event| event.bytes.len()).sum();
        self.dirty = true;
    }

    fn behind_retention(&self, ack_floor: u64, first: u64) -> EngineError {
        EngineError::GroupBehindRetention {
            topic: self.topic.log().name().clone(),
            group: self.name.clone(),
            ack_floor,
            first,
        }
    }

    fn warn_skipped(&self, from: u64, to: u64) {
        tracing::warn!(
            topic = %self.topic.log().name(),
            group = %self.name,
            from,
            to,
            "retention removed events the consumer group had not acknowledged; it goes on at {to} as its policy says"
        );
    }

    /// Reads the next new events and admits them; returns whether there were any.
    async fn read_new(&mut self) -> bool {
        let bounds = *self.visible.borrow();
        let frontier = self.state.frontier();
        if frontier >= bounds.next_offset || self.state.outstanding() >= MAX_OUTSTANDING {
            return false;
        }
        let wanted = (self.state.capacity() as u64).max(READ_MIN_EVENTS);
        let to = bounds.next_offset.min(frontier.saturating_add(wanted));
        let events = match self.read(frontier, to).await {
            Ok(events) => events,
            Err(error) => {
                self.read_failed(frontier, error);
                return false;
            }
        };
        let mut admitted = false;
        for event in events {
            let key = match self.event_key(&event) {
                Ok(key) => key,
                Err(error) => {
                    self.read_failed(event.offset, error);
                    return admitted;
                }
            };
            self.state.admit(event.offset, key, 0);
            if self.unsent_bytes + event.bytes.len() <= UNSENT_BYTES {
                self.unsent_bytes += event.bytes.len();
                self.unsent.insert(event.offset, event);
            }
            admitted = true;
        }
        admitted
    }

    /// A read from `from` failed: retention got there first (the next round applies the
    /// group's policy), or the data is damaged (the group stops and says so).
    fn read_failed(&mut self, from: u64, error: EngineError) {
        let stored_first = self
            .topic
            .log()
            .state()
            .map_or(0, |state| state.bounds.first_offset);
        if from < stored_first {
            self.trimmed_to = stored_first;
            return;
        }
        tracing::error!(topic = %self.topic.log().name(), group = %self.name, %error, "consumer group stopped");
        self.end_members(&error);
        self.problem = Some(error);
    }

    /// Hands the assigned events to their members, reading those not in memory.
    async fn send(&mut self, deliveries: Vec<Assignment>) {
        if deliveries.is_empty() {
            return;
        }
        let mut events: HashMap<u64, EncodedEvent> = HashMap::with_capacity(deliveries.len());
        let mut missing = Vec::new();
        for assignment in &deliveries {
            match self.unsent.remove(&assignment.offset) {
                Some(event) => {
                    self.unsent_bytes -= event.bytes.len();
                    events.insert(assignment.offset, event);
                }
                None => missing.push(assignment.offset),
            }
        }
        for (from, to) in runs(&missing) {
            match self.read(from, to).await {
                Ok(read) => events.extend(read.into_iter().map(|event| (event.offset, event))),
                Err(error) => self.read_failed(from, error),
            }
        }
        let mut by_member: BTreeMap<MemberId, Vec<GroupDelivery>> = BTreeMap::new();
        for assignment in deliveries {
            match events.remove(&assignment.offset) {
                Some(event) => {
                    by_member
                        .entry(assignment.member)
                        .or_default()
                        .push(GroupDelivery {
                            event,
                            attempt: assignment.attempt,
                        })
                }
                None => self.state.undeliver(assignment.offset),
            }
        }
        for (member, deliveries) in by_member {
            self.send_to(member, deliveries);
        }
    }

    /// Sends `deliveries` to `member` in messages of about [`MESSAGE_BYTES`]. A member whose
    /// stream is gone is removed; one whose channel is full is not reading its stream (the
    /// channel holds more than its in-flight limit) and is removed with an error. Either way
    /// what was not sent is taken back, uncounted.
    fn send_to(&mut self, member: MemberId, deliveries: Vec<GroupDelivery>) {
        let Some(link) = self.members.get(&member) else {
            for delivery in &deliveries {
                self.state.undeliver(delivery.event.offset);
            }
            return;
        };
        let mut message = Vec::new();
        let mut message_bytes = 0;
        let mut refused = None;
        let mut rest = deliveries.into_iter().peekable();
        while let Some(delivery) = rest.next() {
            message_bytes += delivery.event.bytes.len();
            message.push(delivery);
            if message_bytes < MESSAGE_BYTES && rest.peek().is_some() {
                continue;
            }
            let batch = std::mem::take(&mut message);
            message_bytes = 0;
            if let Err(error) = link.deliveries.try_send(batch) {
                refused = Some(error);
                break;
            }
        }
        let Some(refused) = refused else {
            return;
        };
        let stalled = matches!(refused, mpsc::error::TrySendError::Full(_));
        let (mpsc::error::TrySendError::Full(unsent) | mpsc::error::TrySendError::Closed(unsent)) =
            refused;
        for delivery in unsent.into_iter().chain(rest) {
            self.state.undeliver(delivery.event.offset);
        }
        if stalled {
            self.fail_member(member, self.stalled(member));
        } else {
            self.remove_member(member);
        }
    }

    fn stalled(&self, member: MemberId) -> EngineError {
        EngineError::MemberStalled {
            topic: self.topic.log().name().clone(),
            group: self.name.clone(),
            waiting: self
                .members
                .get(&member)
                .map_or(0, |link| link.deliveries.max_capacity()),
        }
    }

    /// Publishes events out of attempts to the dead-letter topic, then counts them done.
    async fn dead_letter(&mut self, dead_letters: Vec<DeadLetter>) {
        if dead_letters.is_empty() {
            return;
        }
        let published = self.publish_dead_letters(&dead_letters).await;
        match published {
            Ok(()) => {
                for dead_letter in &dead_letters {
                    self.state.dead_lettered(dead_letter.offset);
                }
                self.counters.dead_lettered += dead_letters.len() as u64;
                self.dirty = true;
                self.dead_letters_failing = None;
            }
            Err(error) => {
                tracing::warn!(topic = %self.topic.log().name(), group = %self.name, %error, "publishing dead letters failed; trying again");
                self.dead_letters_failing = Some(format!(
                    "publishing dead letters fails, so their keys and the ack floor wait (trying again every second): {error}"
                ));
                let retry_at = Instant::now() + RETRY_AFTER;
                for dead_letter in &dead_letters {
                    self.state.retry_dead_letter(dead_letter.offset, retry_at);
                }
            }
        }
    }

    async fn publish_dead_letters(&self, dead_letters: &[DeadLetter]) -> Result<(), EngineError> {
        let (Some(broker), Some(policy)) = (self.broker.upgrade(), &self.config.dead_letters)
        else {
            return Err(EngineError::ShuttingDown);
        };
        let source = self.topic.log().name();
        let mut events = Vec::with_capacity(dead_letters.len());
        for dead_letter in dead_letters {
            let stored = self
                .read(dead_letter.offset, dead_letter.offset + 1)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| self.behind_retention(dead_letter.offset, dead_letter.offset + 1))?;
            let event = stored
                .decode()
                .map_err(|source_error| StoreError::Corrupt {
                    topic: source.clone(),
                    offset: stored.offset,
                    end: stored.offset + 1,
                    source: source_error,
                })?;
            let mut headers = event.headers;
            for (name, value) in [
                ("eventstream-dead-letter-topic", source.to_string()),
                ("eventstream-dead-letter-offset", event.offset.to_string()),
                ("eventstream-dead-letter-group", self.name.to_string()),
                (
                    "eventstream-dead-letter-attempts",
                    dead_letter.attempts.to_string(),
                ),
                ("eventstream-dead-letter-reason", dead_letter.reason.clone()),
            ] {
                headers.insert(name.to_owned(), value);
            }
            events.push(NewEvent {
                event_type: event.event_type,
                payload: event.payload,
                // A retry after a crash between the publish and the flush is a duplicate.
                idempotency_key: Some(format!(
                    "dead-letter-{}-{:016x}",
                    event.id,
                    crate::storage::fingerprint(source.as_str(), self.name.as_str().as_bytes())
                )),
                key: event.key,
                headers,
                content_type: event.content_type,
                schema_version: event.schema_version,
                expected_key_version: Expectation::Any,
            });
        }
        broker
            .publish(&policy.topic, Publication::of(events))
            .await
            .map(drop)
    }

    async fn handle(&mut self, command: Command) -> Next {
        match command {
            Command::Join {
                max_in_flight,
                slot,
                reply,
            } => {
                let joined = self.join(max_in_flight, slot);
                // A caller that gave up waiting never gets the membership: remove it here.
                if let Err(Ok(abandoned)) = reply.send(joined) {
                    self.remove_member(abandoned.member);
                }
            }
            Command::Settle { member, settlement } => self.settle(member, settlement),
            Command::Leave { member } => self.remove_member(member),
            Command::Describe { reply } => {
                let _ = reply.send(self.describe());
            }
            Command::Reset { to, reply } => {
                let reset = self.reset(to).await;
                let _ = reply.send(reset);
            }
            Command::Delete { reply } => {
                let deleted = self.delete().await;
                let exit = deleted.is_ok();
                let _ = reply.send(deleted);
                if exit {
                    self.refuse_queued();
                    return Next::Exit;
                }
            }
        }
        Next::Continue
    }

    fn join(
        &mut self,
        max_in_flight: usize,
        slot: SubscriptionSlot,
    ) -> Result<Joined, EngineError> {
        if let Some(problem) = &self.problem {
            return Err(problem.clone());
        }
        let max_in_flight = max_in_flight.clamp(1, MAX_IN_FLIGHT);
        let member = self.next_member;
        self.next_member += 1;
        let (deliveries, receiver) = mpsc::channel(max_in_flight + STALE_COPIES);
        let (confirmations, confirmations_receiver) = super::confirmations();
        let (failure, failed) = oneshot::channel();
        self.members.insert(
            member,
            MemberLink {
                deliveries,
                confirmations,
                failure: Some(failure),
                awaiting: Vec::new(),
                _slot: slot,
            },
        );
        self.state.join(member, max_in_flight);
        Ok(Joined {
            member,
            group: self.describe(),
            deliveries: receiver,
            confirmations: confirmations_receiver,
            failure: failed,
        })
    }

    fn settle(&mut self, member: MemberId, settlement: Settlement) {
        if !self.members.contains_key(&member) {
            // Sent just before the member left: the work is done whoever reports it, but there
            // is nobody to confirm it to, and nothing left for its nacks and extensions.
            for offset in settlement.acks {
                self.dirty |= self.state.ack(offset) == AckOutcome::Acked;
            }
            return;
        }
        let now = Instant::now();
        let mut confirmed = Vec::with_capacity(settlement.acks.len());
        for offset in settlement.acks {
            match self.state.ack(offset) {
                AckOutcome::Acked | AckOutcome::AlreadyDone => confirmed.push(offset),
                AckOutcome::NeverDelivered => {
                    let error = EngineError::AckNeverDelivered {
                        topic: self.topic.log().name().clone(),
                        group: self.name.clone(),
                        offset,
                    };
                    self.fail_member(member, error);
                    return;
                }
            }
        }
        if !confirmed.is_empty() {
            self.dirty = true;
            if let Some(link) = self.members.get_mut(&member) {
                link.awaiting.extend(confirmed);
            }
        }
        for nack in settlement.nacks {
            // The API bounds the delay; an instant out of range would mean "at once".
            let not_before = (!nack.delay.is_zero())
                .then(|| now.checked_add(nack.delay))
                .flatten();
            self.state
                .nack(nack.offset, member, not_before, nack.reason);
        }
        let deadline = now + self.config.ack_deadline;
        for offset in settlement.extend {
            self.state.extend(offset, member, deadline);
        }
    }

    fn fail_member(&mut self, member: MemberId, error: EngineError) {
        if let Some(mut link) = self.members.remove(&member)
            && let Some(failure) = link.failure.take()
        {
            let _ = failure.send(error);
        }
        self.state.leave(member);
    }

    fn remove_member(&mut self, member: MemberId) {
        self.members.remove(&member);
        self.state.leave(member);
    }

    fn end_members(&mut self, error: &EngineError) {
        let members: Vec<MemberId> = self.members.keys().copied().collect();
        for member in members {
            self.fail_member(member, error.clone());
        }
    }

    fn publish_gauges(&self) {
        let bounds = *self.visible.borrow();
        let gauges = GroupGauges {
            lag: self.lag(bounds.next_offset),
            in_flight: self.state.in_flight() as u64,
            members: self.members.len(),
            counters: self.counters,
            stuck: self.problem.is_some(),
        };
        self.gauges.send_if_modified(|current| {
            let changed = *current != Some(gauges);
            *current = Some(gauges);
            changed
        });
    }

    /// Events below `next_offset` not yet acknowledged.
    fn lag(&self, next_offset: u64) -> u64 {
        let unread = next_offset.saturating_sub(self.state.frontier());
        self.state.outstanding() as u64 + unread
    }

    fn describe(&self) -> GroupInfo {
        let bounds = *self.visible.borrow();
        GroupInfo {
            topic: self.topic.log().name().clone(),
            name: self.name.clone(),
            config: self.config.clone(),
            create_time: self.create_time,
            ack_floor: self.state.ack_floor(),
            next_offset: bounds.next_offset,
            lag: self.lag(bounds.next_offset),
            members: self.members.len(),
            in_flight: self.state.in_flight() as u64,
            counters: self.counters,
            problem: self
                .problem
                .as_ref()
                .map(ToString::to_string)
                .or_else(|| self.dead_letters_failing.clone()),
        }
    }

    async fn reset(&mut self, to: StartAt) -> Result<GroupInfo, EngineError> {
        if !self.members.is_empty() {
            return Err(EngineError::GroupHasMembers {
                topic: self.topic.log().name().clone(),
                group: self.name.clone(),
                members: self.members.len(),
            });
        }
        let bounds = *self.visible.borrow();
        let position = resolve_start(&self.topic, to, bounds)?;
        let record = GroupRecord {
            config: self.config.clone(),
            create_time: self.create_time,
            ack_floor: position,
            acked_above: Vec::new(),
            attempts: Vec::new(),
            counters: self.counters,
        };
        // Written before the state changes, so a failed write leaves the group as it was.
        self.write_durably(Some(record)).await?;
        self.state = GroupState::new(position, max_deliveries(&self.config));
        self.unsent.clear();
        self.unsent_bytes = 0;
        self.problem = None;
        self.trimmed_to = 0;
        tracing::info!(topic = %self.topic.log().name(), group = %self.name, position, "consumer group reset");
        Ok(self.describe())
    }

    /// Answers the commands queued behind a deletion: the group is gone.
    fn refuse_queued(&mut self) {
        self.commands.close();
        let gone = || EngineError::GroupNotFound {
            topic: self.topic.log().name().clone(),
            group: self.name.clone(),
        };
        while let Ok(command) = self.commands.try_recv() {
            // Callers that went away need no answer.
            let _ = match command {
                Command::Join { reply, .. } => reply.send(Err(gone())).map_err(drop),
                Command::Reset { reply, .. } => reply.send(Err(gone())).map_err(drop),
                Command::Delete { reply } => reply.send(Err(gone())).map_err(drop),
                // Describe learns it from the dropped reply; the API then reloads and finds
                // nothing.
                Command::Describe { .. } | Command::Settle { .. } | Command::Leave { .. } => Ok(()),
            };
        }
    }

    async fn delete(&mut self) -> Result<(), EngineError> {
        self.write_durably(None).await?;
        self.end_members(&EngineError::GroupNotFound {
            topic: self.topic.log().name().clone(),
            group: self.name.clone(),
        });
        tracing::info!(topic = %self.topic.log().name(), group = %self.name, "consumer group deleted");
        Ok(())
    }

    /// Writes `record` (or removes the group, for `None`) and waits until that is durable.
    async fn write_durably(&mut self, record: Option<GroupRecord>) -> Result<(), EngineError> {
        // A flush in progress must land first, or it could overwrite what this writes.
        if let Some(flush) = self.flushing.take() {
            let flushed = flush
                .await
                .unwrap_or_else(|panicked| (Err(panicked.into()), Vec::new()));
            self.finish_flush(flushed);
        }
        store(&self.topic, &self.name, record).await?;
        self.dirty = false;
        Ok(())
    }

    fn record(&self) -> GroupRecord {
        GroupRecord {
            config: self.config.clone(),
            create_time: self.create_time,
            ack_floor: self.state.ack_floor(),
            acked_above: self.state.acked_above_floor(),
            attempts: self.state.attempts(),
            counters: self.counters,
        }
    }

    /// Starts making the acknowledgements so far durable, unless a flush is under way.
    fn start_flush(&mut self) {
        let due = self.retry_flush_at.is_none_or(|at| at <= Instant::now());
        if !self.dirty || self.flushing.is_some() || !due || self.problem.is_some() {
            return;
        }
        self.dirty = false;
        self.retry_flush_at = None;
        let confirmations: Vec<(MemberId, Vec<u64>)> = self
            .members
            .iter_mut()
            .filter(|(_, link)| !link.awaiting.is_empty())
            .map(|(&member, link)| (member, std::mem::take(&mut link.awaiting)))
            .collect();
        let record = self.record();
        let topic = Arc::clone(&self.topic);
        let name = self.name.clone();
        self.flushing = Some(tokio::spawn(async move {
            (store(&topic, &name, Some(record)).await, confirmations)
        }));
    }

    fn finish_flush(&mut self, (flushed, confirmations): Flushed) {
        if let Err(error) = flushed {
            tracing::warn!(topic = %self.topic.log().name(), group = %self.name, %error, "saving consumer group acknowledgements failed; trying again");
            self.retry_flush_at = Some(Instant::now() + RETRY_AFTER);
            self.dirty = true;
            for (member, offsets) in confirmations {
                if let Some(link) = self.members.get_mut(&member) {
                    link.awaiting.extend(offsets);
                }
            }
            return;
        }
        for (member, offsets) in confirmations {
            let Some(link) = self.members.get_mut(&member) else {
                continue;
            };
            link.confirmations.confirm(offsets);
        }
    }

    /// Saves the acknowledgements not yet flushed; the broker's close makes them durable.
    async fn save_on_shutdown(&mut self) {
        if let Some(flush) = self.flushing.take()
            && !matches!(flush.await, Ok((Ok(()), _)))
        {
            self.dirty = true;
        }
        if self.dirty && self.problem.is_none() {
            let log = self.topic.log().clone();
            let name = self.name.clone();
            let record = self.record();
            let saved = tokio::task::spawn_blocking(move || log.put_group(&name, &record)).await;
            if let Err(error) = saved
                .map_err(EngineError::from)
                .and_then(|saved| Ok(saved?))
            {
                tracing::warn!(topic = %self.topic.log().name(), group = %self.name, %error, "saving consumer group at shutdown failed; unconfirmed acknowledgements will be redelivered");
            }
        }
    }
}

/// Writes a group's record (or removes it, for `None`), then waits for a barrier through the
/// topic's group commit: it returns once the write is durable.
async fn store(
    topic: &Arc<TopicHandle>,
    name: &GroupName,
    record: Option<GroupRecord>,
) -> Result<(), EngineError> {
    let log = topic.log().clone();
    let name = name.clone();
    tokio::task::spawn_blocking(move || match record {
        Some(record) => log.put_group(&name, &record),
        None => log.remove_group(&name).map(drop),
    })
    .await??;
    topic.submit(Publication::default()).await?.await?;
    Ok(())
}

fn max_deliveries(config: &GroupConfig) -> Option<u32> {
    config
        .dead_letters
        .as_ref()
        .map(|dead_letters| dead_letters.max_deliveries)
}

/// How many offsets of `[from, to)` the ranges cover.
fn overlap(ranges: &[(u64, u64)], from: u64, to: u64) -> u64 {
    ranges
        .iter()
        .map(|&(start, end)| end.min(to).saturating_sub(start.max(from)))
        .sum()
}

/// Sorted offsets as `[start, end)` runs of consecutive ones.
fn runs(offsets: &[u64]) -> Vec<(u64, u64)> {
    let mut sorted = offsets.to_vec();
    sorted.sort_unstable();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for offset in sorted {
        match runs.last_mut() {
            Some((_, end)) if *end == offset => *end += 1,
            _ => runs.push((offset, offset + 1)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_group_into_runs() {
        assert_eq!(runs(&[7, 3, 4, 5, 9, 10]), vec![(3, 6), (7, 8), (9, 11)]);
        assert!(runs(&[]).is_empty());
    }

    #[test]
    fn overlap_counts_covered_offsets() {
        assert_eq!(overlap(&[(2, 5), (8, 12)], 0, 10), 5);
        assert_eq!(overlap(&[(2, 5)], 6, 10), 0);
    }
}
