//! A consumer group's durable record: settings, ack floor, and the acknowledgements above it.
//!
//! The whole record is rewritten by every acknowledgement flush. It stays small because it holds
//! acknowledged offsets above the floor as ranges: their count is bounded by the events not yet
//! acknowledged, not by those acknowledged. Stored as protobuf followed by a CRC32C of it, so a
//! damaged record is reported, never read as a position.

use std::time::Duration;

use prost::Message;

use crate::model::{
    DeadLetters, GroupConfig, GroupCounters, OutOfRangePolicy, Timestamp, TopicName,
};

/// Everything a consumer group must find again after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// Its settings.
    pub config: GroupConfig,
    /// When it was created.
    pub create_time: Timestamp,
    /// The lowest offset not yet acknowledged.
    pub ack_floor: u64,
    /// Acknowledged offsets above the floor: sorted, disjoint `[start, end)` ranges, each
    /// starting above `ack_floor`.
    pub acked_above: Vec<(u64, u64)>,
    /// Deliveries so far of events not yet acknowledged (only those delivered at least once).
    pub attempts: Vec<(u64, u32)>,
    /// Its counters.
    pub counters: GroupCounters,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StoredGroup {
    #[prost(uint64, tag = "1")]
    create_time: u64,
    #[prost(uint64, tag = "2")]
    ack_deadline_nanos: u64,
    #[prost(uint32, tag = "3")]
    max_deliveries: u32,
    #[prost(string, tag = "4")]
    dead_letter_topic: String,
    #[prost(uint32, tag = "5")]
    out_of_range: u32,
    #[prost(uint64, tag = "6")]
    ack_floor: u64,
    /// Range starts and ends, alternating, each as the distance from the previous number.
    #[prost(uint64, repeated, tag = "7")]
    acked_above: Vec<u64>,
    /// Offsets (as distances from the previous one) and attempts, alternating.
    #[prost(uint64, repeated, tag = "8")]
    attempts: Vec<u64>,
    #[prost(uint64, tag = "9")]
    redeliveries: u64,
    #[prost(uint64, tag = "10")]
    dead_lettered: u64,
    #[prost(uint64, tag = "11")]
    skipped: u64,
}

/// Why a stored record could not be read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DamagedRecord;

