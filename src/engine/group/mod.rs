//! Consumer groups: many members share a topic's events, each event going to one member at a
//! time, with acknowledgements, redelivery, per-key order and dead letters.
//!
//! Each loaded group is one task ([`task`]) that owns its dispatch state ([`state`]) and talks to
//! its members through bounded channels. Acknowledgements are made durable in batches: the task
//! rewrites the group's record and passes a barrier through the topic's group commit, then
//! confirms the acknowledgements it covered to their members.

mod state;
mod task;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::Stream;

use super::limits::SubscriptionSlot;
use super::subscription::StartAt;
use super::{Broker, EngineError};
use crate::model::{
    GroupConfig, GroupCounters, GroupInfo, GroupName, Publication, Timestamp, TopicName,
};
use crate::storage::GroupRecord;
use crate::storage::record_batch::EncodedEvent;

/// The most deliveries one member may hold unacknowledged.
pub const MAX_IN_FLIGHT: usize = 10_000;
/// Commands queued for a group's task before senders wait.
const COMMAND_QUEUE: usize = 64;

/// How a new consumer group starts.
#[derive(Debug, Clone)]
pub struct NewGroup {
    /// Its settings.
    pub config: GroupConfig,
    /// Its first position.
    pub start: StartAt,
}

/// An event delivered to a member.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupDelivery {
    /// The event, as stored.
    pub event: EncodedEvent,
    /// 1 for the first delivery to the group, 2 for the second, ...
    pub attempt: u32,
}

/// What a member receives.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberMessage {
    /// Events to process, in offset order.
    Deliveries(Vec<GroupDelivery>),
    /// Offsets this member acknowledged whose acknowledgement is now durable.
    AcksDurable(Vec<u64>),
}

/// A delivery given back unfinished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NackRequest {
    /// Its offset.
    pub offset: u64,
    /// How long to wait before delivering it again.
    pub delay: Duration,
    /// Why, for the dead-letter topic.
    pub reason: String,
}

/// What a member reports about its deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Offsets done.
    pub acks: Vec<u64>,
    /// Deliveries given back.
    pub nacks: Vec<NackRequest>,
    /// Offsets still being worked on.
    pub extend: Vec<u64>,
}

