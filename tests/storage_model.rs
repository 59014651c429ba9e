//! Model-based property test of the storage layer: random appends (moving cursors with their
//! events, or alone), reads, trims, time lookups, idempotency-key expiry, restarts and crashes
//! that lose the index written since the last sync, checked against a plain in-memory model.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use eventstream::model::{CursorName, Event, Timestamp, TopicConfig, TopicName};
use eventstream::storage::{
    Append, DedupEntry, LogState, Store, StoreOptions, TopicLog, TopicMeta, fingerprint, key_hash,
};
use proptest::prelude::*;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    /// Events with these payload sizes and (optional) idempotency keys out of a small set, and
    /// maybe a cursor (out of a small set) moved to a position in the same append.
    Append(Vec<(usize, Option<u8>)>, Option<(u8, u64)>),
    /// Read from a point in the retained range (as a fraction) with a byte budget.
    Read { at: f64, max_bytes: usize },
    /// Trim to a point in the retained range.
    Trim { at: f64 },
    /// Find the first event at or after the time of the n-th append.
    OffsetAtTime { append: usize },
    /// Forget keys of the first n appends.
    ExpireDedup { appends: usize },
    /// Write full generations of idempotency keys to their files.
    SealDedup,
    /// Close and reopen the store.
    Restart,
    /// Close the store and put sled's files back as they were at the last sync, as a crash
    /// would leave them; the segment files keep every append.
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            prop::collection::vec((0usize..3000, prop::option::of(0u8..6)), 1..12),
            prop::option::of((0u8..2, 0u64..1000)),
        )
            .prop_map(|(events, cursor)| Op::Append(events, cursor)),
        3 => (0.0..=1.0f64, 1usize..20_000).prop_map(|(at, max_bytes)| Op::Read { at, max_bytes }),
        1 => (0.0..=1.0f64).prop_map(|at| Op::Trim { at }),
        1 => (0usize..20).prop_map(|append| Op::OffsetAtTime { append }),
        1 => (0usize..20).prop_map(|appends| Op::ExpireDedup { appends }),
        1 => Just(Op::SealDedup),
        1 => Just(Op::Restart),
        1 => Just(Op::Crash),
    ]
}

/// What the store should hold.
#[derive(Default)]
struct Model {
    first: u64,
    events: Vec<Event>,
    /// Append time of each append, in order.
    append_times: Vec<(Timestamp, u64)>,
    dedup: BTreeMap<String, DedupEntry>,
    /// Keys appended once, remembered or not.
    keys: BTreeSet<String>,
    /// The latest expiry's cutoff: lookups ask for keys appended since.
    expired_before: Timestamp,
    /// The first offset as of the last sync.
    synced_first: u64,
    /// Each cursor's position.
    cursors: BTreeMap<String, u64>,
    /// The cursors' positions as of the last sync.
    synced_cursors: BTreeMap<String, u64>,
    /// The cursor moves since the last sync, in order, each with whether events came with it.
    unsynced_moves: Vec<(String, u64, bool)>,
}

impl Model {
    fn next(&self) -> u64 {
        self.events.len() as u64
    }

    fn point(&self, at: f64) -> u64 {
        self.first + ((self.next() - self.first) as f64 * at) as u64
    }

    fn synced(&mut self) {
        self.synced_first = self.first;
        self.synced_cursors = self.cursors.clone();
        self.unsynced_moves.clear();
    }

    /// What survives losing the index written since the last sync: every append (its segment
    /// file has it) with the cursors it moved, but no trim and no cursor moved without events.
    /// Expired keys may come back, but lookups ignore them by age.
    fn crashed(&mut self) {
        self.first = self.synced_first;
        self.cursors = self.synced_cursors.clone();
        for (name, position, with_events) in std::mem::take(&mut self.unsynced_moves) {
            if with_events {
                self.cursors.insert(name, position);
            }
        }
    }
}

