"""A group consumer in its own process, for the crash test.

Usage: group_consumer_proc.py TARGET DB_PATH WORK_DIR CRASH_OFFSET TOTAL
Joins group "workers" of topic "tasks" and handles events until the group's ack floor reaches
TOTAL, then stops and prints its counters as JSON. The handler logs each call to
WORK_DIR/attempts.log. If WORK_DIR/armed exists when the event at CRASH_OFFSET was handled and
its id recorded, it creates WORK_DIR/recorded and sleeps before the ack is sent, waiting to be
killed.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import TEST_RECONNECT, TEST_RETRY  # noqa: E402

from eventstream_client import Event, EventStreamClient, GroupConsumer, delivery_attempt, pb  # noqa: E402
from eventstream_client._group_consumer import _Done, _Session  # noqa: E402


def main() -> None:
    target, db_path, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    crash_offset, total = int(sys.argv[4]), int(sys.argv[5])

    class CrashBeforeAck(GroupConsumer):
        """Dies between recording an event's id and sending its ack."""

        def _handle(self, session: _Session, delivery: pb.GroupDelivery) -> _Done:
            done = super()._handle(session, delivery)
            if delivery.event.offset == crash_offset and (work / "armed").exists():
                (work / "recorded").touch()
                time.sleep(60)  # killed here
            return done

    def handler(event: Event) -> None:
        with open(work / "attempts.log", "a") as attempts:
            attempts.write(f"{event.offset} {delivery_attempt()}\n")
            attempts.flush()
            os.fsync(attempts.fileno())

    with EventStreamClient(target, publish_retry=TEST_RETRY, reconnect=TEST_RECONNECT) as client:
        consumer = CrashBeforeAck(client, "tasks", "workers", handler, db_path=db_path)

        def stop_when_done() -> None:
            while client.get_consumer_group("tasks", "workers").ack_floor < total:
                time.sleep(0.05)
            consumer.stop()

        threading.Thread(target=stop_when_done, daemon=True).start()
        with consumer:
            consumer.run()
            counters = {"handled": consumer.handled, "duplicates": consumer.duplicates,
                        "recorded": consumer.recorded}
        print(json.dumps(counters), flush=True)


if __name__ == "__main__":
    main()