/// A request to a group's task.
enum Command {
    Join {
        max_in_flight: usize,
        slot: SubscriptionSlot,
        reply: oneshot::Sender<Result<Joined, EngineError>>,
    },
    Settle {
        member: state::MemberId,
        settlement: Settlement,
    },
    Leave {
        member: state::MemberId,
    },
    Describe {
        reply: oneshot::Sender<GroupInfo>,
    },
    Reset {
        to: StartAt,
        reply: oneshot::Sender<Result<GroupInfo, EngineError>>,
    },
    Delete {
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
}

/// What the task hands a member that joined.
struct Joined {
    member: state::MemberId,
    group: GroupInfo,
    deliveries: mpsc::Receiver<Vec<GroupDelivery>>,
    confirmations: ConfirmationsReceiver,
    failure: oneshot::Receiver<EngineError>,
}

/// Acknowledgements made durable for one member, merged until the member's stream takes them:
/// however long the member takes to read, they cost one list, never a queue of messages.
pub(super) struct Confirmations {
    offsets: Mutex<Vec<u64>>,
}

/// The group's end of a member's confirmations.
pub(super) struct ConfirmationsSender {
    shared: Arc<Confirmations>,
    /// Rings when offsets were added; holds at most one ring.
    doorbell: mpsc::Sender<()>,
}

/// The member stream's end of its confirmations.
struct ConfirmationsReceiver {
    shared: Arc<Confirmations>,
    doorbell: mpsc::Receiver<()>,
}

/// A member's confirmations, both ends.
fn confirmations() -> (ConfirmationsSender, ConfirmationsReceiver) {
    let shared = Arc::new(Confirmations {
        offsets: Mutex::new(Vec::new()),
    });
    let (doorbell, rung) = mpsc::channel(1);
    (
        ConfirmationsSender {
            shared: Arc::clone(&shared),
            doorbell,
        },
        ConfirmationsReceiver {
            shared,
            doorbell: rung,
        },
    )
}

impl Confirmations {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        self.offsets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ConfirmationsSender {
    /// Adds `offsets` for the member's stream to send.
    pub(super) fn confirm(&self, offsets: Vec<u64>) {
        let mut pending = self.shared.lock();
        pending.extend(offsets);
        // A member acking the same offsets again and again gets each confirmed once.
        pending.sort_unstable();
        pending.dedup();
        drop(pending);
        // Full: a ring is already pending, and it will take these offsets too.
        let _ = self.doorbell.try_send(());
    }
}

/// A member of a consumer group: the group as joined, the way to report on deliveries, and the
/// stream of messages for it.
pub struct Membership {
    /// The group as it was when the member joined.
    pub group: GroupInfo,
    /// Reports acknowledgements, nacks and extensions.
    pub feedback: MemberFeedback,
    /// Deliveries and confirmations, then the error that ended the membership.
    pub messages: MemberMessages,
}

/// Reports a member's progress to its group.
#[derive(Clone)]
pub struct MemberFeedback {
    member: state::MemberId,
    commands: mpsc::Sender<Command>,
}

impl MemberFeedback {
    /// Hands `settlement` to the group, waiting while the group's queue is full.
    pub async fn settle(&self, settlement: Settlement) -> Result<(), EngineError> {
        self.commands
            .send(Command::Settle {
                member: self.member,
                settlement,
            })
            .await
            .map_err(|_| EngineError::ShuttingDown)
    }

    /// Leaves the group: the member's unacknowledged deliveries go to others, and its message
    /// stream ends.
    pub async fn leave(&self) {
        // A group that is gone has no member to remove.
        let _ = self
            .commands
            .send(Command::Leave {
                member: self.member,
            })
            .await;
    }
}

/// The messages for one member; dropping it leaves the group.
pub struct MemberMessages {
    member: state::MemberId,
    commands: mpsc::Sender<Command>,
    deliveries: mpsc::Receiver<Vec<GroupDelivery>>,
    confirmations: ConfirmationsReceiver,
    failure: Option<oneshot::Receiver<EngineError>>,
}

impl Stream for MemberMessages {
    type Item = Result<MemberMessage, EngineError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(failure) = self.failure.as_mut() {
            match Pin::new(failure).poll(cx) {
                Poll::Ready(Ok(error)) => {
                    self.failure = None;
                    self.deliveries.close();
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(Err(_)) => self.failure = None,
                Poll::Pending => {}
            }
        }
        // Ready(None) only once the group dropped the member: the deliveries channel says so too.
        if let Poll::Ready(Some(())) = self.confirmations.doorbell.poll_recv(cx) {
            let offsets = std::mem::take(&mut *self.confirmations.shared.lock());
            if !offsets.is_empty() {
                return Poll::Ready(Some(Ok(MemberMessage::AcksDurable(offsets))));
            }
        }
        match self.deliveries.poll_recv(cx) {
            Poll::Ready(Some(deliveries)) => {
                Poll::Ready(Some(Ok(MemberMessage::Deliveries(deliveries))))
            }
            Poll::Ready(None) if self.failure.is_some() => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for MemberMessages {
    fn drop(&mut self) {
        let leave = Command::Leave {
            member: self.member,
        };
        if let Err(mpsc::error::TrySendError::Full(leave)) = self.commands.try_send(leave)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let commands = self.commands.clone();
            runtime.spawn(async move {
                // A group that is gone has no member to remove.
                let _ = commands.send(leave).await;
            });
        }
    }
}

/// A consumer group's numbers for monitoring, kept current by its task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupGauges {
    /// Events not yet acknowledged, read or not.
    pub lag: u64,
    /// Deliveries awaiting acknowledgement.
    pub in_flight: u64,
    /// Members connected.
    pub members: usize,
    /// Its counters.
    pub counters: GroupCounters,
    /// Whether it stopped delivering (see [`GroupInfo::problem`]).
    pub stuck: bool,
}

/// A loaded group: its task's command queue and gauges.
struct Loaded {
    commands: mpsc::Sender<Command>,
    /// `None` until the task has loaded the group and published its first numbers.
    gauges: watch::Receiver<Option<GroupGauges>>,
}

type LoadedGroups = HashMap<(TopicName, GroupName), Loaded>;

/// The loaded consumer groups, by topic and name.
#[derive(Default)]
pub(super) struct Groups {
    loaded: Mutex<LoadedGroups>,
}

impl Groups {
    fn lock(&self) -> std::sync::MutexGuard<'_, LoadedGroups> {
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, topic: &TopicName, name: &GroupName) -> Option<mpsc::Sender<Command>> {
        let loaded = self.lock();
        loaded
            .get(&(topic.clone(), name.clone()))
            .filter(|group| !group.commands.is_closed())
            .map(|group| group.commands.clone())
    }

