//! The one mapping from errors to gRPC statuses.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::convert::InvalidRequest;
use crate::auth::Denied;
use crate::engine::EngineError;
use crate::storage::StoreError;

impl From<InvalidRequest> for Status {
    fn from(error: InvalidRequest) -> Self {
        Status::invalid_argument(error.to_string())
    }
}

impl From<Denied> for Status {
    fn from(denied: Denied) -> Self {
        Status::permission_denied(denied.to_string())
    }
}

impl From<EngineError> for Status {
    fn from(error: EngineError) -> Self {
        let code = match &error {
            EngineError::TopicNotFound(_) => Code::NotFound,
            EngineError::TopicExists(_) => Code::AlreadyExists,
            EngineError::OffsetOutOfRange { .. } | EngineError::Trimmed { .. } => Code::OutOfRange,
            EngineError::IdempotencyConflict { .. } => Code::FailedPrecondition,
            EngineError::NextOffsetMismatch {
                topic,
                expected,
                actual,
            } => {
                return aborted(
                    &error,
                    "NEXT_OFFSET_MISMATCH",
                    [
                        ("topic", topic.to_string()),
                        ("expected_next_offset", expected.to_string()),
                        ("next_offset", actual.to_string()),
                    ],
                );
            }
            EngineError::KeyVersionMismatch {
                topic,
                index,
                key,
                expected,
                actual,
            } => {
                return aborted(
                    &error,
                    "KEY_VERSION_MISMATCH",
                    [
                        ("topic", topic.to_string()),
                        ("event_index", index.to_string()),
                        ("key", key.clone()),
                        ("expected", expected.to_string()),
                        ("key_version", text(*actual)),
                    ],
                );
            }
            EngineError::CursorMismatch {
                topic,
                cursor,
                expected,
                actual,
            } => {
                return aborted(
                    &error,
                    "CURSOR_MISMATCH",
                    [
                        ("topic", topic.to_string()),
                        ("cursor", cursor.to_string()),
                        ("expected", expected.to_string()),
                        ("position", text(*actual)),
                    ],
                );
            }
            EngineError::CursorNotFound { .. } | EngineError::GroupNotFound { .. } => {
                Code::NotFound
            }
            EngineError::GroupExists { .. } => Code::AlreadyExists,
            EngineError::GroupBehindRetention {
                topic,
                group,
                ack_floor,
                first,
            } => {
                return with_info(
                    Code::FailedPrecondition,
                    &error,
                    "GROUP_BEHIND_RETENTION",
                    [
                        ("topic", topic.to_string()),
                        ("group", group.to_string()),
                        ("ack_floor", ack_floor.to_string()),
                        ("first_offset", first.to_string()),
                    ],
                );
            }
            EngineError::GroupHasMembers {
                topic,
                group,
                members,
            } => {
                return with_info(
                    Code::FailedPrecondition,
                    &error,
                    "GROUP_HAS_MEMBERS",
                    [
                        ("topic", topic.to_string()),
                        ("group", group.to_string()),
                        ("members", members.to_string()),
                    ],
                );
            }
            EngineError::AckNeverDelivered { .. } => Code::InvalidArgument,
            EngineError::MemberStalled { .. } => Code::ResourceExhausted,
            EngineError::LimitReached { .. } => Code::ResourceExhausted,
            EngineError::ShuttingDown => Code::Unavailable,
            EngineError::Storage(store) => match store.as_ref() {
                StoreError::Corrupt { .. }
                | StoreError::Lost { .. }
                | StoreError::CorruptMetadata { .. }
                | StoreError::DamagedKeyFile { .. }
                | StoreError::Missing { .. } => Code::DataLoss,
                StoreError::DiskFull { .. }
                | StoreError::OutOfSpace
                | StoreError::SegmentFull { .. } => Code::ResourceExhausted,
                StoreError::Poisoned => Code::Unavailable,
                StoreError::Io { .. } if store.is_out_of_space() => Code::ResourceExhausted,
                StoreError::Engine(_) | StoreError::Io { .. } | StoreError::OldFormat { .. } => {
                    Code::Internal
                }
            },
        };
        Status::new(code, error.to_string())
    }
}

/// `value`, or `none`.
fn text(value: Option<u64>) -> String {
    value.map_or_else(|| "none".to_string(), |value| value.to_string())
}

/// ABORTED for a failed expectation, with a `google.rpc.ErrorInfo` detail giving the current
/// value, so a client can re-read and retry without parsing the message.
fn aborted<const N: usize>(
    error: &EngineError,
    reason: &str,
    metadata: [(&str, String); N],
) -> Status {
    with_info(Code::Aborted, error, reason, metadata)
}

/// `code` with a `google.rpc.ErrorInfo` detail naming `reason`, for clients to act on without
/// parsing the message.
fn with_info<const N: usize>(
    code: Code,
    error: &EngineError,
    reason: &str,
    metadata: [(&str, String); N],
) -> Status {
    let metadata: HashMap<String, String> = metadata
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    Status::with_error_details(
        code,
        error.to_string(),
        ErrorDetails::with_error_info(reason, "eventstream", metadata),
    )
}
