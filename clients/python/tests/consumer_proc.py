"""A durable consumer in its own process, for the crash test.

Usage: consumer_proc.py TARGET DB_PATH WORK_DIR CRASH_OFFSET
Handles events of topic "jobs" until caught up. The handler records the event in the table
`handled` through the consumer's transaction, and logs each attempt to WORK_DIR/attempts.log
(outside the transaction). If WORK_DIR/armed exists when the event at CRASH_OFFSET is handled, it
creates WORK_DIR/in-handler and sleeps, waiting to be killed.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import TEST_RECONNECT, TEST_RETRY  # noqa: E402

from eventstream_client import DurableConsumer, Event, EventStreamClient  # noqa: E402


def main() -> None:
    target, db_path, work, crash_offset = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])

    def handler(event: Event, db: sqlite3.Connection) -> None:
        with open(work / "attempts.log", "a") as attempts:
            attempts.write(f"{event.offset} {event.id}\n")
            attempts.flush()
            os.fsync(attempts.fileno())
        db.execute("INSERT INTO handled (event_id, event_offset, payload) VALUES (?, ?, ?)",
                   (event.id, event.offset, event.payload))
        if event.offset == crash_offset and (work / "armed").exists():
            (work / "in-handler").touch()
            time.sleep(60)  # killed here

    with EventStreamClient(target, publish_retry=TEST_RETRY, reconnect=TEST_RECONNECT) as client:
        consumer = DurableConsumer(client, "jobs", db_path, handler, name="proc")
        consumer.db.execute(
            "CREATE TABLE IF NOT EXISTS handled (event_id TEXT, event_offset INTEGER, payload BLOB)"
        )
        count = consumer.run(until_caught_up=True)
        print(f"handled {count} position {consumer.position}", flush=True)
        consumer.close()


if __name__ == "__main__":
    main()
