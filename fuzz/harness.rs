//! The fuzz targets' oracles, shared by the time-bounded pass in `tests/fuzz.rs` and the
//! cargo-fuzz targets in `fuzz/fuzz_targets/`, each of which includes this file as a module.
//!
//! A target takes bytes that a client or a damaged disk could hand the server and asserts more
//! than "no panic": the documented error where the input is invalid, the right values where it is
//! valid (checked against a model written independently of `src/`), and allocation bounded by the
//! input's own size, never by a length the input claims.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use tonic::{Code, Status};

use eventstream::api::convert::{self, InvalidRequest};
use eventstream::engine::StartAt;
use eventstream::model::{
    CursorName, Expectation, MAX_IDEMPOTENCY_KEY_BYTES, MAX_KEY_BYTES, MAX_TOPIC_NAME_LEN,
    Timestamp, TopicConfig, TopicName,
};
use eventstream::pb;
use eventstream::pb::subscribe_request::Start;
use eventstream::storage::record_batch::{BatchError, EncodedBatch, EncodedEvent, RecordBatch};

/// The record batch's fixed header: version, CRC32C, length, base offset, count, append time.
pub const HEADER_LEN: usize = 1 + 4 + 4 + 8 + 4 + 8;
/// The record batch format's versions: without cursor moves, and with.
const VERSIONS: [u8; 2] = [2, 3];

/// The payload limit the byte-level request targets validate against: small, so that inputs
/// reach both sides of it.
pub const MAX_EVENT_BYTES: usize = 64;

/// What decoding, iterating records and reading filter fields may allocate whatever the input:
/// records are slices of the input's buffer, so only error messages and reference counts are
/// allocated.
const BORROWED_ALLOC_LIMIT: usize = 4 * 1024;

/// What turning `len` input bytes into owned values may allocate. A 3-byte record becomes an
/// `Event` and an `EncodedEvent` of a few hundred bytes, and vectors grow by doubling, so this is
/// generous; a length field claiming more than the input holds would still blow it.
fn owned_alloc_limit(len: usize) -> usize {
    512 * len + 64 * 1024
}

fn assert_alloc(what: &str, peak: usize, limit: usize, input_len: usize) {
    assert!(
        peak <= limit,
        "{what} allocated {peak} bytes at peak for a {input_len}-byte input (limit {limit})"
    );
}

/// Target `record_batch`: bytes read back from disk as a stored record batch, and the same bytes
/// as one stored event.
pub fn record_batch(data: &[u8]) {
    let input = Bytes::copy_from_slice(data);
    let (decoded, peak) = meter::peak_alloc(|| RecordBatch::decode(input.clone()));
    assert_alloc(
        "RecordBatch::decode",
        peak,
        BORROWED_ALLOC_LIMIT,
        data.len(),
    );
    if let Some(expected) = header_error(data) {
        assert_eq!(decoded.as_ref().err(), Some(&expected), "header check");
    }
    if let Some(len) = RecordBatch::stored_len(data) {
        assert!(len >= HEADER_LEN, "a scan always moves on: {len}");
    }
    match decoded {
        Ok(batch) => check_decoded_batch(data, &batch),
        Err(err) => assert!(!err.to_string().is_empty()),
    }
    encoded_event(data);
}

/// The error the fixed header alone dictates, checked in the order a reader must check it.
fn header_error(data: &[u8]) -> Option<BatchError> {
    if data.len() < HEADER_LEN {
        return Some(BatchError::Truncated(data.len()));
    }
    if !VERSIONS.contains(&data[0]) {
        return Some(BatchError::UnknownVersion(data[0]));
    }
    let stored = u32::from_le_bytes(data[1..5].try_into().expect("4 bytes"));
    let computed = crc32c::crc32c(&data[5..]);
    if stored != computed {
        return Some(BatchError::Checksum { stored, computed });
    }
    let len = u32::from_le_bytes(data[5..9].try_into().expect("4 bytes"));
    (usize::try_from(len).ok() != Some(data.len())).then(|| {
        BatchError::Malformed(format!(
            "header says {len} bytes, the batch has {}",
            data.len()
        ))
    })
}

