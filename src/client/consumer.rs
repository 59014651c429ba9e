//! A durable, idempotent consumer: position and processed event ids in a sled tree, committed
//! atomically with the handler's own state changes.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use super::Client;
use super::error::{BoxError, ClientError};
use super::subscription::{Batch, StartAt, SubscribeOptions};
use crate::pb;

/// The key of the stored position (big-endian u64) in a consumer's tree.
const POSITION_KEY: &[u8] = b"position";
/// Prefix of processed event ids (value: the event's offset, big-endian u64).
const PROCESSED_PREFIX: &[u8] = b"processed/";
/// Prefix of the handler's own state.
const STATE_PREFIX: &[u8] = b"state/";

/// A key of the handler's state and its value.
pub type StateEntry = (Vec<u8>, Vec<u8>);

/// Changes staged by one event's handler: a value to write, or `None` to remove the key.
type StagedWrites = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// How long [`DurableConsumer::run`] goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunUntil {
    /// Until the end of the log as it stands when the run starts.
    CaughtUp,
    /// Following live events until the run's future is dropped or an error occurs.
    Forever,
}

/// Consumes a topic so that every event is handled exactly once across crashes and restarts.
///
/// The consumer keeps, in its own sled tree of a database you open (one tree per consumer name
/// and topic): its position, the ids of the events it processed, and the handler's state. For
/// each event:
///
/// 1. if the event's id is recorded as processed, the handler is skipped;
/// 2. otherwise `handler(event, state)` runs and stages its state changes in `state`;
/// 3. one atomic sled batch writes the staged changes, the event id and the new position, and
///    the database is flushed to disk before the next event.
///
/// If the handler fails, nothing of that event is written and [`DurableConsumer::run`] returns
/// [`ClientError::Handler`]; the next run handles the event again. A process killed at any
/// point behaves the same way, and so does a `run` future dropped mid-event.
///
/// **Guarantee.** Changes the handler makes through its [`StagedState`] happen **exactly once**
/// per event. Effects outside the store (HTTP calls, emails, other databases) happen **at least
/// once**: a crash after the handler returned but before the commit runs the handler again for
/// that event. Make them idempotent with `event.id` (a server-assigned UUID v7, unique per
/// event) as the key. Run one instance per tree at a time.
pub struct DurableConsumer {
    client: Client,
    tree: sled::Tree,
    options: SubscribeOptions,
}

impl DurableConsumer {
    /// A consumer named `name` of the subscription `options` (its topic, filters, and where to
    /// start the very first time; later runs resume from the stored position), storing its state
    /// in `db`.
    pub fn open(
        client: Client,
        db: &sled::Db,
        name: &str,
        options: SubscribeOptions,
    ) -> Result<Self, ClientError> {
        let tree = db.open_tree(format!("eventstream-consumer/{name}/{}", options.topic()))?;
        Ok(Self {
            client,
            tree,
            options,
        })
    }

    /// The stored offset to resume from, or `None` before the first commit.
    pub fn position(&self) -> Result<Option<u64>, ClientError> {
        Ok(self.tree.get(POSITION_KEY)?.as_deref().and_then(decode_u64))
    }

    /// Whether the event with this id was handled and committed.
    pub fn is_processed(&self, event_id: &str) -> Result<bool, ClientError> {
        Ok(self
            .tree
            .contains_key(prefixed(PROCESSED_PREFIX, event_id.as_bytes()))?)
    }

    /// The committed value of the handler's state under `key`.
    pub fn state(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        Ok(self
            .tree
            .get(prefixed(STATE_PREFIX, key))?
            .map(|value| value.to_vec()))
    }

    /// The committed entries of the handler's state whose keys start with `prefix`, in key
    /// order.
    pub fn state_entries(&self, prefix: &[u8]) -> Result<Vec<StateEntry>, ClientError> {
        self.tree
            .scan_prefix(prefixed(STATE_PREFIX, prefix))
            .map(|entry| {
                let (key, value) = entry?;
                Ok((key[STATE_PREFIX.len()..].to_vec(), value.to_vec()))
            })
            .collect()
    }

    /// Forgets the processed ids of events below `below_offset`, which must not exceed the
    /// stored position (those events are never requested again); returns how many were removed.
    pub fn prune_processed(&self, below_offset: u64) -> Result<usize, ClientError> {
        let position = self.position()?.unwrap_or(0);
        if below_offset > position {
            return Err(ClientError::InvalidArgument(format!(
                "cannot prune processed ids above the stored position {position}"
            )));
        }
        let mut batch = sled::Batch::default();
        let mut removed = 0;
        for entry in self.tree.scan_prefix(PROCESSED_PREFIX) {
            let (key, offset) = entry?;
            if decode_u64(&offset).is_some_and(|offset| offset < below_offset) {
                batch.remove(key);
                removed += 1;
            }
        }
        self.tree.apply_batch(batch)?;
        self.tree.flush()?;
        Ok(removed)
    }

