//! Conversions between the generated proto types and the domain types, validating on the way in.

use std::collections::HashSet;
use std::time::Duration;

use super::pb;

mod group;
use crate::engine::{Delivery, MAX_IN_FLIGHT, StartAt, SubscribeSpec};
use crate::model::{
    Cursor, CursorName, CursorUpdate, Expectation, InvalidTopicName, MAX_IDEMPOTENCY_KEY_BYTES,
    MAX_KEY_BYTES, MAX_TOPIC_NAME_LEN, NewEvent, Publication, Timestamp, TopicConfig, TopicInfo,
    TopicName, to_proto_time,
};
pub use group::{Join, group_name, join, new_group, reset_target, settlement};

/// Why a request was rejected before reaching the engine; becomes INVALID_ARGUMENT.
#[derive(Debug, thiserror::Error)]
pub enum InvalidRequest {
    /// The topic name breaks the naming rules.
    #[error("invalid topic name {name:?}: {reason}")]
    TopicName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: InvalidTopicName,
    },
    /// Publish without events.
    #[error("a Publish request needs at least one event (or a cursor to move)")]
    NoEvents,
    /// A key over the limit.
    #[error("event {index}: key is {len} bytes; the limit is {MAX_KEY_BYTES}")]
    KeyTooLong {
        /// Position of the event in the request.
        index: usize,
        /// The key's length.
        len: usize,
    },
    /// An expected key version on an event without a key.
    #[error("event {index}: expected_key_version needs a key")]
    ExpectationWithoutKey {
        /// Position of the event in the request.
        index: usize,
    },
    /// A precondition with `absent = false`.
    #[error("{field}: `absent` must be true when set (leave the precondition unset for any)")]
    AbsentFalse {
        /// The field.
        field: &'static str,
    },
    /// A cursor name that breaks the naming rules.
    #[error("invalid cursor name {name:?}: {reason}")]
    CursorName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: InvalidTopicName,
    },
    /// An event without a type.
    #[error("event {index}: `type` must not be empty")]
    EmptyType {
        /// Position of the event in the request.
        index: usize,
    },
    /// An idempotency key over the limit.
    #[error(
        "event {index}: idempotency_key is {len} bytes; the limit is {MAX_IDEMPOTENCY_KEY_BYTES}"
    )]
    IdempotencyKeyTooLong {
        /// Position of the event in the request.
        index: usize,
        /// The key's length.
        len: usize,
    },
    /// A payload over the server's limit.
    #[error(
        "event {index}: payload is {len} bytes; this server accepts at most {limit} (--max-event-bytes)"
    )]
    PayloadTooLarge {
        /// Position of the event in the request.
        index: usize,
        /// The payload's length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A timestamp or duration that cannot be represented.
    #[error("{field}: {reason}")]
    BadTime {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An unknown enum value.
    #[error("position: unknown StartPosition value {0}")]
    UnknownPosition(i32),
    /// A consumer group name that breaks the naming rules.
    #[error("invalid consumer group name {name:?}: {reason}")]
    GroupName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: InvalidTopicName,
    },
    /// An ack deadline out of bounds.
    #[error("config.ack_deadline is {0:?}; it must be between 1 ms and 24 h")]
    AckDeadline(Duration),
    /// A dead-letter topic without a delivery limit.
    #[error(
        "config.dead_letter_topic needs config.max_deliveries (how many attempts before an event goes there)"
    )]
    DeadLetterTopicWithoutLimit,
    /// A group whose dead letters would go to the topic it consumes.
    #[error("config.dead_letter_topic must differ from the topic the group consumes")]
    DeadLettersToItself,
    /// The default dead-letter topic name is too long.
    #[error(
        "the default dead-letter topic `<topic>.<group>.dead-letters` would be {0} characters long (limit {MAX_TOPIC_NAME_LEN}); set config.dead_letter_topic"
    )]
    DefaultDeadLetterTopicTooLong(usize),
    /// An unknown out-of-range policy.
    #[error("config.out_of_range: unknown OutOfRangePolicy value {0}")]
    UnknownPolicy(i32),
    /// A reset without a target.
    #[error("a ResetConsumerGroup request needs a target: to_offset, to_time or position")]
    NoResetTarget,
    /// A Consume stream whose first message does not join.
    #[error("the first ConsumeRequest of a stream must carry `join` (topic, group, max_in_flight)")]
    NoJoin,
    /// A second join on one stream.
    #[error(
        "only the first ConsumeRequest of a stream may carry `join`; open another stream to join another group"
    )]
    JoinAgain,
    /// An in-flight limit out of bounds.
    #[error(
        "join.max_in_flight is {0}; it must be between 1 and {MAX_IN_FLIGHT} (0 for the default, 256)"
    )]
    MaxInFlight(u32),
    /// A nack delay over the limit.
    #[error("a nack delay is {0:?}; it may be at most 24 h")]
    NackDelay(Duration),
    /// A nack reason over the limit.
    #[error("a nack reason is {0} bytes; the limit is 1024")]
    ReasonTooLong(usize),
}

