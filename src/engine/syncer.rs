//! The durability step of group commit, shared by all topics.
//!
//! Topic writers hand over appended-but-not-yet-durable commits; the syncer gathers every
//! commit waiting, makes them durable with one [`Store::sync`], then publishes the new end
//! offsets to subscribers and answers the publishers. Commits of one topic arrive in order, so
//! acknowledgements and visibility follow offset order.

use std::sync::Arc;

use metrics::{Histogram, histogram};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::EngineError;
use super::topic::Visible;
use crate::config::FsyncPolicy;
use crate::model::AppendResult;
use crate::storage::Store;
use crate::telemetry::{FSYNC_COMMITS, FSYNC_SECONDS};

/// Most commits made durable by one sync; bounds the work between acknowledgements.
const MAX_COMMITS_PER_SYNC: usize = 1024;

/// The answer a publisher is waiting for.
pub(super) type AppendReply = oneshot::Sender<Result<Vec<AppendResult>, EngineError>>;

/// One topic's group commit, appended to the store, waiting to become durable.
pub(super) struct Commit {
    /// Where subscribers learn the topic's durable end.
    pub visible: Arc<watch::Sender<Visible>>,
    /// The topic's end offset once this commit is durable.
    pub next_offset: u64,
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
    let instruments = SyncInstruments {
        seconds: histogram!(FSYNC_SECONDS),
        commits: histogram!(FSYNC_COMMITS),
    };
    let mut batch = Vec::new();
    loop {
        let received = tokio::select! {
            received = commits.recv_many(&mut batch, MAX_COMMITS_PER_SYNC) => received,
            () = stop.cancelled() => {
                commits.close();
                let mut rest = Vec::new();
                while commits.recv_many(&mut rest, MAX_COMMITS_PER_SYNC).await > 0 {
                    complete(&store, policy, &instruments, &mut rest).await;
                }
                return;
            }
        };
        if received == 0 {
            return;
        }
        complete(&store, policy, &instruments, &mut batch).await;
    }
}

/// The syncer's metric handles.
struct SyncInstruments {
    seconds: Histogram,
    commits: Histogram,
}

async fn complete(
    store: &Arc<Store>,
    policy: FsyncPolicy,
    instruments: &SyncInstruments,
    batch: &mut Vec<Commit>,
) {
    let started = std::time::Instant::now();
    let synced = match policy {
        FsyncPolicy::Always => {
            let store = Arc::clone(store);
            let synced = tokio::task::spawn_blocking(move || store.sync())
                .await
                .map_err(EngineError::from)
                .and_then(|result| result.map_err(EngineError::from));
            instruments.seconds.record(started.elapsed());
            instruments.commits.record(batch.len() as f64);
            synced
        }
        FsyncPolicy::Never => Ok(()),
    };
    tracing::debug!(commits = batch.len(), elapsed = ?started.elapsed(), "synced");
    if let Err(error) = &synced {
        tracing::error!(%error, "making appended events durable failed; their publishers get an error");
    }
    for commit in batch.drain(..) {
        if synced.is_ok() {
            commit.visible.send_modify(|visible| {
                visible.next_offset = visible.next_offset.max(commit.next_offset);
            });
        }
        for (reply, results) in commit.replies {
            // A publisher that went away no longer needs its answer.
            let _ = reply.send(synced.clone().map(|()| results));
        }
    }
}
