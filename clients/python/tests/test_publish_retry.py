"""Publish retries reuse the idempotency keys, so a lost response never appends twice."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import grpc
import pytest
from conftest import TEST_RECONNECT, TEST_RETRY, Background, closing_after
from server import Server

from eventstream_client import (
    EventStreamClient,
    InvalidArgumentError,
    RetryPolicy,
    UnavailableError,
    new_event,
    pb,
)


class InjectedUnavailable(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "injected: response lost"


class LoseResponses(grpc.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """Lets the first ``count`` Publish calls reach the server and complete there, then throws
    their responses away and reports UNAVAILABLE, as if the connection broke on the way back."""

    def __init__(self, count: int = 1, after_handled: Callable[[], None] | None = None) -> None:
        self.count = count
        self.after_handled = after_handled
        self.requests: list[pb.PublishRequest] = []

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        if not details.method.endswith("/Publish"):
            return continuation(details, request)
        self.requests.append(request)
        outcome = continuation(details, request)
        if len(self.requests) <= self.count:
            outcome.result()  # the server has appended the events and answered
            if self.after_handled:
                self.after_handled()
            raise InjectedUnavailable()
        return outcome


def read_all(client: EventStreamClient, topic: str) -> list[pb.Event]:
    sub = client.subscribe(topic, stop_at_end=True)
    with closing_after(sub, 10):
        return list(sub)


def test_lost_response_is_retried_without_duplicates(server: Server) -> None:
    lose = LoseResponses(count=2)
    with EventStreamClient(server.target, interceptors=[lose], publish_retry=TEST_RETRY) as client:
        published = client.publish("pay", [new_event("Paid", f"{i}") for i in range(3)])
        # Attempts 1 and 2 were appended once and their responses lost; attempt 3 succeeded.
        assert len(lose.requests) == 3
        keys = [[e.idempotency_key for e in r.events] for r in lose.requests]
        assert keys[0] == keys[1] == keys[2] and all(keys[0])
        assert [p.idempotency_key for p in published] == keys[0]
        assert [p.offset for p in published] == [0, 1, 2]
        assert all(p.duplicate for p in published)  # the server recognised the keys

        assert client.get_topic("pay").next_offset == 3
        events = read_all(client, "pay")
        assert [e.payload for e in events] == [b"0", b"1", b"2"]
        assert [e.id for e in events] == [p.id for p in published]


def test_retry_after_server_killed_once_publish_was_appended(server: Server) -> None:
    """The server appends and acknowledges, then dies (SIGKILL) before the client hears back; the
    retry goes to the restarted server, which still knows the keys (they are durable)."""

    restarted = threading.Event()

    def kill_and_restart_later() -> None:
        server.kill()

        def restart() -> None:
            time.sleep(0.3)
            server.start()
            restarted.set()

        threading.Thread(target=restart, daemon=True).start()

    lose = LoseResponses(count=0, after_handled=kill_and_restart_later)
    with EventStreamClient(server.target, interceptors=[lose], publish_retry=TEST_RETRY) as client:
        client.publish("acct", [new_event("Opened", "a")])  # offset 0, before the failure
        lose.count = 2  # lose the next response
        published = client.publish("acct", [new_event("Deposited", "10"), new_event("Deposited", "20")])
        assert restarted.is_set()
        # Attempt 1 appended then lost; attempts while the server was down were refused; the
        # first attempt on the restarted server got the original results. All with the same keys.
        retries = lose.requests[1:]
        assert len(retries) >= 2
        assert len({tuple(e.idempotency_key for e in r.events) for r in retries}) == 1
        assert [p.offset for p in published] == [1, 2]
        assert all(p.duplicate for p in published)
        assert client.get_topic("acct").next_offset == 3
        assert [e.payload for e in read_all(client, "acct")] == [b"a", b"10", b"20"]


def test_publish_waits_for_a_server_that_is_down(server: Server) -> None:
    with EventStreamClient(server.target, publish_retry=TEST_RETRY, reconnect=TEST_RECONNECT) as client:
        client.publish("down", [new_event("E", "before")])
        server.kill()
        background = Background()

        def start_later() -> None:
            time.sleep(1.0)
            server.start()

        background.run(start_later)
        started = time.monotonic()
        published = client.publish("down", [new_event("E", "after")])
        background.join()
        assert time.monotonic() - started >= 0.9
        assert published[0].offset == 1 and not published[0].duplicate
        assert [e.payload for e in read_all(client, "down")] == [b"before", b"after"]


def test_retries_are_bounded_and_permanent_errors_are_not_retried(server: Server) -> None:
    lose = LoseResponses(count=100)
    quick = RetryPolicy(max_attempts=3, total_timeout=5.0, initial_backoff=0.01)
    with EventStreamClient(server.target, interceptors=[lose], publish_retry=quick) as client:
        with pytest.raises(UnavailableError):
            client.publish("bounded", [new_event("E", "x")])
        assert len(lose.requests) == 3
        # All three attempts carried the same key: appended once.
        assert client.get_topic("bounded").next_offset == 1

        lose.requests.clear()
        with pytest.raises(InvalidArgumentError):
            client.publish("bounded", [new_event("", "empty type")])
        assert len(lose.requests) == 1
