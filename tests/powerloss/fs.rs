//! A FUSE filesystem that simulates power loss: our own small LazyFS.
//!
//! Everything lives in memory, in two layers per inode:
//!
//! - the **current** state, what programs see: every write, truncation, creation, rename and
//!   unlink takes effect here at once (the mount has no writeback cache, so each `write(2)`
//!   reaches us before it returns);
//! - the **durable** state, what a disk would hold after a power cut.
//!
//! What becomes durable when (the model, stricter than ext4 `data=ordered` without
//! `auto_da_alloc`, which also commits a file's creation with the file's own fsync):
//!
//! - a file's data and size: when that file is fsynced (`fsync` or `fdatasync`, both arrive as
//!   FUSE_FSYNC; `O_SYNC`/`O_DSYNC` writes arrive as a write followed by one); the pending
//!   writes and truncations are then applied to the durable copy, in order;
//! - a directory's entries (creations, renames in and out, unlinks, mkdir, rmdir): only when
//!   that directory is fsynced; its whole entry table then becomes durable at once. Fsyncing a
//!   file does not make its name durable, and a directory's own name is durable only once its
//!   parent is fsynced;
//! - nothing else: `sync_file_range`, `close`, `flush` and time passing persist nothing.
//!
//! A **power cut** ([`PowerLossFs::power_cut`]) unmounts the filesystem, throws away every
//! pending change according to a [`Cut`] mode, and mounts it again, so the next program sees
//! only the durable state: the tree reachable from the root through durable entries, each file
//! with its durable contents. Two lossy-disk modes keep some of the unsynced data writes too
//! (never unsynced directory changes): [`Cut::KeepPrefix`] keeps a random prefix of all pending
//! writes in the order they were issued (a disk that wrote back in order and stopped), and
//! [`Cut::Torn`] additionally keeps the next multi-sector write only up to a 512-byte sector
//! boundary inside it (a torn write; sectors themselves are atomic, as on real disks).
//!
//! The instant of the cut: [`PowerLossFs::cut_after`] places it between two changes of the
//! writer's own stream (after N more writes, truncations, fsyncs or directory changes) and leaves
//! every later change unanswered, so the writer stalls exactly there and cannot acknowledge
//! anything past it while the test kills it. Killing alone would leave the writer running, and
//! fsyncing, for a few more milliseconds.
//!
//! [`PowerLossFs::writeback`] models the operating system flushing everything on its own (like
//! `sync(1)`, or ext4's periodic commit): all pending changes become durable.
//!
//! [`Options::slow_writes`] makes writes to some files slow, to widen a race between a writer
//! and a concurrent fsync of the same file.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use fuser::{
    AccessFlags, BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem,
    FopenFlags, Generation, INodeNo, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, Request, SessionACL, TimeOrNow, WriteFlags,
};

/// How long the kernel may cache names and attributes. Safe to be non-zero: every change goes
/// through the kernel, and a power cut remounts, which drops the caches.
const TTL: Duration = Duration::from_secs(1);
/// How long an unmount waits for the kernel to release closed files (see
/// [`Shared::wait_until_released`]); after that it is tried regardless.
const RELEASE_LIMIT: Duration = Duration::from_secs(5);
/// The unit a torn write is cut at: disks write whole sectors or nothing.
pub const SECTOR: u64 = 512;
const ROOT: u64 = INodeNo::ROOT.0;

/// How the filesystem serves.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Threads answering the kernel; more than one lets requests overlap (0 means 1).
    pub threads: usize,
    /// Each write to a file created under this path prefix takes this long: a slow disk that
    /// widens races between a writer and a concurrent fsync of the same file.
    pub slow_writes: Option<(String, Duration)>,
}

/// What a power cut keeps of the writes that were not fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Nothing: only what was fsynced survives.
    DropAll,
    /// A random prefix (possibly empty or complete) of the pending data writes, in issue order.
    KeepPrefix,
    /// A random prefix, then part of the next write that spans a sector boundary, cut at a
    /// sector boundary.
    Torn,
}

/// What a power cut did.
#[derive(Debug, Default, Clone)]
pub struct CutReport {
    /// The first change that did not happen, when the cut was placed with
    /// [`PowerLossFs::cut_after`].
    pub cut_before: Option<String>,
    /// Data writes and truncations not fsynced at the cut.
    pub pending_ops: usize,
    /// Of those, how many were kept in full (a prefix, in issue order).
    pub kept_ops: usize,
    /// The torn write, if any: file, offset, bytes kept, bytes written.
    pub torn: Option<(String, u64, u64, u64)>,
    /// Names visible before the cut that are gone after it.
    pub lost_names: Vec<String>,
    /// Names that were unlinked or renamed away before the cut and are back after it.
    pub resurrected_names: Vec<String>,
    /// Files that survived with other contents than before the cut: name, size before, after.
    pub changed_files: Vec<(String, u64, u64)>,
}

