"""The synchronous client: exactly-once-effect publish, resumable subscriptions, topic and
consumer-group admin."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, TypeVar

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from ._errors import TRANSIENT_CODES, EventStreamError, IdempotencyConflictError, from_rpc_error, status_of
from ._retry import DEFAULT_PUBLISH_RETRY, DEFAULT_RECONNECT, RetryPolicy
from ._subscription import Start, Subscription
from .v1 import eventstream_pb2 as pb
from .v1 import eventstream_pb2_grpc as pb_grpc

log = logging.getLogger("eventstream_client")

T = TypeVar("T")

#: Channel options: reconnect quickly after a server restart (gRPC's default backoff grows to
#: 120 s), and detect dead connections on idle subscriptions with keepalive pings.
DEFAULT_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", -1),
)

#: The longest idempotency key the server accepts, in UTF-8 bytes.
MAX_IDEMPOTENCY_KEY_BYTES = 256


def new_event(
    type: str,
    payload: bytes | str = b"",
    *,
    key: str = "",
    headers: Mapping[str, str] | None = None,
    content_type: str = "",
    schema_version: int = 0,
    idempotency_key: str | None = None,
) -> pb.EventData:
    """Builds an :class:`EventData` (a ``str`` payload is encoded as UTF-8).

    Leave ``idempotency_key`` unset to let :meth:`EventStreamClient.publish` assign a UUID4.
    """
    return pb.EventData(
        type=type,
        payload=payload.encode() if isinstance(payload, str) else payload,
        key=key,
        headers=dict(headers or {}),
        content_type=content_type,
        schema_version=schema_version,
        idempotency_key=idempotency_key or "",
    )


def tls_credentials(
    ca_cert: str | Path | None = None,
    client_cert: str | Path | None = None,
    client_key: str | Path | None = None,
) -> grpc.ChannelCredentials:
    """TLS credentials from PEM files, for ``EventStreamClient(credentials=...)``.

    ``ca_cert`` is the CA that signed the server's certificate (``None``: the system's CAs);
    ``client_cert`` and ``client_key`` are needed only by a server that requires client
    certificates (``--tls-client-ca``).
    """
    if (client_cert is None) != (client_key is None):
        raise ValueError("client_cert and client_key go together")

    def read(path: str | Path | None) -> bytes | None:
        return None if path is None else Path(path).read_bytes()

    return grpc.ssl_channel_credentials(
        root_certificates=read(ca_cert),
        private_key=read(client_key),
        certificate_chain=read(client_cert),
    )


@dataclass(frozen=True)
class Published:
    """Where one published event went."""

    #: The event's offset (the original one when ``duplicate``).
    offset: int
    #: The server-assigned event id, a UUIDv7 (the original one when ``duplicate``).
    id: str
    #: The append time, UTC (the original one when ``duplicate``).
    time: datetime
    #: True if the server already had this idempotency key and did not append again. After a
    #: retry this can be the client's own earlier attempt whose response was lost.
    duplicate: bool
    #: The idempotency key that was sent (the caller's, or the UUID4 the client assigned).
    idempotency_key: str


class EventStreamClient:
    """A client for one eventstream server.

    ``target`` is a gRPC target such as ``"127.0.0.1:50051"``. The client owns a channel and is
    thread-safe; close it (or use it as a context manager) when done.

    For a server with TLS pass ``credentials=tls_credentials(...)``. ``token`` is sent with every
    call as ``authorization: Bearer <token>``; when not given, ``EVENTSTREAM_TOKEN`` is used if
    set (pass ``token=""`` to send none).
    """

    def __init__(
        self,
        target: str,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        interceptors: Sequence[Any] = (),
        publish_retry: RetryPolicy = DEFAULT_PUBLISH_RETRY,
        reconnect: RetryPolicy = DEFAULT_RECONNECT,
        metadata: Sequence[tuple[str, str]] = (),
        token: str | None = None,
    ) -> None:
        merged = dict(DEFAULT_CHANNEL_OPTIONS)
        merged.update(dict(options))
        channel_options = list(merged.items())
        if credentials is None:
            channel = grpc.insecure_channel(target, options=channel_options)
        else:
            channel = grpc.secure_channel(target, credentials, options=channel_options)
        self._raw_channel = channel
        self._channel: grpc.Channel = grpc.intercept_channel(channel, *interceptors) if interceptors else channel
        stub_class: Any = pb_grpc.EventStreamServiceStub  # generated without type hints
        self._stub: Any = stub_class(self._channel)
        self.target = target
        self.publish_retry = publish_retry
        self.reconnect = reconnect
        if token is None:
            token = os.environ.get("EVENTSTREAM_TOKEN", "")
        token = token.strip()
        self._metadata = tuple(metadata) + ((("authorization", f"Bearer {token}"),) if token else ())
        self._closed = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the channel; open subscriptions end."""
        self._closed.set()
        self._raw_channel.close()

    def __enter__(self) -> EventStreamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- publish ---------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        events: Iterable[pb.EventData],
        *,
        retry: RetryPolicy | None = None,
    ) -> list[Published]:
        """Appends ``events`` to ``topic`` (all or nothing, contiguously, in order).

        Every event without an idempotency key gets a fresh UUID4 key *before* the first
        attempt; transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, a lost connection) are
        retried with exponential backoff re-sending the same keys, so an attempt whose response
        was lost is not appended twice: the server answers the retry with the original offsets
        and ``duplicate=True``. The caller's ``EventData`` objects are not modified.

        Raises :class:`UnavailableError` when the retry budget runs out (the events may or may
        not have been appended then: publish them again with the same keys, see
        ``Published.idempotency_key``), or another :class:`EventStreamError` for permanent
        failures.
        """
        prepared: list[pb.EventData] = []
        for event in events:
            copy = pb.EventData()
            copy.CopyFrom(event)
            if not copy.idempotency_key:
                copy.idempotency_key = str(uuid.uuid4())
            prepared.append(copy)
        request = pb.PublishRequest(topic=topic, events=prepared)
        policy = retry or self.publish_retry
        response: pb.PublishResponse = self._call_with_retry(
            lambda timeout: self._stub.Publish(request, timeout=timeout, metadata=self._metadata),
            policy,
            "Publish",
            _PUBLISH_ERRORS,
        )
        if len(response.results) != len(prepared):
            raise RuntimeError(
                f"server answered {len(response.results)} results for {len(prepared)} events"
            )
        return [
            Published(
                offset=result.offset,
                id=result.id,
                time=result.time.ToDatetime(tzinfo=timezone.utc),
                duplicate=result.duplicate,
                idempotency_key=event.idempotency_key,
            )
            for result, event in zip(response.results, prepared)
        ]

    def _call_with_retry(
        self,
        attempt: Callable[[float], T],
        policy: RetryPolicy,
        name: str,
        errors: Mapping[grpc.StatusCode, type[EventStreamError]] | None = None,
    ) -> T:
        started = time.monotonic()
        failures = 0
        while True:
            timeout = policy.attempt_timeout
            if policy.total_timeout is not None:
                remaining = policy.total_timeout - (time.monotonic() - started)
                timeout = max(0.001, min(timeout, remaining))
            try:
                return attempt(timeout)
            except grpc.RpcError as error:
                code, details = status_of(error)
                if code not in TRANSIENT_CODES:
                    raise from_rpc_error(error, errors) from error
                failures += 1
                pause = policy.backoff(failures)
                if self._closed.is_set() or policy.exhausted(
                    failures, time.monotonic() - started, pause
                ):
                    raise from_rpc_error(error, errors) from error
                log.info(
                    "%s failed transiently (%s: %s); retry %d in %.2fs",
                    name, code.name, details, failures, pause,
                )
                time.sleep(pause)

    # -- subscribe -------------------------------------------------------------------------

    def subscribe(
        self,
        topic: str,
        *,
        from_offset: int | None = None,
        from_time: datetime | None = None,
        latest: bool = False,
        types: Sequence[str] = (),
        key: str = "",
        stop_at_end: bool = False,
        reconnect: RetryPolicy | None = None,
    ) -> Subscription:
        """Subscribes to ``topic``; iterate the result for events.

        Start (at most one): ``from_offset`` (inclusive), ``from_time``, ``latest=True``, or by
        default the oldest retained event. The subscription reconnects after transient failures
        and resumes from the last ``next_offset`` received, so nothing is lost or repeated. See
        :class:`Subscription`.
        """
        chosen = sum(x is not None and x is not False for x in (from_offset, from_time, latest))
        if chosen > 1:
            raise ValueError("give at most one of from_offset, from_time, latest")
        start: Start
        if from_offset is not None:
            start = Start(offset=from_offset)
        elif from_time is not None:
            start = Start(time=from_time)
        else:
            start = Start(latest=latest)
        return Subscription(
            open_stream=self._open_stream,
            topic=topic,
            start=start,
            types=tuple(types),
            key=key,
            stop_at_end=stop_at_end,
            reconnect=reconnect or self.reconnect,
        )

    def _open_stream(self, request: pb.SubscribeRequest) -> Any:
        return self._stub.Subscribe(request, metadata=self._metadata)

    # -- topics ----------------------------------------------------------------------------

    def create_topic(
        self,
        name: str,
        *,
        retention_age: timedelta | None = None,
        retention_events: int = 0,
        retention_bytes: int = 0,
        dedup_window: timedelta | None = None,
    ) -> pb.Topic:
        """Creates a topic; raises :class:`AlreadyExistsError` if the name is taken."""
        config = pb.TopicConfig(retention_events=retention_events, retention_bytes=retention_bytes)
        if retention_age is not None:
            config.retention_age.CopyFrom(_duration(retention_age))
        if dedup_window is not None:
            config.dedup_window.CopyFrom(_duration(dedup_window))
        request = pb.CreateTopicRequest(name=name, config=config)
        response: pb.CreateTopicResponse = self._unary(self._stub.CreateTopic, request)
        return response.topic

    def get_topic(self, name: str) -> pb.Topic:
        """Describes one topic; raises :class:`NotFoundError` if missing."""
        response: pb.GetTopicResponse = self._unary(self._stub.GetTopic, pb.GetTopicRequest(name=name))
        return response.topic

    def list_topics(self) -> list[pb.Topic]:
        """All topics, sorted by name."""
        response: pb.ListTopicsResponse = self._unary(self._stub.ListTopics, pb.ListTopicsRequest())
        return list(response.topics)

    def delete_topic(self, name: str) -> None:
        """Deletes a topic with its events; raises :class:`NotFoundError` if missing."""
        self._unary(self._stub.DeleteTopic, pb.DeleteTopicRequest(name=name))

    # -- consumer groups -------------------------------------------------------------------

    def create_consumer_group(
        self,
        topic: str,
        name: str,
        *,
        ack_deadline: timedelta | None = None,
        max_deliveries: int = 0,
        dead_letter_topic: str = "",
        out_of_range: pb.OutOfRangePolicy = pb.OUT_OF_RANGE_POLICY_UNSPECIFIED,
        from_offset: int | None = None,
        from_time: datetime | None = None,
        latest: bool = False,
    ) -> pb.ConsumerGroup:
        """Creates a consumer group on ``topic``; raises :class:`AlreadyExistsError` if the topic
        has a group of that name.

        Settings left out take the server's defaults: a 30 s ``ack_deadline``, unlimited
        deliveries (``max_deliveries=0``; when set, the dead-letter topic, by default
        ``<topic>.<group>.dead-letters``, is created too) and ``OUT_OF_RANGE_POLICY_FAIL``. Start
        (at most one): ``from_offset`` (inclusive), ``from_time``, ``latest=True``, or by default
        the oldest retained event.
        """
        config = pb.ConsumerGroupConfig(
            max_deliveries=max_deliveries, dead_letter_topic=dead_letter_topic, out_of_range=out_of_range
        )
        if ack_deadline is not None:
            config.ack_deadline.CopyFrom(_duration(ack_deadline))
        request = pb.CreateConsumerGroupRequest(topic=topic, name=name, config=config)
        chosen = sum((from_offset is not None, from_time is not None, latest))
        if chosen > 1:
            raise ValueError("give at most one of from_offset, from_time, latest")
        if chosen:
            _set_position(request, "from", from_offset, from_time, latest=latest)
        response: pb.CreateConsumerGroupResponse = self._unary(self._stub.CreateConsumerGroup, request)
        return response.group

    def get_consumer_group(self, topic: str, name: str) -> pb.ConsumerGroup:
        """Describes one consumer group (settings, ack floor, lag, members, in-flight and
        redelivery counts); raises :class:`NotFoundError` if the topic or group is missing."""
        request = pb.GetConsumerGroupRequest(topic=topic, name=name)
        response: pb.GetConsumerGroupResponse = self._unary(self._stub.GetConsumerGroup, request)
        return response.group

    def list_consumer_groups(self, topic: str) -> list[pb.ConsumerGroup]:
        """The topic's consumer groups, sorted by name."""
        request = pb.ListConsumerGroupsRequest(topic=topic)
        response: pb.ListConsumerGroupsResponse = self._unary(self._stub.ListConsumerGroups, request)
        return list(response.groups)

    def reset_consumer_group(
        self,
        topic: str,
        name: str,
        *,
        to_offset: int | None = None,
        to_time: datetime | None = None,
        earliest: bool = False,
        latest: bool = False,
    ) -> pb.ConsumerGroup:
        """Moves a consumer group (exactly one of ``to_offset``, ``to_time``, ``earliest=True``,
        ``latest=True``): events from there on are delivered again, earlier ones count as
        acknowledged. Returns the group at its new position.

        Raises :class:`FailedPreconditionError` while members are connected (stop them first),
        :class:`OutOfRangeError` for an offset outside the retained range.
        """
        if sum((to_offset is not None, to_time is not None, earliest, latest)) != 1:
            raise ValueError("give exactly one of to_offset, to_time, earliest, latest")
        request = pb.ResetConsumerGroupRequest(topic=topic, name=name)
        _set_position(request, "to", to_offset, to_time, latest=latest)
        response: pb.ResetConsumerGroupResponse = self._unary(self._stub.ResetConsumerGroup, request)
        return response.group

    def delete_consumer_group(self, topic: str, name: str) -> None:
        """Deletes a consumer group and its position (its members' streams end with NOT_FOUND);
        raises :class:`NotFoundError` if missing."""
        self._unary(self._stub.DeleteConsumerGroup, pb.DeleteConsumerGroupRequest(topic=topic, name=name))

    def _open_consume(self, requests: Iterator[pb.ConsumeRequest]) -> Any:
        return self._stub.Consume(requests, metadata=self._metadata)

    def _unary(self, method: Any, request: Any) -> Any:
        """Calls an admin RPC, retrying transient failures (these are naturally idempotent
        except the creations and deletions, where a retry may report ALREADY_EXISTS/NOT_FOUND)."""
        return self._call_with_retry(
            lambda timeout: method(request, timeout=timeout, metadata=self._metadata),
            self.publish_retry,
            type(request).__name__.removesuffix("Request"),
        )


#: Publish is the call whose FAILED_PRECONDITION means a reused idempotency key.
_PUBLISH_ERRORS = {grpc.StatusCode.FAILED_PRECONDITION: IdempotencyConflictError}


def _set_position(
    request: pb.CreateConsumerGroupRequest | pb.ResetConsumerGroupRequest,
    prefix: str,
    offset: int | None,
    when: datetime | None,
    *,
    latest: bool,
) -> None:
    """Sets a group request's position oneof (fields ``<prefix>_offset``, ``<prefix>_time`` and
    ``position``): the offset, else the time, else the log's end (``latest``) or start."""
    if offset is not None:
        setattr(request, f"{prefix}_offset", offset)
    elif when is not None:
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(when if when.tzinfo else when.replace(tzinfo=timezone.utc))
        getattr(request, f"{prefix}_time").CopyFrom(stamp)
    else:
        request.position = pb.START_POSITION_LATEST if latest else pb.START_POSITION_EARLIEST


def _duration(value: timedelta) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromTimedelta(value)
    return duration
