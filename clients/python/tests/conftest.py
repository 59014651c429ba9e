from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server import Server  # noqa: E402

from eventstream_client import EventStreamClient, RetryPolicy  # noqa: E402

#: Quick reconnects and bounded retries for tests.
TEST_RETRY = RetryPolicy(max_attempts=40, total_timeout=20.0, attempt_timeout=5.0, max_backoff=0.5)
TEST_RECONNECT = RetryPolicy(max_attempts=None, total_timeout=20.0, max_backoff=0.5)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "data").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[EventStreamClient]:
    with EventStreamClient(server.target, publish_retry=TEST_RETRY, reconnect=TEST_RECONNECT) as c:
        yield c


class Background:
    """Runs functions in threads; :meth:`join` waits for them and re-raises their first error."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def run(self, function: Callable[[], object]) -> None:
        def target() -> None:
            try:
                function()
            except BaseException as error:  # noqa: BLE001 - reported by join()
                self.errors.append(error)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self.threads.append(thread)

    def join(self, timeout: float = 30.0) -> None:
        for thread in self.threads:
            thread.join(timeout)
            assert not thread.is_alive(), "background task did not finish"
        if self.errors:
            raise self.errors[0]


@contextmanager
def closing_after(closeable: object, seconds: float) -> Iterator[None]:
    """Calls ``closeable.close()`` (or ``.stop()``) after ``seconds``: bounds a blocking loop."""
    action = getattr(closeable, "stop", None) or getattr(closeable, "close")
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Polls ``condition`` until it holds; fails the test naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
