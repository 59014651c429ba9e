//! The durable log store: one sled database, one tree per topic. Knows nothing of gRPC.
//!
//! Events are appended in [`TopicLog::append`]; they become durable at the next [`Store::sync`].

mod durability;
pub mod record_batch;
mod topic_log;

use std::path::Path;

pub use topic_log::{Append, DedupEntry, LogState, TopicLog, TopicMeta, fingerprint};

use crate::model::TopicName;
use durability::DiskSync;
use record_batch::BatchError;

const TOPIC_TREE_PREFIX: &str = "topic/";

/// What can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O error or its own corruption check).
    #[error("storage engine: {0}")]
    Engine(#[from] sled::Error),
    /// A file operation outside sled failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored record batch failed its checks.
    #[error("topic {topic}: record batch at offset {offset} is damaged: {source}")]
    Corrupt {
        /// The topic.
        topic: TopicName,
        /// The batch's first offset.
        offset: u64,
        /// What is wrong with it.
        source: BatchError,
    },
    /// A stored metadata value failed its checks.
    #[error("topic {topic}: stored {what} is damaged")]
    CorruptMetadata {
        /// The topic.
        topic: TopicName,
        /// Which value.
        what: &'static str,
    },
    /// No stored event has the offset asked for.
    #[error("topic {topic}: no stored event at offset {offset}")]
    Missing {
        /// The topic.
        topic: TopicName,
        /// The offset.
        offset: u64,
    },
    /// An earlier sync failed, so what is on disk is unknown; only a restart (which recovers
    /// from what reached the disk) can tell.
    #[error("an earlier write to disk failed; restart the server to recover")]
    Poisoned,
}

/// The database holding every topic's log.
pub struct Store {
    db: sled::Db,
    disk: DiskSync,
}

impl Store {
    /// Opens (or creates) the store in `dir`, caching up to `cache_bytes` in memory.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        durability::create_dir_durably(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()?;
        let disk = DiskSync::new(dir)?;
        Ok(Self { db, disk })
    }

    /// Every complete topic, sorted by name. Drops trees left by interrupted creations or
    /// deletions.
    pub fn topics(&self) -> Result<Vec<TopicLog>, StoreError> {
        let mut topics = Vec::new();
        for tree_name in self.db.tree_names() {
            let Some(name) = std::str::from_utf8(&tree_name)
                .ok()
                .and_then(|name| name.strip_prefix(TOPIC_TREE_PREFIX))
                .and_then(|name| TopicName::new(name).ok())
            else {
                continue;
            };
            let tree = self.db.open_tree(&tree_name)?;
            match TopicLog::open(name, tree)? {
                Some(log) => topics.push(log),
                None => {
                    self.db.drop_tree(&tree_name)?;
                }
            }
        }
        topics.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(topics)
    }

    /// Creates a topic's log; durable after the next [`Store::sync`].
    pub fn create_topic(&self, name: TopicName, meta: TopicMeta) -> Result<TopicLog, StoreError> {
        let tree = self.db.open_tree(tree_name(&name))?;
        TopicLog::create(name, tree, meta)
    }

    /// Deletes a topic's log durably: first its metadata (so a crash cannot resurrect it), then
    /// its data.
    pub fn delete_topic(&self, log: &TopicLog) -> Result<(), StoreError> {
        log.remove_meta()?;
        self.sync()?;
        self.db.drop_tree(tree_name(log.name()))?;
        Ok(())
    }

    /// Makes every write so far durable: survives a crash and a power cut.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.disk.sync(&self.db)
    }
}

fn tree_name(name: &TopicName) -> String {
    format!("{TOPIC_TREE_PREFIX}{name}")
}