fn le_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
}

/// Everything a reader may rely on once `decode` accepted `data`.
fn check_decoded_batch(data: &[u8], batch: &RecordBatch) {
    let base = batch.base_offset();
    let end = batch.end_offset();
    assert_eq!(
        RecordBatch::stored_len(data),
        Some(data.len()),
        "a scan finds the batch's end"
    );
    assert_eq!(base, le_u64(&data[9..17]), "base offset");
    assert_eq!(batch.append_time(), Timestamp(le_u64(&data[21..29])));
    let count = u32::from_le_bytes(data[17..21].try_into().expect("4 bytes"));
    assert_eq!(end - base, u64::from(count), "end offset");

    let (iterated, peak) = meter::peak_alloc(|| {
        let mut next = base;
        for record in batch.records() {
            let record = record.expect("a decoded batch's records parse");
            assert_eq!(
                record.offset, next,
                "records run from the base offset up by one"
            );
            next += 1;
        }
        next - base
    });
    assert_alloc("iterating records", peak, BORROWED_ALLOC_LIMIT, data.len());
    assert_eq!(iterated, u64::from(count));

    let (encoded, peak) = meter::peak_alloc(|| batch.encoded_from(0));
    assert_alloc(
        "encoded_from",
        peak,
        owned_alloc_limit(data.len()),
        data.len(),
    );
    let encoded = encoded.expect("a decoded batch's records parse");
    for from in [
        0,
        base,
        base.saturating_add(1),
        base + (end - base) / 2,
        end,
        u64::MAX,
    ] {
        let tail = batch.encoded_from(from).expect("records parse");
        let skip = usize::try_from(from.clamp(base, end) - base).expect("fits, it is a count");
        assert_eq!(tail, encoded[skip..], "encoded_from({from})");
    }

    let decoded: Vec<_> = encoded.iter().map(encoded_event_fields).collect();
    let (events, peak) = meter::peak_alloc(|| batch.events_from(base));
    assert_alloc(
        "events_from",
        peak,
        owned_alloc_limit(data.len()),
        data.len(),
    );
    match events {
        Ok(events) => {
            assert_eq!(events.len(), encoded.len());
            for (event, record) in events.iter().zip(&encoded) {
                assert_eq!(event.offset, record.offset, "offset read without decoding");
            }
            let moves = batch
                .cursor_moves()
                .expect("a decoded batch's cursor moves parse");
            let reencoded =
                RecordBatch::encode_indexed(base, batch.append_time(), &events, &moves).bytes;
            let again = RecordBatch::decode(reencoded).expect("re-encoded decodes");
            assert_eq!(again.events_from(0).expect("decodes"), events);
            assert_eq!(again.cursor_moves().expect("re-encoded moves parse"), moves);
        }
        Err(err) => assert!(
            decoded.iter().any(Result::is_err),
            "events_from failed ({err}) though every record decodes on its own"
        ),
    }

    let copied = RecordBatch::encode_encoded(base, batch.append_time(), &encoded);
    check_spans(&copied, encoded.iter().map(|event| &event.bytes[..]));
    let again = RecordBatch::decode(copied.bytes).expect("re-encoded batch decodes");
    assert_eq!((again.base_offset(), again.end_offset()), (base, end));
    assert_eq!(again.append_time(), batch.append_time());
    assert_eq!(again.encoded_from(0).expect("records parse"), encoded);
}

/// Target for one stored event: `filter_fields` must agree with a full decode.
fn encoded_event(data: &[u8]) {
    let event = EncodedEvent {
        offset: 0,
        bytes: Bytes::copy_from_slice(data),
    };
    let _ = encoded_event_fields(&event);
}

