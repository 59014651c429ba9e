//! The idempotency keys a topic remembers, for as long as its dedup window.
//!
//! Keys arrive in time order and lapse in time order, so they are kept in generations rather
//! than in one table every key is inserted into at random (in sled, that insert was most of the
//! cost of a keyed publish):
//! - the newest keys are in memory, in a hash table; start-up fills it again from the batches
//!   that an index entry in the topic's sled tree marks as holding keys (see `topic_log`), or from
//!   that entry itself once retention removed the batch;
//! - a generation that reaches its size is sealed into an immutable file of entries sorted by key
//!   hash, in checksummed blocks. Memory keeps only its Bloom filter and each block's first hash,
//!   plus a Bloom filter over each group of 8 sealed generations, so that a key remembered by
//!   none (the usual case) costs a lookup one cache line per group rather than per file. A sealed
//!   key costs about 3 bytes of memory.
//!
//! A lookup asks the newest generation first. Expiry deletes whole generations once their newest
//! key has lapsed; until then lookups ignore keys older than the window.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Buf, BufMut};
use uuid::Uuid;

use super::durability::sync_dir;
use super::{StoreError, io_error};
use crate::model::{Timestamp, TopicName};

/// A 128-bit hash of an idempotency key: what the index stores instead of the key. Two keys of a
/// topic's window sharing one is a 2^-128-scale accident.
pub type KeyHash = u128;

/// The stored hash of `idempotency_key` (XXH3, a specified hash, so stored hashes stay valid).
pub fn key_hash(idempotency_key: &str) -> KeyHash {
    xxhash_rust::xxh3::xxh3_128(idempotency_key.as_bytes())
}

/// Where an event with an idempotency key went, and what it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupEntry {
    /// The event's offset.
    pub offset: u64,
    /// The event's append time.
    pub time: Timestamp,
    /// The event's id.
    pub id: Uuid,
    /// [`fingerprint`](super::fingerprint) of the event's type and payload, to tell a retry from
    /// a reused key.
    pub fingerprint: u64,
}

/// A key's hash and entry, as stored: in a batch's index entry and in generation files.
const STORED_ENTRY_LEN: usize = 16 + 8 + 8 + 16 + 8;

fn put_entry(out: &mut Vec<u8>, hash: KeyHash, entry: &DedupEntry) {
    out.put_u128_le(hash);
    out.put_u64_le(entry.offset);
    out.put_u64_le(entry.time.as_nanos());
    out.put_slice(entry.id.as_bytes());
    out.put_u64_le(entry.fingerprint);
}

fn get_entry(mut bytes: &[u8]) -> (KeyHash, DedupEntry) {
    let hash = bytes.get_u128_le();
    let offset = bytes.get_u64_le();
    let time = Timestamp(bytes.get_u64_le());
    let mut id = [0; 16];
    bytes.copy_to_slice(&mut id);
    let entry = DedupEntry {
        offset,
        time,
        id: Uuid::from_bytes(id),
        fingerprint: bytes.get_u64_le(),
    };
    (hash, entry)
}

/// Encodes one batch's keyed entries for its index entry.
pub fn encode_entries(entries: &[(KeyHash, DedupEntry)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * STORED_ENTRY_LEN);
    for (hash, entry) in entries {
        put_entry(&mut out, *hash, entry);
    }
    out
}

/// Decodes what [`encode_entries`] wrote; `None` if it is not a whole number of entries.
pub fn decode_entries(bytes: &[u8]) -> Option<Vec<(KeyHash, DedupEntry)>> {
    if !bytes.len().is_multiple_of(STORED_ENTRY_LEN) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(STORED_ENTRY_LEN)
            .map(get_entry)
            .collect(),
    )
}

/// Hashes a [`KeyHash`] by taking its low bits: it is uniform already.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

/// A map keyed by idempotency key hashes, which need no hashing again.
pub type KeyHashMap<V> = HashMap<KeyHash, V, BuildHasherDefault<PassThrough>>;

type Table = KeyHashMap<DedupEntry>;

/// Keys held in memory.
#[derive(Default)]
struct MemGeneration {
    entries: Table,
    /// Just past the newest keyed offset: every batch below it that has keys is in this
    /// generation or an older one.
    end: u64,
    /// Append time of the newest key.
    newest: Timestamp,
}

