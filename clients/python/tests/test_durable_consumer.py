"""The durable consumer handles every event exactly once across crashes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import closing_after
from server import Server

from eventstream_client import DurableConsumer, Event, EventStreamClient, new_event

HERE = Path(__file__).resolve().parent


class Boom(Exception):
    pass


def test_handler_failure_rolls_back_and_is_retried_on_restart(
    client: EventStreamClient, tmp_path: Path
) -> None:
    client.publish("ledger", [new_event("Credit", str(i)) for i in range(10)])
    db_path = tmp_path / "consumer.db"
    calls: list[int] = []
    fail_at = {6}

    def handler(event: Event, db: sqlite3.Connection) -> None:
        calls.append(event.offset)
        db.execute("INSERT INTO balance (event_id, amount) VALUES (?, ?)", (event.id, int(event.payload)))
        if event.offset in fail_at:
            fail_at.clear()
            raise Boom("crash in the middle of event 6")

    consumer = DurableConsumer(client, "ledger", db_path, handler)
    consumer.db.execute("CREATE TABLE balance (event_id TEXT, amount INTEGER)")
    with pytest.raises(Boom):
        consumer.run(until_caught_up=True)
    assert consumer.position == 6  # events 0..5 committed; 6 rolled back
    assert [r[0] for r in consumer.db.execute("SELECT amount FROM balance")] == [0, 1, 2, 3, 4, 5]
    consumer.close()

    # "Restart": a new consumer on the same database resumes at 6.
    consumer = DurableConsumer(client, "ledger", db_path, handler)
    assert consumer.run(until_caught_up=True) == 4
    assert calls == [0, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9]
    amounts = [r[0] for r in consumer.db.execute("SELECT amount FROM balance ORDER BY rowid")]
    assert amounts == list(range(10))
    assert consumer.position == 10

    # Later events only; earlier ones are not handled again.
    client.publish("ledger", [new_event("Credit", "10")])
    assert consumer.run(until_caught_up=True) == 1
    assert calls[-1] == 10 and consumer.position == 11

    # The processed-id table guards even if the position is rewound by hand.
    consumer.db.execute("UPDATE eventstream_consumer_position SET next_offset = 0")
    assert consumer.run(until_caught_up=True) == 0
    assert consumer.position == 11
    with pytest.raises(ValueError):
        consumer.prune_processed(12)
    assert consumer.prune_processed(11) == 11
    consumer.close()


def test_consumer_killed_mid_event_handles_each_event_exactly_once(
    server: Server, client: EventStreamClient, tmp_path: Path
) -> None:
    published = client.publish("jobs", [new_event("Job", f"job-{i}") for i in range(20)])
    work = tmp_path / "work"
    work.mkdir()
    db_path = tmp_path / "consumer.db"
    (work / "armed").touch()
    command = [sys.executable, str(HERE / "consumer_proc.py"), server.target, str(db_path), str(work), "7"]

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (work / "in-handler").exists():
            assert first.poll() is None, first.communicate()[0]
            assert time.monotonic() < deadline, "consumer never reached event 7"
            time.sleep(0.02)
        first.kill()  # SIGKILL while handling event 7
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    (work / "armed").unlink()

    # The server restarts too, and more events arrive meanwhile.
    server.kill()
    server.start()
    client.publish("jobs", [new_event("Job", f"job-{i}") for i in range(20, 25)])

    second = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "handled 18 position 25" in second.stdout  # 7..24

    db = sqlite3.connect(db_path)
    handled = db.execute("SELECT event_offset, payload FROM handled ORDER BY rowid").fetchall()
    assert [(o, bytes(p)) for o, p in handled] == [(i, f"job-{i}".encode()) for i in range(25)]
    ids = [row[0] for row in db.execute("SELECT event_id FROM handled")]
    assert ids[:20] == [p.id for p in published]
    attempts = Counter(int(line.split()[0]) for line in (work / "attempts.log").read_text().splitlines())
    assert attempts[7] == 2  # started before the kill, redone after
    assert all(attempts[i] == 1 for i in range(25) if i != 7)


def test_consumer_stop_from_another_thread(client: EventStreamClient, tmp_path: Path) -> None:
    seen: list[int] = []
    consumer = DurableConsumer(client, "idle", tmp_path / "c.db", lambda e, db: seen.append(e.offset),
                               latest=True)
    client.publish("idle", [new_event("Old", "x")])
    with closing_after(consumer, 1.0):
        assert consumer.run() == 0  # live, nothing new: stopped by the timer
    # The start position (the end of the log when it first ran) was stored.
    assert consumer.position == 1
    client.publish("idle", [new_event("New", "y")])
    assert consumer.run(until_caught_up=True) == 1
    assert seen == [1]
    consumer.close()
