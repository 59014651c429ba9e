//! The one mapping from errors to gRPC statuses.

use tonic::{Code, Status};

use super::convert::InvalidRequest;
use crate::engine::EngineError;
use crate::storage::StoreError;

impl From<InvalidRequest> for Status {
    fn from(error: InvalidRequest) -> Self {
        Status::invalid_argument(error.to_string())
    }
}

impl From<EngineError> for Status {
    fn from(error: EngineError) -> Self {
        let code = match &error {
            EngineError::TopicNotFound(_) => Code::NotFound,
            EngineError::TopicExists(_) => Code::AlreadyExists,
            EngineError::OffsetOutOfRange { .. } | EngineError::Trimmed { .. } => Code::OutOfRange,
            EngineError::IdempotencyConflict { .. } => Code::FailedPrecondition,
            EngineError::ShuttingDown => Code::Unavailable,
            EngineError::Storage(store) => match store.as_ref() {
                StoreError::Corrupt { .. }
                | StoreError::Lost { .. }
                | StoreError::CorruptMetadata { .. }
                | StoreError::Missing { .. } => Code::DataLoss,
                StoreError::DiskFull { .. } | StoreError::OutOfSpace => Code::ResourceExhausted,
                StoreError::Poisoned => Code::Unavailable,
                StoreError::Io { .. } if store.is_out_of_space() => Code::ResourceExhausted,
                StoreError::Engine(_) | StoreError::Io { .. } => Code::Internal,
            },
        };
        Status::new(code, error.to_string())
    }
}
