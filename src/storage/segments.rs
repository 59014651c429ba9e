//! One topic's record batches on disk: append-only segment files in the topic's own directory.
//!
//! sled keeps only the index (where each batch lies), so a batch's bytes are written once, by
//! one `pwrite`, instead of being rewritten with the B-tree leaves that would hold them.
//!
//! Files are named by a sequence number (`00000000000000000007.seg`); each run appends to a new
//! one, so a file is never appended to after a crash. A file grows to the configured size
//! (`--segment-bytes`), then the next takes over. A file is removed once no indexed batch lies in
//! it any more.
//!
//! The files are the log of record: an append is durable once [`Segments::append`] returns,
//! whether or not sled has written out the index entries the caller adds next. At start-up the
//! batches appended after the last one sled's index holds are found with [`Segments::files_from`]
//! and indexed again. Ordering: an append is fsynced before the caller indexes it, so whatever
//! index sled recovers points at bytes that reached the disk (sled may write its own buffers out
//! at any time).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::{Buf, BufMut, Bytes};

use super::durability::{create_dir_durably, sync_dir};
use super::{StoreError, io_error};

const EXTENSION: &str = "seg";
/// Most files a topic keeps open, so a long history read from the start does not hold a
/// descriptor per file.
const MAX_OPEN_FILES: usize = 8;
/// How far ahead of its appends a file is extended with zeros. An append within the file's size
/// leaves the size unchanged, so its fsync need not write the inode: about two thirds the time of
/// one that grows the file, and far fewer slow ones. A scan stops at the zeros, as at any bytes
/// that are not a batch.
const PREALLOCATE_BYTES: u64 = 1024 * 1024;

/// Where a store keeps its topics' segment directories, and how they are written.
#[derive(Debug, Clone)]
pub struct SegmentRoot {
    /// The directory holding one directory per topic.
    pub dir: PathBuf,
    /// Size at which appends move on to a new file; whole files are what retention frees.
    pub segment_bytes: u64,
    /// Whether each append is fsynced before it returns (`--fsync always`); without, appends
    /// are fsynced by [`Segments::sync_appended`], under the store's [`SyncGate`].
    pub sync_appends: bool,
    /// Shared by every topic of the store.
    pub gate: Arc<SyncGate>,
}

impl SegmentRoot {
    /// The segment files in the topic directory `name`.
    pub fn topic(&self, name: &str) -> Result<Segments, StoreError> {
        Segments::open(self.dir.join(name), self)
    }
}

/// Keeps appends that are not fsynced one by one (`--fsync never`) from being indexed durably
/// before their bytes are: such appends write while holding it shared, and a store sync holds
/// it exclusively while it fsyncs every topic's appended files and then the index. So an index
/// entry the sync writes out points at bytes it fsynced first.
#[derive(Debug, Default)]
pub struct SyncGate(RwLock<()>);

impl SyncGate {
    fn writing(&self) -> RwLockReadGuard<'_, ()> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Holds appends off until dropped.
    pub fn close(&self) -> RwLockWriteGuard<'_, ()> {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where a stored batch lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The file's sequence number.
    pub segment: u64,
    /// The first byte's position in the file.
    pub position: u64,
    /// The batch's length in bytes.
    pub len: u32,
}

impl Location {
    /// Length of [`Location::encode`]'s output.
    pub const ENCODED_LEN: usize = 8 + 8 + 4;

    /// Its index entry.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0; Self::ENCODED_LEN];
        let mut buf = &mut out[..];
        buf.put_u64_le(self.segment);
        buf.put_u64_le(self.position);
        buf.put_u32_le(self.len);
        out
    }

    /// Reads an index entry; `None` if it is not one.
    pub fn decode(mut bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_LEN {
            return None;
        }
        Some(Self {
            segment: bytes.get_u64_le(),
            position: bytes.get_u64_le(),
            len: bytes.get_u32_le(),
        })
    }
}

/// Why stored bytes could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file holding them is gone.
    #[error("segment file {0} is missing")]
    MissingFile(PathBuf),
    /// The file ends before them.
    #[error("segment file {0} is cut short")]
    ShortFile(PathBuf),
    /// Reading failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an append did not become durable.
