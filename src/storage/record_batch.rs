//! The on-disk form of one group commit: a checksummed record batch.
//!
//! Layout (integers little-endian):
//!
//! ```text
//! version u8 | crc32c u32 of everything after it | length u32 (of the whole batch)
//! | base_offset u64 | count u32 | append_time u64 (ns since epoch, shared by every record)
//! | count records | cursor moves: (name length u8 | name | position u64) until the end
//! ```
//!
//! Version 2 has no cursor moves, version 3 at least one. The version byte is outside the
//! checksum, but a flip between the two still fails the check that the moves are absent or
//! present; and a build that predates cursor moves refuses a batch holding some as of an
//! unknown version, rather than misreading it.
//!
//! The length makes batches self-delimiting, so a segment file can be scanned from any batch's
//! start (see [`RecordBatch::stored_len`]).
//!
//! The cursor moves are the cursors the same publish moved. Stored with the events, they become
//! durable with them, so start-up indexing a batch that sled lost restores both or neither.
//!
//! Each record is `0x0A, varint length, encoded Event`: exactly how field 1 (`repeated Event
//! events`) of `SubscribeResponse` is encoded, so a run of stored records can be spliced into a
//! response frame as it is.

use bytes::{Buf, BufMut, Bytes};
use prost::Message;

use crate::model::{CursorName, Event, Timestamp};

/// The format of a batch without cursor moves.
const VERSION: u8 = 2;
/// The format of a batch with cursor moves.
const VERSION_WITH_CURSOR_MOVES: u8 = 3;
/// Bytes of the fixed header, which [`RecordBatch::stored_len`] needs to see.
pub const HEADER_LEN: usize = 1 + 4 + 4 + 8 + 4 + 8;
/// Protobuf key of field 1, length-delimited.
const RECORD_TAG: u8 = 0x0A;

/// Why stored bytes are not a valid record batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Shorter than the fixed header.
    #[error("record batch truncated: {0} bytes, header needs {HEADER_LEN}")]
    Truncated(usize),
    /// A format this build does not know.
    #[error("record batch has unknown format version {0}")]
    UnknownVersion(u8),
    /// The bytes do not match their checksum.
    #[error("record batch checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum {
        /// The checksum in the header.
        stored: u32,
        /// The checksum of the bytes as read.
        computed: u32,
    },
    /// The records do not parse, or disagree with the header.
    #[error("record batch is malformed: {0}")]
    Malformed(String),
}

/// A decoded, checksum-verified record batch.
#[derive(Debug, Clone)]
pub struct RecordBatch {
    base_offset: u64,
    count: u32,
    append_time: Timestamp,
    records: Bytes,
    /// Checked by [`RecordBatch::decode`], parsed by [`RecordBatch::cursor_moves`].
    cursor_moves: Bytes,
}

impl RecordBatch {
    /// Encodes `events` (whose offsets must run from `base_offset` up by one) as a batch.
    pub fn encode(base_offset: u64, append_time: Timestamp, events: &[Event]) -> Vec<u8> {
        Self::encode_indexed(base_offset, append_time, events, &[])
            .bytes
            .into()
    }

    /// [`RecordBatch::encode`] with the cursors the same publish moves, also telling where each
    /// event's bytes lie.
    pub fn encode_indexed(
        base_offset: u64,
        append_time: Timestamp,
        events: &[Event],
        cursor_moves: &[(CursorName, u64)],
    ) -> EncodedBatch {
        let lens: Vec<usize> = events.iter().map(Message::encoded_len).collect();
        encode_records(
            base_offset,
            append_time,
            &lens,
            |index, out| {
                debug_assert_eq!(events[index].offset, base_offset + index as u64);
                events[index].encode_raw(out);
            },
            cursor_moves,
        )
    }