/// Reads the filter fields and fully decodes `event`, asserting they agree; returns the decode.
fn encoded_event_fields(event: &EncodedEvent) -> Result<(), BatchError> {
    let (fields, peak) = meter::peak_alloc(|| event.filter_fields());
    assert_alloc(
        "filter_fields",
        peak,
        BORROWED_ALLOC_LIMIT,
        event.bytes.len(),
    );
    let (decoded, peak) = meter::peak_alloc(|| event.decode());
    assert_alloc(
        "EncodedEvent::decode",
        peak,
        owned_alloc_limit(event.bytes.len()),
        event.bytes.len(),
    );
    let decoded = decoded?;
    let fields = fields.expect("filter_fields fails on an event that decodes");
    assert_eq!(
        fields.event_type, decoded.event_type,
        "type read without decoding"
    );
    assert_eq!(fields.key, decoded.key, "key read without decoding");
    Ok(())
}

/// Target for valid batches: `events` (offsets from `base_offset` up by one) are encoded, must
/// decode to themselves, and flipping bit `flip` (modulo the batch's length) must be caught.
pub fn record_batch_roundtrip(
    base_offset: u64,
    append_time: Timestamp,
    events: &[eventstream::model::Event],
    cursor_moves: &[(CursorName, u64)],
    flip: usize,
) {
    let indexed = RecordBatch::encode_indexed(base_offset, append_time, events, cursor_moves);
    let encodings: Vec<Vec<u8>> = events.iter().map(Message::encode_to_vec).collect();
    check_spans(&indexed, encodings.iter().map(Vec::as_slice));
    let stored = indexed.bytes;
    let count = u64::try_from(events.len()).expect("fits");
    match base_offset.checked_add(count) {
        Some(end) => {
            let batch = RecordBatch::decode(stored.clone()).expect("valid batch");
            assert_eq!(
                (batch.base_offset(), batch.end_offset()),
                (base_offset, end)
            );
            assert_eq!(batch.append_time(), append_time);
            assert_eq!(batch.events_from(0).expect("decodes"), events);
            assert_eq!(batch.cursor_moves().expect("moves parse"), cursor_moves);
            // Splicing the encoded events copies them exactly; a copy carries no cursor moves.
            let encoded = batch.encoded_from(0).expect("records parse");
            let copied = RecordBatch::encode_encoded(base_offset, append_time, &encoded);
            let unmoved = RecordBatch::encode_indexed(base_offset, append_time, events, &[]);
            assert_eq!(
                copied.bytes, unmoved.bytes,
                "splicing encoded events changes nothing"
            );
        }
        // An end offset past u64::MAX cannot be represented, so no reader may accept the batch.
        None => assert!(matches!(
            RecordBatch::decode(stored.clone()),
            Err(BatchError::Malformed(_))
        )),
    }
    let bit = flip % (stored.len() * 8);
    let mut damaged = stored.to_vec();
    damaged[bit / 8] ^= 1 << (bit % 8);
    let version = damaged[0];
    let result = RecordBatch::decode(Bytes::from(damaged));
    if !VERSIONS.contains(&version) {
        assert!(matches!(result, Err(BatchError::UnknownVersion(_))));
    } else if bit < 8 {
        // Flipped to the other version: the cursor moves' presence no longer matches it.
        assert!(
            matches!(result, Err(BatchError::Malformed(_))),
            "flipped bit {bit}: {result:?}"
        );
    } else {
        assert!(
            matches!(result, Err(BatchError::Checksum { .. })),
            "flipped bit {bit}: {result:?}"
        );
    }
}

/// Each span of `batch` must hold exactly the corresponding event's encoding.
fn check_spans<'a>(batch: &EncodedBatch, events: impl ExactSizeIterator<Item = &'a [u8]>) {
    assert_eq!(batch.spans.len(), events.len(), "one span per event");
    for (span, event) in batch.spans.iter().zip(events) {
        assert_eq!(&batch.bytes[span.clone()], event, "span {span:?}");
    }
}

