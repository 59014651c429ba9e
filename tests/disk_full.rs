//! A full disk: the real server on a small tmpfs. Publishes fail with RESOURCE_EXHAUSTED naming
//! the cause, acknowledged events stay readable, and publishing resumes once space is freed.

mod common;
use common::*;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use eventstream::pb;

const TOPIC: &str = "orders";
const MIB: u64 = 1024 * 1024;

/// Set on a machine that cannot mount a tmpfs (not root): the tests then print why and skip.
const ALLOW_SKIP_ENV: &str = "EVENTSTREAM_DISK_FULL_ALLOW_SKIP";

/// A tmpfs of a fixed size, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` bytes; `None` (after saying why) only if skipping was asked for.
    fn mount(size: u64) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = CString::new(dir.path().as_os_str().as_bytes()).expect("path");
        let options = CString::new(format!("size={size}")).expect("options");
        // SAFETY: every pointer is a NUL-terminated string that outlives the call.
        let mounted = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                options.as_ptr().cast(),
            )
        };
        if mounted != 0 {
            let error = std::io::Error::last_os_error();
            if std::env::var_os(ALLOW_SKIP_ENV).is_some() {
                println!("SKIPPED: cannot mount a tmpfs: {error}");
                return None;
            }
            panic!("cannot mount a tmpfs: {error}. It needs root; set {ALLOW_SKIP_ENV}=1 to skip");
        }
        Some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk until about `leave` bytes are free; returns the filler file.
    fn fill_leaving(&self, leave: u64) -> PathBuf {
        let filler = self.path().join("filler");
        let free = free_bytes(self.path());
        let size = free.saturating_sub(leave);
        std::fs::write(&filler, vec![0xAB; usize::try_from(size).expect("size")]).expect("fill");
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let target = CString::new(self.dir.path().as_os_str().as_bytes()).expect("path");
        // SAFETY: a NUL-terminated path; MNT_DETACH so a lingering process cannot block it.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

fn free_bytes(path: &Path) -> u64 {
    let path = CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: statvfs writes only into `stats`.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(path.as_ptr(), &mut stats) }, 0);
    stats.f_bavail * stats.f_frsize
}

fn payload(n: u64) -> Vec<u8> {
    format!("order-{n:08}|").repeat(2000).into_bytes()
}

fn assert_intact(events: &[pb::Event], count: u64) {
    assert_eq!(offsets_of(events), (0..count).collect::<Vec<_>>());
    for event in events {
        assert!(
            event.payload == payload(event.offset),
            "offset {}",
            event.offset
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_the_free_space_reserve_publishes_fail_and_resume_once_space_is_freed() {
    let Some(disk) = SmallDisk::mount(96 * MIB) else {
        return;
    };
    let server = ChildServer::start(
        &disk.path().join("data"),
        &[&format!("--min-free-disk-bytes={}", 16 * MIB)],
    )
    .await;
    let mut client = server.client().await;
    for n in 0..20 {
        publish(&mut client, TOPIC, vec![event("OrderPlaced", payload(n))]).await;
    }
    let mut live = subscribe(&mut client, from_offset(TOPIC, 0)).await;
    let (events, _) = collect_events(&mut live, 20).await;
    assert_intact(&events, 20);

    let filler = disk.fill_leaving(8 * MIB);
    let status = try_publish(&mut client, TOPIC, vec![event("OrderPlaced", payload(20))])
        .await
        .expect_err("publishing into the reserve must fail");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("MiB free") && status.message().contains("--min-free-disk-bytes"),
        "the message must name the cause and the setting: {}",
        status.message()
    );
    let (events, next_offset) = read_topic_to_end(&mut client, TOPIC).await;
    assert_intact(&events, 20);
    assert_eq!(next_offset, 20, "the refused publish appended nothing");

    std::fs::remove_file(filler).expect("free the space");
    let results = publish(&mut client, TOPIC, vec![event("OrderPlaced", payload(20))]).await;
    assert_eq!(results[0].offset, 20);
    let (events, _) = collect_events(&mut live, 1).await;
    assert_eq!(offsets_of(&events), vec![20], "the live subscriber goes on");
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_failing_on_a_full_disk_loses_nothing_acknowledged() {
    let Some(disk) = SmallDisk::mount(48 * MIB) else {
        return;
    };
    let data = disk.path().join("data");
    let server = ChildServer::start(&data, &["--min-free-disk-bytes=0"]).await;
    let filler = disk.fill_leaving(12 * MIB);
    let mut client = server.client().await;
    let mut acknowledged = 0;
    let status = loop {
        match try_publish(
            &mut client,
            TOPIC,
            vec![event("OrderPlaced", payload(acknowledged))],
        )
        .await
        {
            Ok(results) => {
                assert_eq!(results[0].offset, acknowledged);
                acknowledged += 1;
            }
            Err(status) => break status,
        }
        assert!(acknowledged < 10_000, "a 48 MiB disk never filled");
    };
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("No space left on device")
            && (status.message().contains("publish again") || status.message().contains("restart")),
        "{}",
        status.message()
    );

    // A failed write to a segment file appends nothing; but if sled's own write failed, it
    // refuses every operation, reads included (the reserve exists to keep it from failing).
    // Either way, once space is freed, a restart recovers from what is on disk.
    std::fs::remove_file(filler).expect("free the space");
    server.kill().await;
    let server = ChildServer::start(&data, &["--min-free-disk-bytes=0"]).await;
    let mut client = server.client().await;
    let (events, _) = read_topic_to_end(&mut client, TOPIC).await;
    assert!(events.len() as u64 >= acknowledged);
    assert_intact(&events[..acknowledged as usize], acknowledged);
    let next = events.len() as u64;
    let results = publish(
        &mut client,
        TOPIC,
        vec![event("OrderPlaced", payload(next))],
    )
    .await;
    assert_eq!(results[0].offset, next);
}