enum Unwritten {
    /// Writing failed: nothing complete reached the file.
    Write(StoreError),
    /// Making it durable failed: it may or may not be on disk.
    Sync(StoreError),
}

/// A topic's segment files.
pub struct Segments {
    dir: PathBuf,
    segment_bytes: u64,
    sync_appends: bool,
    gate: Arc<SyncGate>,
    files: Mutex<Files>,
}

#[derive(Default)]
struct Files {
    /// Files kept open, by sequence number: the active one and the latest read.
    open: BTreeMap<u64, Arc<File>>,
    /// The file this run appends to, once it has one.
    active: Option<Active>,
    /// The sequence number the next new file gets.
    next_segment: u64,
    /// Files below this sequence number hold no indexed batch once the store's next sync has
    /// made the trim that freed them durable.
    releasable_below: Option<u64>,
    /// Set when an fsync failed: the kernel may have dropped the pages, and a batch appended
    /// again elsewhere would leave two versions of the same offsets on disk. Only a restart,
    /// which indexes what did reach the disk, can tell.
    poisoned: bool,
    /// Files appended to since they were last fsynced (appends not fsynced one by one only).
    unsynced: BTreeSet<u64>,
}

#[derive(Clone, Copy)]
struct Active {
    segment: u64,
    /// Bytes appended.
    len: u64,
    /// The file's size: appended bytes, then zeros allocated ahead.
    allocated: u64,
}

impl Files {
    /// Keeps `file` open, closing the oldest other than the active one beyond
    /// [`MAX_OPEN_FILES`].
    fn keep_open(&mut self, segment: u64, file: Arc<File>) {
        self.open.insert(segment, file);
        let active = self.active.map(|active| active.segment);
        while self.open.len() > MAX_OPEN_FILES {
            let Some(oldest) = self.open.keys().copied().find(|&open| Some(open) != active) else {
                break;
            };
            self.open.remove(&oldest);
        }
    }
}

/// Extends `file` by `len` zero bytes from `from`: allocated by the filesystem without writing
/// them where it can, written where it cannot.
fn preallocate(file: &File, from: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let offsets = i64::try_from(from).ok().zip(i64::try_from(len).ok());
    if let Some((offset, len)) = offsets {
        // SAFETY: fallocate only takes the descriptor, which `file` keeps open, and integers.
        if unsafe { libc::fallocate(file.as_raw_fd(), 0, offset, len) } == 0 {
            return Ok(());
        }
    }
    let zeros = vec![0; usize::try_from(len).unwrap_or(0)];
    file.write_all_at(&zeros, from)
}

fn file_name(segment: u64) -> String {
    format!("{segment:020}.{EXTENSION}")
}

fn segment_of(path: &Path) -> Option<u64> {
    if path.extension()? != EXTENSION {
        return None;
    }
    path.file_stem()?.to_str()?.parse().ok()
}