/// Decodes `data` as `M`, checks the allocation, and that re-encoding is lossless.
fn decode_request<M: Message + Default + PartialEq + std::fmt::Debug>(data: &[u8]) -> Option<M> {
    let (decoded, peak) = meter::peak_alloc(|| M::decode(data));
    assert_alloc(
        "decoding a request",
        peak,
        owned_alloc_limit(data.len()),
        data.len(),
    );
    let request = decoded.ok()?;
    let again = M::decode(request.encode_to_vec().as_slice()).expect("re-encoded decodes");
    assert_eq!(again, request, "re-encoding is lossless");
    Some(request)
}

/// Target `publish_request`: a Publish, or one request of a PublishStream, off the wire.
pub fn publish_request(data: &[u8]) {
    if let Some(request) = decode_request::<pb::PublishRequest>(data) {
        check_publish(request, MAX_EVENT_BYTES);
    }
    if let Some(pb::PublishStreamRequest {
        request: Some(request),
    }) = decode_request(data)
    {
        check_publish(request, MAX_EVENT_BYTES);
    }
}

/// Target `subscribe_request`.
pub fn subscribe_request(data: &[u8]) {
    if let Some(request) = decode_request(data) {
        check_subscribe(request);
    }
}

/// The topic defaults the byte-level CreateTopic target validates against.
pub fn default_topic_config() -> TopicConfig {
    TopicConfig {
        retention_age: None,
        retention_events: None,
        retention_bytes: Some(1 << 30),
        dedup_window: Duration::from_secs(24 * 3600),
    }
}

/// Target `create_topic_request`.
pub fn create_topic_request(data: &[u8]) {
    if let Some(request) = decode_request(data) {
        check_create_topic(request, default_topic_config());
    }
}

fn assert_invalid_argument(error: InvalidRequest) {
    let message = error.to_string();
    let status = Status::from(error);
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), message);
}

/// The naming rules, restated: 1 to 249 of `[A-Za-z0-9._-]`, and not `.` or `..`.
fn is_valid_topic_name(name: &str) -> bool {
    (1..=MAX_TOPIC_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && name != "."
        && name != ".."
}

fn check_topic_name(name: &str) -> Option<TopicName> {
    match convert::topic_name(name.to_owned()) {
        Ok(topic) => {
            assert!(is_valid_topic_name(name), "accepted topic name {name:?}");
            assert_eq!(topic.as_str(), name);
            Some(topic)
        }
        Err(error) => {
            assert!(!is_valid_topic_name(name), "rejected topic name {name:?}");
            assert!(
                matches!(&error, InvalidRequest::TopicName { name: given, .. } if given == name)
            );
            assert_invalid_argument(error);
            None
        }
    }
}

/// What a precondition asks for, or the name of the rule it breaks.
fn model_expectation(
    field: &'static str,
    precondition: Option<&pb::Precondition>,
) -> Result<Expectation, String> {
    use pb::precondition::Expected;
    match precondition.and_then(|precondition| precondition.expected) {
        None => Ok(Expectation::Any),
        Some(Expected::Absent(true)) => Ok(Expectation::Absent),
        Some(Expected::Absent(false)) => {
            Err(format!("{:?}", InvalidRequest::AbsentFalse { field }))
        }
        Some(Expected::Equals(version)) => Ok(Expectation::Equals(version)),
    }
}

/// The first rule, in the order the validation applies them, that event `index` breaks.
fn publish_error(index: usize, event: &pb::EventData, max_event_bytes: usize) -> Option<String> {
    let error = if event.r#type.is_empty() {
        InvalidRequest::EmptyType { index }
    } else if event.idempotency_key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        InvalidRequest::IdempotencyKeyTooLong {
            index,
            len: event.idempotency_key.len(),
        }
    } else if event.key.len() > MAX_KEY_BYTES {
        InvalidRequest::KeyTooLong {
            index,
            len: event.key.len(),
        }
    } else {
        match model_expectation("expected_key_version", event.expected_key_version.as_ref()) {
            Err(error) => return Some(error),
            Ok(expectation) if expectation != Expectation::Any && event.key.is_empty() => {
                InvalidRequest::ExpectationWithoutKey { index }
            }
            Ok(_) if event.payload.len() > max_event_bytes => InvalidRequest::PayloadTooLarge {
                index,
                len: event.payload.len(),
                limit: max_event_bytes,
            },
            Ok(_) => return None,
        }
    };
    Some(format!("{error:?}"))
}

