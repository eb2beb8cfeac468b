from presence.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
ROOM_STATUS_ENDED: RoomStatus
ROOM_STATUS_OPEN: RoomStatus
ROOM_STATUS_UNSPECIFIED: RoomStatus

class CreateRoomRequest(_message.Message):
    __slots__ = ["away_after_ms", "idle_timeout_ms", "max_participants", "metadata", "owner_user_id", "room"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AWAY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    away_after_ms: int
    idle_timeout_ms: int
    max_participants: int
    metadata: _containers.ScalarMap[str, str]
    owner_user_id: str
    room: str
    def __init__(self, room: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., max_participants: _Optional[int] = ..., idle_timeout_ms: _Optional[int] = ..., away_after_ms: _Optional[int] = ..., owner_user_id: _Optional[str] = ...) -> None: ...

class CreateRoomResponse(_message.Message):
    __slots__ = ["room"]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    room: RoomInfo
    def __init__(self, room: _Optional[_Union[RoomInfo, _Mapping]] = ...) -> None: ...

class EndRoomRequest(_message.Message):
    __slots__ = ["reason", "room"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    reason: str
    room: str
    def __init__(self, room: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class EndRoomResponse(_message.Message):
    __slots__ = ["connections_removed", "room"]
    CONNECTIONS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    connections_removed: int
    room: RoomInfo
    def __init__(self, room: _Optional[_Union[RoomInfo, _Mapping]] = ..., connections_removed: _Optional[int] = ...) -> None: ...

class GetRoomRequest(_message.Message):
    __slots__ = ["room"]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    room: str
    def __init__(self, room: _Optional[str] = ...) -> None: ...

class GetRoomResponse(_message.Message):
    __slots__ = ["room"]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    room: RoomInfo
    def __init__(self, room: _Optional[_Union[RoomInfo, _Mapping]] = ...) -> None: ...

class RoomEnded(_message.Message):
    __slots__ = ["ended_at_ms", "ended_by", "epoch", "reason", "room", "tombstone_until_ms", "version"]
    ENDED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ENDED_BY_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONE_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ended_at_ms: int
    ended_by: str
    epoch: str
    reason: str
    room: str
    tombstone_until_ms: int
    version: int
    def __init__(self, room: _Optional[str] = ..., epoch: _Optional[str] = ..., version: _Optional[int] = ..., ended_at_ms: _Optional[int] = ..., ended_by: _Optional[str] = ..., reason: _Optional[str] = ..., tombstone_until_ms: _Optional[int] = ...) -> None: ...

class RoomInfo(_message.Message):
    __slots__ = ["away_after_ms", "counts", "created_at_ms", "ended_at_ms", "ended_by", "idle_timeout_ms", "last_activity_ms", "managed", "max_participants", "metadata", "owner_user_id", "room", "status", "tombstone_until_ms"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AWAY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ENDED_BY_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_MS_FIELD_NUMBER: _ClassVar[int]
    MANAGED_FIELD_NUMBER: _ClassVar[int]
    MAX_PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONE_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    away_after_ms: int
    counts: _types_pb2.Counts
    created_at_ms: int
    ended_at_ms: int
    ended_by: str
    idle_timeout_ms: int
    last_activity_ms: int
    managed: bool
    max_participants: int
    metadata: _containers.ScalarMap[str, str]
    owner_user_id: str
    room: str
    status: RoomStatus
    tombstone_until_ms: int
    def __init__(self, room: _Optional[str] = ..., managed: bool = ..., status: _Optional[_Union[RoomStatus, str]] = ..., owner_user_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., max_participants: _Optional[int] = ..., idle_timeout_ms: _Optional[int] = ..., away_after_ms: _Optional[int] = ..., created_at_ms: _Optional[int] = ..., last_activity_ms: _Optional[int] = ..., ended_at_ms: _Optional[int] = ..., tombstone_until_ms: _Optional[int] = ..., ended_by: _Optional[str] = ..., counts: _Optional[_Union[_types_pb2.Counts, _Mapping]] = ...) -> None: ...

class RoomMetadata(_message.Message):
    __slots__ = ["entries"]
    class EntriesEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.ScalarMap[str, str]
    def __init__(self, entries: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UpdateRoomRequest(_message.Message):
    __slots__ = ["away_after_ms", "idle_timeout_ms", "max_participants", "metadata", "owner_user_id", "room"]
    AWAY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    away_after_ms: int
    idle_timeout_ms: int
    max_participants: int
    metadata: RoomMetadata
    owner_user_id: str
    room: str
    def __init__(self, room: _Optional[str] = ..., max_participants: _Optional[int] = ..., idle_timeout_ms: _Optional[int] = ..., away_after_ms: _Optional[int] = ..., metadata: _Optional[_Union[RoomMetadata, _Mapping]] = ..., owner_user_id: _Optional[str] = ...) -> None: ...

class UpdateRoomResponse(_message.Message):
    __slots__ = ["room"]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    room: RoomInfo
    def __init__(self, room: _Optional[_Union[RoomInfo, _Mapping]] = ...) -> None: ...

class RoomStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