impl MemGeneration {
    fn starting_at(end: u64) -> Self {
        Self {
            end,
            ..Self::default()
        }
    }
}

/// A Bloom filter over key hashes, 10 bits and 7 probes per key, in 64-byte blocks: all of a
/// key's bits lie in one block, so a lookup touches one cache line. About 1 % false positives.
struct Bloom {
    blocks: Vec<[u64; 8]>,
}

impl Bloom {
    const BITS_PER_KEY: usize = 10;
    const PROBES: u32 = 7;

    fn with_capacity(keys: usize) -> Self {
        let blocks = (keys * Self::BITS_PER_KEY).div_ceil(512).max(1);
        Self {
            blocks: vec![[0; 8]; blocks],
        }
    }

    /// The block of `hash`, chosen by its low half, and its bits there (9 bits each from the
    /// high half).
    fn locate(&self, hash: KeyHash) -> (usize, impl Iterator<Item = usize> + use<>) {
        let block = (hash as u64 % self.blocks.len() as u64) as usize;
        let high = (hash >> 64) as u64;
        let bits = (0..Self::PROBES).map(move |probe| ((high >> (probe * 9)) & 511) as usize);
        (block, bits)
    }

    fn insert(&mut self, hash: KeyHash) {
        let (block, bits) = self.locate(hash);
        let block = &mut self.blocks[block];
        for bit in bits {
            block[bit / 64] |= 1 << (bit % 64);
        }
    }

