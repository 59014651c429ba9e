//! One topic's append-only log: record batches in its segment files, indexed in its own sled tree.
//!
//! An append first writes (and fsyncs) the record batch to the topic's [`Segments`], then writes
//! everything that indexes it (its location, time-index entry, idempotency entries and the log
//! state) in one atomic sled batch, so a crash leaves either all or none of the index, and the
//! index never points at bytes that did not reach the disk.
//!
//! Keys (offsets and times big-endian, so they sort numerically):
//!
//! | key | value |
//! |---|---|
//! | `m` | topic metadata (config, creation time) |
//! | `s` | log state (first offset, next offset, stored bytes, last append time) |
//! | `b` offset | where the record batch whose first record has that offset lies ([`Location`]) |
//! | `t` time offset | nothing; finds batches by append time |
//! | `x` offset | until a key file holds them (see [`DedupIndex`]), the idempotency keys of the batch starting there: empty while the batch is stored (start-up reads them from it), or the keys (hashed) and where their events went, written when retention removes the batch |
//! | `l` offset | the end of a range of events lost to damaged data files, found at start-up |
//! | `k` key-length key offset | key version, and where the event lies: batch, span, CRC32C |
//! | `v` key | the key's latest version (kept when retention removes the key's events) |
//! | `c` cursor name | the cursor's position and update time |
//! | `g` group name | the consumer group's record (see [`GroupRecord`]) |

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use uuid::Uuid;

use super::StoreError;
use super::dedup_index::{
    DedupEntry, DedupIndex, KeyHash, decode_entries, encode_entries, key_hash,
};
use super::group_record::GroupRecord;
use super::record_batch::{self, BatchError, EncodedBatch, EncodedEvent, RecordBatch};
use super::segments::{Location, ReadError, SegmentRoot, Segments};
use super::space::SpaceGuard;
use crate::model::{
    Cursor, CursorName, Event, GroupName, LogBounds, Timestamp, TopicConfig, TopicName,
};

const META_KEY: &[u8] = b"m";
const STATE_KEY: &[u8] = b"s";
const BATCH_PREFIX: u8 = b'b';
const TIME_PREFIX: u8 = b't';
const BATCH_KEYS_PREFIX: u8 = b'x';
const LOST_PREFIX: u8 = b'l';
const KEY_INDEX_PREFIX: u8 = b'k';
const KEY_VERSION_PREFIX: u8 = b'v';
const CURSOR_PREFIX: u8 = b'c';
const GROUP_PREFIX: u8 = b'g';

/// A topic's immutable metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicMeta {
    /// The topic's settings.
    pub config: TopicConfig,
    /// When it was created.
    pub create_time: Timestamp,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StoredMeta {
    #[prost(uint64, tag = "1")]
    create_time: u64,
    #[prost(uint64, optional, tag = "2")]
    retention_age_nanos: Option<u64>,
    #[prost(uint64, optional, tag = "3")]
    retention_events: Option<u64>,
    #[prost(uint64, optional, tag = "4")]
    retention_bytes: Option<u64>,
    #[prost(uint64, tag = "5")]
    dedup_window_nanos: u64,
    /// The name of the topic's segment directory; empty in data written before segment files,
    /// which this version cannot read.
    #[prost(string, tag = "6")]
    segments: String,
}

fn duration_nanos(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl From<&TopicMeta> for StoredMeta {
    fn from(meta: &TopicMeta) -> Self {
        Self {
            create_time: meta.create_time.as_nanos(),
            retention_age_nanos: meta.config.retention_age.map(duration_nanos),
            retention_events: meta.config.retention_events,
            retention_bytes: meta.config.retention_bytes,
            dedup_window_nanos: duration_nanos(meta.config.dedup_window),
            segments: String::new(),
        }
    }
}

impl From<StoredMeta> for TopicMeta {
    fn from(stored: StoredMeta) -> Self {
        use std::time::Duration;
        Self {
            config: TopicConfig {
                retention_age: stored.retention_age_nanos.map(Duration::from_nanos),
                retention_events: stored.retention_events,
                retention_bytes: stored.retention_bytes,
                dedup_window: Duration::from_nanos(stored.dedup_window_nanos),
            },
            create_time: Timestamp(stored.create_time),
        }
    }
}

/// The mutable state of a log, rewritten by every append and trim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogState {
    /// Retained range and size.
    pub bounds: LogBounds,
    /// Append time of the newest batch; later appends never get an earlier time.
    pub last_time: Timestamp,
}

impl LogState {
    const ENCODED_LEN: usize = 32;

    fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0; Self::ENCODED_LEN];
        let mut buf = &mut out[..];
        buf.put_u64_le(self.bounds.first_offset);
        buf.put_u64_le(self.bounds.next_offset);
        buf.put_u64_le(self.bounds.size_bytes);
        buf.put_u64_le(self.last_time.as_nanos());
        out
    }

    fn decode(mut bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_LEN {
            return None;
        }
        Some(Self {
            bounds: LogBounds {
                first_offset: bytes.get_u64_le(),
                next_offset: bytes.get_u64_le(),
                size_bytes: bytes.get_u64_le(),
            },
            last_time: Timestamp(bytes.get_u64_le()),
        })
    }
}

/// Identifies an event's content for idempotency checks: equal for a faithful retry, different
/// (barring a 2^-64 accident) when a key is reused for another event.
pub fn fingerprint(event_type: &str, payload: &[u8]) -> u64 {
    let type_crc = crc32c::crc32c(event_type.as_bytes());
    let payload_crc = crc32c::crc32c_append(type_crc, payload);
    (u64::from(type_crc) << 32) | u64::from(payload_crc)
}

/// The idempotency keys of a batch's `events`, appended at `time`, and where their events went.
fn batch_keys(events: &[Event], time: Timestamp) -> Result<Vec<(KeyHash, DedupEntry)>, BatchError> {
    events
        .iter()
        .filter(|event| !event.idempotency_key.is_empty())
        .map(|event| {
            let id = Uuid::parse_str(&event.id).map_err(|_| {
                BatchError::Malformed(format!("event id {:?} is not a UUID", event.id))
            })?;
            let entry = DedupEntry {
                offset: event.offset,
                time,
                id,
                fingerprint: fingerprint(&event.event_type, &event.payload),
            };
            Ok((key_hash(&event.idempotency_key), entry))
        })
        .collect()
}

/// `keys` in offset order, to compare them.
fn by_offset(mut keys: Vec<(KeyHash, DedupEntry)>) -> Vec<(KeyHash, DedupEntry)> {
    keys.sort_by_key(|(_, entry)| entry.offset);
    keys
}

/// `prefix`, then `offset`: the key of an entry about the batch (or range) starting there.
fn offset_key(prefix: u8, offset: u64) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&offset.to_be_bytes());
    key
}

fn batch_key(base: u64) -> [u8; 9] {
    offset_key(BATCH_PREFIX, base)
}

fn timed_key(prefix: u8, time: Timestamp, offset: u64) -> [u8; 17] {
    let mut key = [prefix; 17];
    key[1..9].copy_from_slice(&time.as_nanos().to_be_bytes());
    key[9..].copy_from_slice(&offset.to_be_bytes());
    key
}

/// `k`, the key's length (u16), the key: every index entry of one key starts with it.
fn key_index_prefix(key: &str) -> Vec<u8> {
    let len = u16::try_from(key.len()).unwrap_or(u16::MAX);
    let mut prefix = Vec::with_capacity(3 + key.len() + 8);
    prefix.push(KEY_INDEX_PREFIX);
    prefix.extend_from_slice(&len.to_be_bytes());
    prefix.extend_from_slice(key.as_bytes());
    prefix
}