impl CutReport {
    /// The report, cut short when it lists many files.
    pub fn brief(&self) -> String {
        let mut line = self.to_string();
        if self.lost_names.len() + self.changed_files.len() > 8 {
            line.truncate(400);
            line.push_str("...");
        }
        line
    }
}

impl fmt::Display for CutReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(change) = &self.cut_before {
            write!(f, "cut before {change}: ")?;
        }
        write!(
            f,
            "{} unsynced writes, {} kept",
            self.pending_ops, self.kept_ops
        )?;
        if let Some((name, offset, kept, len)) = &self.torn {
            write!(f, ", torn: {kept} of {len} bytes at {name}@{offset}")?;
        }
        if !self.lost_names.is_empty() {
            write!(f, "; names lost: {}", self.lost_names.join(", "))?;
        }
        if !self.resurrected_names.is_empty() {
            write!(f, "; names back: {}", self.resurrected_names.join(", "))?;
        }
        if !self.changed_files.is_empty() {
            let changed: Vec<String> = self
                .changed_files
                .iter()
                .map(|(name, before, after)| format!("{name} {before}->{after} bytes"))
                .collect();
            write!(f, "; contents rolled back: {}", changed.join(", "))?;
        }
        Ok(())
    }
}

/// Operation counts since the filesystem was created (across remounts).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub writes: u64,
    pub bytes_written: u64,
    pub fsyncs: u64,
    pub dir_fsyncs: u64,
    pub power_cuts: u64,
}

/// A small deterministic random number generator (SplitMix64), so a failing run can be
/// replayed from its printed seed without another dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

#[derive(Debug, Clone)]
enum DataOp {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

impl DataOp {
    fn apply(&self, data: &mut Vec<u8>) {
        match self {
            DataOp::Write { offset, bytes } => {
                let start = usize::try_from(*offset).expect("offset fits in memory");
                let end = start + bytes.len();
                if data.len() < end {
                    data.resize(end, 0);
                }
                data[start..end].copy_from_slice(bytes);
            }
            DataOp::SetLen(len) => data.resize(usize::try_from(*len).expect("size fits"), 0),
        }
    }
}

#[derive(Debug)]
struct Pending {
    /// Issue order across the whole filesystem, for prefix cuts.
    seq: u64,
    op: DataOp,
}

#[derive(Debug)]
enum Body {
    File {
        data: Vec<u8>,
        durable: Vec<u8>,
        /// Changes to `data` not yet in `durable`, oldest first.
        pending: Vec<Pending>,
    },
    Dir {
        entries: BTreeMap<OsString, u64>,
        durable: BTreeMap<OsString, u64>,
        /// The parent in the current tree, for `..`.
        parent: u64,
    },
}

#[derive(Debug)]
struct Node {
    body: Body,
    perm: u16,
    /// Names of this node in the current tree (only files can have other than one).
    nlink: u32,
    atime: SystemTime,
    mtime: SystemTime,
    ctime: SystemTime,
    /// The path it was created at, for [`Options::slow_writes`].
    created_as: String,
}

impl Node {
    fn new(body: Body, perm: u16, created_as: String) -> Self {
        let now = SystemTime::now();
        Self {
            body,
            perm,
            nlink: 1,
            atime: now,
            mtime: now,
            ctime: now,
            created_as,
        }
    }

    fn kind(&self) -> FileType {
        match self.body {
            Body::File { .. } => FileType::RegularFile,
            Body::Dir { .. } => FileType::Directory,
        }
    }
}

/// A directory listing taken at `opendir`, so `readdir` offsets stay meaningful while the
/// directory changes.
type Listing = Vec<(u64, FileType, OsString)>;

#[derive(Debug)]
struct State {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    next_seq: u64,
    listings: HashMap<u64, Listing>,
    next_fh: u64,
    /// Files opened and not released yet: the kernel refuses to unmount while one is.
    open_files: usize,
    stats: Stats,
    uid: u32,
    gid: u32,
    freeze: Option<Freeze>,
    slow_writes: Option<(String, Duration)>,
}

/// The instant of a power cut, placed between two changes: after `remaining` more changes,
/// every further one is left unanswered, so whoever is writing stalls exactly there and cannot
/// go on to acknowledge anything that depends on it.
///
/// The stalled threads cannot even die: the kernel makes a killed thread wait for the answer to
/// a request the filesystem has already read. So once the writer has been sent SIGKILL (after
/// which none of its threads runs user code again), [`PowerLossFs::release_stalled`] answers
/// them all with EIO.
#[derive(Debug)]
struct Freeze {
    remaining: u64,
    notify: Option<oneshot::Sender<String>>,
    /// The first change refused, once frozen.
    at: Option<String>,
    /// Replies of refused changes, held unanswered.
    parked: Vec<Box<dyn std::any::Any + Send>>,
    /// Set by `release_stalled`: refused changes are answered with EIO at once.
    released: bool,
}

impl State {
    fn new(slow_writes: Option<(String, Duration)>) -> Self {
        let mut nodes = HashMap::new();
        let root = Body::Dir {
            entries: BTreeMap::new(),
            durable: BTreeMap::new(),
            parent: ROOT,
        };
        nodes.insert(ROOT, Node::new(root, 0o755, "/".into()));
        // SAFETY: geteuid and getegid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Self {
            nodes,
            next_ino: ROOT + 1,
            next_seq: 0,
            listings: HashMap::new(),
            open_files: 0,
            next_fh: 1,
            stats: Stats::default(),
            uid,
            gid,
            freeze: None,
            slow_writes,
        }
    }

