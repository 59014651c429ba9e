//! Model-based property test of the storage layer: random appends, reads, trims, time lookups,
//! idempotency-key expiry and restarts, checked against a plain in-memory model.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use eventstream::model::{Event, Timestamp, TopicConfig, TopicName};
use eventstream::storage::{
    Append, DedupEntry, LogState, Store, StoreOptions, TopicLog, TopicMeta, fingerprint,
};
use proptest::prelude::*;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    /// Events with these payload sizes and (optional) idempotency keys out of a small set.
    Append(Vec<(usize, Option<u8>)>),
    /// Read from a point in the retained range (as a fraction) with a byte budget.
    Read { at: f64, max_bytes: usize },
    /// Trim to a point in the retained range.
    Trim { at: f64 },
    /// Find the first event at or after the time of the n-th append.
    OffsetAtTime { append: usize },
    /// Forget keys of the first n appends.
    ExpireDedup { appends: usize },
    /// Close and reopen the store.
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec((0usize..3000, prop::option::of(0u8..6)), 1..12).prop_map(Op::Append),
        3 => (0.0..=1.0f64, 1usize..20_000).prop_map(|(at, max_bytes)| Op::Read { at, max_bytes }),
        1 => (0.0..=1.0f64).prop_map(|at| Op::Trim { at }),
        1 => (0usize..20).prop_map(|append| Op::OffsetAtTime { append }),
        1 => (0usize..20).prop_map(|appends| Op::ExpireDedup { appends }),
        1 => Just(Op::Restart),
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
}

impl Model {
    fn next(&self) -> u64 {
        self.events.len() as u64
    }

    fn point(&self, at: f64) -> u64 {
        self.first + ((self.next() - self.first) as f64 * at) as u64
    }
}

fn open(dir: &Path) -> (Store, TopicLog) {
    let options = StoreOptions {
        cache_bytes: 8 * 1024 * 1024,
        // Small files, so trims remove some and reads cross them.
        segment_bytes: 16 * 1024,
        ..StoreOptions::default()
    };
    let store = Store::open(dir, options).expect("open store");
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
    let (mut store, mut log) = open(dir.path());
    let mut model = Model::default();
    for op in ops {
        let state = check_state(&log, &model);
        match op {
            Op::Append(specs) => {
                let time = Timestamp(1_000 + model.append_times.len() as u64 * 10);
                let mut events = Vec::new();
                let mut entries = Vec::new();
                for (size, key) in specs {
                    let offset = model.next() + events.len() as u64;
                    let key = key.map(|k| format!("key-{k}"));
                    let payload = Bytes::from(vec![offset as u8; size]);
                    if let Some(key) = &key {
                        if model.dedup.contains_key(key) || entries.iter().any(|(k, _)| k == key) {
                            continue;
                        }
                        let entry = DedupEntry {
                            offset,
                            time,
                            id: Uuid::now_v7(),
                            fingerprint: fingerprint("T", &payload),
                        };
                        entries.push((key.clone(), entry));
                    }
                    events.push(Event {
                        id: format!("id-{offset}"),
                        topic: "model".into(),
                        offset,
                        event_type: "T".into(),
                        payload,
                        idempotency_key: key.unwrap_or_default(),
                        ..Event::default()
                    });
                }
                if events.is_empty() {
                    continue;
                }
                log.append(
                    state,
                    Append {
                        events: &events,
                        time,
                        dedup: &entries,
                        cursors: &[],
                    },
                )
                .expect("append");
                model.append_times.push((time, model.next()));
                model.events.extend(events);
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
                model.dedup.retain(|_, entry| entry.time >= cutoff);
            }
            Op::Restart => {
                store.sync().expect("sync");
                drop(log);
                drop(store);
                (store, log) = open(dir.path());
            }
        }
        for (key, entry) in &model.dedup {
            assert_eq!(
                log.dedup_entry(key).expect("dedup lookup").as_ref(),
                Some(entry)
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
