//! Getting sled's writes onto the disk for real.
//!
//! sled 0.34's `flush` ends in `sync_file_range` on Linux, which neither empties the disk's write
//! cache nor persists a grown file size, and sled never fsyncs the files it creates beside its
//! main file (large pages under `blobs/`, snapshots) nor the directories that name them. So a
//! sync here is: `flush`, then `fsync` of the main `db` file, then `fsync` of every file not yet
//! synced in the data directory and `blobs/`, then of those directories if they gained entries.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{StoreError, io_error};

/// Makes a sled database's writes durable.
pub(super) struct DiskSync {
    dir: PathBuf,
    db_file: File,
    /// Files known to be on disk, with the size they had when synced. sled appends to a blob
    /// file while a later flush may already list it, so a file whose size has changed since is
    /// synced again.
    synced: Mutex<HashMap<PathBuf, u64>>,
    /// Set after a failed sync: the kernel may have dropped the dirty pages, so retrying could
    /// report success for data that is gone.
    poisoned: AtomicBool,
}

impl DiskSync {
    pub(super) fn new(dir: &Path) -> Result<Self, StoreError> {
        let db_path = dir.join("db");
        let db_file =
            File::open(&db_path).map_err(io_error(format!("opening {}", db_path.display())))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            db_file,
            synced: Mutex::new(HashMap::new()),
            poisoned: AtomicBool::new(false),
        })
    }

    pub(super) fn sync(&self, db: &sled::Db) -> Result<(), StoreError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        let result = self.sync_once(db);
        if result.is_err() {
            self.poisoned.store(true, Ordering::Release);
        }
        result
    }

    fn sync_once(&self, db: &sled::Db) -> Result<(), StoreError> {
        db.flush()?;
        // fdatasync: persists the data and the file size it needs, skipping timestamps.
        self.db_file
            .sync_data()
            .map_err(io_error("fsync of the sled data file".into()))?;
        let mut synced = self
            .synced
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for dir in [self.dir.clone(), self.dir.join("blobs")] {
            sync_new_files(&dir, &mut synced)?;
        }
        Ok(())
    }
}

/// Fsyncs the files in `dir` that are new or have changed size since they were last synced,
/// then `dir` itself if any were new.
fn sync_new_files(dir: &Path, synced: &mut HashMap<PathBuf, u64>) -> Result<(), StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(io_error(format!("listing {}", dir.display()))(err)),
    };
    let mut present = HashMap::new();
    let mut any_new = false;
    for entry in entries {
        let entry = entry.map_err(io_error(format!("listing {}", dir.display())))?;
        let is_file = entry
            .file_type()
            .map(|kind| kind.is_file())
            .unwrap_or(false);
        let path = entry.path();
        if !is_file || path.file_name().is_some_and(|name| name == "db") {
            continue;
        }
        let len = match entry.metadata() {
            Ok(metadata) => metadata.len(),
            // sled removed it after the listing: nothing to keep.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io_error(format!("inspecting {}", path.display()))(err)),
        };
        let known = synced.get(&path).copied();
        if known != Some(len) {
            match File::open(&path) {
                Ok(file) => file
                    .sync_all()
                    .map_err(io_error(format!("fsync of {}", path.display())))?,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(io_error(format!("opening {}", path.display()))(err)),
            }
            any_new |= known.is_none();
        }
        present.insert(path, len);
    }
    if any_new {
        sync_dir(dir)?;
    }
    synced.retain(|path, _| path.parent() != Some(dir) || present.contains_key(path));
    synced.extend(present);
    Ok(())
}

/// Creates `dir` and any missing parents durably: each new directory's name is fsynced into its
/// parent, so a power cut cannot take the data directory away with what it holds.
pub(super) fn create_dir_durably(dir: &Path) -> Result<(), StoreError> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|path| !path.exists()).collect();
    std::fs::create_dir_all(dir).map_err(io_error(format!(
        "creating data directory {}",
        dir.display()
    )))?;
    for created in missing.iter().rev() {
        let parent = match created.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        sync_dir(parent)?;
    }
    Ok(())
}

/// Fsyncs `dir`, making the names of the files in it durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error(format!("fsync of directory {}", dir.display())))
}