impl Segments {
    /// The segment files in `dir` (which need not exist yet; the first append creates it),
    /// written as `root` says.
    fn open(dir: PathBuf, root: &SegmentRoot) -> Result<Self, StoreError> {
        let mut next_segment = 0;
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(io_error(format!("listing {}", dir.display())))?;
                    if let Some(segment) = segment_of(&entry.path()) {
                        next_segment = next_segment.max(segment + 1);
                    }
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(io_error(format!("listing {}", dir.display()))(err)),
        }
        Ok(Self {
            dir,
            segment_bytes: root.segment_bytes,
            sync_appends: root.sync_appends,
            gate: Arc::clone(&root.gate),
            files: Mutex::new(Files {
                next_segment,
                ..Files::default()
            }),
        })
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, Files> {
        self.files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `bytes`, making them durable unless appends are synced by
    /// [`Segments::sync_appended`]; returns where they lie.
    ///
    /// Appends must come from one caller at a time (the topic's writer).
    pub fn append(&self, bytes: &[u8]) -> Result<Location, StoreError> {
        let len = u32::try_from(bytes.len()).map_err(|_| StoreError::Io {
            action: format!("appending {} bytes to one segment", bytes.len()),
            source: std::io::Error::other("a record batch is limited to 4 GiB"),
        })?;
        let _writing = (!self.sync_appends).then(|| self.gate.writing());
        let (active, file, created) = self.active_for(bytes.len() as u64)?;
        let path = self.dir.join(file_name(active.segment));
        let written = self.write_durably(&file, bytes, active, created, &path);
        let mut files = self.lock();
        let allocated = match written {
            Ok(allocated) => allocated,
            Err(Unwritten::Write(error)) => {
                // The file may hold part of the batch past its last good append, which no scan
                // takes for a batch: the next append starts a new file.
                files.active = None;
                return Err(error);
            }
            Err(Unwritten::Sync(error)) => {
                files.poisoned = true;
                return Err(error);
            }
        };
        if let Some(current) = files.active.as_mut() {
            current.len = active.len + bytes.len() as u64;
            current.allocated = allocated;
        }
        if !self.sync_appends {
            files.unsynced.insert(active.segment);
        }
        Ok(Location {
            segment: active.segment,
            position: active.len,
            len,
        })
    }

    /// Writes `bytes` at the end of `active`'s appends in `file`, extends it with zeros ahead of
    /// them if they reach its size, and makes them durable (unless appends are synced later).
    /// Returns the file's size.
    ///
    /// The name of a file just `created` is made durable in either case, before the index can
    /// point into the file: sled may write the index out (unsynced) at any time, and an index
    /// entry in a file whose name a power cut dropped would be a hole in the log.
    fn write_durably(
        &self,
        file: &File,
        bytes: &[u8],
        active: Active,
        created: bool,
        path: &Path,
    ) -> Result<u64, Unwritten> {
        file.write_all_at(bytes, active.len).map_err(|source| {
            Unwritten::Write(if source.kind() == std::io::ErrorKind::StorageFull {
                StoreError::SegmentFull {
                    path: path.to_path_buf(),
                }
            } else {
                io_error(format!("writing {}", path.display()))(source)
            })
        })?;
        let end = active.len + bytes.len() as u64;
        let mut allocated = active.allocated.max(end);
        if end >= active.allocated {
            let ahead = end.div_ceil(PREALLOCATE_BYTES).max(1) * PREALLOCATE_BYTES;
            match preallocate(file, end, ahead - end) {
                Ok(()) => allocated = ahead,
                // Only speed is lost; the append itself is written.
                Err(error) => {
                    tracing::debug!(%error, path = %path.display(), "allocating ahead failed")
                }
            }
        }
        if self.sync_appends {
            file.sync_data()
                .map_err(io_error(format!("fsync of {}", path.display())))
                .map_err(Unwritten::Sync)?;
        }
        if created {
            sync_dir(&self.dir).map_err(Unwritten::Sync)?;
        }
        Ok(allocated)
    }

    /// Cuts the zeros allocated ahead off the file being appended to, and makes the next append
    /// start a new file; for a clean shutdown, so that a stopped server's files hold only batches.
    pub fn close_active(&self) -> Result<(), StoreError> {
        let mut files = self.lock();
        let Some(active) = files.active.take() else {
            return Ok(());
        };
        let Some(file) = files.open.get(&active.segment) else {
            return Ok(());
        };
        let path = self.dir.join(file_name(active.segment));
        file.set_len(active.len)
            .and_then(|()| file.sync_all())
            .map_err(io_error(format!(
                "cutting the zeros off {}",
                path.display()
            )))
    }

    /// Fsyncs what was appended since the last call, when appends are not fsynced one by one.
    /// The caller holds the store's [`SyncGate`] closed.
    pub fn sync_appended(&self) -> Result<(), StoreError> {
        let segments = std::mem::take(&mut self.lock().unsynced);
        let synced = self.sync_files(segments);
        if synced.is_err() {
            self.poison();
        }
        synced
    }

    /// Refuses every further append until a restart, which indexes what reached the disk: what
    /// the files hold is unknown (a failed fsync), or an append after the last would reuse its
    /// offsets (it could not be indexed).
    pub fn poison(&self) {
        self.lock().poisoned = true;
    }

    /// Whether appends wait for an fsync (appends not fsynced one by one only).
    #[cfg(test)]
    pub fn has_unsynced(&self) -> bool {
        !self.lock().unsynced.is_empty()
    }

    /// Fsyncs the files numbered `segments` (those that still exist).
    pub fn sync_files(&self, segments: impl IntoIterator<Item = u64>) -> Result<(), StoreError> {
        segments.into_iter().try_for_each(|segment| {
            let path = self.dir.join(file_name(segment));
            let file = match self.file(segment, &path) {
                Ok(file) => file,
                Err(ReadError::Store(error)) => return Err(error),
                // Removed by retention since: nothing left to sync.
                Err(_) => return Ok(()),
            };
            file.sync_data()
                .map_err(io_error(format!("fsync of {}", path.display())))
        })
    }

    /// The file to append `len` bytes to, and whether it was just created.
    fn active_for(&self, len: u64) -> Result<(Active, Arc<File>, bool), StoreError> {
        let mut files = self.lock();
        if files.poisoned {
            return Err(StoreError::Poisoned);
        }
        if let Some(active) = files.active
            && (active.len == 0 || active.len + len <= self.segment_bytes)
            && let Some(file) = files.open.get(&active.segment)
        {
            return Ok((active, Arc::clone(file), false));
        }
        create_dir_durably(&self.dir)?;
        let segment = files.next_segment;
        let path = self.dir.join(file_name(segment));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error(format!("creating {}", path.display())))?;
        let file = Arc::new(file);
        let active = Active {
            segment,
            len: 0,
            allocated: 0,
        };
        files.next_segment = segment + 1;
        files.active = Some(active);
        files.keep_open(segment, Arc::clone(&file));
        Ok((active, file, true))
    }