    /// Encodes already encoded events (offsets running from `base_offset` up by one) as a batch.
    pub fn encode_encoded(
        base_offset: u64,
        append_time: Timestamp,
        events: &[EncodedEvent],
    ) -> EncodedBatch {
        let lens: Vec<usize> = events.iter().map(|event| event.bytes.len()).collect();
        encode_records(
            base_offset,
            append_time,
            &lens,
            |index, out| out.put_slice(&events[index].bytes),
            &[],
        )
    }

    /// Verifies and parses a stored batch.
    ///
    /// Checks the checksum, that the header's count matches the records, and that the records'
    /// offsets run from the base offset up by one; nothing damaged gets past it.
    pub fn decode(bytes: Bytes) -> Result<Self, BatchError> {
        if bytes.len() < HEADER_LEN {
            return Err(BatchError::Truncated(bytes.len()));
        }
        let mut header = &bytes[..HEADER_LEN];
        let version = header.get_u8();
        if version != VERSION && version != VERSION_WITH_CURSOR_MOVES {
            return Err(BatchError::UnknownVersion(version));
        }
        let stored = header.get_u32_le();
        let computed = crc32c::crc32c(&bytes[5..]);
        if stored != computed {
            return Err(BatchError::Checksum { stored, computed });
        }
        let len = header.get_u32_le();
        if usize::try_from(len).ok() != Some(bytes.len()) {
            return Err(BatchError::Malformed(format!(
                "header says {len} bytes, the batch has {}",
                bytes.len()
            )));
        }
        let (base_offset, count, append_time) = header_fields(header);
        let body = bytes.slice(HEADER_LEN..);
        let mut records = Records {
            rest: body.clone(),
            next_offset: base_offset,
        };
        let found = records
            .by_ref()
            .take(count as usize)
            .try_fold(0u32, |found, record| record.map(|_| found + 1))?;
        if found != count {
            return Err(BatchError::Malformed(format!(
                "header says {count} records, found {found}"
            )));
        }
        let cursor_moves = records.rest;
        if cursor_moves.is_empty() != (version == VERSION) {
            return Err(BatchError::Malformed(format!(
                "a version {version} batch with {} bytes of cursor moves",
                cursor_moves.len()
            )));
        }
        check_cursor_moves(&cursor_moves)?;
        Ok(Self {
            base_offset,
            count,
            append_time,
            records: body.slice(..body.len() - cursor_moves.len()),
            cursor_moves,
        })
    }

    /// The cursors the publish that wrote this batch moved, and where to.
    pub fn cursor_moves(&self) -> Result<Vec<(CursorName, u64)>, BatchError> {
        let mut rest = &self.cursor_moves[..];
        let mut moves = Vec::new();
        while let Some((name, position)) = split_cursor_move(&mut rest)? {
            moves.push((cursor_name(name)?, position));
        }
        Ok(moves)
    }

    /// The length of the batch whose first [`HEADER_LEN`] bytes are `header`, as the header says;
    /// `None` if they cannot start a batch. Unchecked until the batch is decoded.
    pub fn stored_len(header: &[u8]) -> Option<usize> {
        let mut header = header.get(..HEADER_LEN)?;
        if !matches!(header.get_u8(), VERSION | VERSION_WITH_CURSOR_MOVES) {
            return None;
        }
        header.advance(4);
        usize::try_from(header.get_u32_le())
            .ok()
            .filter(|len| *len >= HEADER_LEN)
    }

    /// Where each record's encoded event lies in the stored batch, in offset order.
    pub fn spans(&self) -> Result<Vec<std::ops::Range<usize>>, BatchError> {
        let mut start = HEADER_LEN;
        let mut spans = Vec::with_capacity(self.count as usize);
        for record in self.records() {
            let len = record?.bytes.len();
            start += 1 + prost::encoding::encoded_len_varint(len as u64);
            spans.push(start..start + len);
            start += len;
        }
        Ok(spans)
    }

    /// The offset of the first record.
    pub fn base_offset(&self) -> u64 {
        self.base_offset
    }

