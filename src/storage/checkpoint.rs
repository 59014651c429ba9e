//! The durable-ends checkpoint: each topic's end offset as of a recent sync, kept in a small file
//! beside sled's.
//!
//! sled recovers from a damaged file by cutting its log at the first bad message, silently
//! forgetting every later write, acknowledged or not. Its own files cannot tell us what was lost,
//! so after each successful sync (at most once per [`CHECKPOINT_INTERVAL`]) we record how far
//! every topic had durably got; at start-up an end below the recorded one is reported as lost
//! events instead of letting new events reuse their offsets.
//!
//! Format: `ESDE` magic, a version byte, a u32 count, then per topic a u16 name length, the name
//! and its u64 end offset, all little-endian, and a CRC32C of everything before it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut};

use super::StoreError;
use crate::model::TopicName;

/// The checkpoint file's name in the data directory.
pub const FILE_NAME: &str = "durable-ends";
/// Least time between checkpoints: each costs two fsyncs, so it stays off most syncs.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

const MAGIC: &[u8; 4] = b"ESDE";
const VERSION: u8 = 1;

/// Each topic's durable end offset.
pub type DurableEnds = BTreeMap<TopicName, u64>;

/// Why a checkpoint file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// It could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Its bytes fail their checks.
    #[error("{path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
}

/// The checkpoint of the data directory `dir`: `None` if there is none yet.
pub fn read(dir: &Path) -> Result<Option<DurableEnds>, CheckpointError> {
    let path = dir.join(FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CheckpointError::Io { path, source }),
    };
    decode(&bytes)
        .map(Some)
        .map_err(|reason| CheckpointError::Damaged { path, reason })
}

fn encode(ends: &DurableEnds) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + ends.len() * 32);
    out.put_slice(MAGIC);
    out.put_u8(VERSION);
    out.put_u32_le(u32::try_from(ends.len()).unwrap_or(u32::MAX));
    for (name, end) in ends {
        // Topic names are at most 249 bytes (TopicName checks), so the length fits.
        out.put_u16_le(u16::try_from(name.as_str().len()).unwrap_or(u16::MAX));
        out.put_slice(name.as_str().as_bytes());
        out.put_u64_le(*end);
    }
    let crc = crc32c::crc32c(&out);
    out.put_u32_le(crc);
    out
}

fn decode(bytes: &[u8]) -> Result<DurableEnds, &'static str> {
    let (body, crc) = bytes
        .split_last_chunk::<4>()
        .ok_or("shorter than its header")?;
    if crc32c::crc32c(body) != u32::from_le_bytes(*crc) {
        return Err("checksum mismatch");
    }
    let mut rest = body;
    if rest.len() < MAGIC.len() + 5 || &rest[..4] != MAGIC {
        return Err("not a durable-ends file");
    }
    rest.advance(4);
    if rest.get_u8() != VERSION {
        return Err("unknown version");
    }
    let count = rest.get_u32_le();
    let mut ends = DurableEnds::new();
    for _ in 0..count {
        if rest.remaining() < 2 {
            return Err("truncated");
        }
        let len = usize::from(rest.get_u16_le());
        if rest.remaining() < len + 8 {
            return Err("truncated");
        }
        let name = std::str::from_utf8(&rest[..len])
            .ok()
            .and_then(|name| TopicName::new(name).ok())
            .ok_or("invalid topic name")?;
        rest.advance(len);
        ends.insert(name, rest.get_u64_le());
    }
    if rest.has_remaining() {
        return Err("trailing bytes");
    }
    Ok(ends)
}

/// Writes checkpoints of one data directory.
pub struct CheckpointWriter {
    dir: PathBuf,
    written_at: Option<Instant>,
    last: Option<DurableEnds>,
}

impl CheckpointWriter {
    /// A writer for the data directory `dir`, whose checkpoint file now holds `existing`.
    pub fn new(dir: &Path, existing: Option<DurableEnds>) -> Self {
        Self {
            dir: dir.to_path_buf(),
            written_at: None,
            last: existing,
        }
    }

    /// Whether the last checkpoint is old enough to write another.
    pub fn due(&self) -> bool {
        self.written_at
            .is_none_or(|written| written.elapsed() >= CHECKPOINT_INTERVAL)
    }

    /// What the checkpoint file holds, if anything.
    pub fn last_written(&self) -> Option<&DurableEnds> {
        self.last.as_ref()
    }

    /// Replaces the checkpoint with `ends`, durably: written beside it, fsynced, renamed over it,
    /// and the rename fsynced. Skips the write when nothing changed.
    pub fn write(&mut self, ends: DurableEnds) -> Result<(), StoreError> {
        if self.last.as_ref() == Some(&ends) {
            self.written_at = Some(Instant::now());
            return Ok(());
        }
        let path = self.dir.join(FILE_NAME);
        let temporary = self.dir.join(format!("{FILE_NAME}.new"));
        let io = |action: &str| {
            let action = format!("{action} {}", temporary.display());
            move |source| StoreError::Io { action, source }
        };
        let mut file = File::create(&temporary).map_err(io("creating"))?;
        file.write_all(&encode(&ends)).map_err(io("writing"))?;
        file.sync_all().map_err(io("fsync of"))?;
        std::fs::rename(&temporary, &path).map_err(io("renaming"))?;
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io("fsync of the directory of"))?;
        self.written_at = Some(Instant::now());
        self.last = Some(ends);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(pairs: &[(&str, u64)]) -> DurableEnds {
        pairs
            .iter()
            .map(|(name, end)| (TopicName::new(*name).expect("name"), *end))
            .collect()
    }

    #[test]
    fn roundtrips() {
        for value in [ends(&[]), ends(&[("a", 0), ("orders.eu", 123_456_789)])] {
            assert_eq!(decode(&encode(&value)), Ok(value));
        }
    }

    #[test]
    fn any_flipped_bit_or_truncation_is_detected() {
        let encoded = encode(&ends(&[("payments", 600), ("x", 1)]));
        for bit in 0..encoded.len() * 8 {
            let mut damaged = encoded.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&damaged).is_err(), "bit {bit}");
        }
        for len in 0..encoded.len() {
            assert!(decode(&encoded[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn write_replaces_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(read(dir.path()).expect("read").is_none());
        let mut writer = CheckpointWriter::new(dir.path(), None);
        assert!(writer.due());
        writer.write(ends(&[("a", 5)])).expect("write");
        assert!(!writer.due());
        writer.write(ends(&[("a", 9), ("b", 2)])).expect("write");
        assert_eq!(
            read(dir.path()).expect("read"),
            Some(ends(&[("a", 9), ("b", 2)]))
        );
    }
}
