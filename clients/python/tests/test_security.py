"""TLS with client certificates and token auth against a real server.

The certificates come from ``tests/clients.rs``, which makes them at run time and passes their
directory as ``EVENTSTREAM_TEST_TLS_DIR`` (``ca.pem``, ``server.pem``/``.key``,
``client.pem``/``.key``, and ``stranger.pem``/``.key`` from another CA).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEST_RECONNECT
from server import Server

from eventstream_client import (
    EventStreamClient,
    PermissionDeniedError,
    RetryPolicy,
    UnauthenticatedError,
    UnavailableError,
    new_event,
    tls_credentials,
)

ADMIN = "es_python-admin-token"
READER = "es_python-reader-token"

#: A refused handshake surfaces as UNAVAILABLE: give up quickly.
FEW_RETRIES = RetryPolicy(max_attempts=2, total_timeout=5.0, attempt_timeout=2.0, max_backoff=0.2)


@pytest.fixture
def tls_dir() -> Path:
    path = os.environ.get("EVENTSTREAM_TEST_TLS_DIR")
    if not path:
        pytest.skip("EVENTSTREAM_TEST_TLS_DIR is not set (tests/clients.rs sets it)")
    return Path(path)


@pytest.fixture
def secure_server(tmp_path: Path, tls_dir: Path) -> Iterator[Server]:
    auth = tmp_path / "auth.toml"
    auth.write_text(
        f"""
[[token]]
name = "admin"
sha256 = "{hashlib.sha256(ADMIN.encode()).hexdigest()}"
admin = ["*"]
publish = ["*"]
subscribe = ["*"]

[[token]]
name = "reader"
sha256 = "{hashlib.sha256(READER.encode()).hexdigest()}"
subscribe = ["orders.*"]
"""
    )
    server = Server(
        tmp_path / "data",
        f"--tls-cert={tls_dir / 'server.pem'}",
        f"--tls-key={tls_dir / 'server.key'}",
        f"--tls-client-ca={tls_dir / 'ca.pem'}",
        f"--auth-file={auth}",
    ).start()
    try:
        yield server
    finally:
        server.stop()


def connect(server: Server, tls_dir: Path, token: str | None, identity: str | None = "client") -> EventStreamClient:
    credentials = tls_credentials(
        tls_dir / "ca.pem",
        None if identity is None else tls_dir / f"{identity}.pem",
        None if identity is None else tls_dir / f"{identity}.key",
    )
    return EventStreamClient(
        f"localhost:{server.port}",
        credentials=credentials,
        token=token,
        publish_retry=FEW_RETRIES,
        reconnect=TEST_RECONNECT,
    )


def test_tls_with_a_client_certificate_and_a_token(secure_server: Server, tls_dir: Path) -> None:
    with connect(secure_server, tls_dir, ADMIN) as admin, connect(secure_server, tls_dir, READER) as reader:
        admin.create_topic("payments")
        published = admin.publish("orders.eu", [new_event("Placed", b"1")])
        events = list(reader.subscribe("orders.eu", from_offset=published[0].offset, stop_at_end=True))
        assert [event.type for event in events] == ["Placed"]
        assert [topic.name for topic in reader.list_topics()] == ["orders.eu"]
        with pytest.raises(PermissionDeniedError):
            reader.publish("orders.eu", [new_event("Placed", b"2")])
        with pytest.raises(PermissionDeniedError):
            reader.get_topic("payments")


def test_token_from_the_environment(
    secure_server: Server, tls_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTSTREAM_TOKEN", ADMIN)
    with connect(secure_server, tls_dir, None) as client:
        assert client.publish("orders.eu", [new_event("Placed", b"1")])[0].offset == 0
    with connect(secure_server, tls_dir, "") as anonymous, pytest.raises(UnauthenticatedError):
        anonymous.list_topics()
    with connect(secure_server, tls_dir, "es_wrong") as wrong, pytest.raises(UnauthenticatedError):
        wrong.list_topics()


@pytest.mark.parametrize("identity", [None, "stranger"])
def test_clients_without_a_certificate_from_the_ca_are_refused(
    secure_server: Server, tls_dir: Path, identity: str | None
) -> None:
    with connect(secure_server, tls_dir, ADMIN, identity) as client, pytest.raises(UnavailableError):
        client.list_topics()
