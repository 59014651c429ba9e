"""A subscription carries on across server crashes and restarts with no loss and no repeat."""

from __future__ import annotations

import time

from conftest import TEST_RECONNECT, TEST_RETRY, Background, closing_after
from server import Server

from eventstream_client import EventStreamClient, new_event, pb

PAYLOAD = 200_000  # large enough that history spans several responses (about 1 MiB each)


def payload(i: int) -> bytes:
    return f"{i:08d}".encode() * (PAYLOAD // 8)


def test_resume_across_kill_and_restart(server: Server) -> None:
    with EventStreamClient(server.target, publish_retry=TEST_RETRY, reconnect=TEST_RECONNECT) as client:
        client.publish("stream", [new_event("E", payload(i)) for i in range(20)])
        sub = client.subscribe("stream", from_offset=0)
        received: list[pb.Event] = []
        positions: list[int | None] = []
        caught_up_at: list[int] = []
        background = Background()

        def crash_restart_publish(first: int, count: int) -> None:
            server.kill()
            time.sleep(0.3)
            server.start()
            client.publish("stream", [new_event("E", payload(i)) for i in range(first, first + count)])

        with closing_after(sub, 60):
            for event in sub:
                received.append(event)
                positions.append(sub.position)
                if sub.caught_up:
                    caught_up_at.append(len(received))
                if len(received) == 5:
                    # Mid-history: the rest of the log is still to come from the server.
                    crash_restart_publish(20, 10)
                if len(received) == 30:
                    # Caught up and idle (waiting for live events) when the server dies.
                    background.run(lambda: crash_restart_publish(30, 10))
                if len(received) == 40:
                    # A graceful shutdown ends the stream with UNAVAILABLE.
                    def graceful() -> None:
                        server.stop()
                        server.start()
                        client.publish("stream", [new_event("E", payload(i)) for i in range(40, 45)])

                    background.run(graceful)
                if len(received) == 45:
                    break
        sub.close()
        background.join()

    offsets = [e.offset for e in received]
    assert offsets == list(range(45)), offsets
    assert [e.payload for e in received] == [payload(i) for i in range(45)]
    assert positions == list(range(1, 46))
    assert sub.reconnects >= 3
    assert 30 in caught_up_at and 40 in caught_up_at


def test_resume_from_stored_position(client: EventStreamClient) -> None:
    client.publish("resume", [new_event("E", str(i)) for i in range(10)])
    first = client.subscribe("resume")
    with closing_after(first, 10):
        taken = [next(first) for _ in range(4)]
    first.close()
    assert first.position == 4
    second = client.subscribe("resume", from_offset=first.position, stop_at_end=True)
    with closing_after(second, 10):
        rest = list(second)
    assert [e.payload for e in taken + rest] == [str(i).encode() for i in range(10)]
