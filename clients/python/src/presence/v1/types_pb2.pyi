from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ACTIVITY_ACTIVE: Activity
ACTIVITY_AWAY: Activity
ACTIVITY_UNSPECIFIED: Activity
DESCRIPTOR: _descriptor.FileDescriptor
DETAIL_COUNTS: Detail
DETAIL_FULL: Detail
DETAIL_UNSPECIFIED: Detail
LEAVE_REASON_ENDED: LeaveReason
LEAVE_REASON_KICKED: LeaveReason
LEAVE_REASON_LEFT: LeaveReason
LEAVE_REASON_TIMEOUT: LeaveReason
LEAVE_REASON_UNSPECIFIED: LeaveReason
MEMBER_ORDER_JOINED: MemberOrder
MEMBER_ORDER_LAST_ACTIVE: MemberOrder
MEMBER_ORDER_UNSPECIFIED: MemberOrder
PRESENCE_OVERRIDE_AUTO: PresenceOverride
PRESENCE_OVERRIDE_AWAY: PresenceOverride
PRESENCE_OVERRIDE_ONLINE: PresenceOverride
PRESENCE_OVERRIDE_UNSPECIFIED: PresenceOverride
USER_STATE_AWAY: UserState
USER_STATE_OFFLINE: UserState
USER_STATE_ONLINE: UserState
USER_STATE_UNSPECIFIED: UserState

class AnonymousChanged(_message.Message):
    __slots__ = ["connections_delta", "viewers_delta"]
    CONNECTIONS_DELTA_FIELD_NUMBER: _ClassVar[int]
    VIEWERS_DELTA_FIELD_NUMBER: _ClassVar[int]
    connections_delta: int
    viewers_delta: int
    def __init__(self, viewers_delta: _Optional[int] = ..., connections_delta: _Optional[int] = ...) -> None: ...

