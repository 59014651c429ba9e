"""Runs the real eventstream server binary for tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
DEFAULT_BIN = (_HERE / "../../../target/debug/eventstream").resolve()
_LISTENING = re.compile(r"listening on (\S+):(\d+),")


def server_binary() -> Path:
    path = Path(os.environ.get("EVENTSTREAM_BIN", str(DEFAULT_BIN))).resolve()
    if not path.is_file():
        raise RuntimeError(
            f"eventstream server binary not found at {path}; build it with `cargo build` or set EVENTSTREAM_BIN"
        )
    return path


class Server:
    """One server process on a data directory; can be killed and restarted on the same port."""

    def __init__(self, data_dir: Path, *extra_args: str) -> None:
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.port: int | None = None
        self.process: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        self._listening = threading.Event()

    @property
    def target(self) -> str:
        assert self.port is not None
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> Server:
        """Starts the server (on the previous port, if it ran before) and waits until it listens."""
        assert self.process is None or self.process.poll() is not None, "already running"
        deadline = time.monotonic() + timeout
        while True:
            if self._try_start(deadline):
                return self
            # The old port may be briefly unavailable after a kill; try again.
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + "".join(self.log[-30:]))
            time.sleep(0.1)

    def _try_start(self, deadline: float) -> bool:
        listen = f"127.0.0.1:{self.port or 0}"
        self._listening.clear()
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"))
        self.process = subprocess.Popen(
            [str(server_binary()), "serve", "--listen", listen, "--data-dir", str(self.data_dir), *self.extra_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        threading.Thread(target=self._read_log, args=(self.process,), daemon=True).start()
        while time.monotonic() < deadline:
            if self._listening.wait(0.05):
                return True
            if self.process.poll() is not None:
                self.process.wait()
                return False
        self.kill()
        raise RuntimeError("server did not report listening in time:\n" + "".join(self.log[-30:]))

    def _read_log(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self.log.append(line)
            match = _LISTENING.search(line)
            if match:
                self.port = int(match.group(2))
                self._listening.set()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final flush."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop within 10 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.kill()
        self.start()