fn key_index_key(key: &str, offset: u64) -> Vec<u8> {
    let mut entry = key_index_prefix(key);
    entry.extend_from_slice(&offset.to_be_bytes());
    entry
}

fn key_version_key(key: &str) -> Vec<u8> {
    let mut entry = Vec::with_capacity(1 + key.len());
    entry.push(KEY_VERSION_PREFIX);
    entry.extend_from_slice(key.as_bytes());
    entry
}

fn cursor_key(name: &CursorName) -> Vec<u8> {
    named_key(CURSOR_PREFIX, name)
}

fn group_key(name: &GroupName) -> Vec<u8> {
    named_key(GROUP_PREFIX, name)
}

fn named_key(prefix: u8, name: &TopicName) -> Vec<u8> {
    let mut entry = Vec::with_capacity(1 + name.as_str().len());
    entry.push(prefix);
    entry.extend_from_slice(name.as_str().as_bytes());
    entry
}

/// Where a keyed event lies: enough to read it alone, and check it, without its whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyIndexEntry {
    version: u64,
    /// The first offset of the batch holding the event.
    batch: u64,
    /// The event's bytes within the batch.
    start: u32,
    len: u32,
    /// CRC32C of the event's bytes: a batch's own checksum needs the whole batch.
    crc: u32,
}

impl KeyIndexEntry {
    const ENCODED_LEN: usize = 8 + 8 + 4 + 4 + 4;

    fn new(version: u64, batch: u64, encoded: &EncodedBatch, index: usize) -> Self {
        let span = encoded.spans[index].clone();
        Self {
            version,
            batch,
            start: u32::try_from(span.start).unwrap_or(u32::MAX),
            len: u32::try_from(span.len()).unwrap_or(u32::MAX),
            crc: crc32c::crc32c(&encoded.bytes[span]),
        }
    }

    fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0; Self::ENCODED_LEN];
        let mut buf = &mut out[..];
        buf.put_u64_le(self.version);
        buf.put_u64_le(self.batch);
        buf.put_u32_le(self.start);
        buf.put_u32_le(self.len);
        buf.put_u32_le(self.crc);
        out
    }

    fn decode(mut bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_LEN {
            return None;
        }
        Some(Self {
            version: bytes.get_u64_le(),
            batch: bytes.get_u64_le(),
            start: bytes.get_u32_le(),
            len: bytes.get_u32_le(),
            crc: bytes.get_u32_le(),
        })
    }
}

fn lost_key(first: u64) -> [u8; 9] {
    offset_key(LOST_PREFIX, first)
}

fn decode_key_u64(key: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(at..at + 8)?.try_into().ok()?))
}

/// Events of one group commit, and the cursors it moves.
pub struct Append<'a> {
    /// The events, offsets running on from the log's `next_offset`. Each one with an
    /// idempotency key becomes that key's entry.
    pub events: &'a [Event],
    /// The append time of all of them.
    pub time: Timestamp,
    /// Cursors to move, with their new positions.
    pub cursors: &'a [(CursorName, u64)],
    /// The entries of the events' idempotency keys if the caller has them already, in any
    /// order: exactly what the log would otherwise derive from `events` (it checks that in debug
    /// builds), without parsing each id and hashing each payload again.
    pub keys: Option<Vec<(KeyHash, DedupEntry)>>,
}

/// The index writes of one append, applied one by one in the order given, the log's state
/// last. Not as one sled batch: sled writes its log buffer out for every batch, a device round
/// trip per append. sled recovers a prefix of its writes, so a state it recovers comes with every
/// entry written before it, and start-up indexes again from the batch the state does not count.
///
/// The idempotency keys among them are remembered in memory once they are written.
#[derive(Default)]
struct InOrder {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    keys: Vec<(KeyHash, DedupEntry)>,
}

impl InOrder {
    fn insert(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.entries
            .push((key.as_ref().to_vec(), value.as_ref().to_vec()));
    }

    /// Moves cursor `name` to `position`, at `time`.
    fn insert_cursor(&mut self, name: &CursorName, position: u64, time: Timestamp) {
        let mut value = Vec::with_capacity(16);
        value.put_u64_le(position);
        value.put_u64_le(time.as_nanos());
        self.insert(cursor_key(name), value);
    }

    /// Writes the entries, then `state`, then adds the keys to `log`'s dedup index; returns
    /// whether full generations of keys should be sealed now.
    fn finish(self, log: &TopicLog, state: LogState) -> Result<bool, StoreError> {
        for (key, value) in self.entries {
            log.tree.insert(key, value)?;
        }
        log.tree.insert(STATE_KEY, &state.encode()[..])?;
        Ok(!self.keys.is_empty() && log.lock_dedup().add(&self.keys))
    }
}

/// A topic's log. Cheap to clone; all clones see the same tree.
///
/// Appends and trims must come from one writer at a time (the topic's writer task); reads may
/// run concurrently with them.
#[derive(Clone)]
pub struct TopicLog {
    name: TopicName,
    tree: sled::Tree,
    meta: TopicMeta,
    segments: Arc<Segments>,
    space: Arc<SpaceGuard>,
    dedup: Arc<Mutex<DedupIndex>>,
    /// Held while full key generations are written to their files, so that no two sealings
    /// write the same generation.
    sealing: Arc<Mutex<()>>,
    /// The newest batch this process appended, if it is at most [`NEWEST_BATCH_MAX_BYTES`]:
    /// live subscribers read it from here, without the index and the segment file.
    newest: Arc<Mutex<Option<RecordBatch>>>,
}

/// The largest newest batch a topic keeps in memory: far above what a live tail commits at a
/// time, and small enough for every topic to hold one.
const NEWEST_BATCH_MAX_BYTES: usize = 256 * 1024;

impl TopicLog {
    /// Creates the metadata and empty state of a new topic in `tree`, with a segment directory
    /// of its own in `segment_root` (a new one, so no file of a deleted namesake can be taken
    /// for its own).
    pub(super) fn create(
        name: TopicName,
        tree: sled::Tree,
        meta: TopicMeta,
        segment_root: &SegmentRoot,
        space: Arc<SpaceGuard>,
        dedup_generation_keys: usize,
    ) -> Result<Self, StoreError> {
        let segment_dir = Uuid::new_v4().simple().to_string();
        let segments = segment_root.topic(&segment_dir)?;
        let dedup = DedupIndex::open(segments.dir(), &name, dedup_generation_keys)?;
        let stored = StoredMeta {
            segments: segment_dir,
            ..StoredMeta::from(&meta)
        };
        let mut batch = sled::Batch::default();
        batch.insert(META_KEY, stored.encode_to_vec());
        batch.insert(STATE_KEY, &LogState::default().encode()[..]);
        tree.apply_batch(batch)?;
        Ok(Self {
            name,
            tree,
            meta,
            segments: Arc::new(segments),
            space,
            dedup: Arc::new(Mutex::new(dedup)),
            sealing: Arc::default(),
            newest: Arc::default(),
        })
    }

