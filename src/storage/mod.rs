//! The durable log store: per topic, record batches in segment files and a sled tree indexing
//! them. Knows nothing of gRPC.
//!
//! Events are appended in [`TopicLog::append`], durable when it returns: the segment files are
//! the log of record, and sled's index of them is rebuilt from them at start-up as far as sled
//! lost it. Cursors and consumer groups live only in the index, durable at the next
//! [`Store::sync`].

pub mod checkpoint;
mod dedup_index;
mod durability;
mod group_record;
pub mod record_batch;
mod segments;
mod space;
mod topic_log;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub use dedup_index::{DedupEntry, KeyHash, KeyHashMap, key_hash};
pub use group_record::GroupRecord;
use segments::{SegmentRoot, Segments};
pub use topic_log::{Append, Damage, LogState, TopicLog, TopicMeta, TopicReport, fingerprint};

use crate::model::TopicName;
use checkpoint::{CheckpointWriter, DurableEnds};
use durability::DiskSync;
use record_batch::BatchError;
use space::SpaceGuard;

const TOPIC_TREE_PREFIX: &str = "topic/";
/// The directory, in the data directory, holding each topic's segment directory.
const SEGMENTS_DIR: &str = "segments";

/// What can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O error or its own corruption check).
    #[error("storage engine: {0}")]
    Engine(sled::Error),
    /// A write failed because the disk is full. sled then refuses every later write.
    #[error(
        "the disk holding the data is full (No space left on device); the storage engine stops \
         writing after a failed write: free some space, then restart the server"
    )]
    OutOfSpace,
    /// A write to a segment file failed because the disk is full; nothing was appended.
    #[error(
        "the disk holding the data is full (No space left on device) while writing {}; nothing \
         was appended: free some space and publish again",
        path.display()
    )]
    SegmentFull {
        /// The segment file.
        path: PathBuf,
    },
    /// A file operation outside sled failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored record batch failed its checks.
    #[error(
        "topic '{topic}': the stored events at offsets {offset} to {end} (exclusive) are damaged \
         ({source}) and will not be served; events from offset {end} on can still be read"
    )]
    Corrupt {
        /// The topic.
        topic: TopicName,
        /// The batch's first offset.
        offset: u64,
        /// Where the next batch (or the log) begins.
        end: u64,
        /// What is wrong with it.
        source: BatchError,
    },
    /// Events that had been durable are gone from the data files (found at start-up).
    #[error(
        "topic '{topic}': the events at offsets {first} to {end} (exclusive) were lost: the data \
         files were damaged; events from offset {end} on can still be read"
    )]
    Lost {
        /// The topic.
        topic: TopicName,
        /// The first lost offset.
        first: u64,
        /// Just past the last lost offset.
        end: u64,
    },
    /// A stored metadata value failed its checks.
    #[error("topic {topic}: stored {what} is damaged")]
    CorruptMetadata {
        /// The topic.
        topic: TopicName,
        /// Which value.
        what: &'static str,
    },
    /// A file of idempotency keys failed its checks when read.
    #[error(
        "the idempotency keys stored in {} are damaged; publishes whose keys it may hold fail \
         until it is removed and the server restarted (which forgets those keys)",
        path.display()
    )]
    DamagedKeyFile {
        /// The file.
        path: PathBuf,
    },
    /// No stored event has the offset asked for.
    #[error("topic {topic}: no stored event at offset {offset}")]
    Missing {
        /// The topic.
        topic: TopicName,
        /// The offset.
        offset: u64,
    },
    /// Appending would leave less free disk space than the reserve.
    #[error(
        "the disk holding {} has {} MiB free, less than the {} MiB reserve \
         (--min-free-disk-bytes); nothing was appended. Free some space (or shorten retention, or \
         delete topics) and publish again",
        dir.display(), free / (1024 * 1024), reserve / (1024 * 1024)
    )]
    DiskFull {
        /// The data directory.
        dir: PathBuf,
        /// Free bytes.
        free: u64,
        /// The reserve in bytes.
        reserve: u64,
    },
    /// The data directory was written by an older version in a format this one cannot read.
    #[error(
        "topic '{topic}' is stored in the format of an older eventstream version (record batches \
         inside sled), which this version does not read: start this version on a new data \
         directory"
    )]
    OldFormat {
        /// The topic.
        topic: TopicName,
    },
    /// An earlier sync failed, so what is on disk is unknown; only a restart (which recovers
    /// from what reached the disk) can tell.
    #[error("an earlier write to disk failed; restart the server to recover")]
    Poisoned,
}

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        match &error {
            // sled repeats its first write error as a new io::Error that keeps only the kind.
            sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => Self::OutOfSpace,
            _ => Self::Engine(error),
        }
    }
}