    /// Lets a change through, or parks its reply if the power is already cut (see [`Freeze`]).
    fn admit<R: Send + 'static>(
        &mut self,
        reply: R,
        what: impl FnOnce(&State) -> String,
    ) -> Option<R> {
        let cut_now = match &mut self.freeze {
            None => return Some(reply),
            // Dropping an unanswered reply answers EIO.
            Some(freeze) if freeze.released => return None,
            Some(freeze) if freeze.at.is_some() => false,
            Some(freeze) if freeze.remaining > 0 => {
                freeze.remaining -= 1;
                return Some(reply);
            }
            Some(_) => true,
        };
        let description = cut_now.then(|| what(self));
        let freeze = self.freeze.as_mut().expect("armed");
        if let Some(description) = description {
            if let Some(notify) = freeze.notify.take() {
                let _ = notify.send(description.clone());
            }
            freeze.at = Some(description);
        }
        freeze.parked.push(Box::new(reply));
        None
    }

    /// How long a write to `ino` must take (see [`Options::slow_writes`]).
    fn write_delay(&self, ino: u64) -> Option<Duration> {
        let (prefix, delay) = self.slow_writes.as_ref()?;
        let node = self.nodes.get(&ino)?;
        node.created_as
            .starts_with(prefix.as_str())
            .then_some(*delay)
    }

    /// A name of `ino` in the current tree, for messages.
    fn name(&self, ino: u64) -> String {
        if ino == ROOT {
            return "/".into();
        }
        self.names(false)
            .remove(&ino)
            .and_then(|names| names.into_iter().next())
            .unwrap_or_else(|| format!("(unlinked inode {ino})"))
    }

    fn child_name(&self, parent: u64, name: &OsStr) -> String {
        let parent = self.name(parent);
        format!(
            "{}/{}",
            parent.trim_end_matches('/'),
            name.to_string_lossy()
        )
    }

    fn attr(&self, ino: u64) -> Result<FileAttr, Errno> {
        let node = self.nodes.get(&ino).ok_or(Errno::ENOENT)?;
        let size = match &node.body {
            Body::File { data, .. } => data.len() as u64,
            Body::Dir { entries, .. } => entries.len() as u64,
        };
        Ok(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: node.atime,
            mtime: node.mtime,
            ctime: node.ctime,
            crtime: UNIX_EPOCH,
            kind: node.kind(),
            perm: node.perm,
            nlink: match node.body {
                Body::File { .. } => node.nlink,
                Body::Dir { .. } => 2,
            },
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn dir_entries(&self, ino: u64) -> Result<&BTreeMap<OsString, u64>, Errno> {
        match &self.nodes.get(&ino).ok_or(Errno::ENOENT)?.body {
            Body::Dir { entries, .. } => Ok(entries),
            Body::File { .. } => Err(Errno::ENOTDIR),
        }
    }

    fn dir_entries_mut(&mut self, ino: u64) -> Result<&mut BTreeMap<OsString, u64>, Errno> {
        match &mut self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?.body {
            Body::Dir { entries, .. } => Ok(entries),
            Body::File { .. } => Err(Errno::ENOTDIR),
        }
    }

    fn lookup(&self, parent: u64, name: &OsStr) -> Result<u64, Errno> {
        self.dir_entries(parent)?
            .get(name)
            .copied()
            .ok_or(Errno::ENOENT)
    }

    fn touch_dir(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            let now = SystemTime::now();
            node.mtime = now;
            node.ctime = now;
        }
    }

    /// Adds a new node named `name` in `parent`.
    fn create(&mut self, parent: u64, name: &OsStr, body: Body, perm: u16) -> Result<u64, Errno> {
        if self.dir_entries(parent)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let created_as = self.child_name(parent, name);
        self.nodes.insert(ino, Node::new(body, perm, created_as));
        self.dir_entries_mut(parent)?
            .insert(name.to_os_string(), ino);
        self.touch_dir(parent);
        Ok(ino)
    }

    /// Applies a data change to a file's current contents and queues it for durability.
    fn change(&mut self, ino: u64, op: DataOp) -> Result<(), Errno> {
        let seq = self.next_seq;
        let node = self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        let Body::File { data, pending, .. } = &mut node.body else {
            return Err(Errno::EISDIR);
        };
        op.apply(data);
        pending.push(Pending { seq, op });
        self.next_seq += 1;
        let now = SystemTime::now();
        node.mtime = now;
        node.ctime = now;
        Ok(())
    }

    /// Drops the name `name` from `parent` in the current tree.
    fn remove_name(&mut self, parent: u64, name: &OsStr) -> Result<u64, Errno> {
        let ino = self
            .dir_entries_mut(parent)?
            .remove(name)
            .ok_or(Errno::ENOENT)?;
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.nlink = node.nlink.saturating_sub(1);
            node.ctime = SystemTime::now();
        }
        self.touch_dir(parent);
        Ok(ino)
    }

    fn is_empty_dir(&self, ino: u64) -> bool {
        self.dir_entries(ino).is_ok_and(BTreeMap::is_empty)
    }

    fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            return Err(Errno::EINVAL);
        }
        let ino = self.lookup(parent, name)?;
        self.dir_entries(new_parent)?;
        if parent == new_parent && name == new_name {
            return Ok(());
        }
        let moving_dir = matches!(self.nodes[&ino].body, Body::Dir { .. });
        if let Ok(target) = self.lookup(new_parent, new_name) {
            if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                return Err(Errno::EEXIST);
            }
            let target_dir = matches!(self.nodes[&target].body, Body::Dir { .. });
            match (moving_dir, target_dir) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !self.is_empty_dir(target) => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
            self.remove_name(new_parent, new_name)?;
        }
        self.dir_entries_mut(parent)?.remove(name);
        self.dir_entries_mut(new_parent)?
            .insert(new_name.to_os_string(), ino);
        let node = self.nodes.get_mut(&ino).expect("renamed node");
        node.ctime = SystemTime::now();
        if let Body::Dir { parent: up, .. } = &mut node.body {
            *up = new_parent;
        }
        self.touch_dir(parent);
        self.touch_dir(new_parent);
        Ok(())
    }

    fn fsync_file(&mut self, ino: u64) -> Result<(), Errno> {
        self.stats.fsyncs += 1;
        match &mut self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?.body {
            Body::File {
                durable, pending, ..
            } => {
                for change in pending.drain(..) {
                    change.op.apply(durable);
                }
                Ok(())
            }
            // fsync on a directory opened as a file descriptor arrives as FSYNCDIR; be lenient.
            Body::Dir {
                entries, durable, ..
            } => {
                durable.clone_from(entries);
                Ok(())
            }
        }
    }

    fn fsync_dir(&mut self, ino: u64) -> Result<(), Errno> {
        self.stats.dir_fsyncs += 1;
        match &mut self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?.body {
            Body::Dir {
                entries, durable, ..
            } => {
                durable.clone_from(entries);
                Ok(())
            }
            Body::File { .. } => Err(Errno::ENOTDIR),
        }
    }

    /// Every node's names in the current (`durable == false`) or durable tree.
    fn names(&self, durable: bool) -> HashMap<u64, Vec<String>> {
        let mut names: HashMap<u64, Vec<String>> = HashMap::new();
        let mut stack = vec![(ROOT, String::new())];
        while let Some((ino, path)) = stack.pop() {
            let Some(Body::Dir {
                entries,
                durable: durable_entries,
                ..
            }) = self.nodes.get(&ino).map(|node| &node.body)
            else {
                continue;
            };
            let table = if durable { durable_entries } else { entries };
            for (name, child) in table {
                let child_path = format!("{path}/{}", name.to_string_lossy());
                names.entry(*child).or_default().push(child_path.clone());
                // A durable tree is acyclic only if each directory is entered once.
                if matches!(
                    self.nodes.get(child).map(|node| &node.body),
                    Some(Body::Dir { .. })
                ) && names[child].len() == 1
                {
                    stack.push((*child, child_path));
                }
            }
        }
        names
    }

    /// Makes every pending change durable.
    fn writeback(&mut self) {
        for node in self.nodes.values_mut() {
            match &mut node.body {
                Body::File {
                    durable, pending, ..
                } => {
                    for change in pending.drain(..) {
                        change.op.apply(durable);
                    }
                }
                Body::Dir {
                    entries, durable, ..
                } => durable.clone_from(entries),
            }
        }
    }

    /// Loses what a power cut loses under `mode`, and makes the durable state current.
    fn power_cut(&mut self, mode: Cut, rng: &mut Rng) -> CutReport {
        self.stats.power_cuts += 1;
        // The parked replies go unanswered into a connection that is gone.
        let cut_before = self.freeze.take().and_then(|freeze| freeze.at);
        let before = self.names(false);
        let sizes_before: HashMap<u64, (u64, Vec<u8>)> = before
            .keys()
            .filter_map(|ino| match &self.nodes[ino].body {
                Body::File { data, .. } => Some((*ino, (data.len() as u64, data.clone()))),
                Body::Dir { .. } => None,
            })
            .collect();

        // Pending data changes of every file, in issue order.
        let mut order: Vec<(u64, u64, usize)> = Vec::new();
        for (ino, node) in &self.nodes {
            if let Body::File { pending, .. } = &node.body {
                order.extend(
                    pending
                        .iter()
                        .enumerate()
                        .map(|(i, change)| (change.seq, *ino, i)),
                );
            }
        }
        order.sort_unstable();
        let mut report = CutReport {
            cut_before,
            pending_ops: order.len(),
            ..CutReport::default()
        };
        let n = order.len() as u64;
        let mut keep = match mode {
            Cut::DropAll => 0,
            Cut::KeepPrefix | Cut::Torn => rng.below(n + 1) as usize,
        };
        let mut torn = None;
        if mode == Cut::Torn {
            // The first write at or after the cut point that crosses a sector boundary.
            let tearable = order[keep..].iter().position(|&(_, ino, i)| {
                let Body::File { pending, .. } = &self.nodes[&ino].body else {
                    unreachable!()
                };
                match &pending[i].op {
                    DataOp::Write { offset, bytes } => {
                        offset / SECTOR != (offset + bytes.len() as u64 - 1) / SECTOR
                    }
                    DataOp::SetLen(_) => false,
                }
            });
            if let Some(position) = tearable {
                keep += position;
                let (_, ino, i) = order[keep];
                let Body::File { pending, .. } = &self.nodes[&ino].body else {
                    unreachable!()
                };
                let DataOp::Write { offset, bytes } = &pending[i].op else {
                    unreachable!()
                };
                let end = offset + bytes.len() as u64;
                let first_boundary = (offset / SECTOR + 1) * SECTOR;
                let boundaries = (end - 1) / SECTOR - offset / SECTOR;
                let boundary = first_boundary + rng.below(boundaries) * SECTOR;
                let kept = boundary - offset;
                torn = Some((
                    ino,
                    DataOp::Write {
                        offset: *offset,
                        bytes: bytes[..kept as usize].to_vec(),
                    },
                    bytes.len() as u64,
                ));
            }
        }
        report.kept_ops = keep;
        let mut kept_per_file: HashMap<u64, usize> = HashMap::new();
        for &(_, ino, i) in &order[..keep] {
            let count = kept_per_file.entry(ino).or_default();
            *count = (*count).max(i + 1);
        }
        for (ino, count) in kept_per_file {
            if let Body::File {
                durable, pending, ..
            } = &mut self.nodes.get_mut(&ino).expect("node").body
            {
                for change in pending.drain(..count) {
                    change.op.apply(durable);
                }
            }
        }
        if let Some((ino, op, len)) = torn {
            if let Body::File { durable, .. } = &mut self.nodes.get_mut(&ino).expect("node").body {
                op.apply(durable);
            }
            let DataOp::Write { offset, bytes } = op else {
                unreachable!()
            };
            let name = before
                .get(&ino)
                .and_then(|names| names.first().cloned())
                .unwrap_or_else(|| format!("(unlinked inode {ino})"));
            report.torn = Some((name, offset, bytes.len() as u64, len));
        }

        // The durable tree becomes the whole filesystem.
        let after = self.names(true);
        self.nodes
            .retain(|ino, _| *ino == ROOT || after.contains_key(ino));
        let mut parents: HashMap<u64, u64> = HashMap::new();
        for (ino, node) in &self.nodes {
            if let Body::Dir { durable, .. } = &node.body {
                for child in durable.values() {
                    parents.entry(*child).or_insert(*ino);
                }
            }
        }
        for (ino, node) in &mut self.nodes {
            node.nlink = after.get(ino).map_or(1, |names| names.len() as u32);
            match &mut node.body {
                Body::File {
                    data,
                    durable,
                    pending,
                } => {
                    pending.clear();
                    data.clone_from(durable);
                }
                Body::Dir {
                    entries,
                    durable,
                    parent,
                } => {
                    entries.clone_from(durable);
                    *parent = parents.get(ino).copied().unwrap_or(ROOT);
                }
            }
        }
        self.listings.clear();

        for (ino, names) in &before {
            match after.get(ino) {
                None => report.lost_names.extend(names.iter().cloned()),
                Some(now) => report
                    .lost_names
                    .extend(names.iter().filter(|name| !now.contains(name)).cloned()),
            }
            if let (Some((size, contents)), Some(Body::File { data, .. })) = (
                sizes_before.get(ino),
                self.nodes.get(ino).map(|node| &node.body),
            ) && contents != data
            {
                report
                    .changed_files
                    .push((names[0].clone(), *size, data.len() as u64));
            }
        }
        for (ino, names) in &after {
            let was = before.get(ino);
            report.resurrected_names.extend(
                names
                    .iter()
                    .filter(|name| was.is_none_or(|was| !was.contains(name)))
                    .cloned(),
            );
        }
        report.lost_names.sort();
        report.resurrected_names.sort();
        report.changed_files.sort();
        report
    }
}

