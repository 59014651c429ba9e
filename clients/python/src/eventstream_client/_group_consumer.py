"""A consumer group member: handles its share of a topic's events in parallel, acknowledges each,
and keeps processed event ids in SQLite so that a redelivered event is not handled twice."""

from __future__ import annotations

import contextvars
import enum
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

import grpc

from ._errors import TRANSIENT_CODES, UnavailableError, from_rpc_error, status_of
from ._retry import RetryPolicy
from .v1 import eventstream_pb2 as pb

if TYPE_CHECKING:
    from ._client import EventStreamClient

log = logging.getLogger("eventstream_client")

#: ``handler(event)``: handles one delivered event. Returning acknowledges it; raising gives it
#: back to the group (a nack) to be delivered again.
GroupHandler = Callable[[pb.Event], None]

#: The longest nack reason the server accepts, in UTF-8 bytes.
MAX_NACK_REASON_BYTES = 1024

#: The server's ack deadline when the group description does not name one.
_DEFAULT_ACK_DEADLINE = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS eventstream_group_processed_event (
    topic        TEXT    NOT NULL,
    group_name   TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    event_offset INTEGER NOT NULL,
    processed_at REAL    NOT NULL,
    PRIMARY KEY (topic, group_name, event_id)
);
CREATE INDEX IF NOT EXISTS eventstream_group_processed_event_by_offset
    ON eventstream_group_processed_event (topic, group_name, event_offset);
"""

_attempt: contextvars.ContextVar[int] = contextvars.ContextVar("eventstream_delivery_attempt")


def delivery_attempt() -> int:
    """The attempt number of the delivery the calling handler is handling: 1 for the first
    delivery to the group, 2 for the second, and so on. Raises :class:`LookupError` outside a
    :class:`GroupConsumer` handler."""
    return _attempt.get()


class _ProcessedIds:
    """The processed-event table, shared by the handler threads and the control loop."""

    def __init__(self, db_path: str | Path, topic: str, group: str) -> None:
        self.topic = topic
        self.group = group
        self._lock = threading.Lock()
        self.db = sqlite3.connect(str(db_path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # An id must be on disk before its ack leaves: the ack makes the server forget the event.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.executescript(_SCHEMA)

    def contains(self, event_id: str) -> bool:
        with self._lock:
            row = self.db.execute(
                "SELECT 1 FROM eventstream_group_processed_event"
                " WHERE topic = ? AND group_name = ? AND event_id = ?",
                (self.topic, self.group, event_id),
            ).fetchone()
        return row is not None

    def record(self, event: pb.Event) -> None:
        # OR IGNORE: members sharing the file may both finish an event whose deadline passed.
        with self._lock:
            self.db.execute(
                "INSERT OR IGNORE INTO eventstream_group_processed_event"
                " (topic, group_name, event_id, event_offset, processed_at) VALUES (?, ?, ?, ?, ?)",
                (self.topic, self.group, event.id, event.offset, time.time()),
            )

    def forget_offsets(self, offsets: Iterable[int]) -> None:
        with self._lock:
            self.db.executemany(
                "DELETE FROM eventstream_group_processed_event"
                " WHERE topic = ? AND group_name = ? AND event_offset = ?",
                [(self.topic, self.group, offset) for offset in offsets],
            )

    def forget_below(self, ack_floor: int) -> None:
        with self._lock:
            self.db.execute(
                "DELETE FROM eventstream_group_processed_event"
                " WHERE topic = ? AND group_name = ? AND event_offset < ?",
                (self.topic, self.group, ack_floor),
            )

    def count(self) -> int:
        with self._lock:
            row = self.db.execute(
                "SELECT COUNT(*) FROM eventstream_group_processed_event WHERE topic = ? AND group_name = ?",
                (self.topic, self.group),
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self.db.close()


class _Outcome(enum.Enum):
    #: The handler returned and the id was recorded: ack.
    HANDLED = "handled"
    #: The id was already recorded, the handler was not called: ack.
    DUPLICATE = "duplicate"
    #: The handler raised: nack.
    FAILED = "failed"
    #: Not started because the stream ended or the consumer is stopping: left to the server,
    #: which delivers it again once this member's stream is gone.
    SKIPPED = "skipped"


@dataclass(eq=False)
class _Session:
    """One Consume stream and what was delivered on it."""

    number: int
    requests: queue.SimpleQueue[pb.ConsumeRequest | None] = field(default_factory=queue.SimpleQueue)
    call: Any = None
    #: Set once the stream is over: its deliveries can no longer be acked on it.
    ended: threading.Event = field(default_factory=threading.Event)
    #: A response arrived (the join succeeded).
    responded: bool = False
    #: Offsets handed to the handler threads whose outcome has not come back.
    outstanding: set[int] = field(default_factory=set)
    #: Offsets acked on this stream whose ack the server has not yet confirmed durable.
    unconfirmed: set[int] = field(default_factory=set)
    #: When the deliveries held next get their ack deadline extended.
    next_extend: float = 0.0

    def request_stream(self) -> Iterator[pb.ConsumeRequest]:
        while True:
            request = self.requests.get()
            if request is None:
                return
            yield request


@dataclass(frozen=True)
class _Received:
    session: _Session
    response: pb.ConsumeResponse


@dataclass(frozen=True)
class _Ended:
    session: _Session
    #: None when the stream ended with OK.
    error: BaseException | None


@dataclass(frozen=True)
class _Done:
    session: _Session
    offset: int
    outcome: _Outcome
    reason: str = ""


@dataclass(frozen=True)
class _Crashed:
    """The consumer's own work on a delivery failed (not the handler: e.g. the SQLite write)."""

    session: _Session
    offset: int
    error: BaseException