/// Validates a topic name from a request.
pub fn topic_name(name: String) -> Result<TopicName, InvalidRequest> {
    TopicName::new(name.clone()).map_err(|reason| InvalidRequest::TopicName { name, reason })
}

/// Validates a Publish's events.
pub fn new_events(
    events: Vec<pb::EventData>,
    max_event_bytes: usize,
) -> Result<Vec<NewEvent>, InvalidRequest> {
    if events.is_empty() {
        return Err(InvalidRequest::NoEvents);
    }
    events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            if event.r#type.is_empty() {
                return Err(InvalidRequest::EmptyType { index });
            }
            if event.idempotency_key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
                return Err(InvalidRequest::IdempotencyKeyTooLong {
                    index,
                    len: event.idempotency_key.len(),
                });
            }
            if event.key.len() > MAX_KEY_BYTES {
                return Err(InvalidRequest::KeyTooLong {
                    index,
                    len: event.key.len(),
                });
            }
            let expected_key_version =
                expectation("expected_key_version", event.expected_key_version)?;
            if expected_key_version != Expectation::Any && event.key.is_empty() {
                return Err(InvalidRequest::ExpectationWithoutKey { index });
            }
            if event.payload.len() > max_event_bytes {
                return Err(InvalidRequest::PayloadTooLarge {
                    index,
                    len: event.payload.len(),
                    limit: max_event_bytes,
                });
            }
            Ok(NewEvent {
                event_type: event.r#type,
                payload: event.payload,
                idempotency_key: Some(event.idempotency_key).filter(|key| !key.is_empty()),
                key: event.key,
                headers: event.headers.into_iter().collect(),
                content_type: event.content_type,
                schema_version: event.schema_version,
                expected_key_version,
            })
        })
        .collect()
}

fn expectation(
    field: &'static str,
    precondition: Option<pb::Precondition>,
) -> Result<Expectation, InvalidRequest> {
    use pb::precondition::Expected;
    match precondition.and_then(|precondition| precondition.expected) {
        None => Ok(Expectation::Any),
        Some(Expected::Absent(true)) => Ok(Expectation::Absent),
        Some(Expected::Absent(false)) => Err(InvalidRequest::AbsentFalse { field }),
        Some(Expected::Equals(value)) => Ok(Expectation::Equals(value)),
    }
}

/// Validates a cursor name from a request.
pub fn cursor_name(name: String) -> Result<CursorName, InvalidRequest> {
    CursorName::new(name.clone()).map_err(|reason| InvalidRequest::CursorName { name, reason })
}

/// Validates a Publish request: its topic, and its events with their expectations.
pub fn publication(
    request: pb::PublishRequest,
    max_event_bytes: usize,
) -> Result<(TopicName, Publication), InvalidRequest> {
    let topic = topic_name(request.topic)?;
    let cursor = request
        .cursor
        .map(|update| {
            Ok::<_, InvalidRequest>(CursorUpdate {
                name: cursor_name(update.name)?,
                position: update.position,
                expected: expectation("cursor.expected_position", update.expected_position)?,
            })
        })
        .transpose()?;
    let events = if request.events.is_empty() && cursor.is_some() {
        Vec::new()
    } else {
        new_events(request.events, max_event_bytes)?
    };
    Ok((
        topic,
        Publication {
            events,
            expected_next_offset: request.expected_next_offset,
            cursor,
        },
    ))
}

fn timestamp(
    field: &'static str,
    time: prost_types::Timestamp,
) -> Result<Timestamp, InvalidRequest> {
    let bad = |reason| InvalidRequest::BadTime { field, reason };
    let seconds = u64::try_from(time.seconds).map_err(|_| bad("must not be before 1970"))?;
    let nanos = u64::try_from(time.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)
        .ok_or(bad("nanos must be within 0..1e9"))?;
    seconds
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(nanos))
        .map(Timestamp)
        .ok_or(bad("too far in the future"))
}

fn duration(field: &'static str, value: prost_types::Duration) -> Result<Duration, InvalidRequest> {
    let negative = || InvalidRequest::BadTime {
        field,
        reason: "must be a non-negative duration",
    };
    // prost-types negates the seconds to report a negative duration, which overflows (a panic
    // in debug builds) on i64::MIN: refuse negative durations before it gets to them.
    let value = value.normalized();
    if value.seconds < 0 || value.nanos < 0 {
        return Err(negative());
    }
    Duration::try_from(value).map_err(|_| negative())
}

