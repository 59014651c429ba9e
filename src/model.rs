//! Domain types shared by the storage layer, the engine and the gRPC layer.
//!
//! Values of these types are valid by construction: the gRPC layer converts requests into them
//! once, and nothing below it re-validates.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// Longest topic name accepted, as in Kafka.
pub const MAX_TOPIC_NAME_LEN: usize = 249;
/// Longest idempotency key accepted, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 256;
/// Longest accepted event key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A cursor's name; cursors are named by the same rules as topics.
pub type CursorName = TopicName;

/// A valid topic name: 1–249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(String);

/// Why a string is not a valid topic name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTopicName {
    /// The name is empty.
    #[error("topic name is empty")]
    Empty,
    /// The name is longer than [`MAX_TOPIC_NAME_LEN`].
    #[error("topic name is {0} characters long; the limit is {MAX_TOPIC_NAME_LEN}")]
    TooLong(usize),
    /// The name is `.` or `..`.
    #[error("topic name may not be `.` or `..`")]
    Dots,
    /// The name holds a character outside `[A-Za-z0-9._-]`.
    #[error("topic name contains {0:?}; allowed are A-Z, a-z, 0-9, '.', '_' and '-'")]
    BadCharacter(char),
}

impl TopicName {
    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidTopicName> {
        let name = name.into();
        if name.is_empty() {
            return Err(InvalidTopicName::Empty);
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(InvalidTopicName::BadCharacter(bad));
        }
        // Only ASCII is left, so bytes are characters.
        if name.len() > MAX_TOPIC_NAME_LEN {
            return Err(InvalidTopicName::TooLong(name.len()));
        }
        if name == "." || name == ".." {
            return Err(InvalidTopicName::Dots);
        }
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A point in time with nanosecond precision, as nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current wall-clock time (the epoch if the clock is before it).
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// Nanoseconds since the Unix epoch.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// This time minus `age`, saturating at the epoch.
    pub fn saturating_sub(self, age: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(u64::try_from(age.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        Self(u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX))
    }
}

impl From<Timestamp> for SystemTime {
    fn from(time: Timestamp) -> Self {
        UNIX_EPOCH + Duration::from_nanos(time.0)
    }
}

/// An event as a publisher hands it in, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// What happened; never empty.
    pub event_type: String,
    /// The opaque body.
    pub payload: Bytes,
    /// Deduplication key; `None` means the event is never deduplicated.
    pub idempotency_key: Option<String>,
    /// The entity the event is about; empty if none.
    pub key: String,
    /// Free-form metadata.
    pub headers: BTreeMap<String, String>,
    /// The payload's media type; empty if none.
    pub content_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// What the key's latest version must be for the event to be appended.
    pub expected_key_version: Expectation,
}

/// An optimistic-concurrency expectation about a value: a key's latest version, a cursor's
/// position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expectation {
    /// Whatever it is.
    #[default]
    Any,
    /// There is none yet.
    Absent,
    /// It is exactly this.
    Equals(u64),
}

impl Expectation {
    /// Whether `current` meets the expectation.
    pub fn holds(self, current: Option<u64>) -> bool {
        match self {
            Expectation::Any => true,
            Expectation::Absent => current.is_none(),
            Expectation::Equals(expected) => current == Some(expected),
        }
    }
}

impl std::fmt::Display for Expectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expectation::Any => f.write_str("any"),
            Expectation::Absent => f.write_str("none yet"),
            Expectation::Equals(value) => write!(f, "{value}"),
        }
    }
}

/// A named position stored with a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Its name.
    pub name: CursorName,
    /// Its position.
    pub position: u64,
    /// When it was last moved.
    pub update_time: Timestamp,
}

/// A cursor move that goes with a Publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorUpdate {
    /// The cursor.
    pub name: CursorName,
    /// The new position.
    pub position: u64,
    /// What the current position must be.
    pub expected: Expectation,
}

/// One Publish: events to append all or nothing, with the expectations that guard them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Publication {
    /// The events, in order.
    pub events: Vec<NewEvent>,
    /// What the topic's next offset must be.
    pub expected_next_offset: Option<u64>,
    /// A cursor to move in the same write.
    pub cursor: Option<CursorUpdate>,
}

impl Publication {
    /// Events with no expectations attached.
    pub fn of(events: Vec<NewEvent>) -> Self {
        Self {
            events,
            ..Self::default()
        }
    }
}

/// An event as stored in a topic's log.
///
/// Its protobuf encoding is field for field the wire form of `eventstream.v1.Event`, so a stored
/// record can be handed to a client without re-encoding.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// UUID v7, as text.
    #[prost(string, tag = "1")]
    pub id: String,
    /// The topic's name.
    #[prost(string, tag = "2")]
    pub topic: String,
    /// Position in the topic's log.
    #[prost(uint64, tag = "3")]
    pub offset: u64,
    /// Append time.
    #[prost(message, optional, tag = "4")]
    pub time: Option<prost_types::Timestamp>,
    /// What happened.
    #[prost(string, tag = "5")]
    pub event_type: String,
    /// The opaque body.
    #[prost(bytes = "bytes", tag = "6")]
    pub payload: Bytes,
    /// Deduplication key; empty if none.
    #[prost(string, tag = "7")]
    pub idempotency_key: String,
    /// Entity key; empty if none.
    #[prost(string, tag = "8")]
    pub key: String,
    /// Free-form metadata.
    #[prost(btree_map = "string, string", tag = "9")]
    pub headers: BTreeMap<String, String>,
    /// The payload's media type.
    #[prost(string, tag = "10")]
    pub content_type: String,
    /// The payload's schema version.
    #[prost(uint32, tag = "11")]
    pub schema_version: u32,
    /// The event's version within its key; `None` without a key.
    #[prost(uint64, optional, tag = "12")]
    pub key_version: Option<u64>,
}

