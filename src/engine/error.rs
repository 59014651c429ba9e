use std::sync::Arc;

use super::limits::Limit;
use crate::model::{CursorName, Expectation, GroupName, TopicName};
use crate::storage::StoreError;

/// What can go wrong between the gRPC layer and the store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The topic does not exist (and may not be created implicitly).
    #[error("topic '{0}' does not exist")]
    TopicNotFound(TopicName),
    /// CreateTopic on a name that is taken.
    #[error("topic '{0}' already exists")]
    TopicExists(TopicName),
    /// A start offset outside the retained range.
    #[error(
        "offset {requested} is outside the range of topic '{topic}': valid start offsets are {first} to {next} (inclusive; {next} waits for the next event)"
    )]
    OffsetOutOfRange {
        /// The topic.
        topic: TopicName,
        /// The offset asked for.
        requested: u64,
        /// The oldest retained offset.
        first: u64,
        /// The offset the next event will get.
        next: u64,
    },
    /// Retention removed events before a subscriber got to them.
    #[error(
        "events of topic '{topic}' from offset {position} were removed by retention before they were delivered; the oldest retained offset is now {first}"
    )]
    Trimmed {
        /// The topic.
        topic: TopicName,
        /// The subscriber's position.
        position: u64,
        /// The oldest retained offset.
        first: u64,
    },
    /// An idempotency key reused for a different event.
    #[error(
        "idempotency key {key:?} was already used in topic '{topic}' for a different event (offset {offset}) with another type or payload; nothing of this request was appended"
    )]
    IdempotencyConflict {
        /// The topic.
        topic: TopicName,
        /// The reused key.
        key: String,
        /// The offset of the event that first used it.
        offset: u64,
    },
    /// The topic's end was not where the publisher expected it.
    #[error(
        "topic '{topic}' ends at offset {actual}, not at the expected {expected}; nothing of this \
         request was appended: read what was appended since, then decide again"
    )]
    NextOffsetMismatch {
        /// The topic.
        topic: TopicName,
        /// The expected next offset.
        expected: u64,
        /// The actual one.
        actual: u64,
    },
    /// An event's key was not at the version its publisher expected.
    #[error(
        "event {index}: key {key:?} of topic '{topic}' is at version {}, not the expected {expected}; \
         nothing of this request was appended: read the key's events since, then decide again",
        actual.map_or_else(|| "none (no events yet)".to_string(), |v| v.to_string())
    )]
    KeyVersionMismatch {
        /// The topic.
        topic: TopicName,
        /// The event's position in the request.
        index: usize,
        /// The event's key.
        key: String,
        /// What the publisher expected.
        expected: Expectation,
        /// The key's latest version, `None` if it has no events.
        actual: Option<u64>,
    },
    /// A cursor was not at the position its publisher expected.
    #[error(
        "cursor '{cursor}' of topic '{topic}' is at {}, not the expected {expected}; nothing of \
         this request was appended: another consumer may have moved it",
        actual.map_or_else(|| "none (never set)".to_string(), |p| p.to_string())
    )]
    CursorMismatch {
        /// The topic.
        topic: TopicName,
        /// The cursor.
        cursor: CursorName,
        /// What the publisher expected.
        expected: Expectation,
        /// The cursor's position, `None` if never set.
        actual: Option<u64>,
    },
    /// A cursor that was never set.
    #[error("topic '{topic}' has no cursor named '{cursor}'")]
    CursorNotFound {
        /// The topic.
        topic: TopicName,
        /// The cursor.
        cursor: CursorName,
    },
    /// The consumer group does not exist.
    #[error("topic '{topic}' has no consumer group named '{group}'")]
    GroupNotFound {
        /// The topic.
        topic: TopicName,
        /// The group.
        group: GroupName,
    },
    /// CreateConsumerGroup on a name that is taken.
    #[error("topic '{topic}' already has a consumer group named '{group}'")]
    GroupExists {
        /// The topic.
        topic: TopicName,
        /// The group.
        group: GroupName,
    },
    /// Retention removed events a consumer group had not acknowledged, and its policy is to stop.
    #[error(
        "consumer group '{group}' of topic '{topic}' is at offset {ack_floor}, but retention removed \
         the events before offset {first}; it delivers nothing until it is reset \
         (ResetConsumerGroup, for example to the earliest retained event)"
    )]
    GroupBehindRetention {
        /// The topic.
        topic: TopicName,
        /// The group.
        group: GroupName,
        /// The group's position.
        ack_floor: u64,
        /// The oldest retained offset.
        first: u64,
    },
    /// A reset of a group that has members.
    #[error(
        "consumer group '{group}' of topic '{topic}' has {members} connected member(s); stop them \
         before resetting it, so no in-flight work is acknowledged against the new position"
    )]
    GroupHasMembers {
        /// The topic.
        topic: TopicName,
        /// The group.
        group: GroupName,
        /// Members connected.
        members: usize,
    },
    /// A member that does not read its stream: more messages wait for it than its in-flight
    /// limit allows, so it is removed from the group.
    #[error(
        "this member of consumer group '{group}' (topic '{topic}') has not read its stream: \
         {waiting} messages are waiting for it; it was removed from the group and its \
         deliveries go to other members: read the stream continuously and join again"
    )]
    MemberStalled {
        /// The topic.
        topic: TopicName,
        /// The group.
        group: GroupName,
        /// Messages waiting.
        waiting: usize,
    },
    /// A member acknowledged an event the group never delivered.
    #[error(
        "offset {offset} of topic '{topic}' was never delivered to consumer group '{group}'; \
         acknowledge only offsets of deliveries this stream received"
    )]
    AckNeverDelivered {
        /// The topic.
        topic: TopicName,
        /// The group.
        group: GroupName,
        /// The offset acknowledged.
        offset: u64,
    },
    /// Granting the request would take the server over one of its limits.
    #[error("limit reached: at most {max} {limit} (the server's {flag})", flag = limit.flag())]
    LimitReached {
        /// Which limit.
        limit: Limit,
        /// Its value.
        max: usize,
    },
    /// The server is shutting down.
    #[error("the server is shutting down; reconnect and resume")]
    ShuttingDown,
    /// The store failed.
    #[error(transparent)]
    Storage(Arc<StoreError>),
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        Self::Storage(Arc::new(error))
    }
}

impl From<tokio::task::JoinError> for EngineError {
    fn from(error: tokio::task::JoinError) -> Self {
        // A storage call panicked or was cancelled; report it as a storage failure.
        Self::Storage(Arc::new(StoreError::Io {
            action: "running a storage task".into(),
            source: std::io::Error::other(error.to_string()),
        }))
    }
}