impl StoreError {
    /// Whether the disk was full (or nearly), as opposed to failing.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            StoreError::DiskFull { .. }
            | StoreError::OutOfSpace
            | StoreError::SegmentFull { .. } => true,
            StoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}

/// How a [`Store`] is opened.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Memory sled may use as cache.
    pub cache_bytes: u64,
    /// Size at which a topic's appends move on to a new segment file.
    pub segment_bytes: u64,
    /// Whether [`TopicLog::append`] fsyncs the events before it returns (`--fsync always`);
    /// without, they are durable at the next [`Store::sync`].
    pub sync_appends: bool,
    /// Idempotency keys a topic holds in memory before it writes them to a file of their own.
    pub dedup_generation_keys: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            cache_bytes: 64 * 1024 * 1024,
            segment_bytes: 64 * 1024 * 1024,
            sync_appends: true,
            dedup_generation_keys: 65_536,
        }
    }
}

/// The database holding every topic's log.
pub struct Store {
    db: sled::Db,
    segment_root: SegmentRoot,
    dedup_generation_keys: usize,
    disk: DiskSync,
    space: Arc<SpaceGuard>,
    /// The durable ends recorded by the previous run, or why they could not be read.
    recorded_ends: Result<Option<DurableEnds>, String>,
    checkpoint: Mutex<Checkpointing>,
}

struct Checkpointing {
    writer: CheckpointWriter,
    /// The topics whose ends checkpoints record: opened or created, and not being deleted.
    live: BTreeMap<TopicName, TopicLog>,
}

/// What [`Store::verify`] found.
#[derive(Debug)]
pub struct StoreReport {
    /// Every topic, sorted by name.
    pub topics: Vec<TopicReport>,
    /// Why the durable-ends checkpoint could not be used, if it could not.
    pub checkpoint_problem: Option<String>,
}

impl StoreReport {
    /// Whether nothing is damaged.
    pub fn intact(&self) -> bool {
        self.topics.iter().all(|topic| topic.damage.is_empty())
    }
}