/// Validates a Subscribe request.
pub fn subscribe_spec(request: &pb::SubscribeRequest) -> Result<SubscribeSpec, InvalidRequest> {
    use pb::subscribe_request::Start;
    let start = match request.start {
        None => StartAt::Earliest,
        Some(Start::FromOffset(offset)) => StartAt::Offset(offset),
        Some(Start::FromTime(time)) => StartAt::Time(timestamp("from_time", time)?),
        Some(Start::Position(position)) => start_position(position)?,
    };
    Ok(SubscribeSpec {
        start,
        types: request.types.iter().cloned().collect::<HashSet<_>>(),
        key: Some(request.key.clone()).filter(|key| !key.is_empty()),
        stop_at_end: request.stop_at_end,
    })
}

/// A symbolic start position.
fn start_position(position: i32) -> Result<StartAt, InvalidRequest> {
    match pb::StartPosition::try_from(position) {
        Ok(pb::StartPosition::Unspecified | pb::StartPosition::Earliest) => Ok(StartAt::Earliest),
        Ok(pb::StartPosition::Latest) => Ok(StartAt::Latest),
        Err(_) => Err(InvalidRequest::UnknownPosition(position)),
    }
}

/// Validates a topic configuration; unset fields get the defaults.
pub fn topic_config(
    config: Option<pb::TopicConfig>,
    defaults: TopicConfig,
) -> Result<TopicConfig, InvalidRequest> {
    let Some(config) = config else {
        return Ok(defaults);
    };
    Ok(TopicConfig {
        retention_age: config
            .retention_age
            .map(|age| duration("config.retention_age", age))
            .transpose()?
            .filter(|age| !age.is_zero()),
        retention_events: Some(config.retention_events).filter(|n| *n > 0),
        retention_bytes: Some(config.retention_bytes).filter(|n| *n > 0),
        dedup_window: config
            .dedup_window
            .map(|window| duration("config.dedup_window", window))
            .transpose()?
            .unwrap_or(defaults.dedup_window),
    })
}

fn proto_duration(duration: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(duration).unwrap_or(prost_types::Duration {
        seconds: i64::MAX,
        nanos: 0,
    })
}

impl From<TopicInfo> for pb::Topic {
    fn from(info: TopicInfo) -> Self {
        Self {
            name: info.name.to_string(),
            config: Some(pb::TopicConfig {
                retention_age: info.config.retention_age.map(proto_duration),
                retention_events: info.config.retention_events.unwrap_or(0),
                retention_bytes: info.config.retention_bytes.unwrap_or(0),
                dedup_window: Some(proto_duration(info.config.dedup_window)),
            }),
            first_offset: info.bounds.first_offset,
            next_offset: info.bounds.next_offset,
            size_bytes: info.bounds.size_bytes,
            create_time: Some(to_proto_time(info.create_time)),
        }
    }
}

/// The proto form of a cursor of `topic`.
pub fn cursor(topic: &TopicName, cursor: Cursor) -> pb::Cursor {
    pb::Cursor {
        topic: topic.to_string(),
        name: cursor.name.to_string(),
        position: cursor.position,
        update_time: Some(to_proto_time(cursor.update_time)),
    }
}

impl From<Delivery> for pb::SubscribeResponse {
    fn from(delivery: Delivery) -> Self {
        let events = delivery
            .events
            .into_iter()
            .map(|event| event.bytes)
            .collect();
        Self::from_encoded(events, delivery.next_offset, delivery.caught_up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Event;
    use prost::Message;

    #[test]
    fn stored_events_decode_as_proto_events() {
        let event = Event {
            id: "0190-…".into(),
            topic: "orders".into(),
            offset: 9,
            time: Some(to_proto_time(Timestamp(5_000_000_001))),
            event_type: "OrderPlaced".into(),
            payload: bytes::Bytes::from_static(b"{}"),
            idempotency_key: "k".into(),
            key: "order-1".into(),
            headers: [("trace".to_string(), "abc".to_string())].into(),
            content_type: "application/json".into(),
            schema_version: 2,
            ..Default::default()
        };
        let decoded = pb::Event::decode(event.encode_to_vec().as_slice()).unwrap();
        let expected = pb::Event {
            id: event.id,
            topic: event.topic,
            offset: event.offset,
            time: event.time,
            r#type: event.event_type,
            payload: event.payload,
            idempotency_key: event.idempotency_key,
            key: event.key,
            headers: event.headers.into_iter().collect(),
            content_type: event.content_type,
            schema_version: event.schema_version,
            ..Default::default()
        };
        assert_eq!(decoded, expected);
    }

    #[test]
    fn times_before_the_epoch_are_rejected() {
        let time = prost_types::Timestamp {
            seconds: -1,
            nanos: 0,
        };
        assert!(timestamp("from_time", time).is_err());
    }
}
