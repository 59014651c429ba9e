import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StartPosition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    START_POSITION_UNSPECIFIED: _ClassVar[StartPosition]
    START_POSITION_EARLIEST: _ClassVar[StartPosition]
    START_POSITION_LATEST: _ClassVar[StartPosition]

class OutOfRangePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUT_OF_RANGE_POLICY_UNSPECIFIED: _ClassVar[OutOfRangePolicy]
    OUT_OF_RANGE_POLICY_FAIL: _ClassVar[OutOfRangePolicy]
    OUT_OF_RANGE_POLICY_EARLIEST: _ClassVar[OutOfRangePolicy]
    OUT_OF_RANGE_POLICY_LATEST: _ClassVar[OutOfRangePolicy]
START_POSITION_UNSPECIFIED: StartPosition
START_POSITION_EARLIEST: StartPosition
START_POSITION_LATEST: StartPosition
OUT_OF_RANGE_POLICY_UNSPECIFIED: OutOfRangePolicy
OUT_OF_RANGE_POLICY_FAIL: OutOfRangePolicy
OUT_OF_RANGE_POLICY_EARLIEST: OutOfRangePolicy
OUT_OF_RANGE_POLICY_LATEST: OutOfRangePolicy

class EventData(_message.Message):
    __slots__ = ("type", "payload", "idempotency_key", "key", "headers", "content_type", "schema_version", "expected_key_version")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    type: str
    payload: bytes
    idempotency_key: str
    key: str
    headers: _containers.ScalarMap[str, str]
    content_type: str
    schema_version: int
    expected_key_version: Precondition
    def __init__(self, type: _Optional[str] = ..., payload: _Optional[bytes] = ..., idempotency_key: _Optional[str] = ..., key: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., content_type: _Optional[str] = ..., schema_version: _Optional[int] = ..., expected_key_version: _Optional[_Union[Precondition, _Mapping]] = ...) -> None: ...