class _Wake:
    """Sent by :meth:`GroupConsumer.stop` so the control loop notices at once."""


_Message = Union[_Received, _Ended, _Done, _Crashed, _Wake]


class GroupConsumer:
    """A member of a consumer group: each of the topic's events goes to one member of the group.

    :meth:`run` joins ``group`` on ``topic`` (the server creates the group with default settings
    if it does not exist; use :meth:`EventStreamClient.create_consumer_group` for others) and
    hands each delivered event to ``handler(event)`` on one of ``concurrency`` threads:

    * the handler returns: the event's id is recorded in SQLite (``db_path``), then it is acked;
    * the handler raises: it is nacked with the exception as reason (delivered again, after
      ``retry_delay`` if given, to any member; after the group's ``max_deliveries`` attempts it
      goes to the dead-letter topic);
    * the id is already recorded (a redelivery of an event handled before its ack reached the
      server, e.g. after a crash or a lost connection): acked without calling the handler.

    The server never hands out two events with the same non-empty key at once, so parallel
    handling keeps each key's events in order. :func:`delivery_attempt` tells a handler which
    attempt it is on.

    Recorded ids are deleted once the server confirms the ack durable (``acks_durable``) or the
    group's ack floor passes them: such events are never delivered to the group again. Members
    that share ``db_path`` (a file on one machine) also skip each other's processed events.

    **Guarantee**: at least once, and the handler is not called again for an event whose id was
    recorded. An event is handled twice only when the member dies (or its stream breaks) after
    the handler returned but before the id reached the disk, or when its ack deadline passes
    while the handler still runs and another member takes it; make external effects idempotent
    with ``event.id`` to cover those. The consumer extends the ack deadline of its queued and
    running deliveries, so a slow handler only loses its delivery when the member is cut off.

    After UNAVAILABLE (a lost connection, a server shutting down or restarting) it waits for the
    running handlers, then joins again with backoff (``reconnect``, default the client's); the
    server redelivers whatever was not acknowledged. Other errors end :meth:`run`:
    :class:`NotFoundError` when the group or topic is deleted, :class:`FailedPreconditionError`
    when the group's position fell below the retained range (reset it).

    :meth:`stop` (from any thread, a handler too) ends :meth:`run` cleanly: deliveries not
    started are left to other members, running handlers finish and are acked, and run waits up
    to ``stop_timeout`` seconds for those acks to be confirmed durable. Use it as a context
    manager to close the SQLite connection.
    """

    def __init__(
        self,
        client: EventStreamClient,
        topic: str,
        group: str,
        handler: GroupHandler,
        *,
        db_path: str | Path,
        concurrency: int = 1,
        max_in_flight: int | None = None,
        retry_delay: timedelta | None = None,
        reconnect: RetryPolicy | None = None,
        stop_timeout: float = 10.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        # Twice the threads by default: the next deliveries are at hand while acks travel.
        in_flight = max_in_flight if max_in_flight is not None else 2 * concurrency
        if not 1 <= in_flight <= 10_000:
            raise ValueError("max_in_flight must be between 1 and 10,000")
        self.client = client
        self.topic = topic
        self.group_name = group
        self.handler = handler
        self.concurrency = concurrency
        self.max_in_flight = in_flight
        self.retry_delay = retry_delay
        self.stop_timeout = stop_timeout
        self._reconnect = reconnect or client.reconnect
        #: The group as described when this member last joined; None before.
        self.group: pb.ConsumerGroup | None = None
        #: Events whose handler returned (in this process).
        self.handled = 0
        #: Redelivered events acked without calling the handler: their ids were recorded.
        self.duplicates = 0
        #: Events nacked because the handler raised.
        self.failed = 0
        #: How many times the member joined again after its stream failed.
        self.reconnects = 0
        self._ids = _ProcessedIds(db_path, topic, group)
        self._inbox: queue.SimpleQueue[_Message] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._sessions = 0
        self._ack_deadline = _DEFAULT_ACK_DEADLINE

    # -- state -----------------------------------------------------------------------------

    @property
    def recorded(self) -> int:
        """How many processed ids are stored for this topic and group."""
        return self._ids.count()

    # -- running ---------------------------------------------------------------------------

    def run(self) -> None:
        """Consumes the group's share of events until :meth:`stop` is called (returns), or a
        permanent error (raised as :class:`EventStreamError`), or reconnecting gives up
        (:class:`UnavailableError`)."""
        if not self._idle.is_set():
            raise RuntimeError("run() is already running")
        self._idle.clear()
        self._stopping.clear()
        failures = 0
        failing_since: float | None = None
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"group-{self.group_name}")
        try:
            while not self._stopping.is_set():
                session = self._join()
                try:
                    ended = self._serve(session, pool)
                finally:
                    self._leave(session)
                if ended is None:
                    return
                code: grpc.StatusCode | None = None
                if ended.error is None:
                    # A member's stream never ends with OK by itself; a server that is shutting
                    # down may close it without a status. Treat as transient.
                    problem = "stream ended without an error"
                elif isinstance(ended.error, grpc.RpcError):
                    code, details = status_of(ended.error)
                    if code not in TRANSIENT_CODES:
                        raise from_rpc_error(ended.error) from ended.error
                    problem = f"{code.name}: {details}"
                else:
                    raise ended.error
                if session.responded:
                    failures, failing_since = 0, None
                failures += 1
                now = time.monotonic()
                failing_since = failing_since if failing_since is not None else now
                pause = self._reconnect.backoff(failures)
                if self._reconnect.exhausted(failures, now - failing_since, pause):
                    raise UnavailableError(
                        code or grpc.StatusCode.UNAVAILABLE,
                        f"group {self.group_name!r} on {self.topic!r} gave up after {failures} failures: {problem}",
                    )
                log.info(
                    "group %r on %r: stream interrupted (%s); joining again in %.2fs",
                    self.group_name, self.topic, problem, pause,
                )
                if self._stopping.wait(pause):
                    return
                self.reconnects += 1
        finally:
            pool.shutdown(wait=True)
            self._idle.set()

    def stop(self) -> None:
        """Ends :meth:`run` cleanly (see the class description); returns at once, from any thread."""
        self._stopping.set()
        self._inbox.put(_Wake())

    def close(self) -> None:
        """Stops, waits for :meth:`run` to return, and closes the SQLite connection. Call it from
        outside the handler (a handler calls :meth:`stop`)."""
        self.stop()
        self._idle.wait()
        self._ids.close()

    def __enter__(self) -> GroupConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one stream ------------------------------------------------------------------------

    def _join(self) -> _Session:
        self._sessions += 1
        session = _Session(self._sessions)
        join = pb.ConsumeJoin(topic=self.topic, group=self.group_name, max_in_flight=self.max_in_flight)
        session.requests.put(pb.ConsumeRequest(join=join))
        session.call = self.client._open_consume(session.request_stream())
        threading.Thread(
            target=self._read, args=(session,), daemon=True, name=f"group-{self.group_name}-reader"
        ).start()
        return session

    def _read(self, session: _Session) -> None:
        """Moves the stream's responses into the inbox (the control loop owns all state)."""
        try:
            for response in session.call:
                self._inbox.put(_Received(session, response))
        except BaseException as error:  # noqa: BLE001 - handed to the control loop
            self._inbox.put(_Ended(session, error))
            return
        self._inbox.put(_Ended(session, None))

    def _serve(self, session: _Session, pool: ThreadPoolExecutor) -> _Ended | None:
        """The control loop of one stream. Returns how the stream ended, or None when stopped
        (nothing running, the last acks confirmed or ``stop_timeout`` passed)."""
        session.next_extend = time.monotonic() + self._extend_period()
        stop_deadline: float | None = None
        while True:
            now = time.monotonic()
            if self._stopping.is_set():
                if stop_deadline is None:
                    stop_deadline = now + self.stop_timeout
                if not session.outstanding and not session.unconfirmed:
                    return None
                if now >= stop_deadline and not session.outstanding:
                    log.warning(
                        "group %r on %r: stopping without confirmation of %d acks",
                        self.group_name, self.topic, len(session.unconfirmed),
                    )
                    return None
            wake_at = session.next_extend
            if stop_deadline is not None and now < stop_deadline:
                wake_at = min(wake_at, stop_deadline)
            try:
                message: _Message | None = self._inbox.get(timeout=max(0.0, wake_at - now))
            except queue.Empty:
                message = None
            acks: list[int] = []
            nacks: list[pb.Nack] = []
            # Everything already waiting goes out in one request.
            while message is not None:
                if isinstance(message, _Ended) and message.session is session:
                    return message
                if isinstance(message, _Crashed):
                    session.outstanding.discard(message.offset)
                    raise message.error
                if isinstance(message, _Received) and message.session is session:
                    self._receive(session, message.response, pool)
                elif isinstance(message, _Done):
                    self._settle(message, session, acks, nacks)
                try:
                    message = self._inbox.get_nowait()
                except queue.Empty:
                    message = None
            extend: list[int] = []
            if time.monotonic() >= session.next_extend:
                extend = sorted(session.outstanding)
                session.next_extend = time.monotonic() + self._extend_period()
            if acks or nacks or extend:
                session.requests.put(pb.ConsumeRequest(acks=acks, nacks=nacks, extend=extend))

    def _receive(self, session: _Session, response: pb.ConsumeResponse, pool: ThreadPoolExecutor) -> None:
        session.responded = True
        if response.HasField("group"):
            self.group = response.group
            config = response.group.config
            if config.HasField("ack_deadline"):
                self._ack_deadline = config.ack_deadline.ToTimedelta().total_seconds()
                session.next_extend = time.monotonic() + self._extend_period()
            # Everything below the ack floor is durably done: never delivered again.
            self._ids.forget_below(response.group.ack_floor)
        if response.acks_durable:
            session.unconfirmed.difference_update(response.acks_durable)
            # An offset outstanding again was redelivered (its deadline passed) before the server
            # got the ack: that delivery must still find the id, so it is forgotten once its own
            # ack is durable (or the ack floor passes it).
            self._ids.forget_offsets(set(response.acks_durable) - session.outstanding)
        for delivery in response.deliveries:
            if self._stopping.is_set():
                # Not started: delivered again to another member once this stream closes.
                continue
            if delivery.event.offset in session.outstanding:
                # Its deadline passed and it came back here: the delivery already queued or
                # running settles it (acks and nacks name offsets), and must not run beside it.
                continue
            session.outstanding.add(delivery.event.offset)
            pool.submit(self._process, session, delivery)

    def _settle(self, done: _Done, current: _Session, acks: list[int], nacks: list[pb.Nack]) -> None:
        done.session.outstanding.discard(done.offset)
        if done.outcome is _Outcome.HANDLED:
            self.handled += 1
        elif done.outcome is _Outcome.DUPLICATE:
            self.duplicates += 1
        elif done.outcome is _Outcome.FAILED:
            self.failed += 1
        # A delivery of an earlier stream cannot be acked on this one (the server would refuse
        # an offset it did not deliver here); it is delivered again, then skipped by its id.
        if done.session is not current or done.outcome is _Outcome.SKIPPED:
            return
        if done.outcome is _Outcome.FAILED:
            nack = pb.Nack(offset=done.offset, reason=done.reason)
            if self.retry_delay is not None:
                nack.delay.FromTimedelta(self.retry_delay)
            nacks.append(nack)
        else:
            acks.append(done.offset)
            current.unconfirmed.add(done.offset)

    def _leave(self, session: _Session) -> None:
        """Closes the stream and waits for its handlers: a redelivery of their events must find
        their ids recorded, and must not run beside them."""
        session.ended.set()
        session.requests.put(None)
        session.call.cancel()
        while session.outstanding:
            message = self._inbox.get()
            if isinstance(message, _Done):
                self._settle(message, session, [], [])
            elif isinstance(message, _Crashed):
                session.outstanding.discard(message.offset)
                log.error(
                    "group %r on %r: processing offset %d failed",
                    self.group_name, self.topic, message.offset, exc_info=message.error,
                )

    def _extend_period(self) -> float:
        # A third of the deadline leaves two chances for an extension to arrive in time.
        return max(0.05, self._ack_deadline / 3)

    # -- handler threads -------------------------------------------------------------------

    def _process(self, session: _Session, delivery: pb.GroupDelivery) -> None:
        event = delivery.event
        try:
            if session.ended.is_set() or self._stopping.is_set():
                done = _Done(session, event.offset, _Outcome.SKIPPED)
            elif self._ids.contains(event.id):
                log.info(
                    "group %r on %r: offset %d (attempt %d) was processed before; acked without the handler",
                    self.group_name, self.topic, event.offset, delivery.attempt,
                )
                done = _Done(session, event.offset, _Outcome.DUPLICATE)
            else:
                done = self._handle(session, delivery)
        except BaseException as error:  # noqa: BLE001 - handed to the control loop
            self._inbox.put(_Crashed(session, event.offset, error))
            return
        self._inbox.put(done)

    def _handle(self, session: _Session, delivery: pb.GroupDelivery) -> _Done:
        event = delivery.event
        token = _attempt.set(delivery.attempt)
        try:
            self.handler(event)
        except Exception as error:
            log.warning(
                "group %r on %r: handler failed on offset %d (attempt %d); nacked",
                self.group_name, self.topic, event.offset, delivery.attempt, exc_info=True,
            )
            return _Done(session, event.offset, _Outcome.FAILED, _reason(error))
        finally:
            _attempt.reset(token)
        self._ids.record(event)
        return _Done(session, event.offset, _Outcome.HANDLED)


def _reason(error: Exception) -> str:
    """The nack reason for a handler's exception, cut to what the server accepts."""
    text = f"{type(error).__name__}: {error}"
    return text.encode()[:MAX_NACK_REASON_BYTES].decode(errors="ignore")