    /// Opens an existing topic; `None` if the tree holds no complete topic (a creation or
    /// deletion interrupted by a crash).
    pub(super) fn open(
        name: TopicName,
        tree: sled::Tree,
        segment_root: &SegmentRoot,
        space: Arc<SpaceGuard>,
        dedup_generation_keys: usize,
    ) -> Result<Option<Self>, StoreError> {
        let Some(stored) = tree.get(META_KEY)? else {
            return Ok(None);
        };
        let mut meta =
            StoredMeta::decode(&stored[..]).map_err(|_| StoreError::CorruptMetadata {
                topic: name.clone(),
                what: "metadata",
            })?;
        if meta.segments.is_empty() {
            return Err(StoreError::OldFormat { topic: name });
        }
        let segment_dir = std::mem::take(&mut meta.segments);
        if segment_dir.contains(['/', '.']) {
            return Err(StoreError::CorruptMetadata {
                topic: name,
                what: "segment directory name",
            });
        }
        let segments = segment_root.topic(&segment_dir)?;
        let dedup = DedupIndex::open(segments.dir(), &name, dedup_generation_keys)?;
        let log = Self {
            name,
            tree,
            meta: meta.into(),
            segments: Arc::new(segments),
            space,
            dedup: Arc::new(Mutex::new(dedup)),
            sealing: Arc::default(),
            newest: Arc::default(),
        };
        log.state()?;
        log.restore_unsealed_keys()?;
        Ok(Some(log))
    }

    /// Refills the in-memory key generations with the keys of the batches no key file holds.
    fn restore_unsealed_keys(&self) -> Result<(), StoreError> {
        let mut dedup = self.lock_dedup();
        let unsealed = offset_key(BATCH_KEYS_PREFIX, dedup.sealed_end())
            ..=offset_key(BATCH_KEYS_PREFIX, u64::MAX);
        for entry in self.tree.range(unsealed) {
            let (index_key, value) = entry?;
            let base = decode_key_u64(&index_key, 1).unwrap_or(u64::MAX);
            let keys = if value.is_empty() {
                self.stored_batch_keys(base)
            } else {
                decode_entries(&value).ok_or_else(|| self.corrupt_metadata("idempotency keys"))
            };
            match keys {
                Ok(keys) => {
                    dedup.add(&keys);
                }
                // Like a damaged key file: the topic stays usable, without those keys.
                Err(error) => tracing::error!(
                    topic = %self.name,
                    batch = base,
                    %error,
                    "the idempotency keys of a batch cannot be read; they are forgotten, so \
                     retries of its events would be appended again"
                ),
            }
        }
        Ok(())
    }

    /// The idempotency keys of the stored batch starting at `base`.
    fn stored_batch_keys(&self, base: u64) -> Result<Vec<(KeyHash, DedupEntry)>, StoreError> {
        let stored = self
            .batches(base, base + 1)
            .next()
            .ok_or(StoreError::Missing {
                topic: self.name.clone(),
                offset: base,
            })??;
        self.keys_of(&stored)
    }

    /// The idempotency keys `stored` holds.
    fn keys_of(&self, stored: &StoredBatch) -> Result<Vec<(KeyHash, DedupEntry)>, StoreError> {
        stored
            .batch
            .events_from(stored.base)
            .and_then(|events| batch_keys(&events, stored.batch.append_time()))
            .map_err(|source| self.corrupt(stored.base, source))
    }

    fn lock_dedup(&self) -> MutexGuard<'_, DedupIndex> {
        self.dedup
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The topic's segment files.
    pub(super) fn segments(&self) -> &Arc<Segments> {
        &self.segments
    }

    /// Marks the topic deleted; the tree itself is dropped afterwards.
    pub(super) fn remove_meta(&self) -> Result<(), StoreError> {
        self.tree.remove(META_KEY)?;
        Ok(())
    }

    /// The topic's name.
    pub fn name(&self) -> &TopicName {
        &self.name
    }

    /// The topic's metadata.
    pub fn meta(&self) -> &TopicMeta {
        &self.meta
    }

    /// The log's current state, including appends not yet durable.
    pub fn state(&self) -> Result<LogState, StoreError> {
        self.tree
            .get(STATE_KEY)?
            .and_then(|bytes| LogState::decode(&bytes))
            .ok_or_else(|| StoreError::CorruptMetadata {
                topic: self.name.clone(),
                what: "log state",
            })
    }

    /// Where each event whose idempotency key has one of `hashes` went, if the key is
    /// remembered and the event was appended at or after `since`.
    pub fn dedup_entries(
        &self,
        hashes: &[KeyHash],
        since: Timestamp,
    ) -> Result<Vec<Option<DedupEntry>>, StoreError> {
        // Most publishes carry no keys: they need not take the index's lock.
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        self.lock_dedup().get_many(hashes, since)
    }

