from presence.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ACTIVITY_KIND_ADMIN: ActivityKind
ACTIVITY_KIND_ANONYMOUS: ActivityKind
ACTIVITY_KIND_GAP: ActivityKind
ACTIVITY_KIND_JOIN: ActivityKind
ACTIVITY_KIND_LEAVE: ActivityKind
ACTIVITY_KIND_STATUS: ActivityKind
ACTIVITY_KIND_UNSPECIFIED: ActivityKind
ACTIVITY_KIND_UPDATE: ActivityKind
DESCRIPTOR: _descriptor.FileDescriptor

class ActivityRecord(_message.Message):
    __slots__ = ["connection_id", "counts", "detail", "epoch", "invisible", "key", "kind", "node_id", "reason", "remote_address", "room", "time_ms", "user_agent", "user_id", "version"]
    class DetailEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    INVISIBLE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REMOTE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    counts: _types_pb2.Counts
    detail: _containers.ScalarMap[str, str]
    epoch: str
    invisible: bool
    key: str
    kind: ActivityKind
    node_id: str
    reason: str
    remote_address: str
    room: str
    time_ms: int
    user_agent: str
    user_id: str
    version: int
    def __init__(self, key: _Optional[str] = ..., time_ms: _Optional[int] = ..., kind: _Optional[_Union[ActivityKind, str]] = ..., room: _Optional[str] = ..., user_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., reason: _Optional[str] = ..., node_id: _Optional[str] = ..., remote_address: _Optional[str] = ..., user_agent: _Optional[str] = ..., epoch: _Optional[str] = ..., version: _Optional[int] = ..., invisible: bool = ..., counts: _Optional[_Union[_types_pb2.Counts, _Mapping]] = ..., detail: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetRoomAtRequest(_message.Message):
    __slots__ = ["at_ms", "room"]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    at_ms: int
    room: str
    def __init__(self, room: _Optional[str] = ..., at_ms: _Optional[int] = ...) -> None: ...

class GetRoomAtResponse(_message.Message):
    __slots__ = ["at_ms", "counts", "epoch", "gaps", "members", "room", "version"]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    at_ms: int
    counts: _types_pb2.Counts
    epoch: str
    gaps: int
    members: _containers.RepeatedCompositeFieldContainer[RoomAtMember]
    room: str
    version: int
    def __init__(self, room: _Optional[str] = ..., at_ms: _Optional[int] = ..., epoch: _Optional[str] = ..., version: _Optional[int] = ..., counts: _Optional[_Union[_types_pb2.Counts, _Mapping]] = ..., members: _Optional[_Iterable[_Union[RoomAtMember, _Mapping]]] = ..., gaps: _Optional[int] = ...) -> None: ...

class GetRoomStatisticsRequest(_message.Message):
    __slots__ = ["room", "since_ms", "until_ms"]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    room: str
    since_ms: int
    until_ms: int
    def __init__(self, room: _Optional[str] = ..., since_ms: _Optional[int] = ..., until_ms: _Optional[int] = ...) -> None: ...

class GetRoomStatisticsResponse(_message.Message):
    __slots__ = ["average_presence_ms", "gaps", "joins_per_hour", "peak_at_ms", "peak_connections", "room", "sessions", "since_ms", "total_presence_ms", "unique_users", "until_ms"]
    AVERAGE_PRESENCE_MS_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    JOINS_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    PEAK_AT_MS_FIELD_NUMBER: _ClassVar[int]
    PEAK_CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PRESENCE_MS_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_USERS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    average_presence_ms: int
    gaps: int
    joins_per_hour: _containers.RepeatedCompositeFieldContainer[JoinsInHour]
    peak_at_ms: int
    peak_connections: int
    room: str
    sessions: int
    since_ms: int
    total_presence_ms: int
    unique_users: int
    until_ms: int
    def __init__(self, room: _Optional[str] = ..., since_ms: _Optional[int] = ..., until_ms: _Optional[int] = ..., unique_users: _Optional[int] = ..., sessions: _Optional[int] = ..., total_presence_ms: _Optional[int] = ..., average_presence_ms: _Optional[int] = ..., peak_connections: _Optional[int] = ..., peak_at_ms: _Optional[int] = ..., joins_per_hour: _Optional[_Iterable[_Union[JoinsInHour, _Mapping]]] = ..., gaps: _Optional[int] = ...) -> None: ...

class JoinsInHour(_message.Message):
    __slots__ = ["hour_start_ms", "joins"]
    HOUR_START_MS_FIELD_NUMBER: _ClassVar[int]
    JOINS_FIELD_NUMBER: _ClassVar[int]
    hour_start_ms: int
    joins: int
    def __init__(self, hour_start_ms: _Optional[int] = ..., joins: _Optional[int] = ...) -> None: ...

class ListActivityRequest(_message.Message):
    __slots__ = ["kinds", "newest_first", "page_size", "page_token", "room", "since_ms", "until_ms", "user_id"]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[ActivityKind]
    newest_first: bool
    page_size: int
    page_token: str
    room: str
    since_ms: int
    until_ms: int
    user_id: str
    def __init__(self, room: _Optional[str] = ..., user_id: _Optional[str] = ..., since_ms: _Optional[int] = ..., until_ms: _Optional[int] = ..., kinds: _Optional[_Iterable[_Union[ActivityKind, str]]] = ..., page_token: _Optional[str] = ..., page_size: _Optional[int] = ..., newest_first: bool = ...) -> None: ...

class ListActivityResponse(_message.Message):
    __slots__ = ["next_page_token", "records", "since_ms", "until_ms"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    records: _containers.RepeatedCompositeFieldContainer[ActivityRecord]
    since_ms: int
    until_ms: int
    def __init__(self, records: _Optional[_Iterable[_Union[ActivityRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., since_ms: _Optional[int] = ..., until_ms: _Optional[int] = ...) -> None: ...

class RoomAtMember(_message.Message):
    __slots__ = ["connection_id", "joined_at_ms", "name", "user_id"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    JOINED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    joined_at_ms: int
    name: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., joined_at_ms: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class ActivityKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
