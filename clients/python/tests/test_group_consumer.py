"""Consumer groups: the admin calls and GroupConsumer against the real server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import Background, wait_until
from server import Server

from eventstream_client import (
    AlreadyExistsError,
    Event,
    EventStreamClient,
    FailedPreconditionError,
    GroupConsumer,
    NotFoundError,
    OutOfRangeError,
    delivery_attempt,
    new_event,
    pb,
)

HERE = Path(__file__).resolve().parent


def ack_floor(client: EventStreamClient, topic: str, group: str) -> int:
    return client.get_consumer_group(topic, group).ack_floor


# Each test creates its group before its members join: polling it must not race the join that
# would otherwise create it.


def test_two_members_share_the_events(client: EventStreamClient, tmp_path: Path) -> None:
    client.create_topic("work")
    client.create_consumer_group("work", "workers")
    lock = threading.Lock()
    handled_by: dict[str, list[int]] = {"a": [], "b": []}
    finished_per_key: dict[str, list[int]] = defaultdict(list)
    busy_keys: set[str] = set()
    same_key_overlaps: list[int] = []
    running = 0
    most_running = 0

    def member(name: str) -> GroupConsumer:
        def handle(event: Event) -> None:
            nonlocal running, most_running
            with lock:
                if event.key in busy_keys:
                    same_key_overlaps.append(event.offset)
                busy_keys.add(event.key)
                running += 1
                most_running = max(most_running, running)
            time.sleep(0.005)
            with lock:
                running -= 1
                busy_keys.discard(event.key)
                handled_by[name].append(event.offset)
                finished_per_key[event.key].append(event.offset)

        return GroupConsumer(client, "work", "workers", handle, db_path=tmp_path / f"{name}.db", concurrency=4)

    background = Background()
    with member("a") as a, member("b") as b:
        background.run(a.run)
        background.run(b.run)
        wait_until(lambda: client.get_consumer_group("work", "workers").members == 2, "both members")
        client.publish("work", [new_event("Job", str(i), key=f"k{i % 10}") for i in range(200)])
        wait_until(lambda: ack_floor(client, "work", "workers") == 200, "every event acknowledged")
        a.stop()
        b.stop()
        background.join()
        # run() returned once every ack was confirmed durable, so every id was pruned.
        assert a.recorded == 0 and b.recorded == 0

    everything = handled_by["a"] + handled_by["b"]
    assert sorted(everything) == list(range(200)), Counter(everything).most_common(3)
    assert handled_by["a"] and handled_by["b"], {k: len(v) for k, v in handled_by.items()}
    assert a.handled + b.handled == 200 and a.duplicates + b.duplicates == 0
    assert most_running > 1  # handlers ran in parallel ...
    assert same_key_overlaps == []  # ... but never two events of one key at once
    assert all(offsets == sorted(offsets) for offsets in finished_per_key.values())
    group = client.get_consumer_group("work", "workers")
    assert (group.lag, group.members, group.in_flight, group.redeliveries) == (0, 0, 0, 0)


def test_handler_failure_is_redelivered_after_the_retry_delay(client: EventStreamClient, tmp_path: Path) -> None:
    client.publish("flaky", [new_event("Charge", str(i)) for i in range(3)])
    client.create_consumer_group("flaky", "billing")
    calls: list[tuple[int, int, float]] = []

    def handle(event: Event) -> None:
        calls.append((event.offset, delivery_attempt(), time.monotonic()))
        if event.offset == 1 and delivery_attempt() == 1:
            raise RuntimeError("payment provider timed out")

    consumer = GroupConsumer(client, "flaky", "billing", handle, db_path=tmp_path / "billing.db",
                             retry_delay=timedelta(milliseconds=300))
    background = Background()
    with consumer:
        background.run(consumer.run)
        wait_until(lambda: ack_floor(client, "flaky", "billing") == 3, "every event acknowledged")
        consumer.stop()
        background.join()

    assert [(offset, attempt) for offset, attempt, _ in calls if offset == 1] == [(1, 1), (1, 2)]
    first, second = (at for offset, _, at in calls if offset == 1)
    assert second - first >= 0.25  # the nack's delay (300 ms), less clock granularity
    assert sorted(offset for offset, _, _ in calls) == [0, 1, 1, 2]
    assert (consumer.handled, consumer.failed, consumer.duplicates) == (3, 1, 0)
    group = client.get_consumer_group("flaky", "billing")
    assert (group.redeliveries, group.dead_lettered, group.lag) == (1, 0, 0)


def test_slow_handler_keeps_its_delivery_past_the_ack_deadline(client: EventStreamClient, tmp_path: Path) -> None:
    client.publish("reports", [new_event("Render", str(i)) for i in range(2)])
    client.create_consumer_group("reports", "renderer", ack_deadline=timedelta(milliseconds=300))
    calls: list[tuple[int, int]] = []

    def handle(event: Event) -> None:
        calls.append((event.offset, delivery_attempt()))
        time.sleep(1.0)  # over three ack deadlines: only the consumer's extensions keep it

    background = Background()
    with GroupConsumer(client, "reports", "renderer", handle, db_path=tmp_path / "r.db") as consumer:
        background.run(consumer.run)
        wait_until(lambda: ack_floor(client, "reports", "renderer") == 2, "both events acknowledged")
        consumer.stop()
        background.join()
    assert calls == [(0, 1), (1, 1)]
    assert client.get_consumer_group("reports", "renderer").redeliveries == 0


def test_poison_event_goes_to_the_dead_letters_with_the_exception_as_reason(
    client: EventStreamClient, tmp_path: Path
) -> None:
    client.create_topic("payments")
    client.create_consumer_group("payments", "ledger", max_deliveries=2)
    client.publish("payments", [new_event("Pay", "ok"), new_event("Pay", "poison", key="p")])
    attempts: list[int] = []

    def handle(event: Event) -> None:
        if event.payload == b"poison":
            attempts.append(delivery_attempt())
            raise ValueError("cannot parse amount")

    background = Background()
    with GroupConsumer(client, "payments", "ledger", handle, db_path=tmp_path / "ledger.db") as consumer:
        background.run(consumer.run)
        wait_until(lambda: ack_floor(client, "payments", "ledger") == 2, "the poison event dead-lettered")
        consumer.stop()
        background.join()
    assert attempts == [1, 2]

    dead = client.subscribe("payments.ledger.dead-letters", stop_at_end=True)
    letters = list(dead)
    assert len(letters) == 1
    letter = letters[0]
    assert (letter.type, letter.payload, letter.key) == ("Pay", b"poison", "p")
    assert letter.headers["eventstream-dead-letter-reason"] == "ValueError: cannot parse amount"
    assert letter.headers["eventstream-dead-letter-offset"] == "1"
    assert letter.headers["eventstream-dead-letter-attempts"] == "2"
    assert client.get_consumer_group("payments", "ledger").dead_lettered == 1


def test_recorded_event_is_not_handled_again_after_a_crash_before_its_ack(
    server: Server, client: EventStreamClient, tmp_path: Path
) -> None:
    client.create_topic("tasks")
    client.publish("tasks", [new_event("Task", f"task-{i}") for i in range(10)])
    client.create_consumer_group("tasks", "workers")
    work = tmp_path / "work"
    work.mkdir()
    (work / "armed").touch()
    command = [sys.executable, str(HERE / "group_consumer_proc.py"), server.target,
               str(tmp_path / "worker.db"), str(work), "5", "10"]

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (work / "recorded").exists():
            assert first.poll() is None, first.communicate()[0]
            assert time.monotonic() < deadline, "the consumer never recorded event 5"
            time.sleep(0.02)
        # Events 0..4 are acknowledged durably, so only 5 (and what was queued behind it) will
        # come again.
        wait_until(lambda: ack_floor(client, "tasks", "workers") == 5, "acks of 0..4")
        first.kill()  # SIGKILL: event 5 is handled and recorded, its ack never sent
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    (work / "armed").unlink()

    second = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stdout + second.stderr
    counters = json.loads(second.stdout.strip().splitlines()[-1])
    # 5 came again and was acked without the handler; 6..9 were handled; all ids pruned.
    assert counters == {"handled": 4, "duplicates": 1, "recorded": 0}, second.stdout + second.stderr

    calls = [line.split() for line in (work / "attempts.log").read_text().splitlines()]
    assert sorted(int(offset) for offset, _ in calls) == list(range(10))
    group = client.get_consumer_group("tasks", "workers")
    assert group.redeliveries >= 1 and group.lag == 0


def test_member_rejoins_after_a_server_restart_and_handles_each_event_once(
    server: Server, client: EventStreamClient, tmp_path: Path
) -> None:
    client.publish("orders", [new_event("Order", str(i), key=f"c{i % 5}") for i in range(60)])
    client.create_consumer_group("orders", "shipping")
    lock = threading.Lock()
    calls: Counter[int] = Counter()
    background = Background()

    def restart_and_publish() -> None:
        server.kill()
        time.sleep(0.3)
        server.start()
        client.publish("orders", [new_event("Order", str(i), key=f"c{i % 5}") for i in range(60, 80)])

    def handle(event: Event) -> None:
        with lock:
            calls[event.offset] += 1
            if sum(calls.values()) == 20:
                background.run(restart_and_publish)
        time.sleep(0.01)

    with GroupConsumer(client, "orders", "shipping", handle, db_path=tmp_path / "shipping.db",
                       concurrency=3) as consumer:
        background.run(consumer.run)
        wait_until(lambda: ack_floor(client, "orders", "shipping") == 80, "every event acknowledged", 60)
        consumer.stop()
        background.join()

    assert consumer.reconnects >= 1
    # Acks lost with the server were redelivered and recognised by their recorded ids.
    assert sorted(calls) == list(range(80)) and set(calls.values()) == {1}, calls.most_common(3)
    assert consumer.handled == 80


def test_consumer_group_admin_roundtrip(client: EventStreamClient, tmp_path: Path) -> None:
    client.create_topic("orders")
    billing = client.create_consumer_group("orders", "billing", ack_deadline=timedelta(seconds=5),
                                           max_deliveries=3)
    assert (billing.topic, billing.name, billing.ack_floor, billing.members) == ("orders", "billing", 0, 0)
    assert billing.config.ack_deadline.ToTimedelta() == timedelta(seconds=5)
    assert billing.config.max_deliveries == 3
    # Defaults are filled in.
    assert billing.config.dead_letter_topic == "orders.billing.dead-letters"
    assert billing.config.out_of_range == pb.OUT_OF_RANGE_POLICY_FAIL
    assert "orders.billing.dead-letters" in [topic.name for topic in client.list_topics()]
    with pytest.raises(AlreadyExistsError):
        client.create_consumer_group("orders", "billing")

    client.publish("orders", [new_event("Order", str(i)) for i in range(5)])
    audit = client.create_consumer_group("orders", "audit", latest=True)
    assert (audit.ack_floor, audit.lag) == (5, 0)
    assert audit.config.ack_deadline.ToTimedelta() == timedelta(seconds=30)
    billing = client.get_consumer_group("orders", "billing")
    assert (billing.ack_floor, billing.next_offset, billing.lag) == (0, 5, 5)
    assert [group.name for group in client.list_consumer_groups("orders")] == ["audit", "billing"]

    billing = client.reset_consumer_group("orders", "billing", to_offset=3)
    assert (billing.ack_floor, billing.lag) == (3, 2)
    assert client.reset_consumer_group("orders", "billing", earliest=True).ack_floor == 0
    with pytest.raises(OutOfRangeError):
        client.reset_consumer_group("orders", "billing", to_offset=99)
    with pytest.raises(ValueError):
        client.reset_consumer_group("orders", "billing")

    # A connected member blocks a reset; deleting the group ends its stream with NOT_FOUND.
    background = Background()
    with GroupConsumer(client, "orders", "audit", lambda event: None, db_path=tmp_path / "audit.db") as member:
        background.run(member.run)
        wait_until(lambda: client.get_consumer_group("orders", "audit").members == 1, "the member")
        with pytest.raises(FailedPreconditionError):
            client.reset_consumer_group("orders", "audit", earliest=True)
        client.delete_consumer_group("orders", "audit")
        with pytest.raises(NotFoundError):
            background.join()
        assert member.group is not None and member.group.name == "audit"

    with pytest.raises(NotFoundError):
        client.get_consumer_group("orders", "audit")
    with pytest.raises(NotFoundError):
        client.delete_consumer_group("orders", "audit")
    assert [group.name for group in client.list_consumer_groups("orders")] == ["billing"]