/// A problem [`Store::topics`] found and worked around while opening the logs.
#[derive(Debug)]
pub enum Recovered {
    /// The durable-ends checkpoint could not be read: lost events cannot be detected this time.
    UncheckedEnds(String),
    /// Events the checkpoint shows durable are gone; their range is now refused with DATA_LOSS.
    Lost(StoreError),
    /// The newest batch of a topic failed its checks.
    DamagedTail(StoreError),
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        let StoreOptions {
            cache_bytes,
            segment_bytes,
            sync_appends,
            dedup_generation_keys,
        } = options;
        durability::create_dir_durably(dir)?;
        // Only Store::sync writes the index out: a flush of sled's own would be a second writer
        // of the same buffers that a sync then waits behind.
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .flush_every_ms(None)
            .open()?;
        let disk = DiskSync::new(dir)?;
        let recorded_ends = checkpoint::read(dir).map_err(|error| error.to_string());
        let known = recorded_ends.as_ref().ok().cloned().flatten();
        Ok(Self {
            db,
            segment_root: SegmentRoot {
                dir: dir.join(SEGMENTS_DIR),
                segment_bytes,
                sync_appends,
                gate: Arc::default(),
            },
            dedup_generation_keys,
            disk,
            space: Arc::new(SpaceGuard::new(dir)),
            recorded_ends,
            checkpoint: Mutex::new(Checkpointing {
                writer: CheckpointWriter::new(dir, known),
                live: BTreeMap::new(),
            }),
        })
    }

    /// Refuses appends that would leave less than `bytes` free on the data's disk (0: no check).
    pub fn set_min_free_bytes(&self, bytes: u64) {
        self.space.set_reserve(bytes);
    }

    fn lock_checkpoint(&self) -> MutexGuard<'_, Checkpointing> {
        self.checkpoint
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every stored topic's log, complete or not (`None`), sorted by name.
    fn logs(&self) -> Result<Vec<(sled::IVec, TopicName, Option<TopicLog>)>, StoreError> {
        let mut logs = Vec::new();
        for tree_name in self.db.tree_names() {
            let Some(name) = std::str::from_utf8(&tree_name)
                .ok()
                .and_then(|name| name.strip_prefix(TOPIC_TREE_PREFIX))
                .and_then(|name| TopicName::new(name).ok())
            else {
                continue;
            };
            let tree = self.db.open_tree(&tree_name)?;
            let log = TopicLog::open(
                name.clone(),
                tree,
                &self.segment_root,
                Arc::clone(&self.space),
                self.dedup_generation_keys,
            )?;
            logs.push((tree_name, name, log));
        }
        logs.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(logs)
    }

    /// Every complete topic, sorted by name, with what was found wrong and worked around.
    ///
    /// Drops trees left by interrupted creations or deletions. A topic whose end is below the
    /// one the previous run checkpointed lost events to damaged files: the missing range is
    /// recorded (and refused with [`StoreError::Lost`]) so its offsets are never reused; a topic
    /// missing altogether is recreated with `fallback` settings and its whole range lost.
    pub fn topics(
        &self,
        fallback: TopicMeta,
    ) -> Result<(Vec<TopicLog>, Vec<Recovered>), StoreError> {
        let mut recovered = Vec::new();
        let mut recorded = match &self.recorded_ends {
            Ok(ends) => ends.clone().unwrap_or_default(),
            Err(problem) => {
                recovered.push(Recovered::UncheckedEnds(problem.clone()));
                DurableEnds::new()
            }
        };
        let mut topics = Vec::new();
        for (tree_name, _, log) in self.logs()? {
            match log {
                Some(log) => topics.push(log),
                None => {
                    self.db.drop_tree(&tree_name)?;
                }
            }
        }
        let mut reindexed = false;
        for log in &topics {
            let events = log.index_unindexed()?;
            if events > 0 {
                tracing::info!(topic = %log.name(), events, "indexed the events appended after the index was last written out");
                reindexed = true;
            }
            let state = log.state()?;
            if let Some(end) = recorded.remove(log.name())
                && end > state.bounds.next_offset
            {
                log.record_lost(state, end)?;
                recovered.push(Recovered::Lost(StoreError::Lost {
                    topic: log.name().clone(),
                    first: state.bounds.next_offset,
                    end,
                }));
            }
            if let Err(error) = log.check_tail(&log.state()?) {
                recovered.push(Recovered::DamagedTail(error));
            }
        }
        for (name, end) in recorded {
            let log = self.create_topic(name.clone(), fallback)?;
            log.record_lost(log.state()?, end)?;
            recovered.push(Recovered::Lost(StoreError::Lost {
                topic: name,
                first: 0,
                end,
            }));
            topics.push(log);
        }
        topics.sort_by(|a, b| a.name().cmp(b.name()));
        self.remove_orphan_segments(&topics)?;
        for log in &topics {
            log.mark_unused_segments()?;
        }
        self.lock_checkpoint()
            .live
            .extend(topics.iter().map(|log| (log.name().clone(), log.clone())));
        if !recovered.is_empty() || reindexed {
            self.sync()?;
        }
        Ok((topics, recovered))
    }

    /// Removes segment directories no topic owns: left by a deletion or creation that a crash
    /// interrupted.
    fn remove_orphan_segments(&self, topics: &[TopicLog]) -> Result<(), StoreError> {
        let root = &self.segment_root.dir;
        let entries = match std::fs::read_dir(root) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StoreError::Io {
                    action: format!("listing {}", root.display()),
                    source,
                });
            }
        };
        let owned: std::collections::BTreeSet<&Path> =
            topics.iter().map(|log| log.segments().dir()).collect();
        for entry in entries {
            let path = entry
                .map_err(|source| StoreError::Io {
                    action: format!("listing {}", root.display()),
                    source,
                })?
                .path();
            if path.is_dir() && !owned.contains(path.as_path()) {
                tracing::info!(dir = %path.display(), "removing the segments of a deleted topic");
                std::fs::remove_dir_all(&path).map_err(|source| StoreError::Io {
                    action: format!("removing {}", path.display()),
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Checks every topic's stored batches and its end against the last checkpoint, changing
    /// nothing. For `eventstream verify`, on a data directory no server is using.
    pub fn verify(&self) -> Result<StoreReport, StoreError> {
        let (mut recorded, checkpoint_problem) = match &self.recorded_ends {
            Ok(ends) => (ends.clone().unwrap_or_default(), None),
            Err(problem) => (DurableEnds::new(), Some(problem.clone())),
        };
        let mut topics = Vec::new();
        for (_, name, log) in self.logs()? {
            let recorded_end = recorded.remove(&name);
            let Some(log) = log else { continue };
            let mut report = log.verify()?;
            if let Some(end) = recorded_end.filter(|&end| end > report.bounds.next_offset) {
                report.damage.push(Damage {
                    first: report.bounds.next_offset,
                    end,
                    what: "lost: the data files end before the last checkpointed end".into(),
                });
            }
            topics.push(report);
        }
        for (name, end) in recorded {
            topics.push(TopicReport {
                name,
                bounds: crate::model::LogBounds::default(),
                batches: 0,
                events: 0,
                damage: vec![Damage {
                    first: 0,
                    end,
                    what: "lost: the whole topic is missing from the data files".into(),
                }],
            });
        }
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(StoreReport {
            topics,
            checkpoint_problem,
        })
    }

    /// Each live topic's end offset as stored now.
    fn current_ends(live: &BTreeMap<TopicName, TopicLog>) -> Result<DurableEnds, StoreError> {
        let mut ends = DurableEnds::new();
        for (name, log) in live {
            ends.insert(name.clone(), log.state()?.bounds.next_offset);
        }
        Ok(ends)
    }

    /// Creates a topic's log; durable after the next [`Store::sync`].
    pub fn create_topic(&self, name: TopicName, meta: TopicMeta) -> Result<TopicLog, StoreError> {
        let tree = self.db.open_tree(tree_name(&name))?;
        let log = TopicLog::create(
            name,
            tree,
            meta,
            &self.segment_root,
            Arc::clone(&self.space),
            self.dedup_generation_keys,
        )?;
        self.lock_checkpoint()
            .live
            .insert(log.name().clone(), log.clone());
        Ok(log)
    }

    /// Deletes a topic's log durably: first from the checkpoint (so its absence is not taken
    /// for a loss), then its metadata (so a crash cannot resurrect it), then its data.
    pub fn delete_topic(&self, log: &TopicLog) -> Result<(), StoreError> {
        {
            let mut checkpoint = self.lock_checkpoint();
            checkpoint.live.remove(log.name());
            if let Some(ends) = checkpoint
                .writer
                .last_written()
                .filter(|ends| ends.contains_key(log.name()))
            {
                let mut ends = ends.clone();
                ends.remove(log.name());
                checkpoint.writer.write(ends)?;
            }
        }
        log.remove_meta()?;
        self.sync()?;
        self.db.drop_tree(tree_name(log.name()))?;
        if let Err(error) = log.segments().remove_all() {
            // Harmless: the next start-up removes directories no topic owns.
            tracing::warn!(topic = %log.name(), %error, "removing a deleted topic's segments failed");
        }
        Ok(())
    }

    /// Makes every write so far durable: survives a crash and a power cut. Checkpoints the
    /// topics' ends if the last checkpoint is older than [`checkpoint::CHECKPOINT_INTERVAL`].
    pub fn sync(&self) -> Result<(), StoreError> {
        self.sync_checkpointing(false)
    }

    /// Makes every write durable and checkpoints the topics' ends; for shutdown, after the last
    /// append: the files appended to lose the zeros allocated ahead of their appends.
    pub fn sync_and_checkpoint(&self) -> Result<(), StoreError> {
        for log in self.lock_checkpoint().live.values() {
            log.segments().close_active()?;
        }
        self.sync_checkpointing(true)
    }

    /// Fsyncs the `unsynced` topics' appends (when appends are not fsynced one by one), then
    /// sled's index: under the closed [`segments::SyncGate`], so no index entry written out
    /// points at bytes that are not on disk.
    fn sync_appends_then_index(&self, unsynced: &[Arc<Segments>]) -> Result<(), StoreError> {
        if self.segment_root.sync_appends {
            return self.disk.sync(&self.db);
        }
        let _closed = self.segment_root.gate.close();
        for segments in unsynced {
            segments.sync_appended()?;
        }
        self.disk.sync(&self.db)
    }

    fn sync_checkpointing(&self, force: bool) -> Result<(), StoreError> {
        // Held across the sync so a deletion cannot slip between reading the ends and writing
        // them; contended at most once per checkpoint interval.
        let mut checkpoint = self.lock_checkpoint();
        // Taken before the sync, so the trims that freed these files are durable when they go.
        let releasable: Vec<_> = checkpoint
            .live
            .values()
            .filter_map(|log| {
                let below = log.segments().take_releasable()?;
                Some((Arc::clone(log.segments()), below))
            })
            .collect();
        let unsynced: Vec<Arc<Segments>> = if self.segment_root.sync_appends {
            Vec::new()
        } else {
            let segments = checkpoint.live.values().map(TopicLog::segments);
            segments.map(Arc::clone).collect()
        };
        if !force && !checkpoint.writer.due() {
            drop(checkpoint);
            self.sync_appends_then_index(&unsynced)?;
        } else {
            // Read before the sync, so every end written is one the sync made durable.
            let ends = Self::current_ends(&checkpoint.live)?;
            self.sync_appends_then_index(&unsynced)?;
            if let Err(error) = checkpoint.writer.write(ends) {
                // The events are durable; only the detection of later damage is weakened.
                tracing::warn!(%error, "writing the durable-ends checkpoint failed");
            }
        }
        for (segments, below) in releasable {
            if let Err(error) = segments.release(below) {
                // Only space is lost; the next trim or start-up tries again.
                tracing::warn!(%error, "removing segment files retention emptied failed");
                segments.mark_unused(Some(below));
            }
        }
        Ok(())
    }
}

/// Maps a failed file operation, described by `action`, into [`StoreError::Io`].
fn io_error(action: String) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Io { action, source }
}

fn tree_name(name: &TopicName) -> String {
    format!("{TOPIC_TREE_PREFIX}{name}")
}