    /// Forgets the groups of a deleted topic.
    pub(super) fn forget_topic(&self, topic: &TopicName) {
        self.lock()
            .retain(|(group_topic, _), _| group_topic != topic);
    }

    /// How many groups are loaded (every stored group is).
    fn count(&self) -> usize {
        self.lock()
            .values()
            .filter(|group| !group.commands.is_closed())
            .count()
    }

    /// The gauges of every running group, sorted by topic and name.
    fn gauges(&self) -> Vec<(TopicName, GroupName, GroupGauges)> {
        let mut gauges: Vec<_> = self
            .lock()
            .iter()
            .filter(|(_, group)| !group.commands.is_closed())
            .filter_map(|((topic, name), group)| {
                let gauges = (*group.gauges.borrow())?;
                Some((topic.clone(), name.clone(), gauges))
            })
            .collect();
        gauges.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        gauges
    }
}

/// Whether a group may be created by the call that needs it.
enum Creation {
    /// Only an existing group will do.
    Never,
    /// Create it as asked; ALREADY_EXISTS if it exists.
    Explicit(NewGroup),
    /// Create it with defaults if missing.
    IfMissing,
}

/// The settings of a group created by its first member.
fn default_group() -> NewGroup {
    NewGroup {
        config: GroupConfig {
            ack_deadline: Duration::from_secs(30),
            dead_letters: None,
            out_of_range: Default::default(),
        },
        start: StartAt::Earliest,
    }
}

impl Broker {
    /// Starts the task of every stored consumer group, so each is monitored from the start.
    pub(super) async fn load_groups(self: &Arc<Self>) -> Result<(), EngineError> {
        let topics: Vec<_> = self.read_topics().values().cloned().collect();
        for topic in topics {
            let log = topic.log().clone();
            let names = tokio::task::spawn_blocking(move || log.group_names()).await??;
            for name in names {
                // One damaged group must not keep the server down: it reports its damage when
                // used.
                if let Err(error) = self
                    .group_commands(topic.log().name(), &name, Creation::Never)
                    .await
                {
                    tracing::error!(topic = %topic.log().name(), group = %name, %error, "consumer group not loaded");
                }
            }
        }
        Ok(())
    }

    /// The gauges of every loaded consumer group, sorted by topic and name.
    pub fn group_gauges(&self) -> Vec<(TopicName, GroupName, GroupGauges)> {
        self.groups.gauges()
    }

    /// Creates a consumer group on `topic`; durable when this returns.
    pub async fn create_group(
        self: &Arc<Self>,
        topic: &TopicName,
        name: &GroupName,
        group: NewGroup,
    ) -> Result<GroupInfo, EngineError> {
        let commands = self
            .group_commands(topic, name, Creation::Explicit(group))
            .await?;
        describe(&commands).await
    }