    /// Consumes events with `handler` until `until`; returns how many events were passed to the
    /// handler in this run (events skipped as already processed are not counted).
    ///
    /// `handler(event, state)` handles one event; `state` stages changes to the consumer's state
    /// that commit atomically with the event (see [`StagedState`]).
    pub async fn run<H, Fut, E>(&self, until: RunUntil, mut handler: H) -> Result<u64, ClientError>
    where
        H: FnMut(pb::Event, StagedState) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<BoxError>,
    {
        let start = match self.position()? {
            Some(position) => StartAt::Offset(position),
            None => self.options.start_at(),
        };
        let options = self
            .options
            .clone()
            .start(start)
            .stop_at_end(until == RunUntil::CaughtUp);
        let mut subscription = self.client.subscribe(options);
        let mut handled = 0;
        while let Some(Batch {
            events,
            next_offset,
            ..
        }) = subscription.next_batch().await?
        {
            // A batch without events still moves the position past events the filters skipped.
            if events.is_empty() {
                if self.position()? != Some(next_offset) {
                    self.commit(sled::Batch::default(), next_offset).await?;
                }
                continue;
            }
            let last = events.len() - 1;
            for (index, event) in events.into_iter().enumerate() {
                let next_position = if index == last {
                    next_offset
                } else {
                    event.offset + 1
                };
                if self.handle(&mut handler, event, next_position).await? {
                    handled += 1;
                }
            }
        }
        Ok(handled)
    }

    /// Handles one event unless already processed, then commits; returns whether the handler
    /// ran.
    async fn handle<H, Fut, E>(
        &self,
        handler: &mut H,
        event: pb::Event,
        next_position: u64,
    ) -> Result<bool, ClientError>
    where
        H: FnMut(pb::Event, StagedState) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<BoxError>,
    {
        let processed_key = prefixed(PROCESSED_PREFIX, event.id.as_bytes());
        let mut batch = sled::Batch::default();
        let called = !self.tree.contains_key(&processed_key)?;
        if called {
            let offset = event.offset;
            let staged = StagedState {
                tree: self.tree.clone(),
                writes: Arc::default(),
            };
            handler(event, staged.clone())
                .await
                .map_err(|error| ClientError::Handler {
                    offset,
                    source: error.into(),
                })?;
            for (key, value) in staged.take() {
                let key = prefixed(STATE_PREFIX, &key);
                match value {
                    Some(value) => batch.insert(key, value),
                    None => batch.remove(key),
                }
            }
            batch.insert(processed_key, &offset.to_be_bytes());
        }
        self.commit(batch, next_position).await?;
        Ok(called)
    }

    /// Applies `batch` together with the new position, atomically, and makes it durable.
    async fn commit(&self, mut batch: sled::Batch, position: u64) -> Result<(), ClientError> {
        batch.insert(POSITION_KEY, &position.to_be_bytes());
        self.tree.apply_batch(batch)?;
        self.tree.flush_async().await?;
        Ok(())
    }
}

/// The consumer's state as one event's handler sees it: the committed values with this event's
/// staged changes on top. The changes commit atomically with the event's id and the consumer's
/// new position once the handler succeeds, and are discarded if it fails. Clones share the same
/// staged changes; changes made after the handler's future completed are ignored.
#[derive(Clone)]
pub struct StagedState {
    tree: sled::Tree,
    writes: Arc<Mutex<StagedWrites>>,
}

impl StagedState {
    /// The value under `key`: staged by this event if it was, committed otherwise.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        if let Some(staged) = self.lock().get(key) {
            return Ok(staged.clone());
        }
        Ok(self
            .tree
            .get(prefixed(STATE_PREFIX, key))?
            .map(|value| value.to_vec()))
    }

    /// Stages `value` under `key`.
    pub fn insert(&self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.lock().insert(key.into(), Some(value.into()));
    }

    /// Stages the removal of `key`.
    pub fn remove(&self, key: impl Into<Vec<u8>>) {
        self.lock().insert(key.into(), None);
    }

    fn take(&self) -> StagedWrites {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StagedWrites> {
        // A handler that panicked while holding the lock left a map that is still valid.
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn prefixed(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    [prefix, key].concat()
}

fn decode_u64(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}
