//! The durability step of group commit, shared by all topics.
//!
//! Topic writers hand over appended commits. Their events, and cursors moved with them, are
//! durable already (in their segment files, see [`crate::storage`]); what may not be is the
//! index: cursors moved without events, and the records consumer groups write before a barrier.
//! The syncer gathers every commit waiting, makes the index durable with one [`Store::sync`] if
//! any of them needs it, then publishes the new end offsets to subscribers and answers the
//! publishers. Commits of one topic arrive in order, so acknowledgements and visibility follow
//! offset order. A commit that needs no sync, with none of its topic's ahead of it here, is
//! completed by its writer.
//!
//! Besides, it syncs the index in the background every [`INDEX_SYNC_INTERVAL`], which bounds
//! what start-up has to index again from the segment files, and lets retention remove files.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use metrics::{Histogram, histogram};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::EngineError;
use super::topic::Visible;
use crate::config::FsyncPolicy;
use crate::model::AppendResult;
use crate::storage::Store;
use crate::telemetry::FSYNC_SECONDS;

/// Most commits made durable by one sync; bounds the work between acknowledgements.
const MAX_COMMITS_PER_SYNC: usize = 1024;
/// How often the index is synced when no commit asks for it.
pub(super) const INDEX_SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The answer a publisher is waiting for.
pub(super) type AppendReply = oneshot::Sender<Result<Vec<AppendResult>, EngineError>>;

/// One topic's group commit, appended to the store, waiting to become durable.
pub(super) struct Commit {
    /// Where subscribers learn the topic's durable end.
    pub visible: Arc<watch::Sender<Visible>>,
    /// The topic's commits handed to the syncer and not yet completed; this one among them.
    pub in_syncer: Arc<AtomicUsize>,
    /// The topic's end offset once this commit is durable.
    pub next_offset: u64,
    /// Whether the commit wrote to the index what only the index holds (cursors, or a barrier
    /// for what others wrote): then it is durable only once the index is synced.
    pub needs_index_sync: bool,
    /// Publishers to answer, with their results.
    pub replies: Vec<(AppendReply, Vec<AppendResult>)>,
}

/// Runs until `stop` is cancelled, then finishes every commit already handed over.
pub(super) async fn run(
    store: Arc<Store>,
    policy: FsyncPolicy,
    mut commits: mpsc::Receiver<Commit>,
    stop: CancellationToken,
) {
    let syncer = Syncer {
        store,
        policy,
        seconds: histogram!(FSYNC_SECONDS),
    };
    let mut background = tokio::time::interval(INDEX_SYNC_INTERVAL);
    background.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The background sync runs beside the commits, so acknowledgements never wait for it.
    let mut background_sync: Option<tokio::task::JoinHandle<()>> = None;
    let mut batch = Vec::new();
    loop {
        let received = tokio::select! {
            received = commits.recv_many(&mut batch, MAX_COMMITS_PER_SYNC) => received,
            _ = background.tick() => {
                if background_sync.as_ref().is_none_or(|sync| sync.is_finished()) {
                    background_sync = Some(syncer.sync_in_background());
                }
                continue;
            }
            () = stop.cancelled() => {
                commits.close();
                let mut rest = Vec::new();
                while commits.recv_many(&mut rest, MAX_COMMITS_PER_SYNC).await > 0 {
                    syncer.complete(&mut rest).await;
                }
                break;
            }
        };
        if received == 0 {
            break;
        }
        syncer.complete(&mut batch).await;
    }
    if let Some(sync) = background_sync {
        let _ = sync.await;
    }
}

/// What the syncer works with.
struct Syncer {
    store: Arc<Store>,
    policy: FsyncPolicy,
    seconds: Histogram,
}

impl Syncer {
    /// Syncs the index on a blocking thread, reporting a failure in the log.
    fn sync_in_background(&self) -> tokio::task::JoinHandle<()> {
        let store = Arc::clone(&self.store);
        let seconds = self.seconds.clone();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let synced = store.sync();
            seconds.record(started.elapsed());
            if let Err(error) = synced {
                tracing::error!(%error, "syncing the index failed");
            }
        })
    }

    async fn complete(&self, batch: &mut Vec<Commit>) {
        let started = std::time::Instant::now();
        let needs_sync = self.policy == FsyncPolicy::Always
            && batch.iter().any(|commit| commit.needs_index_sync);
        let synced = if needs_sync {
            let store = Arc::clone(&self.store);
            let synced = tokio::task::spawn_blocking(move || store.sync())
                .await
                .map_err(EngineError::from)
                .and_then(|result| result.map_err(EngineError::from));
            self.seconds.record(started.elapsed());
            synced
        } else {
            Ok(())
        };
        tracing::debug!(commits = batch.len(), elapsed = ?started.elapsed(), needs_sync, "completed");
        if let Err(error) = &synced {
            tracing::error!(%error, "making the index durable failed; the publishers waiting for it get an error");
        }
        for commit in batch.drain(..) {
            // A commit that did not need the sync is durable whatever became of it.
            let outcome = if commit.needs_index_sync {
                synced.clone()
            } else {
                Ok(())
            };
            let in_syncer = Arc::clone(&commit.in_syncer);
            commit.complete(outcome);
            in_syncer.fetch_sub(1, Ordering::Release);
        }
    }
}

impl Commit {
    /// Publishes the new end to subscribers (if the commit is durable) and answers the
    /// publishers.
    pub fn complete(self, outcome: Result<(), EngineError>) {
        if outcome.is_ok() {
            self.visible.send_modify(|visible| {
                visible.next_offset = visible.next_offset.max(self.next_offset);
            });
        }
        for (reply, results) in self.replies {
            // A publisher that went away no longer needs its answer.
            let _ = reply.send(outcome.clone().map(|()| results));
        }
    }
}