/// Converts a [`Timestamp`] to its protobuf form.
pub fn to_proto_time(time: Timestamp) -> prost_types::Timestamp {
    const NANOS_PER_SEC: u64 = 1_000_000_000;
    prost_types::Timestamp {
        seconds: i64::try_from(time.0 / NANOS_PER_SEC).unwrap_or(i64::MAX),
        nanos: i32::try_from(time.0 % NANOS_PER_SEC).unwrap_or(0),
    }
}

/// An event id in its text form, written straight into a string of the right size (`to_string`
/// goes through the formatter and grows the string: it showed in the publish path's profile).
pub fn id_text(id: uuid::Uuid) -> String {
    id.hyphenated()
        .encode_lower(&mut uuid::Uuid::encode_buffer())
        .to_owned()
}

/// Where a published event ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// The event's offset.
    pub offset: u64,
    /// The event's id.
    pub id: uuid::Uuid,
    /// The event's append time.
    pub time: Timestamp,
    /// True if the event was a repeat of an already appended idempotency key.
    pub duplicate: bool,
    /// The event's version within its key; `None` without a key (or for a duplicate whose
    /// original retention has removed).
    pub key_version: Option<u64>,
}

/// Per-topic settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicConfig {
    /// Remove events older than this.
    pub retention_age: Option<Duration>,
    /// Keep at most this many events.
    pub retention_events: Option<u64>,
    /// Keep at most this many stored bytes.
    pub retention_bytes: Option<u64>,
    /// How long idempotency keys are remembered.
    pub dedup_window: Duration,
}

/// The retained range and size of a topic's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogBounds {
    /// The oldest retained offset (equals `next_offset` when nothing is retained).
    pub first_offset: u64,
    /// The offset the next appended event gets.
    pub next_offset: u64,
    /// Bytes the retained events occupy.
    pub size_bytes: u64,
}

/// A topic's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// The topic's name.
    pub name: TopicName,
    /// Its settings.
    pub config: TopicConfig,
    /// Its retained range, as visible to subscribers.
    pub bounds: LogBounds,
    /// When it was created.
    pub create_time: Timestamp,
}

/// A consumer group's name; named by the same rules as topics.
pub type GroupName = TopicName;

/// What a consumer group does when retention removes events it has not acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutOfRangePolicy {
    /// Stop and report, until the group is reset.
    #[default]
    Fail,
    /// Go on from the oldest retained event.
    Earliest,
    /// Go on from the end of the log.
    Latest,
}

/// A consumer group's settings, fixed at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// How long a member has to acknowledge a delivery.
    pub ack_deadline: Duration,
    /// When and where events that keep failing go; `None`: they are delivered for ever.
    pub dead_letters: Option<DeadLetters>,
    /// What happens when the group's position falls below the retained range.
    pub out_of_range: OutOfRangePolicy,
}

/// Where a consumer group sends events that keep failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetters {
    /// Deliveries of one event before it is dead-lettered; at least 1.
    pub max_deliveries: u32,
    /// The topic it goes to.
    pub topic: TopicName,
}

/// A consumer group's counters, kept since its creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupCounters {
    /// Deliveries that were a second or later attempt.
    pub redeliveries: u64,
    /// Events published to the dead-letter topic.
    pub dead_lettered: u64,
    /// Events removed by retention before they were acknowledged.
    pub skipped: u64,
}

/// A consumer group's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The topic it consumes.
    pub topic: TopicName,
    /// Its name.
    pub name: GroupName,
    /// Its settings.
    pub config: GroupConfig,
    /// When it was created.
    pub create_time: Timestamp,
    /// The lowest offset not yet acknowledged.
    pub ack_floor: u64,
    /// The topic's visible end.
    pub next_offset: u64,
    /// Events below `next_offset` not yet acknowledged.
    pub lag: u64,
    /// Members connected.
    pub members: usize,
    /// Deliveries awaiting acknowledgement.
    pub in_flight: u64,
    /// Its counters.
    pub counters: GroupCounters,
    /// Why it is not delivering, if it is not.
    pub problem: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_the_kafka_rules() {
        assert!(TopicName::new("orders.v1_EU-west").is_ok());
        assert!(TopicName::new("a".repeat(249)).is_ok());
        assert_eq!(TopicName::new(""), Err(InvalidTopicName::Empty));
        assert_eq!(
            TopicName::new("a".repeat(250)),
            Err(InvalidTopicName::TooLong(250))
        );
        assert_eq!(TopicName::new("."), Err(InvalidTopicName::Dots));
        assert_eq!(TopicName::new(".."), Err(InvalidTopicName::Dots));
        assert_eq!(
            TopicName::new("a/b"),
            Err(InvalidTopicName::BadCharacter('/'))
        );
        assert_eq!(
            TopicName::new("é"),
            Err(InvalidTopicName::BadCharacter('é'))
        );
    }

    #[test]
    fn proto_time_splits_seconds_and_nanos() {
        let time = to_proto_time(Timestamp(3_000_000_007));
        assert_eq!((time.seconds, time.nanos), (3, 7));
    }
}