    /// The files numbered `first` or higher, in order, with their lengths.
    pub fn files_from(&self, first: u64) -> Result<Vec<(u64, u64)>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(io_error(format!("listing {}", self.dir.display()))(err)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error(format!("listing {}", self.dir.display())))?;
            let path = entry.path();
            if let Some(segment) = segment_of(&path).filter(|segment| *segment >= first) {
                let len = entry
                    .metadata()
                    .map_err(io_error(format!("inspecting {}", path.display())))?
                    .len();
                files.push((segment, len));
            }
        }
        files.sort_unstable();
        Ok(files)
    }

    /// Reads `len` bytes at `offset` within the batch at `location`.
    pub fn read(&self, location: Location, offset: u64, len: usize) -> Result<Bytes, ReadError> {
        let path = self.dir.join(file_name(location.segment));
        let file = self.file(location.segment, &path)?;
        let mut bytes = vec![0; len];
        match file.read_exact_at(&mut bytes, location.position + offset) {
            Ok(()) => Ok(Bytes::from(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(ReadError::ShortFile(path))
            }
            Err(err) => Err(io_error(format!("reading {}", path.display()))(err).into()),
        }
    }

    fn file(&self, segment: u64, path: &Path) -> Result<Arc<File>, ReadError> {
        if let Some(file) = self.lock().open.get(&segment) {
            return Ok(Arc::clone(file));
        }
        let file = match File::open(path) {
            Ok(file) => Arc::new(file),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(ReadError::MissingFile(path.to_path_buf()));
            }
            Err(err) => return Err(io_error(format!("opening {}", path.display()))(err).into()),
        };
        self.lock().keep_open(segment, Arc::clone(&file));
        Ok(file)
    }

    /// Notes that no indexed batch lies in a file older than `oldest_in_use` (none: in no
    /// file); those older than it and than every file appends may still go to are removed by
    /// [`Segments::release`] after the store's next sync.
    pub fn mark_unused(&self, oldest_in_use: Option<u64>) {
        let mut files = self.lock();
        let appendable = files
            .active
            .map_or(files.next_segment, |active| active.segment);
        let below = oldest_in_use.map_or(appendable, |oldest| oldest.min(appendable));
        files.releasable_below = files.releasable_below.max(Some(below));
    }

    /// Takes the bound set by [`Segments::mark_unused`], before a sync.
    pub fn take_releasable(&self) -> Option<u64> {
        self.lock().releasable_below.take()
    }

    /// Removes the files below `segment`, except the one being appended to.
    pub fn release(&self, segment: u64) -> Result<(), StoreError> {
        let active = self.lock().active.map(|active| active.segment);
        for (found, _) in self.files_from(0)? {
            if found < segment && Some(found) != active {
                let path = self.dir.join(file_name(found));
                self.lock().open.remove(&found);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(io_error(format!("removing {}", path.display()))(err)),
                }
            }
        }
        Ok(())
    }

    /// Removes the directory and every file in it (the topic is being deleted).
    pub fn remove_all(&self) -> Result<(), StoreError> {
        let mut files = self.lock();
        files.open.clear();
        files.active = None;
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(io_error(format!("removing {}", self.dir.display()))(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(dir: &Path, sync_appends: bool) -> SegmentRoot {
        SegmentRoot {
            dir: dir.to_path_buf(),
            segment_bytes: 1 << 20,
            sync_appends,
            gate: Arc::default(),
        }
    }

    #[test]
    fn appended_bytes_read_back_from_their_location() {
        let dir = tempfile::tempdir().unwrap();
        let segments = root(dir.path(), true).topic("t").unwrap();
        let first = segments.append(b"hello").unwrap();
        let second = segments.append(b"world!").unwrap();
        assert_eq!(first.position, 0);
        assert_eq!(second.position, 5);
        assert_eq!(second.segment, first.segment);
        assert_eq!(&segments.read(second, 0, 6).unwrap()[..], b"world!");
        assert_eq!(&segments.read(second, 1, 3).unwrap()[..], b"orl");
        assert!(
            segments.read(second, 0, 20).unwrap()[6..]
                .iter()
                .all(|byte| *byte == 0),
            "zeros are allocated ahead"
        );
        assert!(matches!(
            segments.read(second, PREALLOCATE_BYTES, 6),
            Err(ReadError::ShortFile(_))
        ));
        segments.close_active().unwrap();
        assert!(matches!(
            segments.read(second, 2, 6),
            Err(ReadError::ShortFile(_))
        ));
        assert_eq!(
            segments.append(b"next").unwrap().segment,
            second.segment + 1
        );
        assert_eq!(Location::decode(&second.encode()), Some(second));
    }

    #[test]
    fn a_reopened_log_appends_to_a_new_file_and_release_keeps_the_active_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let old = root(dir.path(), true)
            .topic("t")
            .unwrap()
            .append(b"old")
            .unwrap();
        let segments = root(dir.path(), true).topic("t").unwrap();
        let new = segments.append(b"new").unwrap();
        assert_eq!(new.segment, old.segment + 1);
        assert_eq!(new.position, 0);
        assert_eq!(&segments.read(old, 0, 3).unwrap()[..], b"old");
        segments.mark_unused(None);
        let below = segments.take_releasable().unwrap();
        assert_eq!(segments.take_releasable(), None);
        segments.release(below).unwrap();
        assert!(matches!(
            segments.read(old, 0, 3),
            Err(ReadError::MissingFile(_))
        ));
        assert_eq!(&segments.read(new, 0, 3).unwrap()[..], b"new");
        segments.remove_all().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn appends_not_synced_one_by_one_are_synced_under_the_closed_gate() {
        let dir = tempfile::tempdir().unwrap();
        let root = root(dir.path(), false);
        let segments = root.topic("t").unwrap();
        let first = segments.append(b"unsynced").unwrap();
        assert_eq!(segments.lock().unsynced.len(), 1);
        {
            let _closed = root.gate.close();
            segments.sync_appended().unwrap();
        }
        assert!(segments.lock().unsynced.is_empty());
        assert_eq!(&segments.read(first, 0, 8).unwrap()[..], b"unsynced");
    }
}
