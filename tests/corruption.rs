//! Damaged data files: a flipped bit or a cut-short file is detected, never served as events,
//! and reported with the offsets it affects, by the server (DATA_LOSS) and by
//! `eventstream verify`.

mod common;
use common::*;

use std::path::{Path, PathBuf};

use eventstream::pb;

const TOPIC: &str = "ledger";
const EVENTS: u64 = 600;
const EVENTS_PER_REQUEST: u64 = 10;

/// A payload that names its offset, so a misplaced or altered event cannot pass for another.
fn payload(offset: u64) -> Vec<u8> {
    format!("event-{offset:06}|").repeat(40).into_bytes()
}

/// A data directory holding `EVENTS` events of `TOPIC`, written by a real server that was then
/// stopped.
async fn written_data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    for base in (0..EVENTS).step_by(EVENTS_PER_REQUEST as usize) {
        let events = (base..base + EVENTS_PER_REQUEST)
            .map(|offset| keyed_event("Deposited", payload(offset), &format!("deposit-{offset}")))
            .collect();
        publish(&mut client, TOPIC, events).await;
    }
    drop(client);
    assert!(server.terminate(TIMEOUT).await.success());
    dir
}

/// Every file under `dir` with its size, in path order.
fn files(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list") {
        let entry = entry.expect("entry");
        let metadata = entry.metadata().expect("metadata");
        if metadata.is_dir() {
            found.extend(files(&entry.path()));
        } else {
            found.push((entry.path(), metadata.len()));
        }
    }
    found.sort();
    found
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create");
    for entry in std::fs::read_dir(from).expect("list") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.metadata().expect("metadata").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Runs `eventstream verify` on `dir`; returns its exit code and output.
fn verify(dir: &Path) -> (i32, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_eventstream"))
        .args(["verify", "--data-dir"])
        .arg(dir)
        .output()
        .expect("run eventstream verify");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().expect("exit code"), text)
}