impl GroupRecord {
    /// The record's stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut previous = self.ack_floor;
        let mut acked_above = Vec::with_capacity(self.acked_above.len() * 2);
        for &(start, end) in &self.acked_above {
            acked_above.push(start.saturating_sub(previous));
            acked_above.push(end.saturating_sub(start));
            previous = end;
        }
        let mut previous = self.ack_floor;
        let mut attempts = Vec::with_capacity(self.attempts.len() * 2);
        for &(offset, count) in &self.attempts {
            attempts.push(offset.saturating_sub(previous));
            attempts.push(u64::from(count));
            previous = offset;
        }
        let stored = StoredGroup {
            create_time: self.create_time.as_nanos(),
            ack_deadline_nanos: u64::try_from(self.config.ack_deadline.as_nanos())
                .unwrap_or(u64::MAX),
            max_deliveries: self
                .config
                .dead_letters
                .as_ref()
                .map_or(0, |dead_letters| dead_letters.max_deliveries),
            dead_letter_topic: self
                .config
                .dead_letters
                .as_ref()
                .map(|dead_letters| dead_letters.topic.as_str().to_owned())
                .unwrap_or_default(),
            out_of_range: match self.config.out_of_range {
                OutOfRangePolicy::Fail => 0,
                OutOfRangePolicy::Earliest => 1,
                OutOfRangePolicy::Latest => 2,
            },
            ack_floor: self.ack_floor,
            acked_above,
            attempts,
            redeliveries: self.counters.redeliveries,
            dead_lettered: self.counters.dead_lettered,
            skipped: self.counters.skipped,
        };
        let mut out = stored.encode_to_vec();
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads a stored record back, checking its CRC and its invariants.
    pub fn decode(bytes: &[u8]) -> Result<Self, DamagedRecord> {
        let split = bytes.len().checked_sub(4).ok_or(DamagedRecord)?;
        let (body, crc) = bytes.split_at(split);
        let crc = u32::from_le_bytes(crc.try_into().map_err(|_| DamagedRecord)?);
        if crc32c::crc32c(body) != crc {
            return Err(DamagedRecord);
        }
        let stored = StoredGroup::decode(body).map_err(|_| DamagedRecord)?;
        if stored.acked_above.len() % 2 != 0 || stored.attempts.len() % 2 != 0 {
            return Err(DamagedRecord);
        }
        let mut previous = stored.ack_floor;
        let mut acked_above = Vec::with_capacity(stored.acked_above.len() / 2);
        for pair in stored.acked_above.chunks_exact(2) {
            let start = previous.checked_add(pair[0]).ok_or(DamagedRecord)?;
            let end = start.checked_add(pair[1]).ok_or(DamagedRecord)?;
            if start <= stored.ack_floor || end <= start {
                return Err(DamagedRecord);
            }
            acked_above.push((start, end));
            previous = end;
        }
        let mut previous = stored.ack_floor;
        let mut attempts = Vec::with_capacity(stored.attempts.len() / 2);
        for pair in stored.attempts.chunks_exact(2) {
            let offset = previous.checked_add(pair[0]).ok_or(DamagedRecord)?;
            let count = u32::try_from(pair[1]).map_err(|_| DamagedRecord)?;
            attempts.push((offset, count));
            previous = offset;
        }
        let dead_letters = match (stored.max_deliveries, stored.dead_letter_topic.as_str()) {
            (0, "") => None,
            (0, _) | (_, "") => return Err(DamagedRecord),
            (max_deliveries, topic) => Some(DeadLetters {
                max_deliveries,
                topic: TopicName::new(topic).map_err(|_| DamagedRecord)?,
            }),
        };
        Ok(Self {
            config: GroupConfig {
                ack_deadline: Duration::from_nanos(stored.ack_deadline_nanos),
                dead_letters,
                out_of_range: match stored.out_of_range {
                    0 => OutOfRangePolicy::Fail,
                    1 => OutOfRangePolicy::Earliest,
                    2 => OutOfRangePolicy::Latest,
                    _ => return Err(DamagedRecord),
                },
            },
            create_time: Timestamp(stored.create_time),
            ack_floor: stored.ack_floor,
            acked_above,
            attempts,
            counters: GroupCounters {
                redeliveries: stored.redeliveries,
                dead_lettered: stored.dead_lettered,
                skipped: stored.skipped,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> GroupRecord {
        GroupRecord {
            config: GroupConfig {
                ack_deadline: Duration::from_secs(30),
                dead_letters: Some(DeadLetters {
                    max_deliveries: 5,
                    topic: TopicName::new("orders.email.dead-letters").unwrap(),
                }),
                out_of_range: OutOfRangePolicy::Earliest,
            },
            create_time: Timestamp(1_700_000_000_000_000_000),
            ack_floor: 1_000,
            acked_above: vec![(1_002, 1_010), (1_011, 5_000)],
            attempts: vec![(1_000, 3), (1_001, 1), (1_010, 2)],
            counters: GroupCounters {
                redeliveries: 7,
                dead_lettered: 1,
                skipped: 2,
            },
        }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let record = record();
        assert_eq!(GroupRecord::decode(&record.encode()), Ok(record));
    }

    #[test]
    fn every_single_byte_change_is_detected() {
        let encoded = record().encode();
        for index in 0..encoded.len() {
            let mut damaged = encoded.clone();
            damaged[index] ^= 0x10;
            assert_eq!(
                GroupRecord::decode(&damaged),
                Err(DamagedRecord),
                "byte {index}"
            );
        }
        assert_eq!(
            GroupRecord::decode(&encoded[..encoded.len() - 1]),
            Err(DamagedRecord)
        );
        assert_eq!(GroupRecord::decode(&[]), Err(DamagedRecord));
    }
}
