from __future__ import annotations

import pytest
from conftest import Background, closing_after

from eventstream_client import (
    EventStreamClient,
    IdempotencyConflictError,
    InvalidArgumentError,
    OutOfRangeError,
    new_event,
)


def test_publish_subscribe_roundtrip(client: EventStreamClient) -> None:
    events = [
        new_event("OrderPlaced", b'{"id":1}', key="order-1", headers={"trace": "t1"},
                  content_type="application/json", schema_version=2),
        new_event("OrderPaid", "paid", key="order-1", idempotency_key="my-key"),
        new_event("OrderPlaced", b"\x00\xffbinary", key="order-2"),
    ]
    published = client.publish("orders", events)
    assert [p.offset for p in published] == [0, 1, 2]
    assert not any(p.duplicate for p in published)
    assert published[1].idempotency_key == "my-key"
    assert published[0].idempotency_key and published[2].idempotency_key  # uuid4s assigned
    assert events[0].idempotency_key == ""  # the caller's message is not modified

    sub = client.subscribe("orders", stop_at_end=True)
    with closing_after(sub, 10):
        got = list(sub)
    assert [e.offset for e in got] == [0, 1, 2]
    assert [e.id for e in got] == [p.id for p in published]
    assert got[0].type == "OrderPlaced" and got[0].payload == b'{"id":1}'
    assert dict(got[0].headers) == {"trace": "t1"}
    assert got[0].content_type == "application/json" and got[0].schema_version == 2
    assert got[1].payload == b"paid" and got[1].idempotency_key == "my-key"
    assert got[2].payload == b"\x00\xffbinary"
    assert sub.position == 3 and sub.caught_up

    # Same key, same content: not appended again, original result repeated.
    again = client.publish("orders", [new_event("OrderPaid", "paid", idempotency_key="my-key")])
    assert again[0].duplicate and again[0].offset == 1 and again[0].id == published[1].id
    # Same key, different content: refused, nothing appended.
    with pytest.raises(IdempotencyConflictError):
        client.publish("orders", [new_event("OrderPaid", "other", idempotency_key="my-key")])
    assert client.get_topic("orders").next_offset == 3

    with pytest.raises(InvalidArgumentError):
        client.publish("orders", [new_event("", "no type")])
    with pytest.raises(OutOfRangeError):
        list(client.subscribe("orders", from_offset=99, stop_at_end=True))


def test_live_subscription_and_filters(client: EventStreamClient) -> None:
    client.publish("live", [new_event("Skip", "0"), new_event("Keep", "1")])
    sub = client.subscribe("live", types=["Keep"])
    received = []
    background = Background()

    def publish_later() -> None:
        client.publish("live", [new_event("Skip", "2"), new_event("Keep", "3"), new_event("Skip", "4")])

    with closing_after(sub, 15):
        for event in sub:
            received.append(event)
            if len(received) == 1:
                assert sub.caught_up and sub.position == 2
                background.run(publish_later)
            if len(received) == 2:
                break
    sub.close()
    background.join()
    assert [(e.offset, e.payload) for e in received] == [(1, b"1"), (3, b"3")]

    # Starting at the end: the first response is empty and caught up.
    latest = client.subscribe("live", latest=True)
    with closing_after(latest, 10):
        first = next(iter(latest.batches()))
    assert first.events == [] and first.caught_up and first.next_offset == 5
    latest.close()
