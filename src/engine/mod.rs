//! The engine between the gRPC layer and the store: topics, group commit, subscriptions.

mod error;
mod group;
mod instruments;
mod limits;
mod subscription;
mod syncer;
mod topic;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use error::EngineError;
pub use group::{
    GroupDelivery, GroupGauges, MAX_IN_FLIGHT, MemberFeedback, MemberMessage, MemberMessages,
    Membership, NackRequest, NewGroup, Settlement,
};
pub use limits::Limit;
pub use subscription::{Deliveries, Delivery, StartAt, SubscribeSpec};
pub use topic::{PendingAppend, SubmitNow, Visible};

use crate::config::FsyncPolicy;
use crate::model::{
    AppendResult, Cursor, CursorName, Publication, Timestamp, TopicConfig, TopicInfo, TopicName,
};
use crate::storage::{Recovered, Store, TopicMeta};
use limits::SubscriptionSlots;
use topic::{TopicHandle, WriterContext};

/// Commits waiting for the syncer before topic writers wait for it.
const COMMIT_QUEUE: usize = 1024;

/// How the engine behaves.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Create topics on first Publish or Subscribe.
    pub auto_create_topics: bool,
    /// When acknowledgements happen.
    pub fsync: FsyncPolicy,
    /// The dedup window of topics that do not set one.
    pub default_dedup_window: Duration,
    /// How often retention runs.
    pub retention_interval: Duration,
    /// Topics that can be created; topics already stored all load, even over it.
    pub max_topics: usize,
    /// Consumer groups that can be created; groups already stored all load, even over it.
    pub max_consumer_groups: usize,
    /// Open subscriptions on the whole server.
    pub max_subscriptions: usize,
    /// Open subscriptions over one client connection.
    pub max_subscriptions_per_connection: usize,
}

/// A topic's state as monitoring sees it.
#[derive(Debug, Clone)]
pub struct TopicStats {
    /// The topic's description.
    pub info: TopicInfo,
    /// Open subscriptions.
    pub subscriptions: usize,
    /// Events between the end of the log and the furthest-behind subscription (0 without any).
    pub max_lag: u64,
}

/// The running set of topics.
///
/// Shutdown is two-step: [`Broker::end_subscriptions`] ends every open stream (so the gRPC
/// server's graceful shutdown can finish), then [`Broker::close`] stops the writers once the
/// last publishes are answered and makes everything durable.
pub struct Broker {
    store: Arc<Store>,
    settings: EngineSettings,
    topics: RwLock<BTreeMap<TopicName, Arc<TopicHandle>>>,
    /// Serialises topic creation and deletion, so a name is never half-created or half-deleted.
    admin: tokio::sync::Mutex<()>,
    commits: mpsc::Sender<syncer::Commit>,
    /// Ends subscription streams.
    streams_stop: CancellationToken,
    /// Parent of every topic writer's stop token.
    writers_stop: CancellationToken,
    syncer_stop: CancellationToken,
    writers: TaskTracker,
    subscriptions: TaskTracker,
    subscription_slots: Arc<SubscriptionSlots>,
    syncer: TaskTracker,
    /// The consumer groups loaded, each run by its own task (on the `subscriptions` tracker).
    groups: group::Groups,
}

impl Broker {
    /// Loads every topic of `store` and starts their writers and the syncer.
    pub async fn open(store: Store, settings: EngineSettings) -> Result<Arc<Self>, EngineError> {
        let store = Arc::new(store);
        let (commits, commit_queue) = mpsc::channel(COMMIT_QUEUE);
        let syncer_stop = CancellationToken::new();
        let syncer = TaskTracker::new();
        syncer.spawn(syncer::run(
            Arc::clone(&store),
            settings.fsync,
            commit_queue,
            syncer_stop.clone(),
        ));
        let subscription_slots = SubscriptionSlots::new(
            settings.max_subscriptions,
            settings.max_subscriptions_per_connection,
        );
        let broker = Arc::new(Self {
            store: Arc::clone(&store),
            settings,
            topics: RwLock::new(BTreeMap::new()),
            admin: tokio::sync::Mutex::new(()),
            commits,
            streams_stop: CancellationToken::new(),
            writers_stop: CancellationToken::new(),
            syncer_stop,
            writers: TaskTracker::new(),
            subscriptions: TaskTracker::new(),
            subscription_slots,
            syncer,
            groups: group::Groups::default(),
        });
        let fallback = TopicMeta {
            config: broker.default_config(),
            create_time: Timestamp::now(),
        };
        let (logs, recovered) =
            tokio::task::spawn_blocking(move || store.topics(fallback)).await??;
        for problem in recovered {
            match problem {
                Recovered::UncheckedEnds(problem) => tracing::warn!(
                    "{problem}: events lost to damaged data files cannot be detected this time"
                ),
                Recovered::Lost(error) | Recovered::DamagedTail(error) => {
                    tracing::error!("{error}");
                }
            }
        }
        for log in logs {
            let state = log.state()?;
            let handle = TopicHandle::start(log, state, broker.writer_context(), &broker.writers);
            broker
                .write_topics()
                .insert(handle.log().name().clone(), handle);
        }
        broker.load_groups().await?;
        Ok(broker)
    }