    /// Describes a consumer group.
    pub async fn get_group(
        self: &Arc<Self>,
        topic: &TopicName,
        name: &GroupName,
    ) -> Result<GroupInfo, EngineError> {
        let commands = self.group_commands(topic, name, Creation::Never).await?;
        describe(&commands).await
    }

    /// Describes every consumer group of `topic`, sorted by name.
    pub async fn list_groups(
        self: &Arc<Self>,
        topic: &TopicName,
    ) -> Result<Vec<GroupInfo>, EngineError> {
        let handle = self
            .existing(topic)
            .ok_or_else(|| EngineError::TopicNotFound(topic.clone()))?;
        let log = handle.log().clone();
        let names = tokio::task::spawn_blocking(move || log.group_names()).await??;
        let mut groups = Vec::with_capacity(names.len());
        for name in names {
            match self.get_group(topic, &name).await {
                Ok(group) => groups.push(group),
                // Deleted since the names were read.
                Err(EngineError::GroupNotFound { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(groups)
    }

    /// Moves a consumer group without members to `to`; durable when this returns.
    pub async fn reset_group(
        self: &Arc<Self>,
        topic: &TopicName,
        name: &GroupName,
        to: StartAt,
    ) -> Result<GroupInfo, EngineError> {
        let commands = self.group_commands(topic, name, Creation::Never).await?;
        let (reply, answer) = oneshot::channel();
        send(&commands, Command::Reset { to, reply }).await?;
        answer.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// Deletes a consumer group; its members' streams end with NOT_FOUND.
    pub async fn delete_group(
        self: &Arc<Self>,
        topic: &TopicName,
        name: &GroupName,
    ) -> Result<(), EngineError> {
        let commands = self.group_commands(topic, name, Creation::Never).await?;
        let (reply, answer) = oneshot::channel();
        send(&commands, Command::Delete { reply }).await?;
        answer.await.map_err(|_| EngineError::ShuttingDown)??;
        self.groups.lock().remove(&(topic.clone(), name.clone()));
        Ok(())
    }

    /// Joins the consumer group `name` of `topic` (created with defaults if missing), holding at
    /// most `max_in_flight` deliveries at once.
    pub async fn consume(
        self: &Arc<Self>,
        topic: &TopicName,
        name: &GroupName,
        max_in_flight: usize,
        connection: Option<std::net::SocketAddr>,
    ) -> Result<Membership, EngineError> {
        if self.streams_stop.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        let slot = self.subscription_slots.take(connection)?;
        let commands = self
            .group_commands(topic, name, Creation::IfMissing)
            .await?;
        let (reply, answer) = oneshot::channel();
        send(
            &commands,
            Command::Join {
                max_in_flight,
                slot,
                reply,
            },
        )
        .await?;
        let joined = answer.await.map_err(|_| EngineError::ShuttingDown)??;
        Ok(Membership {
            group: joined.group,
            feedback: MemberFeedback {
                member: joined.member,
                commands: commands.clone(),
            },
            messages: MemberMessages {
                member: joined.member,
                commands,
                deliveries: joined.deliveries,
                confirmations: joined.confirmations,
                failure: Some(joined.failure),
            },
        })
    }

    /// The command queue of a loaded group, loading (or creating) it if needed.
    async fn group_commands(
        self: &Arc<Self>,
        topic: &TopicName,
        name: &GroupName,
        creation: Creation,
    ) -> Result<mpsc::Sender<Command>, EngineError> {
        let exists = |topic: &TopicName, name: &GroupName| EngineError::GroupExists {
            topic: topic.clone(),
            group: name.clone(),
        };
        if let Some(commands) = self.groups.get(topic, name) {
            if matches!(creation, Creation::Explicit(_)) {
                return Err(exists(topic, name));
            }
            return Ok(commands);
        }
        let handle = match creation {
            Creation::Never => self
                .existing(topic)
                .ok_or_else(|| EngineError::TopicNotFound(topic.clone()))?,
            Creation::Explicit(_) | Creation::IfMissing => self.topic_for_use(topic).await?,
        };
        let _admin = self.admin.lock().await;
        if let Some(commands) = self.groups.get(topic, name) {
            if matches!(creation, Creation::Explicit(_)) {
                return Err(exists(topic, name));
            }
            return Ok(commands);
        }
        let log = handle.log().clone();
        let lookup = name.clone();
        let stored = tokio::task::spawn_blocking(move || log.group(&lookup)).await??;
        let record = match (stored, creation) {
            (Some(_), Creation::Explicit(_)) => return Err(exists(topic, name)),
            (Some(record), _) => record,
            (None, Creation::Never) => {
                return Err(EngineError::GroupNotFound {
                    topic: topic.clone(),
                    group: name.clone(),
                });
            }
            (None, Creation::Explicit(group)) => self.store_new_group(&handle, name, group).await?,
            (None, Creation::IfMissing) => {
                self.store_new_group(&handle, name, default_group()).await?
            }
        };
        let (commands, queue) = mpsc::channel(COMMAND_QUEUE);
        let (gauges_tx, gauges) = watch::channel(None);
        let group = task::GroupTask::new(
            Arc::clone(&handle),
            name.clone(),
            record,
            task::Links {
                broker: Arc::downgrade(self),
                commands: queue,
                gauges: gauges_tx,
                shutdown: self.streams_stop.clone(),
            },
        );
        self.subscriptions.spawn(group.run());
        self.groups.lock().insert(
            (topic.clone(), name.clone()),
            Loaded {
                commands: commands.clone(),
                gauges,
            },
        );
        Ok(commands)
    }

    /// Writes a new group's record (and creates its dead-letter topic); called with the admin
    /// lock held.
    async fn store_new_group(
        &self,
        topic: &Arc<super::topic::TopicHandle>,
        name: &GroupName,
        group: NewGroup,
    ) -> Result<GroupRecord, EngineError> {
        let max = self.settings.max_consumer_groups;
        if self.groups.count() >= max {
            return Err(EngineError::LimitReached {
                limit: super::Limit::ConsumerGroups,
                max,
            });
        }
        if let Some(dead_letters) = &group.config.dead_letters
            && self.existing(&dead_letters.topic).is_none()
        {
            self.create_locked(dead_letters.topic.clone(), self.default_config())
                .await?;
        }
        let bounds = *topic.visible().borrow();
        let ack_floor = super::subscription::resolve_start(topic, group.start, bounds)?;
        let record = GroupRecord {
            config: group.config,
            create_time: Timestamp::now(),
            ack_floor,
            acked_above: Vec::new(),
            attempts: Vec::new(),
            counters: GroupCounters::default(),
        };
        let log = topic.log().clone();
        let stored = record.clone();
        let key = name.clone();
        tokio::task::spawn_blocking(move || log.put_group(&key, &stored)).await??;
        // The barrier makes the record durable with the topic's next group commit.
        topic.submit(Publication::default()).await?.await?;
        tracing::info!(topic = %topic.log().name(), group = %name, ack_floor, "consumer group created");
        Ok(record)
    }
}

async fn send(commands: &mpsc::Sender<Command>, command: Command) -> Result<(), EngineError> {
    commands
        .send(command)
        .await
        .map_err(|_| EngineError::ShuttingDown)
}

async fn describe(commands: &mpsc::Sender<Command>) -> Result<GroupInfo, EngineError> {
    let (reply, answer) = oneshot::channel();
    send(commands, Command::Describe { reply }).await?;
    answer.await.map_err(|_| EngineError::ShuttingDown)
}