/// The filesystem's state, and a signal for each file or directory handle released.
struct Shared {
    state: Mutex<State>,
    released: Condvar,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while serving one request must not wedge every later one.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits (at most `limit`) until no handle is open. The kernel releases a closed file
    /// asynchronously, and a process forked meanwhile (another test spawning a server) holds
    /// the file until it execs: an unmount before then fails with EBUSY.
    fn wait_until_released(&self, limit: Duration) {
        let _ = self
            .released
            .wait_timeout_while(self.state(), limit, |state| {
                state.open_files > 0 || !state.listings.is_empty()
            })
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
}

/// The FUSE side: serves [`State`] to the kernel.
struct Served(Arc<Shared>);

impl Served {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.state()
    }
}

fn perm_of(mode: u32, umask: u32) -> u16 {
    (mode & !umask & 0o7777) as u16
}

impl Filesystem for Served {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let state = self.state();
        match state.lookup(parent.0, name).and_then(|ino| state.attr(ino)) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(errno) => reply.error(errno),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.state().attr(ino.0) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(errno) => reply.error(errno),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut state = self.state();
        let Some(reply) = state.admit(reply, |state| format!("setattr {}", state.name(ino.0)))
        else {
            return;
        };
        let result = (|| {
            if let Some(size) = size {
                state.change(ino.0, DataOp::SetLen(size))?;
            }
            let node = state.nodes.get_mut(&ino.0).ok_or(Errno::ENOENT)?;
            let time = |value: TimeOrNow| match value {
                TimeOrNow::SpecificTime(time) => time,
                TimeOrNow::Now => SystemTime::now(),
            };
            if let Some(mode) = mode {
                node.perm = perm_of(mode, 0);
            }
            if let Some(atime) = atime {
                node.atime = time(atime);
            }
            if let Some(mtime) = mtime {
                node.mtime = time(mtime);
            }
            node.ctime = SystemTime::now();
            state.attr(ino.0)
        })();
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(errno) => reply.error(errno),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            // Only regular files and directories are modelled.
            reply.error(Errno::EPERM);
            return;
        }
        let mut state = self.state();
        let Some(reply) = state.admit(reply, |state| {
            format!("mknod {}", state.child_name(parent.0, name))
        }) else {
            return;
        };
        let body = Body::File {
            data: Vec::new(),
            durable: Vec::new(),
            pending: Vec::new(),
        };
        match state
            .create(parent.0, name, body, perm_of(mode, umask))
            .and_then(|ino| state.attr(ino))
        {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(errno) => reply.error(errno),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut state = self.state();
        let Some(reply) = state.admit(reply, |state| {
            format!("mkdir {}", state.child_name(parent.0, name))
        }) else {
            return;
        };
        let body = Body::Dir {
            entries: BTreeMap::new(),
            durable: BTreeMap::new(),
            parent: parent.0,
        };
        match state
            .create(parent.0, name, body, perm_of(mode, umask))
            .and_then(|ino| state.attr(ino))
        {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(errno) => reply.error(errno),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.state();
        let Some(reply) = state.admit(reply, |state| {
            format!("unlink {}", state.child_name(parent.0, name))
        }) else {
            return;
        };
        let result = state.lookup(parent.0, name).and_then(|ino| {
            if matches!(state.nodes[&ino].body, Body::Dir { .. }) {
                return Err(Errno::EISDIR);
            }
            state.remove_name(parent.0, name).map(drop)
        });
        match result {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.state();
        let Some(reply) = state.admit(reply, |state| {
            format!("rmdir {}", state.child_name(parent.0, name))
        }) else {
            return;
        };
        let result = state.lookup(parent.0, name).and_then(|ino| {
            if !matches!(state.nodes[&ino].body, Body::Dir { .. }) {
                return Err(Errno::ENOTDIR);
            }
            if !state.is_empty_dir(ino) {
                return Err(Errno::ENOTEMPTY);
            }
            state.remove_name(parent.0, name).map(drop)
        });
        match result {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        let Some(reply) = state.admit(reply, |state| {
            format!(
                "rename {} -> {}",
                state.child_name(parent.0, name),
                state.child_name(newparent.0, newname)
            )
        }) else {
            return;
        };
        match state.rename(parent.0, name, newparent.0, newname, flags) {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let mut state = self.state();
        match state.nodes.get(&ino.0).map(|node| &node.body) {
            Some(Body::File { .. }) => {
                state.open_files += 1;
                reply.opened(FileHandle(0), FopenFlags::empty());
            }
            Some(Body::Dir { .. }) => reply.error(Errno::EISDIR),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let state = self.state();
        match state.nodes.get(&ino.0).map(|node| &node.body) {
            Some(Body::File { data, .. }) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                let end = start.saturating_add(size as usize).min(data.len());
                reply.data(&data[start..end]);
            }
            Some(Body::Dir { .. }) => reply.error(Errno::EISDIR),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let delay = self.state().write_delay(ino.0);
        if let Some(delay) = delay {
            // A slow disk, not a wait for anything: other threads serve meanwhile.
            std::thread::sleep(delay);
        }
        let mut state = self.state();
        let Some(reply) = state.admit(reply, |state| {
            format!(
                "write of {} bytes at {}@{offset}",
                data.len(),
                state.name(ino.0)
            )
        }) else {
            return;
        };
        let op = DataOp::Write {
            offset,
            bytes: data.to_vec(),
        };
        match state.change(ino.0, op) {
            Ok(()) => {
                state.stats.writes += 1;
                state.stats.bytes_written += data.len() as u64;
                reply.written(data.len() as u32);
            }
            Err(errno) => reply.error(errno),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() persists nothing.
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Never answer ENOSYS here: the kernel would remember it and report every later fsync
        // as a success without asking.
        let mut state = self.state();
        let Some(reply) = state.admit(reply, |state| format!("fsync {}", state.name(ino.0))) else {
            return;
        };
        match state.fsync_file(ino.0) {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let mut state = self.state();
        let (entries, parent) = match state.nodes.get(&ino.0).map(|node| &node.body) {
            Some(Body::Dir {
                entries, parent, ..
            }) => (entries, *parent),
            Some(Body::File { .. }) => return reply.error(Errno::ENOTDIR),
            None => return reply.error(Errno::ENOENT),
        };
        let mut listing: Listing = vec![
            (ino.0, FileType::Directory, ".".into()),
            (parent, FileType::Directory, "..".into()),
        ];
        listing.extend(
            entries
                .iter()
                .map(|(name, child)| (*child, state.nodes[child].kind(), name.clone())),
        );
        let fh = state.next_fh;
        state.next_fh += 1;
        state.listings.insert(fh, listing);
        reply.opened(FileHandle(fh), FopenFlags::empty());
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let state = self.state();
        let Some(listing) = state.listings.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        for (index, (child, kind, name)) in listing.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*child), index as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.state().listings.remove(&fh.0);
        self.0.released.notify_all();
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        state.open_files = state.open_files.saturating_sub(1);
        drop(state);
        self.0.released.notify_all();
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // As for fsync: ENOSYS would make the kernel skip every later directory fsync.
        let mut state = self.state();
        let Some(reply) = state.admit(reply, |state| {
            format!("fsync of directory {}", state.name(ino.0))
        }) else {
            return;
        };
        match state.fsync_dir(ino.0) {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // Plenty of room: running out of space is a different test.
        reply.statfs(1 << 24, 1 << 24, 1 << 24, 1 << 20, 1 << 20, 4096, 255, 4096);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut state = self.state();
        let Some(reply) = state.admit(reply, |state| {
            format!("create {}", state.child_name(parent.0, name))
        }) else {
            return;
        };
        let existing = state.lookup(parent.0, name).ok();
        let result = match existing {
            Some(_) if flags & libc::O_EXCL != 0 => Err(Errno::EEXIST),
            Some(ino) => state.attr(ino),
            None => {
                let body = Body::File {
                    data: Vec::new(),
                    durable: Vec::new(),
                    pending: Vec::new(),
                };
                state
                    .create(parent.0, name, body, perm_of(mode, umask))
                    .and_then(|ino| state.attr(ino))
            }
        };
        match result {
            Ok(attr) => {
                state.open_files += 1;
                reply.created(
                    &TTL,
                    &attr,
                    Generation(0),
                    FileHandle(0),
                    FopenFlags::empty(),
                );
            }
            Err(errno) => reply.error(errno),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        if mode != 0 {
            reply.error(Errno::EOPNOTSUPP);
            return;
        }
        let mut state = self.state();
        let Some(reply) = state.admit(reply, |state| format!("fallocate {}", state.name(ino.0)))
        else {
            return;
        };
        let result = match state.nodes.get(&ino.0).map(|node| &node.body) {
            Some(Body::File { data, .. }) if (data.len() as u64) < offset + length => {
                state.change(ino.0, DataOp::SetLen(offset + length))
            }
            Some(Body::File { .. }) => Ok(()),
            Some(Body::Dir { .. }) => Err(Errno::EISDIR),
            None => Err(Errno::ENOENT),
        };
        match result {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }
}

/// The power-loss filesystem, mounted on a fresh temporary directory.
pub struct PowerLossFs {
    shared: Arc<Shared>,
    threads: usize,
    session: Option<BackgroundSession>,
    /// Holds the mount point; declared after `session` so it is removed after the unmount.
    mountpoint: tempfile::TempDir,
}

impl PowerLossFs {
    /// Mounts an empty filesystem on a new temporary directory. Fails with the reason when
    /// FUSE cannot be mounted here (no `/dev/fuse`, no privilege to mount).
    pub fn mount(options: Options) -> Result<Self, String> {
        if !Path::new("/dev/fuse").exists() {
            return Err("/dev/fuse does not exist (FUSE kernel module not available)".into());
        }
        let mountpoint = tempfile::Builder::new()
            .prefix("powerloss-")
            .tempdir()
            .map_err(|err| format!("creating a mount point: {err}"))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(options.slow_writes)),
            released: Condvar::new(),
        });
        let threads = options.threads.max(1);
        let session = spawn(&shared, mountpoint.path(), threads)?;
        Ok(Self {
            shared,
            threads,
            session: Some(session),
            mountpoint,
        })
    }

    /// Where the filesystem is mounted.
    pub fn path(&self) -> &Path {
        self.mountpoint.path()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state()
    }

    /// Operation counts so far.
    pub fn stats(&self) -> Stats {
        self.state().stats
    }

    /// Every file in the filesystem (current state) with its size, sorted by name.
    pub fn files(&self) -> Vec<(String, u64)> {
        let state = self.state();
        let mut files: Vec<(String, u64)> = state
            .names(false)
            .into_iter()
            .filter_map(|(ino, names)| match &state.nodes[&ino].body {
                Body::File { data, .. } => Some((names[0].clone(), data.len() as u64)),
                Body::Dir { .. } => None,
            })
            .collect();
        files.sort();
        files
    }

    /// Copies the filesystem's current tree into `target` (a real directory), for a post-mortem
    /// with other tools.
    pub fn dump_to(&self, target: &Path) -> std::io::Result<()> {
        let state = self.state();
        let mut stack = vec![(ROOT, target.to_path_buf())];
        while let Some((ino, dir)) = stack.pop() {
            std::fs::create_dir_all(&dir)?;
            let Body::Dir { entries, .. } = &state.nodes[&ino].body else {
                continue;
            };
            for (name, child) in entries {
                match &state.nodes[child].body {
                    Body::File { data, .. } => std::fs::write(dir.join(name), data)?,
                    Body::Dir { .. } => stack.push((*child, dir.join(name))),
                }
            }
        }
        Ok(())
    }

    /// The operating system writes everything back on its own: every pending change becomes
    /// durable.
    pub fn writeback(&self) {
        self.state().writeback();
    }

    /// Places the power cut after `changes` more changes (writes, truncations, fsyncs, directory
    /// changes): every later change stalls unanswered, as if the machine had stopped there. The
    /// receiver gets a description of the first stalled change. Then kill whoever writes, and
    /// call [`power_cut`](Self::power_cut).
    pub fn cut_after(&self, changes: u64) -> oneshot::Receiver<String> {
        let (notify, cut) = oneshot::channel();
        self.state().freeze = Some(Freeze {
            remaining: changes,
            notify: Some(notify),
            at: None,
            parked: Vec::new(),
            released: false,
        });
        cut
    }

    /// Answers every stalled change, and every later one, with EIO (see [`Freeze`]). Only once
    /// the writer has been sent SIGKILL: it must not see the errors.
    pub fn release_stalled(&self) {
        let mut state = self.state();
        let freeze = state.freeze.get_or_insert_with(|| Freeze {
            remaining: 0,
            notify: None,
            at: None,
            parked: Vec::new(),
            released: true,
        });
        freeze.released = true;
        freeze.parked.clear();
    }

    /// Cuts the power: unmounts, loses what `mode` loses, and mounts the durable state again.
    /// Whoever used the filesystem must be gone (killed) first: the unmount waits only for the
    /// kernel to release the files they had open.
    pub fn power_cut(&mut self, mode: Cut, rng: &mut Rng) -> Result<CutReport, String> {
        self.unmount()?;
        let report = self.state().power_cut(mode, rng);
        self.session = Some(spawn(&self.shared, self.mountpoint.path(), self.threads)?);
        Ok(report)
    }

    fn unmount(&mut self) -> Result<(), String> {
        if let Some(session) = self.session.take() {
            self.shared.wait_until_released(RELEASE_LIMIT);
            match session.umount_and_join() {
                Ok(()) => {}
                // The kernel aborts the connection, rather than closing it, when the unmount
                // meets requests still queued (the killed server's last file releases): the
                // filesystem is unmounted all the same, and its state is ours, not the kernel's.
                Err(err) if err.raw_os_error() == Some(libc::ECONNABORTED) => {}
                Err(err) => return Err(format!("unmounting {}: {err}", self.path().display())),
            }
        }
        Ok(())
    }
}

impl Drop for PowerLossFs {
    /// Never hangs, even after a failed test left a writer stalled or still running: stalled
    /// changes are answered, and a mount still in use is detached lazily (the kernel finishes
    /// the unmount when its last user is gone) instead of waited for.
    fn drop(&mut self) {
        self.release_stalled();
        if let Err(err) = self.unmount() {
            eprintln!("power-loss filesystem: {err}; detaching it lazily");
            let path = std::ffi::CString::new(self.path().as_os_str().as_encoded_bytes())
                .expect("path without NUL");
            // SAFETY: a valid NUL-terminated path; umount2 touches no other memory.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

fn spawn(
    shared: &Arc<Shared>,
    mountpoint: &Path,
    threads: usize,
) -> Result<BackgroundSession, String> {
    let mut config = Config::default();
    config.n_threads = Some(threads);
    config.mount_options = vec![
        MountOption::FSName("eventstream-powerloss".into()),
        MountOption::NoAtime,
    ];
    config.acl = SessionACL::Owner;
    fuser::spawn_mount(Served(Arc::clone(shared)), mountpoint, &config).map_err(|err| {
        format!(
            "mounting FUSE on {}: {err} (mounting needs root or fusermount3)",
            mountpoint.display()
        )
    })
}