    /// The latest version of `key`, if it has any events (even ones retention removed).
    pub fn key_version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let Some(bytes) = self.tree.get(key_version_key(key))? else {
            return Ok(None);
        };
        let version =
            <[u8; 8]>::try_from(&bytes[..]).map_err(|_| self.corrupt_metadata("key version"))?;
        Ok(Some(u64::from_le_bytes(version)))
    }

    /// The version of the event at `offset`, if it has `key` and is still retained.
    pub fn key_version_at(&self, key: &str, offset: u64) -> Result<Option<u64>, StoreError> {
        let Some(bytes) = self.tree.get(key_index_key(key, offset))? else {
            return Ok(None);
        };
        let entry = KeyIndexEntry::decode(&bytes)
            .ok_or_else(|| self.corrupt_metadata("key index entry"))?;
        Ok(Some(entry.version))
    }

    /// The key version of the event stored at `offset`: none if it has no key or is no longer
    /// retained. Read from the event itself, so a retry carrying another key (or none) gets its
    /// original's version. `read` keeps the events last read for this: a retried request's
    /// originals usually share one batch, which is then read once.
    pub fn stored_key_version(
        &self,
        offset: u64,
        read: &mut Vec<EncodedEvent>,
    ) -> Result<Option<u64>, StoreError> {
        let position = |events: &[EncodedEvent]| {
            let first = events.first()?.offset;
            let index = usize::try_from(offset.checked_sub(first)?).ok()?;
            (index < events.len()).then_some(index)
        };
        let index = match position(read) {
            Some(index) => index,
            None => {
                // From `offset` to the end of its batch: one batch, as `max_bytes` is 1.
                *read = match self.read(offset, u64::MAX, 1) {
                    Ok(events) => events,
                    Err(StoreError::Missing { .. } | StoreError::Lost { .. }) => return Ok(None),
                    Err(error) => return Err(error),
                };
                let Some(index) = position(read) else {
                    return Ok(None);
                };
                index
            }
        };
        let event = read[index].decode().map_err(|source| StoreError::Corrupt {
            topic: self.name.clone(),
            offset,
            end: offset + 1,
            source,
        })?;
        Ok(event.key_version)
    }

    /// The cursor `name`, if it was ever set.
    pub fn cursor(&self, name: &CursorName) -> Result<Option<Cursor>, StoreError> {
        let Some(bytes) = self.tree.get(cursor_key(name))? else {
            return Ok(None);
        };
        if bytes.len() != 16 {
            return Err(self.corrupt_metadata("cursor"));
        }
        let mut value = &bytes[..];
        Ok(Some(Cursor {
            name: name.clone(),
            position: value.get_u64_le(),
            update_time: Timestamp(value.get_u64_le()),
        }))
    }

    /// The consumer group `name`'s record, if the group exists.
    pub fn group(&self, name: &GroupName) -> Result<Option<GroupRecord>, StoreError> {
        let Some(bytes) = self.tree.get(group_key(name))? else {
            return Ok(None);
        };
        GroupRecord::decode(&bytes)
            .map(Some)
            .map_err(|_| self.corrupt_metadata("consumer group record"))
    }

    /// The names of the topic's consumer groups, sorted.
    pub fn group_names(&self) -> Result<Vec<GroupName>, StoreError> {
        let mut names = Vec::new();
        for entry in self.tree.scan_prefix([GROUP_PREFIX]) {
            let (key, _) = entry?;
            let name = std::str::from_utf8(&key[1..])
                .ok()
                .and_then(|name| GroupName::new(name).ok())
                .ok_or_else(|| self.corrupt_metadata("consumer group name"))?;
            names.push(name);
        }
        Ok(names)
    }

    /// Writes the consumer group `name`'s record; durable with the next [`super::Store::sync`].
    pub fn put_group(&self, name: &GroupName, record: &GroupRecord) -> Result<(), StoreError> {
        self.tree.insert(group_key(name), record.encode())?;
        Ok(())
    }

    /// Removes the consumer group `name`; returns whether it existed.
    pub fn remove_group(&self, name: &GroupName) -> Result<bool, StoreError> {
        Ok(self.tree.remove(group_key(name))?.is_some())
    }

    fn corrupt_metadata(&self, what: &'static str) -> StoreError {
        StoreError::CorruptMetadata {
            topic: self.name.clone(),
            what,
        }
    }

    /// Reads the events with `key` from offset `from` (inclusive) up to `to` (exclusive) through
    /// the key index, stopping once `max_bytes` are read. Returns them with the offset the scan
    /// got to: `to` when it went through, else just past the last event returned.
    pub fn read_key(
        &self,
        key: &str,
        from: u64,
        to: u64,
        max_bytes: usize,
    ) -> Result<(Vec<EncodedEvent>, u64), StoreError> {
        let mut events = Vec::new();
        let mut bytes_read = 0;
        let prefix_len = key_index_prefix(key).len();
        for entry in self
            .tree
            .range(key_index_key(key, from)..key_index_key(key, to))
        {
            let (index_key, value) = entry?;
            let offset = decode_key_u64(&index_key, prefix_len)
                .ok_or_else(|| self.corrupt_metadata("key index entry"))?;
            let entry = KeyIndexEntry::decode(&value)
                .ok_or_else(|| self.corrupt_metadata("key index entry"))?;
            let bytes = self.read_span(entry, offset)?;
            bytes_read += bytes.len();
            events.push(EncodedEvent { offset, bytes });
            if bytes_read >= max_bytes {
                return Ok((events, offset + 1));
            }
        }
        Ok((events, to))
    }

    /// The bytes of the event at `offset`, as its key-index `entry` locates them, checked.
    fn read_span(&self, entry: KeyIndexEntry, offset: u64) -> Result<Bytes, StoreError> {
        let damaged = |reason: String| StoreError::Corrupt {
            topic: self.name.clone(),
            offset,
            end: offset + 1,
            source: BatchError::Malformed(reason),
        };
        let location = self
            .location(entry.batch)?
            .ok_or_else(|| damaged("the event's batch is missing".into()))?;
        if u64::from(entry.start) + u64::from(entry.len) > u64::from(location.len) {
            return Err(damaged("the key index entry points past its batch".into()));
        }
        let bytes = self
            .segments
            .read(location, entry.start.into(), entry.len as usize)
            .map_err(|error| match error {
                ReadError::Store(error) => error,
                other => damaged(other.to_string()),
            })?;
        if crc32c::crc32c(&bytes) != entry.crc {
            return Err(damaged(
                "the event's bytes fail the key index checksum".into(),
            ));
        }
        Ok(bytes)
    }

    /// Where the batch whose first offset is `base` lies, if there is one.
    fn location(&self, base: u64) -> Result<Option<Location>, StoreError> {
        let Some(value) = self.tree.get(batch_key(base))? else {
            return Ok(None);
        };
        Location::decode(&value)
            .map(Some)
            .ok_or_else(|| self.corrupt(base, bad_location()))
    }

    /// Appends one group commit; returns the new state.
    ///
    /// The events are durable when this returns: in their segment file, from which start-up
    /// indexes them again should sled lose the index entries written here. The cursors moved
    /// with events are stored in the same record batch, so they are durable and restored with
    /// them; cursors moved without events become durable with the store's next sync.
    pub fn append(&self, state: LogState, append: Append<'_>) -> Result<LogState, StoreError> {
        self.append_then(state, append, |_| {})
    }

    /// [`TopicLog::append`], calling `readable` with the new state as soon as the events are
    /// durable and readable, before they are indexed, if that comes first: when the events
    /// carry no key versions, move no cursors and fit the newest batch kept in memory. Readers
    /// get the batch from there until its index entries are written; those of a key's history
    /// and of cursors are read through the index alone, so they wait for it.
    pub fn append_then(
        &self,
        state: LogState,
        append: Append<'_>,
        readable: impl FnOnce(LogState),
    ) -> Result<LogState, StoreError> {
        let base = state.bounds.next_offset;
        let mut writes = InOrder::default();
        let mut new_state = state;
        new_state.last_time = append.time;
        if append.events.is_empty() {
            for (name, position) in append.cursors {
                writes.insert_cursor(name, *position, append.time);
            }
            writes.finish(self, new_state)?;
            return Ok(new_state);
        }
        let encoded = RecordBatch::encode_indexed(base, append.time, append.events, append.cursors);
        self.space.check(encoded.bytes.len() as u64)?;
        let location = self.segments.append(&encoded.bytes)?;
        let read_before_indexed = append.cursors.is_empty()
            && append
                .events
                .iter()
                .all(|event| event.key_version.is_none())
            && self.keep_newest(&encoded);
        if read_before_indexed {
            readable(state_after(
                state,
                append.events.len(),
                location,
                append.time,
            ));
        }
        let indexed = match append.keys {
            Some(keys) => {
                debug_assert_eq!(
                    by_offset(keys.clone()),
                    by_offset(batch_keys(append.events, append.time).unwrap_or_default()),
                    "the caller's idempotency keys are the events' own"
                );
                Ok(keys)
            }
            None => {
                batch_keys(append.events, append.time).map_err(|source| self.corrupt(base, source))
            }
        }
        .and_then(|keys| {
            writes.keys = keys;
            self.index_batch(
                &mut writes,
                new_state,
                location,
                append.time,
                (append.events, append.cursors),
                &encoded,
            )
        })
        .and_then(|state| Ok((state, writes.finish(self, state)?)));
        match indexed {
            Ok((state, seal_now)) => {
                if !read_before_indexed {
                    self.keep_newest(&encoded);
                }
                if seal_now {
                    // The events are appended: a key file that cannot be written now only means
                    // their keys stay in memory until a later sealing succeeds.
                    if let Err(error) = self.seal_dedup() {
                        tracing::warn!(topic = %self.name, %error, "writing an idempotency key file failed");
                    }
                }
                Ok(state)
            }
            Err(error) => {
                // The batch is in its file: an append after it would take its offsets.
                self.segments.poison();
                Err(error)
            }
        }
    }

    /// Keeps the batch just appended, `encoded`, as the newest one if it is small enough (else
    /// keeps none); returns whether it did.
    fn keep_newest(&self, encoded: &EncodedBatch) -> bool {
        let batch = (encoded.bytes.len() <= NEWEST_BATCH_MAX_BYTES).then(|| encoded.batch());
        let kept = batch.is_some();
        *self.lock_newest() = batch;
        kept
    }

    fn lock_newest(&self) -> MutexGuard<'_, Option<RecordBatch>> {
        self.newest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The events from `from` up to `to` (exclusive), if the newest batch holds `from`.
    fn read_newest(&self, from: u64, to: u64) -> Option<Result<Vec<EncodedEvent>, StoreError>> {
        let newest = self.lock_newest();
        let batch = newest
            .as_ref()
            .filter(|batch| (batch.base_offset()..batch.end_offset()).contains(&from))?;
        Some(
            batch
                .encoded_from(from)
                .map(|mut events| {
                    events.truncate(usize::try_from(to - from).unwrap_or(usize::MAX));
                    events
                })
                .map_err(|source| self.corrupt(batch.base_offset(), source)),
        )
    }

    /// Adds to `writes` every index entry of the record batch `encoded`, stored at `location`,
    /// holding `events` (offsets from the state's end on, their idempotency keys in `writes`
    /// already) and `cursor_moves` appended at `time`; returns the state after it. Everything
    /// here derives from the stored batch, which is what lets start-up rebuild it.
    fn index_batch(
        &self,
        writes: &mut InOrder,
        state: LogState,
        location: Location,
        time: Timestamp,
        (events, cursor_moves): (&[Event], &[(CursorName, u64)]),
        encoded: &EncodedBatch,
    ) -> Result<LogState, StoreError> {
        let base = state.bounds.next_offset;
        writes.insert(batch_key(base), location.encode());
        writes.insert(timed_key(TIME_PREFIX, time, base), []);
        for (name, position) in cursor_moves {
            writes.insert_cursor(name, *position, time);
        }
        for (index, event) in events.iter().enumerate() {
            if let Some(version) = event.key_version {
                let entry = KeyIndexEntry::new(version, base, encoded, index);
                writes.insert(key_index_key(&event.key, event.offset), entry.encode());
                writes.insert(key_version_key(&event.key), version.to_le_bytes());
            }
        }
        if !writes.keys.is_empty() {
            // Only a mark: start-up reads the keys from the batch itself. Writing them here
            // (56 bytes a key, up to hundreds of KiB a commit) cost keyed publishing a tenth of
            // its rate in sled.
            writes.insert(offset_key(BATCH_KEYS_PREFIX, base), []);
        }
        Ok(state_after(state, events.len(), location, time))
    }

    /// Indexes the batches in the segment files that the index does not hold yet: appended
    /// before a crash, after sled last wrote its index out. Returns how many events that
    /// added to the log.
    pub(super) fn index_unindexed(&self) -> Result<u64, StoreError> {
        let state = self.state()?;
        let mut indexed = state;
        self.for_each_unindexed(&state, |location, bytes, stored| {
            let damaged = |source| self.corrupt(stored.base_offset(), source);
            let events = stored.events_from(0).map_err(damaged)?;
            let cursor_moves = stored.cursor_moves().map_err(damaged)?;
            let encoded = EncodedBatch {
                bytes,
                spans: stored.spans().map_err(damaged)?,
            };
            let mut writes = InOrder {
                keys: batch_keys(&events, stored.append_time()).map_err(damaged)?,
                ..InOrder::default()
            };
            indexed = self.index_batch(
                &mut writes,
                indexed,
                location,
                stored.append_time(),
                (&events, &cursor_moves),
                &encoded,
            )?;
            writes.finish(self, indexed).map(|_| ())
        })?;
        Ok(indexed.bounds.next_offset - state.bounds.next_offset)
    }

    /// Calls `visit` with each batch in the segment files that continues the log past `state`'s
    /// end (each one continuing the one before), in order.
    ///
    /// The scan starts just after the last batch the state counts, and reads each file up to its
    /// first bytes that are not a whole, intact batch: a batch cut short by a crash ends its
    /// file, as the next run appends to a new one. Batches that start below the log's end are
    /// ones a trim rewrote, and skipped.
    fn for_each_unindexed(
        &self,
        state: &LogState,
        mut visit: impl FnMut(Location, Bytes, RecordBatch) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // The state is written last, so every index entry of the batches below its end is
        // there; a batch at or past it may be indexed in part, and is indexed again.
        let last_indexed = match self
            .tree
            .range(batch_key(0)..batch_key(state.bounds.next_offset))
            .values()
            .next_back()
        {
            Some(value) => Location::decode(&value?),
            None => None,
        };
        let (first_segment, mut position) = last_indexed.map_or((0, 0), |location| {
            (
                location.segment,
                location.position + u64::from(location.len),
            )
        });
        let mut next_offset = state.bounds.next_offset;
        let files = self.segments.files_from(first_segment)?;
        // What a crash left unindexed may never have been fsynced (a kill between the write and
        // the fsync leaves it in the page cache): it is, before anything indexes it.
        self.segments
            .sync_files(files.iter().map(|(segment, _)| *segment))?;
        for (segment, file_len) in files {
            if segment != first_segment {
                position = 0;
            }
            while let Some(stored) = self.read_whole_batch(segment, position, file_len)? {
                let (location, bytes, batch) = stored;
                position += u64::from(location.len);
                if batch.base_offset() < next_offset {
                    continue;
                }
                if batch.base_offset() > next_offset {
                    tracing::warn!(
                        topic = %self.name,
                        segment,
                        offset = batch.base_offset(),
                        expected = next_offset,
                        "a stored batch does not continue the log; it and what follows are not indexed"
                    );
                    return Ok(());
                }
                next_offset = batch.end_offset();
                visit(location, bytes, batch)?;
            }
        }
        Ok(())
    }

    /// The intact batch at `position` of segment file `segment` (`file_len` bytes long), if one
    /// starts there.
    fn read_whole_batch(
        &self,
        segment: u64,
        position: u64,
        file_len: u64,
    ) -> Result<Option<(Location, Bytes, RecordBatch)>, StoreError> {
        let header_len = record_batch::HEADER_LEN as u64;
        if position + header_len > file_len {
            return Ok(None);
        }
        let read = |len: u64| {
            let location = Location {
                segment,
                position,
                len: u32::try_from(len).unwrap_or(u32::MAX),
            };
            match self.segments.read(location, 0, len as usize) {
                Ok(bytes) => Ok(Some((location, bytes))),
                Err(ReadError::Store(error)) => Err(error),
                Err(_) => Ok(None),
            }
        };
        let Some((_, header)) = read(header_len)? else {
            return Ok(None);
        };
        let Some(len) = RecordBatch::stored_len(&header)
            .map(|len| len as u64)
            .filter(|len| position + len <= file_len && *len <= u64::from(u32::MAX))
        else {
            return Ok(None);
        };
        let Some((location, bytes)) = read(len)? else {
            return Ok(None);
        };
        Ok(RecordBatch::decode(bytes.clone())
            .ok()
            .map(|batch| (location, bytes, batch)))
    }

    /// Reads events from offset `from` (inclusive) up to `to` (exclusive), stopping after the
    /// batch that brings the bytes read past `max_bytes` (at least one batch is read).
    ///
    /// The result starts exactly at `from` and is contiguous, or the call fails with
    /// [`StoreError::Missing`] (the range was trimmed, or lost) or [`StoreError::Corrupt`].
    pub fn read(
        &self,
        from: u64,
        to: u64,
        max_bytes: usize,
    ) -> Result<Vec<EncodedEvent>, StoreError> {
        let mut events = Vec::new();
        if from >= to {
            return Ok(events);
        }
        if let Some(read) = self.read_newest(from, to) {
            return read;
        }
        let containing = self.tree.range(batch_key(0)..=batch_key(from)).next_back();
        let start = match containing {
            Some(entry) => decode_key_u64(&entry?.0, 1).unwrap_or(from),
            None => from,
        };
        let mut bytes_read = 0;
        let mut expected = from;
        for stored in self.batches(start, to) {
            let stored = match stored {
                Ok(stored) => stored,
                // Deliver what precedes the damage; the next read starts at it and fails.
                Err(_) if !events.is_empty() => break,
                Err(error) => return Err(error),
            };
            bytes_read += stored.stored_len as usize;
            let batch = &stored.batch;
            if batch.end_offset() <= from {
                continue;
            }
            if batch.base_offset() > expected {
                break;
            }
            events.extend(
                batch
                    .encoded_from(expected)
                    .map_err(|source| self.corrupt(stored.base, source))?,
            );
            events.truncate(usize::try_from(to - from).unwrap_or(usize::MAX));
            expected = from + events.len() as u64;
            if bytes_read >= max_bytes || expected >= to {
                break;
            }
        }
        if events.is_empty() {
            if let Some((first, end)) = self.lost_range_at(from)? {
                return Err(StoreError::Lost {
                    topic: self.name.clone(),
                    first,
                    end,
                });
            }
            return Err(StoreError::Missing {
                topic: self.name.clone(),
                offset: from,
            });
        }
        Ok(events)
    }

    /// The stored batches whose first offset is in `[from, to)`, in offset order, verified.
    fn batches(&self, from: u64, to: u64) -> StoredBatches<'_> {
        StoredBatches {
            log: self,
            index: self.tree.range(batch_key(from)..batch_key(to)),
        }
    }

    /// The error for the damaged batch stored under `base`. Its header cannot be trusted, so
    /// the range it held ends where the next stored batch (or the log) begins.
    fn corrupt(&self, base: u64, source: BatchError) -> StoreError {
        let next_batch = self
            .tree
            .range(batch_key(base.saturating_add(1))..batch_key(u64::MAX))
            .keys()
            .next();
        let end = match next_batch {
            Some(Ok(key)) => decode_key_u64(&key, 1),
            _ => self.state().ok().map(|state| state.bounds.next_offset),
        };
        StoreError::Corrupt {
            topic: self.name.clone(),
            offset: base,
            end: end.unwrap_or(base).max(base),
            source,
        }
    }

    /// Records that the events from the state's end up to `end` were lost (the data files lost
    /// them, while the checkpoint shows they had been durable): reads of them fail with
    /// [`StoreError::Lost`], and new events get offsets from `end` on, never reusing theirs.
    pub(super) fn record_lost(&self, state: LogState, end: u64) -> Result<LogState, StoreError> {
        let mut new_state = state;
        new_state.bounds.next_offset = end;
        let mut batch = sled::Batch::default();
        batch.insert(
            &lost_key(state.bounds.next_offset)[..],
            &end.to_be_bytes()[..],
        );
        batch.insert(STATE_KEY, &new_state.encode()[..]);
        self.tree.apply_batch(batch)?;
        Ok(new_state)
    }

    /// The recorded lost range holding `offset`, as `(first, end)`.
    fn lost_range_at(&self, offset: u64) -> Result<Option<(u64, u64)>, StoreError> {
        let Some(entry) = self.tree.range(lost_key(0)..=lost_key(offset)).next_back() else {
            return Ok(None);
        };
        let (key, value) = entry?;
        let first = decode_key_u64(&key, 1);
        let end = decode_key_u64(&value, 0);
        Ok(first.zip(end).filter(|&(_, end)| end > offset))
    }

    /// Every recorded lost range, as `(first, end)`, in offset order.
    pub fn lost_ranges(&self) -> Result<Vec<(u64, u64)>, StoreError> {
        let mut ranges = Vec::new();
        for entry in self.tree.range(lost_key(0)..=lost_key(u64::MAX)) {
            let (key, value) = entry?;
            if let Some(range) = decode_key_u64(&key, 1).zip(decode_key_u64(&value, 0)) {
                ranges.push(range);
            }
        }
        Ok(ranges)
    }

    /// Checks the newest stored batch, the one a crash or a torn write would have hit.
    pub fn check_tail(&self, state: &LogState) -> Result<(), StoreError> {
        let Some(last) = self
            .tree
            .range(batch_key(0)..batch_key(u64::MAX))
            .keys()
            .next_back()
        else {
            return Ok(());
        };
        let base = decode_key_u64(&last?, 1).unwrap_or(0);
        for stored in self.batches(base, base.saturating_add(1)) {
            let stored = stored?;
            if stored.batch.end_offset() != state.bounds.next_offset
                && self.lost_range_at(stored.batch.end_offset())?.is_none()
            {
                return Err(self.corrupt(
                    base,
                    BatchError::Malformed(format!(
                        "the newest batch ends at offset {} but the log at {}",
                        stored.batch.end_offset(),
                        state.bounds.next_offset
                    )),
                ));
            }
        }
        Ok(())
    }

    /// Checks every stored batch of the log against its checksum and the log's state, counting
    /// the batches that start-up would index as part of the log.
    pub fn verify(&self) -> Result<TopicReport, StoreError> {
        let state = self.state()?;
        let mut report = TopicReport {
            name: self.name.clone(),
            bounds: state.bounds,
            batches: 0,
            events: 0,
            damage: Vec::new(),
        };
        let mut expected = state.bounds.first_offset;
        let note_gap = |report: &mut TopicReport, first: u64, end: u64| -> Result<(), StoreError> {
            if first < end {
                let lost = self.lost_range_at(first)?.is_some();
                report.damage.push(Damage {
                    first,
                    end,
                    what: if lost {
                        "lost to damaged data files (found at start-up)".into()
                    } else {
                        "missing from the data files".into()
                    },
                });
            }
            Ok(())
        };
        for stored in self.batches(state.bounds.first_offset, state.bounds.next_offset) {
            match stored {
                Ok(stored) => {
                    note_gap(&mut report, expected, stored.base)?;
                    report.batches += 1;
                    report.events += stored.batch.end_offset() - stored.base;
                    expected = stored.batch.end_offset();
                }
                Err(StoreError::Corrupt {
                    offset,
                    end,
                    source,
                    ..
                }) => {
                    note_gap(&mut report, expected, offset)?;
                    report.damage.push(Damage {
                        first: offset,
                        end,
                        what: format!("damaged record batch: {source}"),
                    });
                    expected = end.max(expected);
                }
                Err(error) => return Err(error),
            }
        }
        if expected > state.bounds.next_offset {
            report.damage.push(Damage {
                first: state.bounds.next_offset,
                end: expected,
                what: "stored events beyond the log's recorded end".into(),
            });
        }
        note_gap(&mut report, expected, state.bounds.next_offset)?;
        // Batches start-up would index count as the log's: they are as durable as the rest.
        self.for_each_unindexed(&state, |location, _, batch| {
            report.batches += 1;
            report.events += batch.end_offset() - batch.base_offset();
            report.bounds.next_offset = batch.end_offset();
            report.bounds.size_bytes += u64::from(location.len);
            Ok(())
        })?;
        Ok(report)
    }

    /// The offset of the first retained event appended at or after `time`; `None` if there is
    /// none yet.
    pub fn offset_at_time(&self, time: Timestamp) -> Result<Option<u64>, StoreError> {
        let from = timed_key(TIME_PREFIX, time, 0).to_vec();
        let end = vec![TIME_PREFIX + 1];
        match self.tree.range(from..end).next() {
            Some(entry) => Ok(decode_key_u64(&entry?.0, 9)),
            // The newest batch may be readable before its time-index entry is written.
            None => Ok(self
                .lock_newest()
                .as_ref()
                .filter(|newest| newest.append_time() >= time)
                .map(RecordBatch::base_offset)),
        }
    }

    /// The offset below which retention removes events, as of `now`: the largest offset that
    /// every configured limit allows. Equals `state.bounds.first_offset` when nothing is due.
    pub fn retention_point(&self, state: &LogState, now: Timestamp) -> Result<u64, StoreError> {
        let config = &self.meta.config;
        let bounds = &state.bounds;
        let mut point = bounds.first_offset;
        if let Some(limit) = config.retention_events {
            point = point.max(bounds.next_offset.saturating_sub(limit));
        }
        if let Some(age) = config.retention_age.filter(|age| !age.is_zero()) {
            let keep_from = self
                .offset_at_time(now.saturating_sub(age))?
                .unwrap_or(bounds.next_offset);
            point = point.max(keep_from);
        }
        if let Some(limit) = config.retention_bytes {
            let mut size = bounds.size_bytes;
            for stored in self.batches(0, bounds.next_offset) {
                if size <= limit {
                    break;
                }
                let stored = stored?;
                size = size.saturating_sub(stored.stored_len);
                point = point.max(stored.batch.end_offset());
            }
        }
        Ok(point.min(bounds.next_offset))
    }

    /// Removes every event below `new_first` atomically; returns the new state.
    ///
    /// Whole batches below it are deleted; a batch straddling it is rewritten to start there, so
    /// retention is exact to the event.
    pub fn trim(&self, state: LogState, new_first: u64) -> Result<LogState, StoreError> {
        let mut new_state = state;
        if new_first <= state.bounds.first_offset {
            return Ok(new_state);
        }
        let mut batch = sled::Batch::default();
        for (first, end) in self.lost_ranges()? {
            if first < new_first {
                batch.remove(&lost_key(first)[..]);
                if end > new_first {
                    batch.insert(&lost_key(new_first)[..], &end.to_be_bytes()[..]);
                }
            }
        }
        for stored in self.batches(0, new_first) {
            let stored = match stored {
                Ok(stored) => stored,
                // A damaged batch wholly below the new start is removed unread.
                Err(StoreError::Corrupt { offset, end, .. }) if end <= new_first => {
                    // Its index entry may be what is damaged: then no size is known to subtract.
                    let stored_len = self
                        .location(offset)
                        .ok()
                        .flatten()
                        .map_or(0, |location| u64::from(location.len));
                    new_state.bounds.size_bytes =
                        new_state.bounds.size_bytes.saturating_sub(stored_len);
                    batch.remove(&batch_key(offset)[..]);
                    continue;
                }
                Err(error) => return Err(error),
            };
            let (base, time) = (stored.base, stored.batch.append_time());
            let keys_key = offset_key(BATCH_KEYS_PREFIX, base);
            if self.tree.get(keys_key)?.is_some_and(|keys| keys.is_empty()) {
                // The batch's keys outlive it, and can no longer be read from it.
                batch.insert(&keys_key[..], encode_entries(&self.keys_of(&stored)?));
            }
            batch.remove(&batch_key(base)[..]);
            batch.remove(&timed_key(TIME_PREFIX, time, base)[..]);
            new_state.bounds.size_bytes = new_state
                .bounds
                .size_bytes
                .saturating_sub(stored.stored_len);
            let events = stored
                .batch
                .encoded_from(base)
                .map_err(|source| self.corrupt(base, source))?;
            let (removed, kept) = events.split_at(events.partition_point(|e| e.offset < new_first));
            for event in removed {
                let key = event
                    .filter_fields()
                    .map_err(|source| self.corrupt(base, source))?
                    .key;
                if !key.is_empty() {
                    batch.remove(key_index_key(key, event.offset));
                }
            }
            if !kept.is_empty() {
                let rewritten = RecordBatch::encode_encoded(new_first, time, kept);
                new_state.bounds.size_bytes += rewritten.bytes.len() as u64;
                let location = self.segments.append(&rewritten.bytes)?;
                batch.insert(&batch_key(new_first)[..], &location.encode()[..]);
                batch.insert(&timed_key(TIME_PREFIX, time, new_first)[..], &[][..]);
                self.reindex_keys(&mut batch, new_first, &rewritten, kept)?;
            }
        }
        new_state.bounds.first_offset = new_first;
        batch.insert(STATE_KEY, &new_state.encode()[..]);
        self.tree.apply_batch(batch)?;
        self.lock_newest()
            .take_if(|newest| newest.base_offset() < new_first);
        self.mark_unused_segments()?;
        Ok(new_state)
    }

    /// Lets the store's next sync remove the segment files no indexed batch lies in.
    pub(super) fn mark_unused_segments(&self) -> Result<(), StoreError> {
        self.segments.mark_unused(self.oldest_segment_in_use()?);
        Ok(())
    }

    /// The oldest segment file an indexed batch lies in. Batches are appended in offset order,
    /// except the one a trim rewrites, which then comes first: so only the first two count.
    fn oldest_segment_in_use(&self) -> Result<Option<u64>, StoreError> {
        let mut oldest = None;
        for entry in self
            .tree
            .range(batch_key(0)..batch_key(u64::MAX))
            .values()
            .take(2)
        {
            if let Some(location) = Location::decode(&entry?) {
                oldest =
                    Some(oldest.map_or(location.segment, |old: u64| old.min(location.segment)));
            }
        }
        Ok(oldest)
    }

    /// Points the key-index entries of `events`, now stored as `encoded` under `base`, there.
    fn reindex_keys(
        &self,
        batch: &mut sled::Batch,
        base: u64,
        encoded: &EncodedBatch,
        events: &[EncodedEvent],
    ) -> Result<(), StoreError> {
        for (index, event) in events.iter().enumerate() {
            let key = event
                .filter_fields()
                .map_err(|source| self.corrupt(base, source))?
                .key;
            if key.is_empty() {
                continue;
            }
            if let Some(version) = self.key_version_at(key, event.offset)? {
                let entry = KeyIndexEntry::new(version, base, encoded, index);
                batch.insert(key_index_key(key, event.offset), &entry.encode()[..]);
            }
        }
        Ok(())
    }

    /// Forgets idempotency keys of batches appended before `cutoff`, a generation at a time;
    /// returns how many.
    pub fn expire_dedup(&self, cutoff: Timestamp) -> Result<usize, StoreError> {
        let expired = self.lock_dedup().expire(cutoff);
        if let Some(end) = expired.unsealed_below {
            self.remove_batch_keys_below(end)?;
        }
        Ok(expired.keys)
    }

    /// Writes the idempotency keys of full in-memory generations to their files, which then
    /// replace those keys' index entries. May run while the writer appends.
    pub fn seal_dedup(&self) -> Result<(), StoreError> {
        let _sealing = self
            .sealing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A key file must not outlive the events it points at: with appends not fsynced one by
        // one, they are fsynced first.
        self.segments.sync_appended()?;
        loop {
            // Not held while the file is written: lookups go on meanwhile.
            let job = self.lock_dedup().oldest_full();
            let Some(job) = job else {
                return Ok(());
            };
            let file = job.run()?;
            let end = self.lock_dedup().sealed(file);
            self.remove_batch_keys_below(end)?;
        }
    }

    fn remove_batch_keys_below(&self, end: u64) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for key in self
            .tree
            .range(offset_key(BATCH_KEYS_PREFIX, 0)..offset_key(BATCH_KEYS_PREFIX, end))
            .keys()
        {
            batch.remove(key?);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

/// What [`TopicLog::verify`] found in one topic.
#[derive(Debug, Clone)]
pub struct TopicReport {
    /// The topic.
    pub name: TopicName,
    /// Its recorded range and size.
    pub bounds: LogBounds,
    /// Intact record batches.
    pub batches: u64,
    /// Events in intact batches.
    pub events: u64,
    /// Ranges that cannot be served, in offset order.
    pub damage: Vec<Damage>,
}

/// A range of offsets that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The first offset of the range.
    pub first: u64,
    /// Just past its last offset.
    pub end: u64,
    /// What is wrong, for people.
    pub what: String,
}