class Precondition(_message.Message):
    __slots__ = ("absent", "equals")
    ABSENT_FIELD_NUMBER: _ClassVar[int]
    EQUALS_FIELD_NUMBER: _ClassVar[int]
    absent: bool
    equals: int
    def __init__(self, absent: _Optional[bool] = ..., equals: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("id", "topic", "offset", "time", "type", "payload", "idempotency_key", "key", "headers", "content_type", "schema_version", "key_version")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    topic: str
    offset: int
    time: _timestamp_pb2.Timestamp
    type: str
    payload: bytes
    idempotency_key: str
    key: str
    headers: _containers.ScalarMap[str, str]
    content_type: str
    schema_version: int
    key_version: int
    def __init__(self, id: _Optional[str] = ..., topic: _Optional[str] = ..., offset: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[str] = ..., payload: _Optional[bytes] = ..., idempotency_key: _Optional[str] = ..., key: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., content_type: _Optional[str] = ..., schema_version: _Optional[int] = ..., key_version: _Optional[int] = ...) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ("topic", "events", "expected_next_offset", "cursor")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    topic: str
    events: _containers.RepeatedCompositeFieldContainer[EventData]
    expected_next_offset: int
    cursor: CursorUpdate
    def __init__(self, topic: _Optional[str] = ..., events: _Optional[_Iterable[_Union[EventData, _Mapping]]] = ..., expected_next_offset: _Optional[int] = ..., cursor: _Optional[_Union[CursorUpdate, _Mapping]] = ...) -> None: ...

class CursorUpdate(_message.Message):
    __slots__ = ("name", "position", "expected_position")
    NAME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_POSITION_FIELD_NUMBER: _ClassVar[int]
    name: str
    position: int
    expected_position: Precondition
    def __init__(self, name: _Optional[str] = ..., position: _Optional[int] = ..., expected_position: _Optional[_Union[Precondition, _Mapping]] = ...) -> None: ...

class GetCursorRequest(_message.Message):
    __slots__ = ("topic", "name")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    topic: str
    name: str
    def __init__(self, topic: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetCursorResponse(_message.Message):
    __slots__ = ("cursor",)
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    cursor: Cursor
    def __init__(self, cursor: _Optional[_Union[Cursor, _Mapping]] = ...) -> None: ...

class Cursor(_message.Message):
    __slots__ = ("topic", "name", "position", "update_time")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    topic: str
    name: str
    position: int
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, topic: _Optional[str] = ..., name: _Optional[str] = ..., position: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PublishResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PublishResult]
    def __init__(self, results: _Optional[_Iterable[_Union[PublishResult, _Mapping]]] = ...) -> None: ...

class PublishResult(_message.Message):
    __slots__ = ("offset", "id", "time", "duplicate", "key_version")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    offset: int
    id: str
    time: _timestamp_pb2.Timestamp
    duplicate: bool
    key_version: int
    def __init__(self, offset: _Optional[int] = ..., id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duplicate: _Optional[bool] = ..., key_version: _Optional[int] = ...) -> None: ...

class PublishStreamRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: PublishRequest
    def __init__(self, request: _Optional[_Union[PublishRequest, _Mapping]] = ...) -> None: ...

class PublishStreamResponse(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: PublishResponse
    error: PublishError
    def __init__(self, response: _Optional[_Union[PublishResponse, _Mapping]] = ..., error: _Optional[_Union[PublishError, _Mapping]] = ...) -> None: ...

class PublishError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("topic", "from_offset", "from_time", "position", "types", "key", "stop_at_end")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    FROM_OFFSET_FIELD_NUMBER: _ClassVar[int]
    FROM_TIME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    STOP_AT_END_FIELD_NUMBER: _ClassVar[int]
    topic: str
    from_offset: int
    from_time: _timestamp_pb2.Timestamp
    position: StartPosition
    types: _containers.RepeatedScalarFieldContainer[str]
    key: str
    stop_at_end: bool
    def __init__(self, topic: _Optional[str] = ..., from_offset: _Optional[int] = ..., from_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., position: _Optional[_Union[StartPosition, str]] = ..., types: _Optional[_Iterable[str]] = ..., key: _Optional[str] = ..., stop_at_end: _Optional[bool] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("events", "next_offset", "caught_up")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    next_offset: int
    caught_up: bool
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., next_offset: _Optional[int] = ..., caught_up: _Optional[bool] = ...) -> None: ...

class TopicConfig(_message.Message):
    __slots__ = ("retention_age", "retention_events", "retention_bytes", "dedup_window")
    RETENTION_AGE_FIELD_NUMBER: _ClassVar[int]
    RETENTION_EVENTS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_BYTES_FIELD_NUMBER: _ClassVar[int]
    DEDUP_WINDOW_FIELD_NUMBER: _ClassVar[int]
    retention_age: _duration_pb2.Duration
    retention_events: int
    retention_bytes: int
    dedup_window: _duration_pb2.Duration
    def __init__(self, retention_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retention_events: _Optional[int] = ..., retention_bytes: _Optional[int] = ..., dedup_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Topic(_message.Message):
    __slots__ = ("name", "config", "first_offset", "next_offset", "size_bytes", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    FIRST_OFFSET_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    config: TopicConfig
    first_offset: int
    next_offset: int
    size_bytes: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., config: _Optional[_Union[TopicConfig, _Mapping]] = ..., first_offset: _Optional[int] = ..., next_offset: _Optional[int] = ..., size_bytes: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateTopicRequest(_message.Message):
    __slots__ = ("name", "config")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    name: str
    config: TopicConfig
    def __init__(self, name: _Optional[str] = ..., config: _Optional[_Union[TopicConfig, _Mapping]] = ...) -> None: ...

class CreateTopicResponse(_message.Message):
    __slots__ = ("topic",)
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    topic: Topic
    def __init__(self, topic: _Optional[_Union[Topic, _Mapping]] = ...) -> None: ...

class GetTopicRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetTopicResponse(_message.Message):
    __slots__ = ("topic",)
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    topic: Topic
    def __init__(self, topic: _Optional[_Union[Topic, _Mapping]] = ...) -> None: ...

class ListTopicsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTopicsResponse(_message.Message):
    __slots__ = ("topics",)
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    topics: _containers.RepeatedCompositeFieldContainer[Topic]
    def __init__(self, topics: _Optional[_Iterable[_Union[Topic, _Mapping]]] = ...) -> None: ...

class DeleteTopicRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteTopicResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConsumerGroupConfig(_message.Message):
    __slots__ = ("ack_deadline", "max_deliveries", "dead_letter_topic", "out_of_range")
    ACK_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    MAX_DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTER_TOPIC_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_RANGE_FIELD_NUMBER: _ClassVar[int]
    ack_deadline: _duration_pb2.Duration
    max_deliveries: int
    dead_letter_topic: str
    out_of_range: OutOfRangePolicy
    def __init__(self, ack_deadline: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_deliveries: _Optional[int] = ..., dead_letter_topic: _Optional[str] = ..., out_of_range: _Optional[_Union[OutOfRangePolicy, str]] = ...) -> None: ...

class ConsumerGroup(_message.Message):
    __slots__ = ("topic", "name", "config", "ack_floor", "next_offset", "lag", "members", "in_flight", "redeliveries", "dead_lettered", "skipped", "create_time", "problem")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    ACK_FLOOR_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    REDELIVERIES_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTERED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    topic: str
    name: str
    config: ConsumerGroupConfig
    ack_floor: int
    next_offset: int
    lag: int
    members: int
    in_flight: int
    redeliveries: int
    dead_lettered: int
    skipped: int
    create_time: _timestamp_pb2.Timestamp
    problem: str
    def __init__(self, topic: _Optional[str] = ..., name: _Optional[str] = ..., config: _Optional[_Union[ConsumerGroupConfig, _Mapping]] = ..., ack_floor: _Optional[int] = ..., next_offset: _Optional[int] = ..., lag: _Optional[int] = ..., members: _Optional[int] = ..., in_flight: _Optional[int] = ..., redeliveries: _Optional[int] = ..., dead_lettered: _Optional[int] = ..., skipped: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., problem: _Optional[str] = ...) -> None: ...

class CreateConsumerGroupRequest(_message.Message):
    __slots__ = ("topic", "name", "config", "from_offset", "from_time", "position")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    FROM_OFFSET_FIELD_NUMBER: _ClassVar[int]
    FROM_TIME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    topic: str
    name: str
    config: ConsumerGroupConfig
    from_offset: int
    from_time: _timestamp_pb2.Timestamp
    position: StartPosition
    def __init__(self, topic: _Optional[str] = ..., name: _Optional[str] = ..., config: _Optional[_Union[ConsumerGroupConfig, _Mapping]] = ..., from_offset: _Optional[int] = ..., from_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., position: _Optional[_Union[StartPosition, str]] = ...) -> None: ...

class CreateConsumerGroupResponse(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: ConsumerGroup
    def __init__(self, group: _Optional[_Union[ConsumerGroup, _Mapping]] = ...) -> None: ...

class GetConsumerGroupRequest(_message.Message):
    __slots__ = ("topic", "name")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    topic: str
    name: str
    def __init__(self, topic: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetConsumerGroupResponse(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: ConsumerGroup
    def __init__(self, group: _Optional[_Union[ConsumerGroup, _Mapping]] = ...) -> None: ...

class ListConsumerGroupsRequest(_message.Message):
    __slots__ = ("topic",)
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    topic: str
    def __init__(self, topic: _Optional[str] = ...) -> None: ...

class ListConsumerGroupsResponse(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[ConsumerGroup]
    def __init__(self, groups: _Optional[_Iterable[_Union[ConsumerGroup, _Mapping]]] = ...) -> None: ...

class ResetConsumerGroupRequest(_message.Message):
    __slots__ = ("topic", "name", "to_offset", "to_time", "position")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TO_OFFSET_FIELD_NUMBER: _ClassVar[int]
    TO_TIME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    topic: str
    name: str
    to_offset: int
    to_time: _timestamp_pb2.Timestamp
    position: StartPosition
    def __init__(self, topic: _Optional[str] = ..., name: _Optional[str] = ..., to_offset: _Optional[int] = ..., to_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., position: _Optional[_Union[StartPosition, str]] = ...) -> None: ...

class ResetConsumerGroupResponse(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: ConsumerGroup
    def __init__(self, group: _Optional[_Union[ConsumerGroup, _Mapping]] = ...) -> None: ...

class DeleteConsumerGroupRequest(_message.Message):
    __slots__ = ("topic", "name")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    topic: str
    name: str
    def __init__(self, topic: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteConsumerGroupResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConsumeRequest(_message.Message):
    __slots__ = ("join", "acks", "nacks", "extend")
    JOIN_FIELD_NUMBER: _ClassVar[int]
    ACKS_FIELD_NUMBER: _ClassVar[int]
    NACKS_FIELD_NUMBER: _ClassVar[int]
    EXTEND_FIELD_NUMBER: _ClassVar[int]
    join: ConsumeJoin
    acks: _containers.RepeatedScalarFieldContainer[int]
    nacks: _containers.RepeatedCompositeFieldContainer[Nack]
    extend: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, join: _Optional[_Union[ConsumeJoin, _Mapping]] = ..., acks: _Optional[_Iterable[int]] = ..., nacks: _Optional[_Iterable[_Union[Nack, _Mapping]]] = ..., extend: _Optional[_Iterable[int]] = ...) -> None: ...

class ConsumeJoin(_message.Message):
    __slots__ = ("topic", "group", "max_in_flight")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MAX_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    group: str
    max_in_flight: int
    def __init__(self, topic: _Optional[str] = ..., group: _Optional[str] = ..., max_in_flight: _Optional[int] = ...) -> None: ...

class Nack(_message.Message):
    __slots__ = ("offset", "delay", "reason")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    offset: int
    delay: _duration_pb2.Duration
    reason: str
    def __init__(self, offset: _Optional[int] = ..., delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ConsumeResponse(_message.Message):
    __slots__ = ("deliveries", "acks_durable", "group")
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    ACKS_DURABLE_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[GroupDelivery]
    acks_durable: _containers.RepeatedScalarFieldContainer[int]
    group: ConsumerGroup
    def __init__(self, deliveries: _Optional[_Iterable[_Union[GroupDelivery, _Mapping]]] = ..., acks_durable: _Optional[_Iterable[int]] = ..., group: _Optional[_Union[ConsumerGroup, _Mapping]] = ...) -> None: ...

class GroupDelivery(_message.Message):
    __slots__ = ("event", "attempt")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    event: Event
    attempt: int
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ..., attempt: _Optional[int] = ...) -> None: ...