    /// Just past the last record.
    pub fn end_offset(&self) -> u64 {
        self.base_offset + u64::from(self.count)
    }

    /// The append time shared by all records.
    pub fn append_time(&self) -> Timestamp {
        self.append_time
    }

    /// The records in offset order, still encoded.
    pub fn records(&self) -> Records {
        Records {
            rest: self.records.clone(),
            next_offset: self.base_offset,
        }
    }

    /// The records from offset `from` on, still encoded.
    pub fn encoded_from(&self, from: u64) -> Result<Vec<EncodedEvent>, BatchError> {
        self.records()
            .filter(|record| record.as_ref().map_or(true, |event| event.offset >= from))
            .collect()
    }

    /// Decodes every record from `from` on.
    pub fn events_from(&self, from: u64) -> Result<Vec<Event>, BatchError> {
        self.encoded_from(from)?
            .iter()
            .map(EncodedEvent::decode)
            .collect()
    }
}

/// A record batch encoded for storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBatch {
    /// The batch.
    pub bytes: Bytes,
    /// Where each event's encoding lies in `bytes`, in offset order: a key index can point at
    /// one event without the batch being read whole.
    pub spans: Vec<std::ops::Range<usize>>,
}

/// Writes the header, then each record behind its tag and length (`lens[index]` bytes written
/// by `write_record(index, out)`), then the cursor moves, then the checksum.
fn encode_records(
    base_offset: u64,
    append_time: Timestamp,
    lens: &[usize],
    mut write_record: impl FnMut(usize, &mut Vec<u8>),
    cursor_moves: &[(CursorName, u64)],
) -> EncodedBatch {
    let records_len: usize = lens
        .iter()
        .map(|len| 1 + prost::encoding::encoded_len_varint(*len as u64) + len)
        .sum();
    let moves_len: usize = cursor_moves
        .iter()
        .map(|(name, _)| 1 + name.as_str().len() + 8)
        .sum();
    let len = HEADER_LEN + records_len + moves_len;
    let mut out = Vec::with_capacity(len);
    out.put_u8(if cursor_moves.is_empty() {
        VERSION
    } else {
        VERSION_WITH_CURSOR_MOVES
    });
    out.put_u32_le(0);
    out.put_u32_le(u32::try_from(len).expect("a batch is smaller than 4 GiB"));
    out.put_u64_le(base_offset);
    out.put_u32_le(u32::try_from(lens.len()).expect("a batch holds fewer than 2^32 events"));
    out.put_u64_le(append_time.as_nanos());
    let mut spans = Vec::with_capacity(lens.len());
    for (index, len) in lens.iter().enumerate() {
        out.put_u8(RECORD_TAG);
        prost::encoding::encode_varint(*len as u64, &mut out);
        let start = out.len();
        write_record(index, &mut out);
        spans.push(start..out.len());
    }
    for (name, position) in cursor_moves {
        let name = name.as_str().as_bytes();
        out.put_u8(u8::try_from(name.len()).expect("a cursor name is shorter than 256 bytes"));
        out.put_slice(name);
        out.put_u64_le(*position);
    }
    let crc = crc32c::crc32c(&out[5..]);
    out[1..5].copy_from_slice(&crc.to_le_bytes());
    EncodedBatch {
        bytes: out.into(),
        spans,
    }
}

impl EncodedBatch {
    /// The batch as [`RecordBatch::decode`] would return it, sharing its bytes, without the
    /// checks that stored bytes need: this build wrote them a moment ago.
    pub fn batch(&self) -> RecordBatch {
        let (base_offset, count, append_time) = header_fields(&self.bytes[FIELDS_AT..HEADER_LEN]);
        let records_end = self.spans.last().map_or(HEADER_LEN, |span| span.end);
        RecordBatch {
            base_offset,
            count,
            append_time,
            records: self.bytes.slice(HEADER_LEN..records_end),
            cursor_moves: self.bytes.slice(records_end..),
        }
    }
}