/// Reads `TOPIC` from `from` until the stream ends; fails the test on any event that is not
/// exactly the one published at its offset.
async fn read_checked(client: &mut Client, from: u64) -> (Vec<pb::Event>, Option<tonic::Status>) {
    let request = pb::SubscribeRequest {
        stop_at_end: true,
        ..from_offset(TOPIC, from)
    };
    let (events, ended) = match within(client.subscribe(request)).await {
        Ok(stream) => read_until_error(&mut stream.into_inner(), Vec::new()).await,
        Err(status) => (Vec::new(), Some(status)),
    };
    for (expected_offset, event) in (from..).zip(&events) {
        assert_eq!(event.offset, expected_offset, "offsets must be gapless");
        assert_eq!(event.r#type, "Deposited");
        assert!(
            event.payload == payload(event.offset),
            "offset {} was served with bytes that are not its own",
            event.offset
        );
    }
    (events, ended)
}

/// The `(first, end)` offsets a DATA_LOSS message names ("offsets 300 to 310").
fn damaged_range(status: &tonic::Status) -> (u64, u64) {
    assert_eq!(status.code(), tonic::Code::DataLoss, "{status:?}");
    let message = status.message();
    let numbers: Vec<u64> = message
        .split("offsets ")
        .nth(1)
        .and_then(|rest| rest.split(" (exclusive)").next())
        .map(|range| {
            range
                .split(" to ")
                .filter_map(|number| number.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    match numbers[..] {
        [first, end] => (first, end),
        _ => panic!("DATA_LOSS message does not name the damaged offsets: {message}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_record_batch_is_refused_with_data_loss_naming_its_offsets() {
    let dir = written_data_dir().await;
    damage_stored_batch(dir.path(), TOPIC, 300);

    let (code, report) = verify(dir.path());
    assert_eq!(code, 1, "verify must report the damage:\n{report}");
    assert!(
        report.contains("DAMAGED  ledger") && report.contains("offsets 300..310 cannot be served"),
        "{report}"
    );

    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    let (events, ended) = read_checked(&mut client, 0).await;
    assert_eq!(events.len(), 300, "every event before the damaged batch");
    assert_eq!(damaged_range(&ended.expect("DATA_LOSS")), (300, 310));

    let (events, ended) = read_checked(&mut client, 305).await;
    assert!(events.is_empty());
    assert_eq!(damaged_range(&ended.expect("DATA_LOSS")), (300, 310));

    let (events, ended) = read_checked(&mut client, 310).await;
    assert_eq!(events.len() as u64, EVENTS - 310, "everything after it");
    assert!(ended.is_none(), "{ended:?}");
}

/// Cuts the file at `path` to `fraction` of its length.
fn cut_short(path: &Path, fraction: f64) {
    let len = std::fs::metadata(path).expect("file").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|file| file.set_len((len as f64 * fraction) as u64))
        .expect("truncate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_short_index_is_rebuilt_from_the_segment_files() {
    let dir = written_data_dir().await;
    // sled recovers a prefix of its writes: the index of the later batches is gone.
    cut_short(&dir.path().join("db"), 0.4);

    let (code, report) = verify(dir.path());
    assert_eq!(
        code, 0,
        "the segment files still hold every event:\n{report}"
    );
    assert!(report.contains("offsets 0..600, 600 events"), "{report}");

    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    let (events, ended) = read_checked(&mut client, 0).await;
    assert_eq!(events.len() as u64, EVENTS);
    assert!(ended.is_none(), "{ended:?}");
    let last = EVENTS - 1;
    let retry = publish(
        &mut client,
        TOPIC,
        vec![keyed_event(
            "Deposited",
            payload(last),
            &format!("deposit-{last}"),
        )],
    )
    .await;
    assert!(
        retry[0].duplicate && retry[0].offset == last,
        "the idempotency key is indexed again: {retry:?}"
    );
    let results = publish(
        &mut client,
        TOPIC,
        vec![event("Deposited", payload(EVENTS))],
    )
    .await;
    assert_eq!(results[0].offset, EVENTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_lost_from_cut_short_files_are_reported_and_their_offsets_never_reused() {
    let dir = written_data_dir().await;
    // The index and the segment files both lose their later part.
    cut_short(&dir.path().join("db"), 0.4);
    for (path, _) in files(dir.path()) {
        if path.extension().is_some_and(|extension| extension == "seg") {
            cut_short(&path, 0.4);
        }
    }

    let (code, report) = verify(dir.path());
    assert_eq!(code, 1, "verify must report the loss:\n{report}");

    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    let (events, ended) = read_checked(&mut client, 0).await;
    let kept = events.len() as u64;
    assert!(kept < EVENTS, "cutting the files short must lose events");
    let (first, end) = damaged_range(&ended.expect("DATA_LOSS"));
    assert_eq!(first, kept);
    assert!(end > first && end <= EVENTS, "{first}..{end}");
    assert_topic_range(&mut client, TOPIC, 0, EVENTS).await;

    let results = publish(
        &mut client,
        TOPIC,
        vec![event("Deposited", payload(EVENTS))],
    )
    .await;
    assert_eq!(results[0].offset, EVENTS, "lost offsets are not reused");
    let (events, ended) = read_checked(&mut client, EVENTS).await;
    assert_eq!(offsets_of(&events), vec![EVENTS]);
    assert!(ended.is_none(), "{ended:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bit_flips_and_cuts_never_serve_wrong_events() {
    let original = written_data_dir().await;
    let seed = std::env::var("EVENTSTREAM_CORRUPTION_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("seed {seed} (replay with EVENTSTREAM_CORRUPTION_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    for trial in 0..16 {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(original.path(), dir.path());
        let candidates: Vec<_> = files(dir.path())
            .into_iter()
            .filter(|(_, len)| *len > 0)
            .collect();
        // Weighted by size, but every file (sled's small config, our checkpoint) gets its turns.
        let total: u64 = candidates.iter().map(|(_, len)| len).sum();
        let weight = |len: u64| len.max(total / 8);
        let mut pick = rng.u64(..candidates.iter().map(|(_, len)| weight(*len)).sum::<u64>());
        let (path, len) = candidates
            .iter()
            .find(|(_, len)| {
                let chosen = pick < weight(*len);
                pick = pick.saturating_sub(weight(*len));
                chosen
            })
            .expect("a file")
            .clone();
        let mut bytes = std::fs::read(&path).expect("read");
        let position = rng.usize(..usize::try_from(len).expect("size"));
        let damage = if trial % 4 == 3 {
            bytes.truncate(position);
            format!("cut {} to {position} bytes", path.display())
        } else {
            let bit = rng.u8(..8);
            bytes[position] ^= 1 << bit;
            format!("flipped bit {bit} of byte {position} of {}", path.display())
        };
        std::fs::write(&path, &bytes).expect("write");
        let checkpoint_damaged = path.ends_with("durable-ends");

        let server = match ChildServer::try_start(dir.path(), &[]).await {
            Ok(server) => server,
            Err(output) => {
                assert!(
                    output.contains("ERROR"),
                    "trial {trial} ({damage}): the server exited without saying why:\n{output}"
                );
                println!(
                    "trial {trial} ({damage}): refused to start: {}",
                    output.lines().last().unwrap_or("")
                );
                *outcomes.entry("refused to start").or_default() += 1;
                continue;
            }
        };
        let mut client = server.client().await;
        let (events, ended) = read_checked(&mut client, 0).await;
        match ended {
            None => {
                assert_eq!(
                    events.len() as u64,
                    EVENTS,
                    "trial {trial} ({damage}): the stream ended cleanly with events missing"
                );
                *outcomes.entry("all events intact").or_default() += 1;
            }
            Some(status) => {
                let (first, _) = damaged_range(&status);
                assert_eq!(first, events.len() as u64, "trial {trial} ({damage})");
                *outcomes.entry("damage refused with DATA_LOSS").or_default() += 1;
            }
        }
        if !checkpoint_damaged {
            let topic = get_topic(&mut client, TOPIC).await;
            assert!(
                topic.next_offset >= EVENTS,
                "trial {trial} ({damage}): the topic ends at {}, so offsets of acknowledged \
                 events would be reused",
                topic.next_offset
            );
        }
        server.kill().await;
    }
    println!("outcomes: {outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanly_stopped_server_leaves_no_space_allocated_ahead_in_its_files() {
    let dir = written_data_dir().await;
    let segment_files: Vec<_> = files(dir.path())
        .into_iter()
        .filter(|(path, _)| path.extension().is_some_and(|extension| extension == "seg"))
        .collect();
    assert!(!segment_files.is_empty());
    // The events are about 420 KB; files are allocated a MiB at a time while appended to.
    let stored: u64 = segment_files.iter().map(|(_, len)| len).sum();
    assert!(stored < 1024 * 1024, "{segment_files:?}");
    let (code, report) = verify(dir.path());
    assert_eq!(code, 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_an_intact_data_directory() {
    let dir = written_data_dir().await;
    let (code, report) = verify(dir.path());
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("intact   ledger: offsets 0..600, 600 events in 60 intact batches"),
        "{report}"
    );

    let (code, report) = verify(&dir.path().join("nowhere"));
    assert_eq!(code, 2, "{report}");
    assert!(
        report.contains("not an eventstream data directory"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_topic_is_not_taken_for_a_lost_one_after_a_crash() {
    // Stopped cleanly, so the checkpoint lists the topic.
    let dir = written_data_dir().await;
    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    within(client.delete_topic(pb::DeleteTopicRequest {
        name: TOPIC.to_string(),
    }))
    .await
    .expect("delete");
    server.kill().await;

    let (code, report) = verify(dir.path());
    assert_eq!(code, 0, "{report}");
    let server = ChildServer::start(dir.path(), &[]).await;
    let mut client = server.client().await;
    let status = try_get_topic(&mut client, TOPIC)
        .await
        .expect_err("the deleted topic must stay deleted");
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_directories_no_topic_owns_are_removed_at_start_up() {
    let dir = written_data_dir().await;
    // What a crash between dropping a deleted topic's index and removing its files leaves.
    let orphan = dir
        .path()
        .join("segments")
        .join("0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(&orphan).expect("create orphan");
    std::fs::write(orphan.join("00000000000000000000.seg"), b"old bytes").expect("write");

    let server = ChildServer::start(dir.path(), &[]).await;
    assert!(
        !orphan.exists(),
        "the orphaned segment directory is still there"
    );
    let mut client = server.client().await;
    let (events, ended) = read_checked(&mut client, 0).await;
    assert!(ended.is_none(), "{ended:?}");
    assert_eq!(events.len() as u64, EVENTS);
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_in_the_old_format_is_refused_saying_why() {
    /// The topic metadata of the format before segment files: no segment directory (field 6).
    #[derive(Clone, PartialEq, prost::Message)]
    struct OldMeta {
        #[prost(uint64, tag = "1")]
        create_time: u64,
    }
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let db = sled::open(dir.path()).expect("open sled");
        let tree = db.open_tree(format!("topic/{TOPIC}")).expect("tree");
        let meta = OldMeta { create_time: 1 };
        tree.insert(b"m", prost::Message::encode_to_vec(&meta))
            .expect("insert");
        db.flush().expect("flush");
    }
    let output = match ChildServer::try_start(dir.path(), &[]).await {
        Ok(server) => {
            server.kill().await;
            panic!("the server started on a data directory it cannot read");
        }
        Err(output) => output,
    };
    assert!(
        output.contains("format of an older eventstream version") && output.contains(TOPIC),
        "{output}"
    );
}