class Connection(_message.Message):
    __slots__ = ["activity", "connection_id", "joined_at_ms", "last_active_ms", "metadata", "presence", "role"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    JOINED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVE_MS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    activity: Activity
    connection_id: str
    joined_at_ms: int
    last_active_ms: int
    metadata: _containers.ScalarMap[str, str]
    presence: _struct_pb2.Struct
    role: str
    def __init__(self, connection_id: _Optional[str] = ..., activity: _Optional[_Union[Activity, str]] = ..., joined_at_ms: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ..., role: _Optional[str] = ..., presence: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., last_active_ms: _Optional[int] = ...) -> None: ...

class Counts(_message.Message):
    __slots__ = ["anonymous", "connections", "users"]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    anonymous: int
    connections: int
    users: int
    def __init__(self, users: _Optional[int] = ..., connections: _Optional[int] = ..., anonymous: _Optional[int] = ...) -> None: ...

class Cursor(_message.Message):
    __slots__ = ["connection_id", "position", "updated_at_ms", "user_id"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    position: CursorPosition
    updated_at_ms: int
    user_id: str
    def __init__(self, connection_id: _Optional[str] = ..., user_id: _Optional[str] = ..., position: _Optional[_Union[CursorPosition, _Mapping]] = ..., updated_at_ms: _Optional[int] = ...) -> None: ...

class CursorBatch(_message.Message):
    __slots__ = ["cursors", "removed_connection_ids", "room"]
    CURSORS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_CONNECTION_IDS_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    cursors: _containers.RepeatedCompositeFieldContainer[Cursor]
    removed_connection_ids: _containers.RepeatedScalarFieldContainer[str]
    room: str
    def __init__(self, room: _Optional[str] = ..., cursors: _Optional[_Iterable[_Union[Cursor, _Mapping]]] = ..., removed_connection_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CursorPosition(_message.Message):
    __slots__ = ["element", "selection_end", "selection_start", "x", "y"]
    ELEMENT_FIELD_NUMBER: _ClassVar[int]
    SELECTION_END_FIELD_NUMBER: _ClassVar[int]
    SELECTION_START_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    element: str
    selection_end: int
    selection_start: int
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., element: _Optional[str] = ..., selection_start: _Optional[int] = ..., selection_end: _Optional[int] = ...) -> None: ...

class MemberJoined(_message.Message):
    __slots__ = ["connection", "first_of_user", "user"]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    FIRST_OF_USER_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    first_of_user: bool
    user: UserInfo
    def __init__(self, user: _Optional[_Union[UserInfo, _Mapping]] = ..., connection: _Optional[_Union[Connection, _Mapping]] = ..., first_of_user: bool = ...) -> None: ...

class MemberLeft(_message.Message):
    __slots__ = ["connection_id", "last_of_user", "reason", "user_id"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_OF_USER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    last_of_user: bool
    reason: LeaveReason
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., reason: _Optional[_Union[LeaveReason, str]] = ..., last_of_user: bool = ...) -> None: ...

class MemberUpdated(_message.Message):
    __slots__ = ["connection", "user"]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    user: UserInfo
    def __init__(self, user: _Optional[_Union[UserInfo, _Mapping]] = ..., connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ["epoch", "version"]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    epoch: str
    version: int
    def __init__(self, epoch: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class PresenceEvent(_message.Message):
    __slots__ = ["anonymous", "counts", "epoch", "joined", "left", "room", "time_ms", "updated", "version"]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    JOINED_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    anonymous: AnonymousChanged
    counts: Counts
    epoch: str
    joined: MemberJoined
    left: MemberLeft
    room: str
    time_ms: int
    updated: MemberUpdated
    version: int
    def __init__(self, room: _Optional[str] = ..., epoch: _Optional[str] = ..., version: _Optional[int] = ..., time_ms: _Optional[int] = ..., counts: _Optional[_Union[Counts, _Mapping]] = ..., joined: _Optional[_Union[MemberJoined, _Mapping]] = ..., left: _Optional[_Union[MemberLeft, _Mapping]] = ..., updated: _Optional[_Union[MemberUpdated, _Mapping]] = ..., anonymous: _Optional[_Union[AnonymousChanged, _Mapping]] = ...) -> None: ...

class RoomView(_message.Message):
    __slots__ = ["counts", "cursors", "epoch", "members_omitted", "next_page_token", "room", "typing", "users", "version"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    CURSORS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_OMITTED_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    counts: Counts
    cursors: _containers.RepeatedCompositeFieldContainer[Cursor]
    epoch: str
    members_omitted: bool
    next_page_token: str
    room: str
    typing: _containers.RepeatedCompositeFieldContainer[TypingState]
    users: _containers.RepeatedCompositeFieldContainer[UserPresence]
    version: int
    def __init__(self, room: _Optional[str] = ..., epoch: _Optional[str] = ..., version: _Optional[int] = ..., counts: _Optional[_Union[Counts, _Mapping]] = ..., users: _Optional[_Iterable[_Union[UserPresence, _Mapping]]] = ..., members_omitted: bool = ..., typing: _Optional[_Iterable[_Union[TypingState, _Mapping]]] = ..., cursors: _Optional[_Iterable[_Union[Cursor, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class TypingEvent(_message.Message):
    __slots__ = ["room", "state"]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    room: str
    state: TypingState
    def __init__(self, room: _Optional[str] = ..., state: _Optional[_Union[TypingState, _Mapping]] = ...) -> None: ...

class TypingState(_message.Message):
    __slots__ = ["expires_in_ms", "typing", "user_id"]
    EXPIRES_IN_MS_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    expires_in_ms: int
    typing: bool
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., typing: bool = ..., expires_in_ms: _Optional[int] = ...) -> None: ...

class UserInfo(_message.Message):
    __slots__ = ["avatar_url", "metadata", "name", "user_id"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AVATAR_URL_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    avatar_url: str
    metadata: _containers.ScalarMap[str, str]
    name: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., name: _Optional[str] = ..., avatar_url: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UserPresence(_message.Message):
    __slots__ = ["activity", "connections", "role", "user"]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    activity: Activity
    connections: _containers.RepeatedCompositeFieldContainer[Connection]
    role: str
    user: UserInfo
    def __init__(self, user: _Optional[_Union[UserInfo, _Mapping]] = ..., activity: _Optional[_Union[Activity, str]] = ..., connections: _Optional[_Iterable[_Union[Connection, _Mapping]]] = ..., role: _Optional[str] = ...) -> None: ...

class UserStatus(_message.Message):
    __slots__ = ["custom_status", "invisible", "last_active_ms", "last_seen_ms", "presence_override", "state", "user_id"]
    CUSTOM_STATUS_FIELD_NUMBER: _ClassVar[int]
    INVISIBLE_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVE_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_MS_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    custom_status: str
    invisible: bool
    last_active_ms: int
    last_seen_ms: int
    presence_override: PresenceOverride
    state: UserState
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., state: _Optional[_Union[UserState, str]] = ..., last_seen_ms: _Optional[int] = ..., custom_status: _Optional[str] = ..., invisible: bool = ..., presence_override: _Optional[_Union[PresenceOverride, str]] = ..., last_active_ms: _Optional[int] = ...) -> None: ...

class Activity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LeaveReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Detail(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class PresenceOverride(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class MemberOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class UserState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