/// Where the header's fields after version, checksum and length begin.
const FIELDS_AT: usize = 1 + 4 + 4;

/// The base offset, count and append time of a header, read from [`FIELDS_AT`] on.
fn header_fields(mut fields: &[u8]) -> (u64, u32, Timestamp) {
    (
        fields.get_u64_le(),
        fields.get_u32_le(),
        Timestamp(fields.get_u64_le()),
    )
}

/// Checks that `moves` splits into whole cursor moves naming valid cursors.
fn check_cursor_moves(mut moves: &[u8]) -> Result<(), BatchError> {
    while let Some((name, _)) = split_cursor_move(&mut moves)? {
        cursor_name(name)?;
    }
    Ok(())
}

/// The cursor a stored move names.
fn cursor_name(name: &[u8]) -> Result<CursorName, BatchError> {
    std::str::from_utf8(name)
        .ok()
        .and_then(|name| CursorName::new(name).ok())
        .ok_or_else(|| {
            BatchError::Malformed(format!("cursor move names an invalid cursor {name:?}"))
        })
}

/// Splits the first cursor move (name, position) off `moves`; `None` once it is empty.
fn split_cursor_move<'a>(moves: &mut &'a [u8]) -> Result<Option<(&'a [u8], u64)>, BatchError> {
    let Some((&name_len, rest)) = moves.split_first() else {
        return Ok(None);
    };
    let name_len = usize::from(name_len);
    if name_len == 0 || rest.len() < name_len + 8 {
        return Err(BatchError::Malformed(format!(
            "cursor move of a {name_len}-byte name overruns the batch ({} bytes left)",
            rest.len()
        )));
    }
    let (name, mut rest) = rest.split_at(name_len);
    let position = rest.get_u64_le();
    *moves = rest;
    Ok(Some((name, position)))
}

/// One stored event, still in its protobuf encoding (`eventstream.v1.Event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    /// The event's offset.
    pub offset: u64,
    /// The encoded `Event` message.
    pub bytes: Bytes,
}

/// The fields of an encoded event that subscription filters look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterFields<'a> {
    /// The event's type.
    pub event_type: &'a str,
    /// The event's entity key.
    pub key: &'a str,
}

impl EncodedEvent {
    /// Decodes the whole event.
    pub fn decode(&self) -> Result<Event, BatchError> {
        Event::decode(self.bytes.clone())
            .map_err(|err| BatchError::Malformed(format!("undecodable event: {err}")))
    }