/// A record batch read back from its segment file.
struct StoredBatch {
    base: u64,
    stored_len: u64,
    batch: RecordBatch,
}

/// The log's state once a batch of `count` events, stored at `location`, appended at `time`,
/// follows `state`.
fn state_after(state: LogState, count: usize, location: Location, time: Timestamp) -> LogState {
    let mut after = state;
    after.bounds.next_offset += count as u64;
    after.bounds.size_bytes += u64::from(location.len);
    after.last_time = time;
    after
}

fn bad_location() -> BatchError {
    BatchError::Malformed("its index entry is not a location".into())
}

/// Iterator over stored batches, in offset order, read through the index.
struct StoredBatches<'a> {
    log: &'a TopicLog,
    index: sled::Iter,
}

impl StoredBatches<'_> {
    fn read(&self, key: &[u8], value: &[u8]) -> Result<StoredBatch, StoreError> {
        let base = decode_key_u64(key, 1).unwrap_or(u64::MAX);
        let location =
            Location::decode(value).ok_or_else(|| self.log.corrupt(base, bad_location()))?;
        let bytes = self
            .log
            .segments
            .read(location, 0, location.len as usize)
            .map_err(|error| match error {
                ReadError::Store(error) => error,
                other => self
                    .log
                    .corrupt(base, BatchError::Malformed(other.to_string())),
            })?;
        let batch = RecordBatch::decode(bytes).map_err(|source| self.log.corrupt(base, source))?;
        if batch.base_offset() != base {
            let wrong = BatchError::Malformed(format!(
                "batch stored under offset {base} starts at {}",
                batch.base_offset()
            ));
            return Err(self.log.corrupt(base, wrong));
        }
        Ok(StoredBatch {
            base,
            stored_len: location.len.into(),
            batch,
        })
    }
}

