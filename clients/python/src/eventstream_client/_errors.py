"""Exceptions raised by the client, one per gRPC status the API documents."""

from __future__ import annotations

from collections.abc import Mapping

import grpc

#: Status codes after which a call is retried (publish) or a subscription reconnects.
#: UNAVAILABLE covers a lost connection, a server that is down or restarting and a server that is
#: shutting down; DEADLINE_EXCEEDED is a per-attempt timeout.
TRANSIENT_CODES: frozenset[grpc.StatusCode] = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
)


class EventStreamError(Exception):
    """A call failed with a gRPC status (after any retries)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class InvalidArgumentError(EventStreamError):
    """INVALID_ARGUMENT: bad topic name, no events, empty type, key or payload too large."""


class NotFoundError(EventStreamError):
    """NOT_FOUND: the topic or consumer group is missing (or was deleted while in use)."""


class AlreadyExistsError(EventStreamError):
    """ALREADY_EXISTS: CreateTopic or CreateConsumerGroup on a name that is taken."""


class FailedPreconditionError(EventStreamError):
    """FAILED_PRECONDITION: the call is refused in the current state (a consumer group reset
    while members are connected, a group whose position fell below the retained range)."""


class IdempotencyConflictError(FailedPreconditionError):
    """FAILED_PRECONDITION from a publish: an idempotency key was reused with a different type or
    payload.

    Nothing of the request was appended.
    """


class OutOfRangeError(EventStreamError):
    """OUT_OF_RANGE: start offset outside the retained range, or events removed by retention."""


class UnavailableError(EventStreamError):
    """A transient failure (UNAVAILABLE, DEADLINE_EXCEEDED) that outlasted the retry budget."""


class DataLossError(EventStreamError):
    """DATA_LOSS: the server found its stored data corrupt or missing."""


class UnauthenticatedError(EventStreamError):
    """UNAUTHENTICATED: no token, or one the server does not know."""


class PermissionDeniedError(EventStreamError):
    """PERMISSION_DENIED: the token lacks the permission on that topic."""


_BY_CODE: dict[grpc.StatusCode, type[EventStreamError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRangeError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: UnavailableError,
    grpc.StatusCode.DATA_LOSS: DataLossError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
}


def status_of(error: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    """The status code and details of a failed call."""
    # Failed calls are grpc.Call objects too; interceptors may raise plain RpcErrors that only
    # have code() and details().
    code_of = getattr(error, "code", None)
    details_of = getattr(error, "details", None)
    code = code_of() if callable(code_of) else None
    details = details_of() if callable(details_of) else None
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    return (code, details if isinstance(details, str) and details else str(error))


def from_rpc_error(
    error: grpc.RpcError, overrides: Mapping[grpc.StatusCode, type[EventStreamError]] | None = None
) -> EventStreamError:
    """The client exception for a failed call (chain it with ``raise ... from error``).

    ``overrides`` names a more specific class for codes whose meaning depends on the call.
    """
    code, details = status_of(error)
    cls = (overrides or {}).get(code) or _BY_CODE.get(code, EventStreamError)
    return cls(code, details)
