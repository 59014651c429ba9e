"""Python client for the eventstream gRPC server.

* :meth:`EventStreamClient.publish` - exactly-once effect: idempotency keys assigned before the
  first attempt, transient failures retried with the same keys.
* :meth:`EventStreamClient.subscribe` - a :class:`Subscription` iterator that reconnects and
  resumes from the last ``next_offset`` after dropped connections and server restarts.
* :class:`DurableConsumer` - position and processed event ids in SQLite, committed in one
  transaction with the handler's own writes.
* :class:`GroupConsumer` - a consumer group member: parallel handlers, ack on return, nack on
  exception, processed ids in SQLite so a redelivered event is not handled twice. The groups
  themselves: :meth:`EventStreamClient.create_consumer_group` and its siblings.

The generated protobuf messages and gRPC stub are in :mod:`eventstream_client.v1`.
"""

from ._client import DEFAULT_CHANNEL_OPTIONS, EventStreamClient, Published, new_event, tls_credentials
from ._consumer import DurableConsumer, Handler, HandlerEndedTransactionError
from ._errors import (
    TRANSIENT_CODES,
    AlreadyExistsError,
    DataLossError,
    EventStreamError,
    FailedPreconditionError,
    IdempotencyConflictError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    UnauthenticatedError,
    UnavailableError,
)
from ._group_consumer import GroupConsumer, GroupHandler, delivery_attempt
from ._retry import DEFAULT_PUBLISH_RETRY, DEFAULT_RECONNECT, RetryPolicy
from ._subscription import Batch, Subscription
from .v1 import eventstream_pb2 as pb
from .v1.eventstream_pb2 import Event, EventData, Topic

__all__ = [
    "DEFAULT_CHANNEL_OPTIONS",
    "DEFAULT_PUBLISH_RETRY",
    "DEFAULT_RECONNECT",
    "TRANSIENT_CODES",
    "AlreadyExistsError",
    "Batch",
    "DataLossError",
    "DurableConsumer",
    "Event",
    "EventData",
    "EventStreamClient",
    "EventStreamError",
    "FailedPreconditionError",
    "GroupConsumer",
    "GroupHandler",
    "Handler",
    "HandlerEndedTransactionError",
    "IdempotencyConflictError",
    "InvalidArgumentError",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "Published",
    "RetryPolicy",
    "Subscription",
    "Topic",
    "UnauthenticatedError",
    "UnavailableError",
    "delivery_attempt",
    "new_event",
    "pb",
    "tls_credentials",
]