impl Iterator for StoredBatches<'_> {
    type Item = Result<StoredBatch, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.index.next()? {
            Ok((key, value)) => self.read(&key, &value),
            Err(error) => Err(error.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Store, StoreOptions};
    use super::*;

    fn keyed(offset: u64) -> Event {
        Event {
            id: Uuid::now_v7().to_string(),
            topic: "t".into(),
            offset,
            event_type: "T".into(),
            idempotency_key: format!("key-{offset}"),
            ..Event::default()
        }
    }

    /// An append that reached its segment file but could not be indexed stops the log: the
    /// next append would be given the same offsets, and after a crash start-up would index the
    /// failed batch in place of the acknowledged one.
    #[test]
    fn an_append_that_cannot_be_indexed_refuses_every_later_append() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, log) = topic_t(&dir, StoreOptions::default());
        let state = log.state().unwrap();
        // Indexing derives the key's entry from the event's id, which must be a UUID.
        let unindexable = [Event {
            id: "not-a-uuid".into(),
            ..keyed(0)
        }];
        let append = |events| Append {
            events,
            time: Timestamp(10),
            cursors: &[],
            keys: None,
        };
        assert!(log.append(state, append(&unindexable)).is_err());
        assert!(matches!(
            log.append(state, append(&[keyed(0)])),
            Err(StoreError::Poisoned)
        ));
    }

    /// The newest batch is read from memory; a trim into it must remove the trimmed events
    /// from there too.
    #[test]
    fn a_trim_into_the_newest_batch_leaves_none_of_its_trimmed_events_readable() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, log) = topic_t(&dir, StoreOptions::default());
        let events = [keyed(0), keyed(1), keyed(2)];
        let append = Append {
            events: &events,
            time: Timestamp(10),
            cursors: &[],
            keys: None,
        };
        let state = log.append(log.state().unwrap(), append).unwrap();
        let offsets =
            |events: Vec<EncodedEvent>| events.iter().map(|e| e.offset).collect::<Vec<_>>();
        assert_eq!(offsets(log.read(1, 3, usize::MAX).unwrap()), [1, 2]);
        log.trim(state, 2).unwrap();
        assert!(matches!(
            log.read(1, 3, usize::MAX),
            Err(StoreError::Missing { offset: 1, .. })
        ));
        assert_eq!(offsets(log.read(2, 3, usize::MAX).unwrap()), [2]);
    }

    /// What a publisher is told once its events are readable, before they are indexed, a
    /// reader must already find: by offset and by time.
    #[test]
    fn events_readable_before_their_index_entries_are_found_by_offset_and_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, log) = topic_t(&dir, StoreOptions::default());
        let first = [keyed(0)];
        let append = |events, time| Append {
            events,
            time: Timestamp(time),
            cursors: &[],
            keys: None,
        };
        let state = log
            .append(log.state().unwrap(), append(&first, 10))
            .unwrap();
        let second = [keyed(1), keyed(2)];
        let mut seen = None;
        log.append_then(state, append(&second, 20), |readable| {
            let events = log
                .read(0, readable.bounds.next_offset, usize::MAX)
                .unwrap();
            let mut offsets: Vec<u64> = events.iter().map(|e| e.offset).collect();
            let rest = log.read(offsets.len() as u64, 3, usize::MAX).unwrap();
            offsets.extend(rest.iter().map(|e| e.offset));
            seen = Some((offsets, log.offset_at_time(Timestamp(15)).unwrap()));
        })
        .unwrap();
        assert_eq!(seen, Some((vec![0, 1, 2], Some(1))));
        assert_eq!(log.offset_at_time(Timestamp(15)).unwrap(), Some(1));
    }

    /// A store in `dir` opened with `options`, and its new topic "t".
    fn topic_t(dir: &tempfile::TempDir, options: StoreOptions) -> (Store, TopicLog) {
        let store = Store::open(dir.path(), options).unwrap();
        let log = store
            .create_topic(TopicName::new("t").unwrap(), test_meta())
            .unwrap();
        (store, log)
    }

    fn test_meta() -> TopicMeta {
        TopicMeta {
            config: TopicConfig {
                retention_age: None,
                retention_events: None,
                retention_bytes: None,
                dedup_window: std::time::Duration::from_secs(60),
            },
            create_time: Timestamp(1),
        }
    }

    /// With appends not fsynced one by one, a key file must not reach the disk before the
    /// events its keys point at: after a power cut the key would answer for an event that is
    /// gone, and its offset would be reused.
    #[test]
    fn sealing_keys_first_fsyncs_the_events_they_point_at() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            sync_appends: false,
            dedup_generation_keys: 2,
            ..StoreOptions::default()
        };
        let (_store, log) = topic_t(&dir, options);
        let mut state = log.state().unwrap();
        for offset in 0..4 {
            let events = [keyed(offset)];
            let append = Append {
                events: &events,
                time: Timestamp(10 + offset),
                cursors: &[],
                keys: None,
            };
            state = log.append(state, append).unwrap();
        }
        assert!(log.segments().has_unsynced());
        log.seal_dedup().unwrap();
        let key_files = std::fs::read_dir(log.segments().dir())
            .unwrap()
            .filter(|entry| {
                let path = entry.as_ref().unwrap().path();
                path.extension()
                    .is_some_and(|extension| extension == "dedup")
            })
            .count();
        assert_eq!(key_files, 2);
        assert!(!log.segments().has_unsynced());
    }
}