    fn may_contain(&self, hash: KeyHash) -> bool {
        let (block, mut bits) = self.locate(hash);
        let block = &self.blocks[block];
        bits.all(|bit| block[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

const FILE_MAGIC: &[u8; 8] = b"ESDEDUP1";
const FILE_EXTENSION: &str = "dedup";
/// What a key file that failed its checks at start-up is renamed to.
const DAMAGED_EXTENSION: &str = "damaged";

/// The sequence number in a key file's name.
fn sequence_of(path: &Path) -> Option<u64> {
    path.file_stem()?.to_str()?.parse().ok()
}
/// Magic, key count, end, newest time, CRC32C of those.
const HEADER_LEN: usize = 8 + 8 + 8 + 8 + 4;
/// Entries per checksummed block: one read of about 3.5 KiB per lookup that passes the filter.
const BLOCK_ENTRIES: usize = 64;
const BLOCK_LEN: usize = BLOCK_ENTRIES * STORED_ENTRY_LEN + 4;

/// Keys in a sealed, immutable file.
///
/// Its file is opened only for a lookup that passes the filter (rare: a retry, or a 1 % false
/// positive), so a long window's many files hold no descriptors.
struct SealedGeneration {
    path: PathBuf,
    keys: usize,
    end: u64,
    newest: Timestamp,
    bloom: Bloom,
    /// The first hash of each block.
    block_starts: Vec<KeyHash>,
}

impl SealedGeneration {
    fn file_name(sequence: u64) -> String {
        format!("{sequence:020}.{FILE_EXTENSION}")
    }

    /// Writes `generation` durably into a new file in `dir`, the `sequence`-th sealed there.
    fn write(dir: &Path, sequence: u64, generation: &MemGeneration) -> Result<Self, StoreError> {
        let mut sorted: Vec<(KeyHash, DedupEntry)> = generation
            .entries
            .iter()
            .map(|(hash, entry)| (*hash, *entry))
            .collect();
        sorted.sort_unstable_by_key(|(hash, _)| *hash);
        let mut bytes =
            Vec::with_capacity(HEADER_LEN + sorted.len().div_ceil(BLOCK_ENTRIES) * BLOCK_LEN);
        bytes.put_slice(FILE_MAGIC);
        bytes.put_u64_le(sorted.len() as u64);
        bytes.put_u64_le(generation.end);
        bytes.put_u64_le(generation.newest.as_nanos());
        bytes.put_u32_le(crc32c::crc32c(&bytes));
        let mut bloom = Bloom::with_capacity(sorted.len());
        let mut block_starts = Vec::with_capacity(sorted.len().div_ceil(BLOCK_ENTRIES));
        for block in sorted.chunks(BLOCK_ENTRIES) {
            let start = bytes.len();
            block_starts.push(block[0].0);
            for (hash, entry) in block {
                bloom.insert(*hash);
                put_entry(&mut bytes, *hash, entry);
            }
            let crc = crc32c::crc32c(&bytes[start..]);
            bytes.put_u32_le(crc);
        }
        let path = dir.join(Self::file_name(sequence));
        let temporary = path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)
            .map_err(io_error(format!("creating {}", temporary.display())))?;
        if let Err(error) = file.write_all(&bytes).and_then(|()| file.sync_all()) {
            // Its keys are still in memory and in the index; the next sealing starts afresh.
            let _ = std::fs::remove_file(&temporary);
            return Err(io_error(format!("writing {}", temporary.display()))(error));
        }
        std::fs::rename(&temporary, &path)
            .map_err(io_error(format!("renaming {}", temporary.display())))?;
        sync_dir(dir)?;
        Ok(Self {
            path,
            keys: sorted.len(),
            end: generation.end,
            newest: generation.newest,
            bloom,
            block_starts,
        })
    }

    /// Reads the file at `path`, with the hashes it holds; `Ok(None)` if it fails its checks.
    fn read(path: PathBuf) -> Result<Option<(Self, Vec<KeyHash>)>, StoreError> {
        let bytes =
            std::fs::read(&path).map_err(io_error(format!("reading {}", path.display())))?;
        if bytes.len() < HEADER_LEN
            || &bytes[..8] != FILE_MAGIC
            || crc32c::crc32c(&bytes[..HEADER_LEN - 4])
                != (&bytes[HEADER_LEN - 4..HEADER_LEN]).get_u32_le()
        {
            return Ok(None);
        }
        let mut header = &bytes[8..];
        let keys = usize::try_from(header.get_u64_le()).unwrap_or(usize::MAX);
        let end = header.get_u64_le();
        let newest = Timestamp(header.get_u64_le());
        let body = &bytes[HEADER_LEN..];
        // Checked: a count no file could hold must not overflow into a plausible length.
        let expected_len = keys
            .checked_mul(STORED_ENTRY_LEN)
            .and_then(|entries| entries.checked_add(keys.div_ceil(BLOCK_ENTRIES) * 4));
        if expected_len != Some(body.len()) {
            return Ok(None);
        }
        let mut bloom = Bloom::with_capacity(keys);
        let mut block_starts = Vec::with_capacity(keys.div_ceil(BLOCK_ENTRIES));
        let mut hashes = Vec::with_capacity(keys);
        for block in body.chunks(BLOCK_LEN) {
            let Some(entries) = checked_block(block) else {
                return Ok(None);
            };
            block_starts.push(get_entry(entries).0);
            for entry in entries.chunks_exact(STORED_ENTRY_LEN) {
                let hash = get_entry(entry).0;
                bloom.insert(hash);
                hashes.push(hash);
            }
        }
        let generation = Self {
            path,
            keys,
            end,
            newest,
            bloom,
            block_starts,
        };
        Ok(Some((generation, hashes)))
    }

    fn get(&self, hash: KeyHash) -> Result<Option<DedupEntry>, StoreError> {
        if !self.bloom.may_contain(hash) {
            return Ok(None);
        }
        let Some(block) = self
            .block_starts
            .partition_point(|start| *start <= hash)
            .checked_sub(1)
        else {
            return Ok(None);
        };
        let in_block = (self.keys - block * BLOCK_ENTRIES).min(BLOCK_ENTRIES);
        let mut bytes = vec![0; in_block * STORED_ENTRY_LEN + 4];
        let position = (HEADER_LEN + block * BLOCK_LEN) as u64;
        File::open(&self.path)
            .and_then(|file| file.read_exact_at(&mut bytes, position))
            .map_err(io_error(format!("reading {}", self.path.display())))?;
        let entries = checked_block(&bytes).ok_or_else(|| StoreError::DamagedKeyFile {
            path: self.path.clone(),
        })?;
        Ok(entries
            .chunks_exact(STORED_ENTRY_LEN)
            .map(get_entry)
            .find(|(stored, _)| *stored == hash)
            .map(|(_, entry)| entry))
    }
}

/// A block's entries, if its checksum holds.
fn checked_block(block: &[u8]) -> Option<&[u8]> {
    let (entries, mut crc) = block.split_at_checked(block.len().checked_sub(4)?)?;
    (!entries.is_empty() && crc32c::crc32c(entries) == crc.get_u32_le()).then_some(entries)
}

/// Consecutive sealed generations under one group filter.
const GROUP_GENERATIONS: usize = 8;

/// Up to [`GROUP_GENERATIONS`] sealed generations and a Bloom filter over all their keys. Expiry
/// leaves its keys in the filter, which only costs a look at the generations' own filters.
struct SealedGroup {
    filter: Bloom,
    /// Oldest first.
    generations: VecDeque<SealedGeneration>,
}

/// Full in-memory generations beyond which an append seals them itself rather than leaving them
/// to the topic's next maintenance.
const MAX_UNSEALED: usize = 4;

/// One topic's idempotency keys; see the module documentation.
pub struct DedupIndex {
    dir: PathBuf,
    generation_keys: usize,
    newest: MemGeneration,
    /// Full generations not sealed yet, oldest first.
    full: VecDeque<Arc<MemGeneration>>,
    /// Oldest first.
    sealed: VecDeque<SealedGroup>,
    /// The sequence number of the next file: names are never reused, as a generation filled
    /// again after a crash may end where a sealed one does.
    next_sequence: u64,
}

/// What [`DedupIndex::expire`] dropped.
#[derive(Debug, Default)]
pub struct Expired {
    /// How many keys.
    pub keys: usize,
    /// The keys of batches below this offset are gone from memory (so their index entries
    /// can go too).
    pub unsealed_below: Option<u64>,
}

impl DedupIndex {
    /// Opens the sealed generations in `dir`; `generation_keys` is the size at which the newest
    /// one is sealed. Damaged files are skipped, their keys forgotten, with an error logged.
    pub fn open(dir: &Path, topic: &TopicName, generation_keys: usize) -> Result<Self, StoreError> {
        let mut paths = Vec::new();
        let mut next_sequence = 0;
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                for entry in entries {
                    let path = entry
                        .map_err(io_error(format!("listing {}", dir.display())))?
                        .path();
                    let extension = path.extension().and_then(|extension| extension.to_str());
                    if matches!(extension, Some(FILE_EXTENSION | DAMAGED_EXTENSION)) {
                        next_sequence = next_sequence.max(sequence_of(&path).map_or(0, |n| n + 1));
                    }
                    match extension {
                        Some(FILE_EXTENSION) => paths.push(path),
                        // A sealing cut short by a crash; its keys are still in the index.
                        Some("tmp") => std::fs::remove_file(&path)
                            .map_err(io_error(format!("removing {}", path.display())))?,
                        _ => {}
                    }
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error(format!("listing {}", dir.display()))(error)),
        }
        paths.sort();
        let mut index = Self {
            dir: dir.to_path_buf(),
            generation_keys: generation_keys.max(1),
            newest: MemGeneration::default(),
            full: VecDeque::new(),
            sealed: VecDeque::new(),
            next_sequence,
        };
        for path in paths {
            match SealedGeneration::read(path.clone())? {
                Some((generation, hashes)) => index.push_sealed(generation, hashes.into_iter()),
                None => {
                    // Kept for inspection, under a name no later start-up loads.
                    let kept = path.with_extension(DAMAGED_EXTENSION);
                    std::fs::rename(&path, &kept)
                        .map_err(io_error(format!("renaming {}", path.display())))?;
                    tracing::error!(
                        %topic,
                        path = %kept.display(),
                        "an idempotency key file is damaged; its keys are forgotten, so retries \
                         of those events would be appended again"
                    );
                }
            }
        }
        index.newest.end = index.sealed_end();
        Ok(index)
    }

    fn sealed_generations(&self) -> impl Iterator<Item = &SealedGeneration> {
        self.sealed.iter().flat_map(|group| &group.generations)
    }

    fn push_sealed(&mut self, generation: SealedGeneration, hashes: impl Iterator<Item = KeyHash>) {
        if self
            .sealed
            .back()
            .is_none_or(|group| group.generations.len() >= GROUP_GENERATIONS)
        {
            self.sealed.push_back(SealedGroup {
                filter: Bloom::with_capacity(GROUP_GENERATIONS * self.generation_keys),
                generations: VecDeque::with_capacity(GROUP_GENERATIONS),
            });
        }
        if let Some(group) = self.sealed.back_mut() {
            for hash in hashes {
                group.filter.insert(hash);
            }
            group.generations.push_back(generation);
        }
    }

    /// Just past the newest sealed key: the keys of batches from here on are the index
    /// entries' to restore.
    pub fn sealed_end(&self) -> u64 {
        self.sealed_generations()
            .map(|generation| generation.end)
            .max()
            .unwrap_or(0)
    }

    /// Remembers one batch's keyed events; returns whether they filled a generation with enough
    /// others waiting that the caller should seal them now (so a sealing that fails is retried
    /// once per generation, not per append).
    pub fn add(&mut self, entries: &[(KeyHash, DedupEntry)]) -> bool {
        for (hash, entry) in entries {
            self.newest.entries.insert(*hash, *entry);
            self.newest.end = self.newest.end.max(entry.offset + 1);
            self.newest.newest = self.newest.newest.max(entry.time);
        }
        if self.newest.entries.len() >= self.generation_keys {
            let next = MemGeneration::starting_at(self.newest.end);
            self.full
                .push_back(Arc::new(std::mem::replace(&mut self.newest, next)));
            return self.full.len() >= MAX_UNSEALED;
        }
        false
    }

    /// The entry of each key in `hashes`, unless it is older than `since` or forgotten.
    ///
    /// The keys are looked up together, one generation (or group filter) after another: a miss
    /// in a large table is a cache miss, and the misses of many keys overlap when no lookup waits
    /// for the one before.
    pub fn get_many(
        &self,
        hashes: &[KeyHash],
        since: Timestamp,
    ) -> Result<Vec<Option<DedupEntry>>, StoreError> {
        let mut found = vec![None; hashes.len()];
        // The keys no generation has decided yet, by index into `hashes`.
        let mut pending: Vec<usize> = (0..hashes.len()).collect();
        let mut decided = vec![false; hashes.len()];
        let in_memory = std::iter::once(&self.newest).chain(self.full.iter().rev().map(|g| &**g));
        for generation in in_memory.filter(|generation| generation.newest >= since) {
            pending.retain(|&key| match generation.entries.get(&hashes[key]) {
                Some(entry) => {
                    found[key] = Some(*entry).filter(|entry| entry.time >= since);
                    false
                }
                None => true,
            });
        }
        for group in self.sealed.iter().rev() {
            if pending.is_empty() {
                break;
            }
            let candidates: Vec<usize> = pending
                .iter()
                .copied()
                .filter(|&key| group.filter.may_contain(hashes[key]))
                .collect();
            for key in candidates {
                for generation in group.generations.iter().rev() {
                    if generation.newest < since {
                        continue;
                    }
                    if let Some(entry) = generation.get(hashes[key])? {
                        found[key] = Some(entry).filter(|entry| entry.time >= since);
                        decided[key] = true;
                        break;
                    }
                }
            }
            pending.retain(|&key| !decided[key]);
        }
        Ok(found)
    }

    /// The oldest full generation, to write to its file with [`SealingJob::run`] without
    /// holding the index.
    pub fn oldest_full(&mut self) -> Option<SealingJob> {
        let generation = Arc::clone(self.full.front()?);
        self.next_sequence += 1;
        Some(SealingJob {
            dir: self.dir.clone(),
            sequence: self.next_sequence - 1,
            generation,
        })
    }

    /// Replaces the generation a [`SealingJob`] sealed with its file; returns the end of the
    /// batches whose keys are now in files only.
    pub fn sealed(&mut self, sealed: SealedFile) -> u64 {
        if self
            .full
            .front()
            .is_some_and(|generation| Arc::ptr_eq(generation, &sealed.generation))
        {
            self.full.pop_front();
            self.push_sealed(sealed.file, sealed.generation.entries.keys().copied());
        } else if let Err(error) = std::fs::remove_file(&sealed.file.path) {
            // Expired while it was written; were it left, the next start-up would load it (and
            // expire it again).
            tracing::warn!(path = %sealed.file.path.display(), %error, "removing a key file failed");
        }
        self.sealed_end()
    }

    /// Forgets the generations whose newest key is older than `cutoff`; returns what went. Their
    /// files are deleted; a crash may bring one back, which lookups then ignore by its age.
    pub fn expire(&mut self, cutoff: Timestamp) -> Expired {
        let mut expired = Expired::default();
        while let Some(group) = self.sealed.front_mut() {
            let Some(generation) = group.generations.front().filter(|g| g.newest < cutoff) else {
                break;
            };
            let path = generation.path.clone();
            expired.keys += generation.keys;
            group.generations.pop_front();
            if group.generations.is_empty() {
                self.sealed.pop_front();
            }
            match std::fs::remove_file(&path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    // Only space is lost: the next start-up loads it and expires it again.
                    tracing::warn!(path = %path.display(), %error, "removing an expired key file failed");
                }
                _ => {}
            }
        }
        while let Some(generation) = self.full.front().filter(|g| g.newest < cutoff) {
            expired.keys += generation.entries.len();
            expired.unsealed_below = Some(generation.end);
            self.full.pop_front();
        }
        if !self.newest.entries.is_empty() && self.newest.newest < cutoff {
            expired.keys += self.newest.entries.len();
            expired.unsealed_below = Some(self.newest.end);
            self.newest = MemGeneration::starting_at(self.newest.end);
        }
        expired
    }
}

/// A full generation to write to its file, taken from the index by [`DedupIndex::oldest_full`].
pub struct SealingJob {
    dir: PathBuf,
    sequence: u64,
    generation: Arc<MemGeneration>,
}

/// A generation written to its file, for [`DedupIndex::sealed`].
pub struct SealedFile {
    generation: Arc<MemGeneration>,
    file: SealedGeneration,
}

impl SealingJob {
    /// Writes the generation's file durably.
    pub fn run(self) -> Result<SealedFile, StoreError> {
        let file = SealedGeneration::write(&self.dir, self.sequence, &self.generation)?;
        Ok(SealedFile {
            generation: self.generation,
            file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(offset: u64, time: u64) -> (KeyHash, DedupEntry) {
        (
            key_hash(&format!("key-{offset}")),
            DedupEntry {
                offset,
                time: Timestamp(time),
                id: Uuid::now_v7(),
                fingerprint: offset * 7,
            },
        )
    }

    impl DedupIndex {
        fn get(&self, hash: KeyHash, since: Timestamp) -> Result<Option<DedupEntry>, StoreError> {
            Ok(self.get_many(&[hash], since)?[0])
        }
    }

    fn seal_all(index: &mut DedupIndex) {
        while let Some(job) = index.oldest_full() {
            let file = job.run().expect("seal");
            index.sealed(file);
        }
    }

    #[test]
    fn entries_encode_and_decode() {
        let entries = vec![entry(1, 10), entry(2, 10)];
        assert_eq!(decode_entries(&encode_entries(&entries)), Some(entries));
        assert_eq!(decode_entries(&[0; 5]), None);
    }

    #[test]
    fn sealed_keys_are_found_in_their_files_and_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let topic = TopicName::new("t").unwrap();
        let mut index = DedupIndex::open(dir.path(), &topic, 10).unwrap();
        let entries: Vec<_> = (0..450)
            .map(|offset| entry(offset, 1_000 + offset))
            .collect();
        for batch in entries.chunks(10) {
            index.add(batch);
        }
        assert_eq!(index.full.len(), 45, "generations of 10 keys");
        seal_all(&mut index);
        assert_eq!(index.sealed_end(), 450);
        assert_eq!(index.sealed.len(), 6, "groups of 8 generations");
        for (hash, entry) in &entries {
            assert_eq!(index.get(*hash, Timestamp(0)).unwrap(), Some(*entry));
        }
        assert_eq!(index.get(key_hash("never"), Timestamp(0)).unwrap(), None);
        let mut hashes: Vec<KeyHash> = entries.iter().rev().map(|(hash, _)| *hash).collect();
        hashes.insert(7, key_hash("never"));
        let together = index.get_many(&hashes, Timestamp(0)).unwrap();
        let one_by_one: Vec<_> = hashes
            .iter()
            .map(|hash| index.get(*hash, Timestamp(0)).unwrap())
            .collect();
        assert_eq!(together, one_by_one);
        let mut reopened = DedupIndex::open(dir.path(), &topic, 10).unwrap();
        assert_eq!(reopened.sealed_end(), 450);
        // Sealing after a reopen writes new files beside the old ones.
        let more: Vec<_> = (450..460)
            .map(|offset| entry(offset, 1_000 + offset))
            .collect();
        reopened.add(&more);
        seal_all(&mut reopened);
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 46);
        let reopened = DedupIndex::open(dir.path(), &topic, 10).unwrap();
        assert_eq!(reopened.sealed_end(), 460);
        for (hash, entry) in entries.iter().chain(&more) {
            assert_eq!(reopened.get(*hash, Timestamp(0)).unwrap(), Some(*entry));
        }
        let expired = DedupIndex::open(dir.path(), &topic, 10)
            .unwrap()
            .expire(Timestamp(1_000 + 225));
        assert_eq!(
            expired.keys, 220,
            "whole generations whose newest key lapsed"
        );
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 46 - 22);
    }