    fn writer_context(&self) -> WriterContext {
        WriterContext {
            commits: self.commits.clone(),
            retention_interval: self.settings.retention_interval,
            stop: self.writers_stop.child_token(),
        }
    }

    fn read_topics(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<TopicName, Arc<TopicHandle>>> {
        self.topics
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_topics(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, BTreeMap<TopicName, Arc<TopicHandle>>> {
        self.topics
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn existing(&self, name: &TopicName) -> Option<Arc<TopicHandle>> {
        self.read_topics().get(name).cloned()
    }

    /// The topic, created with defaults if missing and auto-create is on.
    async fn topic_for_use(&self, name: &TopicName) -> Result<Arc<TopicHandle>, EngineError> {
        if let Some(topic) = self.existing(name) {
            return Ok(topic);
        }
        if !self.settings.auto_create_topics {
            return Err(EngineError::TopicNotFound(name.clone()));
        }
        let _admin = self.admin.lock().await;
        if let Some(topic) = self.existing(name) {
            return Ok(topic);
        }
        self.create_locked(name.clone(), self.default_config())
            .await
    }

    /// The configuration of an implicitly created topic.
    pub fn default_config(&self) -> TopicConfig {
        TopicConfig {
            retention_age: None,
            retention_events: None,
            retention_bytes: None,
            dedup_window: self.settings.default_dedup_window,
        }
    }

    /// Creates a topic, durably, and starts its writer.
    async fn create_locked(
        &self,
        name: TopicName,
        config: TopicConfig,
    ) -> Result<Arc<TopicHandle>, EngineError> {
        if self.read_topics().len() >= self.settings.max_topics {
            return Err(EngineError::LimitReached {
                limit: Limit::Topics,
                max: self.settings.max_topics,
            });
        }
        let meta = TopicMeta {
            config,
            create_time: Timestamp::now(),
        };
        let store = Arc::clone(&self.store);
        let log = tokio::task::spawn_blocking(move || store.create_topic(name, meta)).await??;
        // Before any event: acknowledged events are durable in their segment files alone, but
        // only the index says which topic those are.
        self.sync().await?;
        let state = log.state()?;
        let handle = TopicHandle::start(log, state, self.writer_context(), &self.writers);
        tracing::info!(topic = %handle.log().name(), "topic created");
        self.write_topics()
            .insert(handle.log().name().clone(), Arc::clone(&handle));
        Ok(handle)
    }

    /// Appends the events of `publication` to `topic` all or nothing (with its cursor, if
    /// its expectations hold); returns once they are durable.
    pub async fn publish(
        &self,
        topic: &TopicName,
        publication: Publication,
    ) -> Result<Vec<AppendResult>, EngineError> {
        self.submit(topic, publication).await?.await
    }

    /// Queues `publication` for appending to `topic`, all or nothing, without waiting for it to
    /// be durable: appends submitted one after another to a topic get offsets in that order.
    pub async fn submit(
        &self,
        topic: &TopicName,
        publication: Publication,
    ) -> Result<PendingAppend, EngineError> {
        self.topic_for_use(topic).await?.submit(publication).await
    }

    /// [`Broker::submit`] if that need not wait: the topic exists and its writer's queue has
    /// room.
    pub fn submit_now(&self, topic: &TopicName, publication: Publication) -> SubmitNow {
        match self.existing(topic) {
            Some(handle) => handle.submit_now(publication),
            None => SubmitNow::WouldWait(publication),
        }
    }

    /// The cursor `name` stored with `topic`, as durably stored.
    pub async fn get_cursor(
        &self,
        topic: &TopicName,
        name: &CursorName,
    ) -> Result<Cursor, EngineError> {
        let handle = self
            .existing(topic)
            .ok_or_else(|| EngineError::TopicNotFound(topic.clone()))?;
        let log = handle.log().clone();
        let lookup = name.clone();
        let cursor = tokio::task::spawn_blocking(move || log.cursor(&lookup)).await??;
        // The cursor may have been written but not yet be durable. A barrier through the writer
        // and the syncer, sent after the read, returns once everything the writer applied before
        // it is durable and readable: the cursor, and the events written with it.
        handle.submit(Publication::default()).await?.await?;
        cursor.ok_or_else(|| EngineError::CursorNotFound {
            topic: topic.clone(),
            cursor: name.clone(),
        })
    }

    /// Cancelled when shutdown begins; long-lived calls watch it to end themselves.
    pub fn stopping(&self) -> &CancellationToken {
        &self.streams_stop
    }

    /// Starts a subscription to `topic` for a client on `connection` (its address; none: only
    /// the server-wide subscription limit applies).
    pub async fn subscribe(
        &self,
        topic: &TopicName,
        spec: SubscribeSpec,
        connection: Option<SocketAddr>,
    ) -> Result<Deliveries, EngineError> {
        if self.streams_stop.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        // Before the topic, so a subscription over the limit does not auto-create one.
        let slot = self.subscription_slots.take(connection)?;
        let handle = self.topic_for_use(topic).await?;
        subscription::start(
            handle,
            spec,
            slot,
            self.streams_stop.clone(),
            &self.subscriptions,
        )
    }

    /// Creates a topic; durable when this returns.
    pub async fn create_topic(
        &self,
        name: TopicName,
        config: TopicConfig,
    ) -> Result<TopicInfo, EngineError> {
        let _admin = self.admin.lock().await;
        if self.existing(&name).is_some() {
            return Err(EngineError::TopicExists(name));
        }
        let handle = self.create_locked(name, config).await?;
        Ok(handle.info())
    }

    /// Describes a topic.
    pub fn get_topic(&self, name: &TopicName) -> Result<TopicInfo, EngineError> {
        self.existing(name)
            .map(|topic| topic.info())
            .ok_or_else(|| EngineError::TopicNotFound(name.clone()))
    }

    /// Describes every topic, sorted by name.
    pub fn list_topics(&self) -> Vec<TopicInfo> {
        self.read_topics()
            .values()
            .map(|topic| topic.info())
            .collect()
    }

    /// Describes every topic with its subscriptions, sorted by name.
    pub fn topic_stats(&self) -> Vec<TopicStats> {
        self.read_topics()
            .values()
            .map(|topic| {
                let (subscriptions, max_lag) = topic.subscriber_lag();
                TopicStats {
                    info: topic.info(),
                    subscriptions,
                    max_lag,
                }
            })
            .collect()
    }

    /// Deletes a topic and all it holds; its subscriptions end with NOT_FOUND.
    pub async fn delete_topic(&self, name: &TopicName) -> Result<(), EngineError> {
        let _admin = self.admin.lock().await;
        let handle = self
            .write_topics()
            .remove(name)
            .ok_or_else(|| EngineError::TopicNotFound(name.clone()))?;
        handle.stop_for_delete().await;
        self.groups.forget_topic(name);
        let store = Arc::clone(&self.store);
        let log = handle.log().clone();
        tokio::task::spawn_blocking(move || store.delete_topic(&log)).await??;
        tracing::info!(topic = %name, "topic deleted");
        Ok(())
    }

    async fn sync(&self) -> Result<(), EngineError> {
        if self.settings.fsync == FsyncPolicy::Never {
            return Ok(());
        }
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || store.sync()).await??;
        Ok(())
    }

    /// Ends every open subscription stream with UNAVAILABLE and refuses new ones.
    pub async fn end_subscriptions(&self) {
        self.streams_stop.cancel();
        self.subscriptions.close();
        self.subscriptions.wait().await;
    }

    /// Stops the writers and the syncer, answering every publish already accepted, and makes
    /// everything durable.
    pub async fn close(&self) -> Result<(), EngineError> {
        self.end_subscriptions().await;
        self.writers_stop.cancel();
        self.writers.close();
        self.writers.wait().await;
        self.syncer_stop.cancel();
        self.syncer.close();
        self.syncer.wait().await;
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || store.sync_and_checkpoint()).await??;
        Ok(())
    }
}
