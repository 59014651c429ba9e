"""A subscription that survives dropped connections and server restarts."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import grpc
from google.protobuf import timestamp_pb2

from ._errors import TRANSIENT_CODES, UnavailableError, from_rpc_error, status_of
from ._retry import RetryPolicy
from .v1 import eventstream_pb2 as pb

log = logging.getLogger("eventstream_client")


@dataclass(frozen=True)
class Start:
    """Where a subscription starts the first time (resumes always use ``from_offset``)."""

    offset: int | None = None
    time: datetime | None = None
    latest: bool = False


@dataclass(frozen=True)
class Batch:
    """One server response: the events that passed the filters, and where to resume."""

    events: list[pb.Event] = field(default_factory=list)
    #: Just past the last offset the server examined: resume here.
    next_offset: int = 0
    #: True when this batch reached the end of the log as it stood.
    caught_up: bool = False


class Subscription(Iterator[pb.Event]):
    """An iterator over a topic's events that reconnects and resumes by itself.

    Iterating yields :class:`Event` messages in offset order. When the stream fails with a
    transient status (UNAVAILABLE, e.g. a lost connection or a server that is shutting down or
    restarting, or DEADLINE_EXCEEDED) or ends unexpectedly, the subscription waits (exponential
    backoff, see :class:`RetryPolicy`) and subscribes again with ``from_offset`` = the last
    ``next_offset`` received: no event is lost or delivered twice. The backoff resets whenever a
    response arrives; it gives up with :class:`UnavailableError` when the policy is exhausted.
    Permanent errors (NOT_FOUND, OUT_OF_RANGE, ...) are raised as :class:`EventStreamError`.

    Attributes, updated as events are yielded:

    * ``position`` - where to resume after the last yielded event: its offset + 1, or the batch's
      ``next_offset`` after the last event of a batch (``None`` until the first response of a
      subscription that did not start at an explicit offset). Store it after handling an event to
      resume later with ``from_offset=position``.
    * ``caught_up`` - True once the last event yielded (or an empty response) reached the end of
      the log as it stood; False while history remains.
    * ``reconnects`` - how many times the subscription reconnected.

    ``stop_at_end=True`` ends iteration at the end of the log as it stood when the subscription
    (or, after a reconnect, the resumed subscription) started. :meth:`close` (thread-safe) ends
    the iteration from any thread.
    """

    def __init__(
        self,
        *,
        open_stream: Callable[[pb.SubscribeRequest], Any],
        topic: str,
        start: Start,
        types: tuple[str, ...],
        key: str,
        stop_at_end: bool,
        reconnect: RetryPolicy,
    ) -> None:
        self._open_stream = open_stream
        self.topic = topic
        self._start = start
        self._types = types
        self._key = key
        self._stop_at_end = stop_at_end
        self._policy = reconnect
        self.position: int | None = start.offset
        self.caught_up = False
        self.reconnects = 0
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._call: Any = None
        self._batches = self._run()
        self._pending: list[pb.Event] = []
        self._pending_batch: Batch | None = None

    # -- iteration -------------------------------------------------------------------------

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> pb.Event:
        while not self._pending:
            batch = next(self._batches)  # StopIteration ends the iteration
            if batch.events:
                self._pending = list(batch.events)
                self._pending_batch = batch
            else:
                self.position = batch.next_offset
                self.caught_up = batch.caught_up
        event = self._pending.pop(0)
        current = self._pending_batch
        assert current is not None
        if self._pending:
            self.position = event.offset + 1
            self.caught_up = False
        else:
            self.position = current.next_offset
            self.caught_up = current.caught_up
        return event

    def batches(self) -> Iterator[Batch]:
        """Iterates whole responses instead of single events, including empty ones (an empty
        caught-up batch tells that the subscriber reached the end of the log).

        Do not mix with iterating events. ``position``/``caught_up`` are updated per batch.
        """
        for batch in self._batches:
            self.position = batch.next_offset
            self.caught_up = batch.caught_up
            yield batch

    def close(self) -> None:
        """Ends the subscription: iteration stops (from any thread)."""
        self._closed.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # -- the reconnect loop ----------------------------------------------------------------

    def _request(self, resume_at: int | None) -> pb.SubscribeRequest:
        request = pb.SubscribeRequest(
            topic=self.topic, types=list(self._types), key=self._key, stop_at_end=self._stop_at_end
        )
        if resume_at is not None:
            request.from_offset = resume_at
        elif self._start.time is not None:
            stamp = timestamp_pb2.Timestamp()
            when = self._start.time
            stamp.FromDatetime(when if when.tzinfo else when.replace(tzinfo=timezone.utc))
            request.from_time.CopyFrom(stamp)
        elif self._start.latest:
            request.position = pb.START_POSITION_LATEST
        else:
            request.position = pb.START_POSITION_EARLIEST
        return request

    def _run(self) -> Iterator[Batch]:
        # The offset to resume from: the last next_offset received (or the explicit start).
        resume_at: int | None = self._start.offset
        failures = 0
        failing_since: float | None = None
        while not self._closed.is_set():
            call = self._open_stream(self._request(resume_at))
            with self._lock:
                self._call = call
            if self._closed.is_set():
                call.cancel()
            problem: str
            code: grpc.StatusCode | None = None
            try:
                for response in call:
                    failures, failing_since = 0, None
                    events = self._checked(response, resume_at)
                    resume_at = response.next_offset
                    yield Batch(events, response.next_offset, response.caught_up)
                if self._stop_at_end:
                    return
                # A live subscription never ends with OK by itself; a server that is shutting
                # down may close it without a status. Treat as transient.
                problem = "stream ended without an error"
            except grpc.RpcError as error:
                if self._closed.is_set():
                    return
                code, details = status_of(error)
                if code not in TRANSIENT_CODES:
                    raise from_rpc_error(error) from error
                problem = f"{code.name}: {details}"
            finally:
                with self._lock:
                    self._call = None
                call.cancel()
            failures += 1
            now = time.monotonic()
            failing_since = failing_since if failing_since is not None else now
            pause = self._policy.backoff(failures)
            if self._policy.exhausted(failures, now - failing_since, pause):
                raise UnavailableError(
                    code or grpc.StatusCode.UNAVAILABLE,
                    f"subscription to {self.topic!r} gave up after {failures} failures: {problem}",
                )
            log.info(
                "subscription to %r interrupted (%s); reconnecting from offset %s in %.2fs",
                self.topic, problem, resume_at, pause,
            )
            if self._closed.wait(pause):
                return
            self.reconnects += 1

    def _checked(self, response: pb.SubscribeResponse, expected: int | None) -> list[pb.Event]:
        """Drops (and logs) events at offsets already delivered; a well-behaved server never
        sends any, but a resume must not hand an event to the application twice."""
        events: list[pb.Event] = []
        floor = expected
        for event in response.events:
            if floor is not None and event.offset < floor:
                log.warning(
                    "subscription to %r: server repeated offset %d (expected >= %d); dropped",
                    self.topic, event.offset, floor,
                )
                continue
            events.append(event)
            floor = event.offset + 1
        return events
