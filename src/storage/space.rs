//! The free-space reserve: appends stop before the disk is full, so sled never meets ENOSPC.
//!
//! sled 0.34 treats a failed write as fatal to the whole database: every later write fails until
//! it is reopened. Refusing appends while free space is below a reserve keeps it from getting
//! there, and publishing resumes by itself as soon as space is freed.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::StoreError;

/// Refuses appends that would leave less than a reserve of free space on the data's disk.
pub(super) struct SpaceGuard {
    dir: PathBuf,
    reserve: AtomicU64,
}

impl SpaceGuard {
    /// A guard for the disk holding `dir`, with no reserve yet.
    pub(super) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            reserve: AtomicU64::new(0),
        }
    }

    /// Keeps at least `bytes` free; 0 turns the check off.
    pub(super) fn set_reserve(&self, bytes: u64) {
        self.reserve.store(bytes, Ordering::Relaxed);
    }

    /// Fails with [`StoreError::DiskFull`] if writing `incoming` bytes would eat into the reserve.
    pub(super) fn check(&self, incoming: u64) -> Result<(), StoreError> {
        let reserve = self.reserve.load(Ordering::Relaxed);
        if reserve == 0 {
            return Ok(());
        }
        let free = free_bytes(&self.dir).map_err(|source| StoreError::Io {
            action: format!("reading the free space of {}", self.dir.display()),
            source,
        })?;
        if free < reserve.saturating_add(incoming) {
            return Err(StoreError::DiskFull {
                dir: self.dir.clone(),
                free,
                reserve,
            });
        }
        Ok(())
    }
}

/// Bytes an unprivileged process may still write on the filesystem holding `dir`.
fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("the path contains a NUL byte"))?;
    // SAFETY: statvfs only writes into the struct we pass; the path is NUL-terminated.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // The field types differ between platforms.
    Ok(stats.f_bavail as u64 * stats.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_reserve_never_refuses_and_an_impossible_one_always_does() {
        let dir = tempfile::tempdir().expect("dir");
        let guard = SpaceGuard::new(dir.path());
        guard.check(u64::MAX).expect("no reserve");
        guard.set_reserve(u64::MAX / 2);
        match guard.check(1) {
            Err(StoreError::DiskFull { free, reserve, .. }) => {
                assert_eq!(reserve, u64::MAX / 2);
                assert!(free > 0);
            }
            other => panic!("expected DiskFull, got {other:?}"),
        }
    }
}