    #[test]
    fn lookups_ignore_keys_older_than_the_window_and_expiry_deletes_whole_generations() {
        let dir = tempfile::tempdir().unwrap();
        let topic = TopicName::new("t").unwrap();
        let mut index = DedupIndex::open(dir.path(), &topic, 100).unwrap();
        let entries: Vec<_> = (0..250).map(|offset| entry(offset, offset)).collect();
        index.add(&entries[..100]);
        seal_all(&mut index);
        index.add(&entries[100..]);
        assert_eq!(index.get(entries[5].0, Timestamp(6)).unwrap(), None);
        assert_eq!(
            index.get(entries[6].0, Timestamp(6)).unwrap(),
            Some(entries[6].1)
        );
        let expired = index.expire(Timestamp(150));
        assert_eq!(expired.keys, 100);
        assert_eq!(expired.unsealed_below, None);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert_eq!(index.get(entries[6].0, Timestamp(0)).unwrap(), None);
        let expired = index.expire(Timestamp(1_000));
        assert_eq!((expired.keys, expired.unsealed_below), (150, Some(250)));
        assert_eq!(index.get(entries[249].0, Timestamp(0)).unwrap(), None);
    }

    #[test]
    fn a_damaged_block_is_refused_and_a_damaged_file_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let topic = TopicName::new("t").unwrap();
        let mut index = DedupIndex::open(dir.path(), &topic, 100).unwrap();
        let entries: Vec<_> = (0..100).map(|offset| entry(offset, offset)).collect();
        index.add(&entries);
        seal_all(&mut index);
        let path = dir.path().join(SealedGeneration::file_name(0));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER_LEN + 10] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let damaged_block = entries
            .iter()
            .map(|(hash, _)| index.get(*hash, Timestamp(0)))
            .find(Result::is_err);
        assert!(matches!(
            damaged_block,
            Some(Err(StoreError::DamagedKeyFile { .. }))
        ));
        let reopened = DedupIndex::open(dir.path(), &topic, 100).unwrap();
        assert_eq!(reopened.sealed_end(), 0);
        assert!(!path.exists());
        assert!(path.with_extension(DAMAGED_EXTENSION).exists());
        // Its number is not given to a new file.
        assert_eq!(reopened.next_sequence, 1);
        // A header claiming more keys than any file holds (checksum intact) is refused too.
        let mut header = Vec::new();
        header.put_slice(FILE_MAGIC);
        header.put_u64_le(u64::MAX);
        header.put_u64_le(100);
        header.put_u64_le(99);
        header.put_u32_le(crc32c::crc32c(&header));
        std::fs::write(dir.path().join(SealedGeneration::file_name(1)), header).unwrap();
        let reopened = DedupIndex::open(dir.path(), &topic, 100).unwrap();
        assert_eq!(reopened.sealed_end(), 0);
    }

    #[test]
    fn a_bloom_filter_finds_what_it_holds_and_rarely_more() {
        let mut bloom = Bloom::with_capacity(10_000);
        for n in 0..10_000 {
            bloom.insert(key_hash(&n.to_string()));
        }
        assert!((0..10_000).all(|n| bloom.may_contain(key_hash(&n.to_string()))));
        let false_positives = (10_000..20_000)
            .filter(|n| bloom.may_contain(key_hash(&n.to_string())))
            .count();
        assert!(
            false_positives < 300,
            "{false_positives} false positives in 10,000"
        );
    }
}