/// The first rule of a whole Publish that `request` breaks, in the order they are checked.
fn model_publication_error(request: &pb::PublishRequest, max_event_bytes: usize) -> Option<String> {
    if !is_valid_topic_name(&request.topic) {
        return Some("TopicName".to_owned());
    }
    if let Some(cursor) = &request.cursor {
        if !is_valid_topic_name(&cursor.name) {
            return Some("CursorName".to_owned());
        }
        let expected = cursor.expected_position.as_ref();
        if let Err(error) = model_expectation("cursor.expected_position", expected) {
            return Some(error);
        }
        if request.events.is_empty() {
            return None;
        }
    }
    if request.events.is_empty() {
        return Some(format!("{:?}", InvalidRequest::NoEvents));
    }
    request
        .events
        .iter()
        .enumerate()
        .find_map(|(index, event)| publish_error(index, event, max_event_bytes))
}

/// Validates a Publish as the server does and checks the outcome against the rules.
pub fn check_publish(request: pb::PublishRequest, max_event_bytes: usize) {
    check_topic_name(&request.topic);
    let expected = model_publication_error(&request, max_event_bytes);
    let given = request.clone();
    let (result, peak) = meter::peak_alloc(|| convert::publication(given, max_event_bytes));
    let input_len = request.encoded_len();
    assert_alloc("publication", peak, owned_alloc_limit(input_len), input_len);
    match result {
        Ok((topic, publication)) => {
            assert_eq!(expected, None, "accepted an invalid Publish");
            assert_eq!(topic.as_str(), request.topic);
            assert_eq!(
                publication.expected_next_offset,
                request.expected_next_offset
            );
            let cursor = publication
                .cursor
                .map(|c| (c.name.to_string(), c.position, c.expected));
            let expected_cursor = request.cursor.as_ref().map(|c| {
                let expected = c.expected_position.as_ref();
                let expected = model_expectation("cursor.expected_position", expected);
                (c.name.clone(), c.position, expected.expect("valid"))
            });
            assert_eq!(cursor, expected_cursor);
            assert_eq!(publication.events.len(), request.events.len());
            for (new, given) in publication.events.iter().zip(&request.events) {
                assert_eq!(new.event_type, given.r#type);
                assert_eq!(new.payload, given.payload);
                let key = Some(&given.idempotency_key).filter(|key| !key.is_empty());
                assert_eq!(new.idempotency_key.as_ref(), key);
                assert_eq!(new.key, given.key);
                assert!(
                    new.headers
                        .iter()
                        .eq(given.headers.iter().collect::<BTreeMap<_, _>>())
                );
                assert_eq!(new.content_type, given.content_type);
                assert_eq!(new.schema_version, given.schema_version);
                let expectation = given.expected_key_version.as_ref();
                let expectation = model_expectation("expected_key_version", expectation);
                assert_eq!(Ok(new.expected_key_version), expectation);
            }
        }
        Err(error) => {
            let got = match &error {
                InvalidRequest::TopicName { .. } => "TopicName".to_owned(),
                InvalidRequest::CursorName { .. } => "CursorName".to_owned(),
                other => format!("{other:?}"),
            };
            assert_eq!(Some(got), expected, "wrong rejection");
            assert_invalid_argument(error);
        }
    }
}

/// The time a `from_time` means, or `None` if it is not representable as nanoseconds since 1970.
fn model_time(time: prost_types::Timestamp) -> Option<Timestamp> {
    let nanos = u32::try_from(time.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    let seconds = u64::try_from(time.seconds).ok()?;
    let total = u128::from(seconds) * 1_000_000_000 + u128::from(nanos);
    u64::try_from(total).ok().map(Timestamp)
}

/// Validates a Subscribe as the server does and checks the outcome against the rules.
pub fn check_subscribe(request: pb::SubscribeRequest) {
    let (result, peak) = meter::peak_alloc(|| convert::subscribe_spec(&request));
    let input_len = request.encoded_len();
    assert_alloc(
        "subscribe_spec",
        peak,
        owned_alloc_limit(input_len),
        input_len,
    );
    check_topic_name(&request.topic);
    let expected = match request.start {
        None | Some(Start::Position(0 | 1)) => Ok(StartAt::Earliest),
        Some(Start::Position(2)) => Ok(StartAt::Latest),
        Some(Start::Position(other)) => {
            Err(format!("{:?}", InvalidRequest::UnknownPosition(other)))
        }
        Some(Start::FromOffset(offset)) => Ok(StartAt::Offset(offset)),
        Some(Start::FromTime(time)) => model_time(time)
            .map(StartAt::Time)
            .ok_or_else(|| "from_time".to_owned()),
    };
    match (result, expected) {
        (Ok(spec), Ok(start)) => {
            assert_eq!(spec.start, start);
            assert_eq!(
                spec.types,
                request.types.iter().cloned().collect::<HashSet<_>>()
            );
            assert_eq!(
                spec.key,
                Some(request.key.clone()).filter(|key| !key.is_empty())
            );
            assert_eq!(spec.stop_at_end, request.stop_at_end);
        }
        (Err(error), Err(expected)) => {
            match &error {
                InvalidRequest::BadTime { field, .. } => assert_eq!(*field, expected),
                other => assert_eq!(format!("{other:?}"), expected),
            }
            assert_invalid_argument(error);
        }
        (result, expected) => panic!("subscribe_spec gave {result:?}, expected {expected:?}"),
    }
}

/// What a proto Duration means, or `None` if it is negative. Out-of-range values saturate, as
/// protobuf's normalisation does.
fn model_duration(value: prost_types::Duration) -> Option<Duration> {
    const NANOS: i128 = 1_000_000_000;
    let total = i128::from(value.seconds) * NANOS + i128::from(value.nanos);
    if total < 0 {
        return None;
    }
    let seconds = u64::try_from(total / NANOS).expect("non-negative");
    if seconds > i64::MAX as u64 {
        return Some(Duration::new(i64::MAX as u64, 999_999_999));
    }
    Some(Duration::new(
        seconds,
        u32::try_from(total % NANOS).expect("below 1e9"),
    ))
}

/// Validates a CreateTopic as the server does and checks the outcome against the rules.
pub fn check_create_topic(request: pb::CreateTopicRequest, defaults: TopicConfig) {
    check_topic_name(&request.name);
    let expected = match request.config {
        None => Ok(defaults),
        Some(config) => {
            let age = config
                .retention_age
                .map(|age| model_duration(age).ok_or("config.retention_age"));
            let window = config
                .dedup_window
                .map(|w| model_duration(w).ok_or("config.dedup_window"));
            match (age.transpose(), window.transpose()) {
                (Err(field), _) | (Ok(_), Err(field)) => Err(field),
                (Ok(age), Ok(window)) => Ok(TopicConfig {
                    retention_age: age.filter(|age| !age.is_zero()),
                    retention_events: Some(config.retention_events).filter(|n| *n > 0),
                    retention_bytes: Some(config.retention_bytes).filter(|n| *n > 0),
                    dedup_window: window.unwrap_or(defaults.dedup_window),
                }),
            }
        }
    };
    match (convert::topic_config(request.config, defaults), expected) {
        (Ok(config), Ok(expected)) => assert_eq!(config, expected),
        (Err(error), Err(field)) => {
            assert!(
                matches!(error, InvalidRequest::BadTime { field: got, .. } if got == field),
                "{error:?}, expected a bad {field}"
            );
            assert_invalid_argument(error);
        }
        (result, expected) => panic!("topic_config gave {result:?}, expected {expected:?}"),
    }
}

/// Counts what the current thread allocates, so a target can bound what one call allocates.
pub mod meter {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// A single allocation this large while measuring aborts at once, with the context set by
    /// [`set_context`]: it cannot come from a valid input, and letting it through could take the
    /// machine's memory before any check runs.
    const HARD_LIMIT: usize = 256 << 20;

    /// The system allocator, counting per thread.
    pub struct Meter;

    #[global_allocator]
    static METER: Meter = Meter;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
        static MEASURING: Cell<bool> = const { Cell::new(false) };
        static CONTEXT: Cell<[u8; 200]> = const { Cell::new([0; 200]) };
    }

    fn record(delta: isize, size: usize) {
        // `try_with`: the allocator also runs while thread-locals are being torn down.
        let _ = LIVE.try_with(|live| {
            let now = live.get() + delta;
            live.set(now);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        });
        if size > HARD_LIMIT && MEASURING.try_with(Cell::get).unwrap_or(false) {
            abort_oversized(size);
        }
    }

    #[cold]
    fn abort_oversized(size: usize) -> ! {
        // No allocation from here on: format on the stack, write with a raw syscall.
        let mut message = [0u8; 400];
        let mut cursor = std::io::Cursor::new(&mut message[..]);
        let context = CONTEXT.try_with(Cell::get).unwrap_or([0; 200]);
        let context_len = context
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(context.len());
        let _ = std::io::Write::write_fmt(
            &mut cursor,
            format_args!(
                "\nfuzz: a single allocation of {size} bytes while handling fuzz input ({}); \
                 aborting\n",
                std::str::from_utf8(&context[..context_len]).unwrap_or("?")
            ),
        );
        let len = usize::try_from(cursor.position()).unwrap_or(0);
        // SAFETY: writes `len` initialised bytes of `message` to stderr.
        unsafe { libc::write(2, message.as_ptr().cast(), len) };
        std::process::abort();
    }

    // SAFETY: every call is passed to `System` unchanged; only counters are touched besides.
    unsafe impl GlobalAlloc for Meter {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            record(layout.size() as isize, layout.size());
            // SAFETY: forwarded as received.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            record(layout.size() as isize, layout.size());
            // SAFETY: forwarded as received.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            record(-(layout.size() as isize), 0);
            // SAFETY: forwarded as received.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            record(new_size as isize - layout.size() as isize, new_size);
            // SAFETY: forwarded as received.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    /// Names what this thread is doing, for the message of an oversized allocation.
    pub fn set_context(context: std::fmt::Arguments<'_>) {
        let mut buffer = [0u8; 200];
        // Too long a context is cut short, which is good enough for a message.
        let _ = std::io::Write::write_fmt(&mut std::io::Cursor::new(&mut buffer[..199]), context);
        CONTEXT.with(|cell| cell.set(buffer));
    }

    /// Restores the measuring flag when a measurement ends, by a panic too.
    struct Measuring(bool);

    impl Drop for Measuring {
        fn drop(&mut self) {
            let _ = MEASURING.try_with(|measuring| measuring.set(self.0));
        }
    }

    /// Runs `f`, returning its result and the most it had allocated (and not yet freed) at once.
    pub fn peak_alloc<R>(f: impl FnOnce() -> R) -> (R, usize) {
        let start = LIVE.with(Cell::get);
        PEAK.with(|peak| peak.set(start));
        let _measuring = Measuring(MEASURING.with(|measuring| measuring.replace(true)));
        let result = f();
        let peak = PEAK.with(Cell::get);
        (result, usize::try_from(peak - start).unwrap_or(0))
    }
}
