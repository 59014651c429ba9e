"""A durable, idempotent consumer: position and processed ids in SQLite, committed atomically
with the handler's own SQLite writes."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ._retry import RetryPolicy
from .v1 import eventstream_pb2 as pb

if TYPE_CHECKING:
    from ._client import EventStreamClient
    from ._subscription import Subscription

#: ``handler(event, db)``: handles one event. ``db`` is the consumer's SQLite connection with a
#: transaction open; whatever the handler writes through it commits atomically with the
#: consumer's position and the event's id. The handler must not commit or roll back itself.
Handler = Callable[[pb.Event, sqlite3.Connection], None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS eventstream_consumer_position (
    consumer    TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    next_offset INTEGER NOT NULL,
    updated_at  REAL    NOT NULL,
    PRIMARY KEY (consumer, topic)
);
CREATE TABLE IF NOT EXISTS eventstream_processed_event (
    consumer     TEXT    NOT NULL,
    topic        TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    event_offset INTEGER NOT NULL,
    processed_at REAL    NOT NULL,
    PRIMARY KEY (consumer, topic, event_id)
);
"""


class HandlerEndedTransactionError(RuntimeError):
    """The handler committed or rolled back the consumer's transaction itself."""


class DurableConsumer:
    """Consumes a topic so that every event is handled exactly once across crashes and restarts.

    For each event, in one SQLite transaction (``BEGIN IMMEDIATE``):

    1. if the event's id is recorded as processed, skip the handler;
    2. otherwise call ``handler(event, db)``;
    3. record the event id and the new position (offset + 1, or the batch's ``next_offset``);
    4. ``COMMIT``.

    If the handler raises, the transaction is rolled back (the handler's SQLite writes too) and
    the exception propagates out of :meth:`run`; the event is handled again by the next run.
    On start, the consumer resumes from the stored position (or ``start_offset``/``latest`` the
    first time); the subscription itself reconnects and resumes after server failures.

    **Guarantee**: effects the handler makes *through ``db``* happen exactly once per event.
    Effects outside the database (HTTP calls, other stores) happen at least once: a crash after
    the handler returned but before the commit runs it again for that event after a restart.
    Make those idempotent with ``event.id`` (a UUIDv7 unique per event) as the key.

    Events whose offsets are below the stored position are never requested again; the processed
    id table is a second guard (for example if the position were rewound by hand) and can be
    pruned with :meth:`prune_processed`. Run one instance per ``(db_path, name, topic)`` at a
    time; separate names keep separate positions.
    """

    def __init__(
        self,
        client: EventStreamClient,
        topic: str,
        db_path: str | Path,
        handler: Handler,
        *,
        name: str = "default",
        start_offset: int | None = None,
        latest: bool = False,
        types: Sequence[str] = (),
        key: str = "",
        reconnect: RetryPolicy | None = None,
    ) -> None:
        self.client = client
        self.topic = topic
        self.name = name
        self.handler = handler
        self._start_offset = start_offset
        self._latest = latest
        self._types = tuple(types)
        self._key = key
        self._reconnect = reconnect
        self._subscription: Subscription | None = None
        self._stopping = threading.Event()
        self.db = sqlite3.connect(str(db_path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.executescript(_SCHEMA)

    # -- state -----------------------------------------------------------------------------

    @property
    def position(self) -> int | None:
        """The stored offset to resume from, or None before the first commit."""
        row = self.db.execute(
            "SELECT next_offset FROM eventstream_consumer_position WHERE consumer = ? AND topic = ?",
            (self.name, self.topic),
        ).fetchone()
        return None if row is None else int(row[0])

    def is_processed(self, event_id: str) -> bool:
        """Whether the event with this id was handled and committed."""
        row = self.db.execute(
            "SELECT 1 FROM eventstream_processed_event WHERE consumer = ? AND topic = ? AND event_id = ?",
            (self.name, self.topic, event_id),
        ).fetchone()
        return row is not None

    def prune_processed(self, below_offset: int) -> int:
        """Forgets processed ids of events below ``below_offset`` (which must not exceed the
        stored position); returns how many rows were removed."""
        position = self.position or 0
        if below_offset > position:
            raise ValueError(f"cannot prune above the stored position {position}")
        cursor = self.db.execute(
            "DELETE FROM eventstream_processed_event WHERE consumer = ? AND topic = ? AND event_offset < ?",
            (self.name, self.topic, below_offset),
        )
        return cursor.rowcount

    # -- running ---------------------------------------------------------------------------

    def run(self, *, until_caught_up: bool = False, max_events: int | None = None) -> int:
        """Consumes until :meth:`stop` is called, or until the end of the log is reached
        (``until_caught_up``), or ``max_events`` events were handled. Returns the number of
        events passed to the handler in this run (skipped duplicates not counted)."""
        self._stopping.clear()
        stored = self.position
        subscription = self.client.subscribe(
            self.topic,
            from_offset=stored if stored is not None else self._start_offset,
            latest=self._latest if stored is None and self._start_offset is None else False,
            types=self._types,
            key=self._key,
            stop_at_end=until_caught_up,
            reconnect=self._reconnect,
        )
        self._subscription = subscription
        handled = 0
        try:
            if self._stopping.is_set():
                return handled
            for batch in subscription.batches():
                for index, event in enumerate(batch.events):
                    last = index == len(batch.events) - 1
                    next_position = batch.next_offset if last else event.offset + 1
                    if self._handle(event, next_position):
                        handled += 1
                    if self._stopping.is_set() or (max_events is not None and handled >= max_events):
                        return handled
                if not batch.events:
                    self._store_position(batch.next_offset)
                if self._stopping.is_set():
                    return handled
        finally:
            subscription.close()
            self._subscription = None
        return handled

    def stop(self) -> None:
        """Stops :meth:`run` after the event in progress (from any thread)."""
        self._stopping.set()
        subscription = self._subscription
        if subscription is not None:
            subscription.close()

    def close(self) -> None:
        self.stop()
        self.db.close()

    def __enter__(self) -> DurableConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handle(self, event: pb.Event, next_position: int) -> bool:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            called = False
            if not self.is_processed(event.id):
                self.handler(event, db)
                called = True
                if not db.in_transaction:
                    raise HandlerEndedTransactionError(
                        "the handler committed or rolled back the consumer's transaction"
                    )
                db.execute(
                    "INSERT INTO eventstream_processed_event"
                    " (consumer, topic, event_id, event_offset, processed_at) VALUES (?, ?, ?, ?, ?)",
                    (self.name, self.topic, event.id, event.offset, time.time()),
                )
            self._upsert_position(next_position)
            db.execute("COMMIT")
            return called
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _store_position(self, next_offset: int) -> None:
        if self.position == next_offset:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._upsert_position(next_offset)
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def _upsert_position(self, next_offset: int) -> None:
        self.db.execute(
            "INSERT INTO eventstream_consumer_position (consumer, topic, next_offset, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (consumer, topic)"
            " DO UPDATE SET next_offset = excluded.next_offset, updated_at = excluded.updated_at",
            (self.name, self.topic, next_offset, time.time()),
        )