/// The files sled keeps in the data directory: everything but the segment files and the
/// durable-ends checkpoint.
fn index_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .expect("list data directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("");
            name != "segments" && !name.starts_with("durable-ends")
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("create directory");
        for entry in std::fs::read_dir(from).expect("list") {
            let entry = entry.expect("entry");
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).expect("copy");
    }
}

/// Copies sled's files (quiescent after a sync) to `snapshot`, replacing what it held.
fn save_index(dir: &Path, snapshot: &Path) {
    let _ = std::fs::remove_dir_all(snapshot);
    std::fs::create_dir_all(snapshot).expect("create snapshot");
    for path in index_files(dir) {
        copy_tree(&path, &snapshot.join(path.file_name().expect("name")));
    }
}

/// Puts sled's files back as `snapshot` holds them.
fn restore_index(dir: &Path, snapshot: &Path) {
    for path in index_files(dir) {
        if path.is_dir() {
            std::fs::remove_dir_all(&path).expect("remove");
        } else {
            std::fs::remove_file(&path).expect("remove");
        }
    }
    copy_tree(snapshot, dir);
}

/// Opens the store in `dir`. sled's I/O threads may hold the previous instance's file lock
/// for a moment after it is dropped, and nothing lets us wait for them: so a lock conflict is
/// retried for up to 5 s.
fn open_store(dir: &Path, options: StoreOptions) -> Store {
    let mut attempts = 0;
    loop {
        match Store::open(dir, options) {
            Ok(store) => return store,
            Err(error)
                if error.to_string().contains("could not acquire lock") && attempts < 500 =>
            {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(error) => panic!("open store: {error}"),
        }
    }
}

fn open(dir: &Path) -> (Store, TopicLog) {
    let options = StoreOptions {
        cache_bytes: 8 * 1024 * 1024,
        // Small files, so trims remove some and reads cross them.
        segment_bytes: 16 * 1024,
        // Small generations, so keys are sealed into files, expired with them and reloaded.
        dedup_generation_keys: 3,
        ..StoreOptions::default()
    };
    let store = open_store(dir, options);
    let meta = TopicMeta {
        config: TopicConfig {
            retention_age: None,
            retention_events: None,
            retention_bytes: None,
            dedup_window: Duration::from_secs(60),
        },
        create_time: Timestamp(1),
    };
    let (mut logs, recovered) = store.topics(meta).expect("topics");
    assert!(
        recovered.is_empty(),
        "a clean reopen found damage: {recovered:?}"
    );
    let log = match logs.pop() {
        Some(log) => log,
        None => store
            .create_topic(TopicName::new("model").unwrap(), meta)
            .expect("create"),
    };
    (store, log)
}

fn check_state(log: &TopicLog, model: &Model) -> LogState {
    let state = log.state().expect("state");
    assert_eq!(state.bounds.first_offset, model.first);
    assert_eq!(state.bounds.next_offset, model.next());
    assert_eq!(state.bounds.size_bytes == 0, model.first == model.next());
    state
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let snapshot = dir.path().join("synced-index");
    let (mut store, mut log) = open(&data);
    let mut model = Model::default();
    store.sync().expect("sync");
    save_index(&data, &snapshot);
    for op in ops {
        let state = check_state(&log, &model);
        match op {
            Op::Append(specs, cursor) => {
                let time = Timestamp(1_000 + model.append_times.len() as u64 * 10);
                let mut events = Vec::new();
                let mut entries = Vec::new();
                for (size, key) in specs {
                    let offset = model.next() + events.len() as u64;
                    let key = key.map(|k| format!("key-{k}"));
                    let payload = Bytes::from(vec![offset as u8; size]);
                    let id = Uuid::now_v7();
                    if let Some(key) = &key {
                        if model.dedup.contains_key(key) || entries.iter().any(|(k, _)| k == key) {
                            continue;
                        }
                        let entry = DedupEntry {
                            offset,
                            time,
                            id,
                            fingerprint: fingerprint("T", &payload),
                        };
                        entries.push((key.clone(), entry));
                    }
                    events.push(Event {
                        id: id.to_string(),
                        topic: "model".into(),
                        offset,
                        event_type: "T".into(),
                        payload,
                        idempotency_key: key.unwrap_or_default(),
                        ..Event::default()
                    });
                }
                let cursors: Vec<(CursorName, u64)> = cursor
                    .map(|(name, position)| {
                        (CursorName::new(format!("cursor-{name}")).unwrap(), position)
                    })
                    .into_iter()
                    .collect();
                if events.is_empty() && cursors.is_empty() {
                    continue;
                }
                log.append(
                    state,
                    Append {
                        events: &events,
                        time,
                        cursors: &cursors,
                        keys: None,
                    },
                )
                .expect("append");
                for (name, position) in cursors {
                    let name = name.as_str().to_string();
                    model.cursors.insert(name.clone(), position);
                    model
                        .unsynced_moves
                        .push((name, position, !events.is_empty()));
                }
                if !events.is_empty() {
                    model.append_times.push((time, model.next()));
                }
                model.events.extend(events);
                model
                    .keys
                    .extend(entries.iter().map(|(key, _)| key.clone()));
                model.dedup.extend(entries);
            }
            Op::Read { at, max_bytes } => {
                let from = model.point(at);
                let read = log.read(from, model.next(), max_bytes);
                if from == model.next() {
                    assert!(read.expect("empty read").is_empty());
                } else {
                    let read: Vec<Event> = read
                        .expect("read")
                        .iter()
                        .map(|event| event.decode().expect("decode"))
                        .collect();
                    assert!(!read.is_empty());
                    let expected = &model.events[from as usize..from as usize + read.len()];
                    assert_eq!(read, expected);
                }
            }
            Op::Trim { at } => {
                let to = model.point(at);
                log.trim(state, to).expect("trim");
                model.first = to;
                if to < model.next() {
                    assert!(log.read(to.saturating_sub(1), model.next(), 1).is_err() || to == 0);
                }
            }
            Op::OffsetAtTime { append } => {
                let Some(&(time, offset)) = model.append_times.get(append) else {
                    continue;
                };
                let found = log.offset_at_time(time).expect("lookup");
                // The first retained batch at or after `time`, or none if all were trimmed.
                let expected = model.append_times[append..]
                    .iter()
                    .map(|&(_, base)| base.max(model.first))
                    .find(|&base| base < model.next())
                    .filter(|_| offset < model.next());
                assert_eq!(found, expected);
            }
            Op::ExpireDedup { appends } => {
                let Some(&(cutoff, _)) = model.append_times.get(appends) else {
                    continue;
                };
                log.expire_dedup(cutoff).expect("expire");
                model.expired_before = model.expired_before.max(cutoff);
                let since = model.expired_before;
                model.dedup.retain(|_, entry| entry.time >= since);
            }
            Op::SealDedup => log.seal_dedup().expect("seal"),
            Op::Restart => {
                store.sync().expect("sync");
                drop(log);
                drop(store);
                (store, log) = open(&data);
                store.sync().expect("sync");
                save_index(&data, &snapshot);
                model.synced();
            }
            Op::Crash => {
                drop(log);
                drop(store);
                restore_index(&data, &snapshot);
                (store, log) = open(&data);
                model.crashed();
                store.sync().expect("sync");
                save_index(&data, &snapshot);
                model.synced();
            }
        }
        for name in 0..2 {
            let name = format!("cursor-{name}");
            let stored = log
                .cursor(&CursorName::new(name.clone()).unwrap())
                .expect("cursor lookup")
                .map(|cursor| cursor.position);
            assert_eq!(stored, model.cursors.get(&name).copied(), "{name}");
        }
        for key in &model.keys {
            assert_eq!(
                log.dedup_entries(&[key_hash(key)], model.expired_before)
                    .expect("dedup lookup")[0]
                    .as_ref(),
                model.dedup.get(key),
                "key {key}"
            );
        }
    }
    check_state(&log, &model);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn storage_matches_the_model_across_restarts(ops in prop::collection::vec(op(), 1..40)) {
        run(ops);
    }
}