    /// Reads the type and key without decoding the rest (the payload above all).
    pub fn filter_fields(&self) -> Result<FilterFields<'_>, BatchError> {
        let mut fields = FilterFields {
            event_type: "",
            key: "",
        };
        scan_fields(&self.bytes, |tag, value| {
            match (tag, value) {
                (5, FieldValue::Bytes(bytes)) => fields.event_type = utf8(bytes)?,
                (8, FieldValue::Bytes(bytes)) => fields.key = utf8(bytes)?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(fields)
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, BatchError> {
    std::str::from_utf8(bytes).map_err(|_| BatchError::Malformed("event field is not UTF-8".into()))
}

/// A top-level field of an encoded message, as [`scan_fields`] hands it over.
enum FieldValue<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

/// Calls `visit` with each top-level field of the encoded message `bytes`.
fn scan_fields<'a>(
    mut bytes: &'a [u8],
    mut visit: impl FnMut(u32, FieldValue<'a>) -> Result<(), BatchError>,
) -> Result<(), BatchError> {
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
    let malformed = |err: prost::DecodeError| BatchError::Malformed(format!("bad event: {err}"));
    while !bytes.is_empty() {
        let (tag, wire_type) = decode_key(&mut bytes).map_err(malformed)?;
        let value = match wire_type {
            WireType::Varint => FieldValue::Varint(decode_varint(&mut bytes).map_err(malformed)?),
            WireType::LengthDelimited => {
                let len = decode_varint(&mut bytes).map_err(malformed)?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|len| *len <= bytes.len())
                    .ok_or_else(|| BatchError::Malformed("field overruns the event".into()))?;
                let (value, rest) = bytes.split_at(len);
                bytes = rest;
                FieldValue::Bytes(value)
            }
            _ => {
                skip_field(wire_type, tag, &mut bytes, DecodeContext::default())
                    .map_err(malformed)?;
                FieldValue::Other
            }
        };
        visit(tag, value)?;
    }
    Ok(())
}

/// Iterator over a batch's records; see [`RecordBatch::records`].
pub struct Records {
    rest: Bytes,
    next_offset: u64,
}

impl Iterator for Records {
    type Item = Result<EncodedEvent, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = self.split_record();
        if item.is_err() {
            self.rest.clear();
        }
        Some(item)
    }
}

impl Records {
    fn split_record(&mut self) -> Result<EncodedEvent, BatchError> {
        if self.rest.get_u8() != RECORD_TAG {
            return Err(BatchError::Malformed("bad record tag".into()));
        }
        let len = prost::encoding::decode_varint(&mut self.rest)
            .map_err(|err| BatchError::Malformed(format!("bad record length: {err}")))?;
        let len = usize::try_from(len)
            .ok()
            .filter(|len| *len <= self.rest.len())
            .ok_or_else(|| {
                BatchError::Malformed(format!(
                    "record of {len} bytes overruns the batch ({} left)",
                    self.rest.len()
                ))
            })?;
        let bytes = self.rest.split_to(len);
        let offset = record_offset(&bytes)?;
        if offset != self.next_offset {
            return Err(BatchError::Malformed(format!(
                "record at offset {offset} where {} was expected",
                self.next_offset
            )));
        }
        // A record at u64::MAX would leave the batch no representable end offset.
        self.next_offset = offset.checked_add(1).ok_or_else(|| {
            BatchError::Malformed(format!("record at offset {offset} ends the offset range"))
        })?;
        Ok(EncodedEvent { offset, bytes })
    }
}

/// Reads field 3 (`offset`) of an encoded `Event` without decoding the rest.
fn record_offset(bytes: &[u8]) -> Result<u64, BatchError> {
    let mut offset = 0;
    scan_fields(bytes, |tag, value| {
        if let (3, FieldValue::Varint(value)) = (tag, value) {
            offset = value;
        }
        Ok(())
    })?;
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(base: u64, count: u64) -> Vec<Event> {
        (base..base + count)
            .map(|offset| Event {
                id: format!("id-{offset}"),
                topic: "t".into(),
                offset,
                event_type: "Happened".into(),
                payload: Bytes::from(vec![offset as u8; 40]),
                ..Event::default()
            })
            .collect()
    }

    #[test]
    fn spans_point_at_each_event() {
        let events = events(3, 4);
        let batch = RecordBatch::encode_indexed(3, Timestamp(1), &events, &[]);
        assert_eq!(batch.spans.len(), events.len());
        for (span, event) in batch.spans.iter().zip(&events) {
            assert_eq!(Event::decode(&batch.bytes[span.clone()]).unwrap(), *event);
        }
    }

    #[test]
    fn a_decoded_batch_knows_its_length_and_spans() {
        let events = events(3, 4);
        let encoded = RecordBatch::encode_indexed(3, Timestamp(1), &events, &cursor_moves());
        assert_eq!(
            RecordBatch::stored_len(&encoded.bytes),
            Some(encoded.bytes.len())
        );
        assert_eq!(
            RecordBatch::stored_len(&encoded.bytes[..HEADER_LEN - 1]),
            None
        );
        assert_eq!(RecordBatch::stored_len(&[0; HEADER_LEN]), None);
        let batch = RecordBatch::decode(encoded.bytes.clone()).unwrap();
        assert_eq!(batch.spans().unwrap(), encoded.spans);
        assert_eq!(batch.cursor_moves().unwrap(), cursor_moves());
        assert_eq!(batch.events_from(0).unwrap(), events);
    }

    #[test]
    fn an_encoded_batch_reads_as_its_decoding() {
        for moves in [vec![], cursor_moves()] {
            for events in [events(3, 4), vec![]] {
                let encoded = RecordBatch::encode_indexed(3, Timestamp(9), &events, &moves);
                let decoded = RecordBatch::decode(encoded.bytes.clone()).unwrap();
                let read = encoded.batch();
                assert_eq!(read.base_offset(), decoded.base_offset());
                assert_eq!(read.end_offset(), decoded.end_offset());
                assert_eq!(read.append_time(), decoded.append_time());
                assert_eq!(read.records, decoded.records);
                assert_eq!(read.cursor_moves, decoded.cursor_moves);
            }
        }
    }

    fn cursor_moves() -> Vec<(CursorName, u64)> {
        vec![
            (CursorName::new("projector").unwrap(), 7),
            (CursorName::new("x".repeat(249)).unwrap(), u64::MAX),
        ]
    }

    #[test]
    fn roundtrip_keeps_every_record_in_order() {
        let stored = RecordBatch::encode(7, Timestamp(42), &events(7, 5));
        let batch = RecordBatch::decode(Bytes::from(stored)).unwrap();
        assert_eq!((batch.base_offset(), batch.end_offset()), (7, 12));
        assert_eq!(batch.append_time(), Timestamp(42));
        assert_eq!(batch.events_from(0).unwrap(), events(7, 5));
        assert_eq!(batch.events_from(10).unwrap(), events(10, 2));
    }

    #[test]
    fn a_batch_without_cursor_moves_keeps_the_version_older_builds_read() {
        let stored = RecordBatch::encode(0, Timestamp(1), &events(0, 3));
        assert_eq!(stored[0], VERSION);
        let with_moves =
            RecordBatch::encode_indexed(0, Timestamp(1), &events(0, 3), &cursor_moves()).bytes;
        assert_eq!(with_moves[0], VERSION_WITH_CURSOR_MOVES);
    }

    #[test]
    fn a_move_naming_an_invalid_cursor_is_refused() {
        let mut stored =
            RecordBatch::encode_indexed(0, Timestamp(1), &events(0, 1), &cursor_moves())
                .bytes
                .to_vec();
        // The first move's name, before its position and the whole second move.
        let at = stored.len() - (1 + 249 + 8) - 8 - "projector".len();
        stored[at] = b'/';
        let crc = crc32c::crc32c(&stored[5..]);
        stored[1..5].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            RecordBatch::decode(Bytes::from(stored)),
            Err(BatchError::Malformed(_))
        ));
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let stored =
            RecordBatch::encode_indexed(0, Timestamp(1), &events(0, 3), &cursor_moves()).bytes;
        for bit in 0..stored.len() * 8 {
            let mut damaged = stored.to_vec();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(
                RecordBatch::decode(Bytes::from(damaged)).is_err(),
                "flip of bit {bit} went unnoticed"
            );
        }
    }

    #[test]
    fn every_truncation_is_detected() {
        let stored =
            RecordBatch::encode_indexed(0, Timestamp(1), &events(0, 3), &cursor_moves()).bytes;
        for len in 0..stored.len() {
            assert!(RecordBatch::decode(Bytes::copy_from_slice(&stored[..len])).is_err());
        }
    }

    #[test]
    fn records_are_the_wire_form_of_repeated_event_field_one() {
        #[derive(Clone, PartialEq, prost::Message)]
        struct Frame {
            #[prost(message, repeated, tag = "1")]
            events: Vec<Event>,
        }
        let stored =
            RecordBatch::encode_indexed(3, Timestamp(1), &events(3, 4), &cursor_moves()).bytes;
        let batch = RecordBatch::decode(stored).unwrap();
        let frame = Frame::decode(batch.records.clone()).unwrap();
        assert_eq!(frame.events, events(3, 4));
    }
}
