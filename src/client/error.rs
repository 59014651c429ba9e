//! The client's errors: one variant per status the API documents, plus local failures.

use std::error::Error as StdError;
use std::time::Duration;

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// A boxed error from a handler or a transport layer.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a client call failed (after any retries).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server address is not a valid URI.
    #[error("invalid server address {address:?}: {reason}")]
    InvalidServerAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS settings cannot be used: unreadable PEM, or given for a plaintext address.
    #[error("TLS: {0}")]
    Tls(String),
    /// The token cannot be sent: it holds characters metadata cannot carry.
    #[error("the token holds characters that cannot be sent as metadata")]
    InvalidToken,
    /// UNAUTHENTICATED: no token, or one the server does not know.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// PERMISSION_DENIED: the token lacks the permission on that topic.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// INVALID_ARGUMENT: bad topic name, no events, empty type, key or payload too large.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// NOT_FOUND: the topic is missing (auto-create off) or was deleted while subscribed.
    #[error("not found: {0}")]
    NotFound(String),
    /// ALREADY_EXISTS: CreateTopic on a name that is taken.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// FAILED_PRECONDITION: an idempotency key was reused with a different type or payload;
    /// nothing of the request was appended.
    #[error("idempotency key conflict: {0}")]
    IdempotencyConflict(String),
    /// FAILED_PRECONDITION about a consumer group: its position fell below the retained range
    /// (`GROUP_BEHIND_RETENTION`: reset it), or it has members and cannot be reset
    /// (`GROUP_HAS_MEMBERS`).
    #[error("group unavailable: {message}")]
    GroupState {
        /// `GROUP_BEHIND_RETENTION` or `GROUP_HAS_MEMBERS`.
        reason: String,
        /// The server's message.
        message: String,
    },
    /// ABORTED: an expectation of the publish failed (expected next offset, key version or cursor
    /// position); nothing of the request was appended. Re-read, decide again, retry.
    #[error("conflict: {message}")]
    Conflict {
        /// What failed: `NEXT_OFFSET_MISMATCH`, `KEY_VERSION_MISMATCH` or `CURSOR_MISMATCH`.
        reason: String,
        /// The current values (`next_offset`, `key_version`, `position`; `none` if absent) and
        /// what was expected.
        current: HashMap<String, String>,
        /// The server's message.
        message: String,
    },
    /// OUT_OF_RANGE: a start offset outside the retained range, or events removed by retention
    /// before they could be delivered.
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// DATA_LOSS: the server found its stored data damaged.
    #[error("data loss: {0}")]
    DataLoss(String),
    /// Transient failures (server down, restarting or unreachable, attempts timing out) outlasted
    /// the retry policy. A publish may or may not have been appended: publish the same events
    /// again, with the same idempotency keys, to settle it.
    #[error(
        "server unavailable: {what} gave up after {attempts} attempts in {elapsed:.1?}: {last_error}"
    )]
    Unavailable {
        /// The call that gave up, for example `Publish to "orders"`.
        what: String,
        /// How many attempts failed.
        attempts: u32,
        /// How long the attempts took.
        elapsed: Duration,
        /// The last failure.
        last_error: String,
    },
    /// Any other status from the server.
    #[error("{code:?}: {message}")]
    Server {
        /// The status code.
        code: Code,
        /// The server's message.
        message: String,
    },
    /// The server answered something the API rules out (for example a result count that does
    /// not match the request).
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// A durable consumer's local store failed.
    #[error("consumer store: {0}")]
    Store(#[from] sled::Error),
    /// A durable consumer's handler failed; nothing of that event was committed.
    #[error("handler failed on the event at offset {offset}: {source}")]
    Handler {
        /// The offset of the event being handled.
        offset: u64,
        /// The handler's error.
        source: BoxError,
    },
}

impl ClientError {
    /// The error for a status that is not retried (any code; transient ones become
    /// [`ClientError::Unavailable`] through the retry loops).
    pub(crate) fn from_status(status: Status) -> Self {
        let message = describe(&status);
        match status.code() {
            Code::InvalidArgument => Self::InvalidArgument(message),
            Code::NotFound => Self::NotFound(message),
            Code::AlreadyExists => Self::AlreadyExists(message),
            Code::FailedPrecondition => match status.get_details_error_info() {
                Some(info) => Self::GroupState {
                    reason: info.reason,
                    message,
                },
                None => Self::IdempotencyConflict(message),
            },
            Code::OutOfRange => Self::OutOfRange(message),
            Code::DataLoss => Self::DataLoss(message),
            Code::Aborted => {
                let info = status.get_details_error_info();
                Self::Conflict {
                    reason: info
                        .as_ref()
                        .map(|info| info.reason.clone())
                        .unwrap_or_default(),
                    current: info.map(|info| info.metadata).unwrap_or_default(),
                    message,
                }
            }
            Code::Unauthenticated => Self::Unauthenticated(message),
            Code::PermissionDenied => Self::PermissionDenied(message),
            code => Self::Server { code, message },
        }
    }
}

/// Whether a failed call may be retried: UNAVAILABLE (server down, restarting or shutting down),
/// DEADLINE_EXCEEDED (an attempt timed out), or a connection lost mid-call. Tonic reports the
/// latter with whatever code its HTTP/2 error maps to (often UNKNOWN), so it is recognised by its
/// origin instead: a status tonic made up from a transport error carries that error as its
/// source, while a status the server sent never has one.
pub(crate) fn is_transient(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded)
        || StdError::source(status).is_some()
}

/// The status's message, followed by the innermost cause when tonic attached one (its message
/// alone is often just "transport error").
pub(crate) fn describe(status: &Status) -> String {
    let mut message = status.message().to_string();
    let mut cause = StdError::source(status);
    let mut innermost = None;
    while let Some(error) = cause {
        innermost = Some(error);
        cause = error.source();
    }
    if let Some(error) = innermost {
        let detail = error.to_string();
        if !message.contains(&detail) {
            message = if message.is_empty() {
                detail
            } else {
                format!("{message}: {detail}")
            };
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_their_variants() {
        let conflict = ClientError::from_status(Status::failed_precondition("key reused"));
        assert!(
            matches!(conflict, ClientError::IdempotencyConflict(message) if message == "key reused")
        );
        let denied = ClientError::from_status(Status::permission_denied("no"));
        assert!(matches!(denied, ClientError::PermissionDenied(message) if message == "no"));
        let other = ClientError::from_status(Status::resource_exhausted("full"));
        assert!(matches!(
            other,
            ClientError::Server {
                code: Code::ResourceExhausted,
                ..
            }
        ));
    }

    #[test]
    fn server_statuses_other_than_unavailable_are_permanent() {
        assert!(is_transient(&Status::unavailable("shutting down")));
        assert!(is_transient(&Status::deadline_exceeded("slow")));
        assert!(!is_transient(&Status::unknown("server said so")));
        assert!(!is_transient(&Status::not_found("topic")));
    }

    #[test]
    fn transport_failures_are_transient_whatever_their_code() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let status = Status::from_error(Box::new(reset));
        assert!(is_transient(&status), "{status:?}");
        assert!(describe(&status).contains("reset by peer"));
    }
}
