from google.protobuf import struct_pb2 as _struct_pb2
from presence.v1 import member_presence_pb2 as _member_presence_pb2
from presence.v1 import rooms_pb2 as _rooms_pb2
from presence.v1 import scopes_pb2 as _scopes_pb2
from presence.v1 import broadcast_pb2 as _broadcast_pb2
from presence.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BatchGetPresenceRequest(_message.Message):
    __slots__ = ["detail", "order", "page_size", "rooms"]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOMS_FIELD_NUMBER: _ClassVar[int]
    detail: _types_pb2.Detail
    order: _types_pb2.MemberOrder
    page_size: int
    rooms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rooms: _Optional[_Iterable[str]] = ..., detail: _Optional[_Union[_types_pb2.Detail, str]] = ..., page_size: _Optional[int] = ..., order: _Optional[_Union[_types_pb2.MemberOrder, str]] = ...) -> None: ...

class BatchGetPresenceResponse(_message.Message):
    __slots__ = ["views"]
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    views: _containers.RepeatedCompositeFieldContainer[_types_pb2.RoomView]
    def __init__(self, views: _Optional[_Iterable[_Union[_types_pb2.RoomView, _Mapping]]] = ...) -> None: ...

class CountsUpdate(_message.Message):
    __slots__ = ["counts", "epoch", "room", "version"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    counts: _types_pb2.Counts
    epoch: str
    room: str
    version: int
    def __init__(self, room: _Optional[str] = ..., epoch: _Optional[str] = ..., version: _Optional[int] = ..., counts: _Optional[_Union[_types_pb2.Counts, _Mapping]] = ...) -> None: ...

class GetPresenceRequest(_message.Message):
    __slots__ = ["detail", "order", "page_size", "page_token", "room"]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    detail: _types_pb2.Detail
    order: _types_pb2.MemberOrder
    page_size: int
    page_token: str
    room: str
    def __init__(self, room: _Optional[str] = ..., detail: _Optional[_Union[_types_pb2.Detail, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., order: _Optional[_Union[_types_pb2.MemberOrder, str]] = ...) -> None: ...

class GetPresenceResponse(_message.Message):
    __slots__ = ["view"]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    view: _types_pb2.RoomView
    def __init__(self, view: _Optional[_Union[_types_pb2.RoomView, _Mapping]] = ...) -> None: ...

class GetUserStatusRequest(_message.Message):
    __slots__ = ["user_ids"]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetUserStatusResponse(_message.Message):
    __slots__ = ["statuses"]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedCompositeFieldContainer[_types_pb2.UserStatus]
    def __init__(self, statuses: _Optional[_Iterable[_Union[_types_pb2.UserStatus, _Mapping]]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ["activity", "session_id"]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    activity: _types_pb2.Activity
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., activity: _Optional[_Union[_types_pb2.Activity, str]] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ["lease"]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    lease: Lease
    def __init__(self, lease: _Optional[_Union[Lease, _Mapping]] = ...) -> None: ...

class JoinRequest(_message.Message):
    __slots__ = ["activity", "anonymous_id", "metadata", "on_behalf_of", "presence", "request_id", "resume_secret", "room", "scopes", "session_id"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ON_BEHALF_OF_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_SECRET_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    activity: _types_pb2.Activity
    anonymous_id: str
    metadata: _containers.ScalarMap[str, str]
    on_behalf_of: _types_pb2.UserInfo
    presence: _struct_pb2.Struct
    request_id: str
    resume_secret: str
    room: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    session_id: str
    def __init__(self, room: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., session_id: _Optional[str] = ..., resume_secret: _Optional[str] = ..., activity: _Optional[_Union[_types_pb2.Activity, str]] = ..., request_id: _Optional[str] = ..., on_behalf_of: _Optional[_Union[_types_pb2.UserInfo, _Mapping]] = ..., anonymous_id: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., presence: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ["heartbeat_key", "lease", "resumed", "room_info", "scopes", "session", "udp_port", "view"]
    HEARTBEAT_KEY_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    ROOM_INFO_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    UDP_PORT_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    heartbeat_key: bytes
    lease: Lease
    resumed: bool
    room_info: _rooms_pb2.RoomInfo
    scopes: _containers.RepeatedScalarFieldContainer[str]
    session: Session
    udp_port: int
    view: _types_pb2.RoomView
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., lease: _Optional[_Union[Lease, _Mapping]] = ..., resumed: bool = ..., view: _Optional[_Union[_types_pb2.RoomView, _Mapping]] = ..., heartbeat_key: _Optional[bytes] = ..., udp_port: _Optional[int] = ..., room_info: _Optional[_Union[_rooms_pb2.RoomInfo, _Mapping]] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class Keepalive(_message.Message):
    __slots__ = ["time_ms"]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    time_ms: int
    def __init__(self, time_ms: _Optional[int] = ...) -> None: ...

class Lease(_message.Message):
    __slots__ = ["expires_at_ms", "heartbeat_interval_ms", "ttl_ms"]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    expires_at_ms: int
    heartbeat_interval_ms: int
    ttl_ms: int
    def __init__(self, ttl_ms: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ..., expires_at_ms: _Optional[int] = ...) -> None: ...

class LeaveRequest(_message.Message):
    __slots__ = ["room", "session_id"]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    room: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., room: _Optional[str] = ...) -> None: ...

class LeaveResponse(_message.Message):
    __slots__ = ["left"]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    left: bool
    def __init__(self, left: bool = ...) -> None: ...

class NavigateRequest(_message.Message):
    __slots__ = ["from_room", "metadata", "session_id", "to_room"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FROM_ROOM_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TO_ROOM_FIELD_NUMBER: _ClassVar[int]
    from_room: str
    metadata: _containers.ScalarMap[str, str]
    session_id: str
    to_room: str
    def __init__(self, session_id: _Optional[str] = ..., from_room: _Optional[str] = ..., to_room: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class NavigateResponse(_message.Message):
    __slots__ = ["lease", "view"]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    lease: Lease
    view: _types_pb2.RoomView
    def __init__(self, view: _Optional[_Union[_types_pb2.RoomView, _Mapping]] = ..., lease: _Optional[_Union[Lease, _Mapping]] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ["connection_id", "resume_secret", "session_id"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_SECRET_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    resume_secret: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., resume_secret: _Optional[str] = ..., connection_id: _Optional[str] = ...) -> None: ...

class SetStatusRequest(_message.Message):
    __slots__ = ["custom_status", "invisible", "presence", "session_id"]
    CUSTOM_STATUS_FIELD_NUMBER: _ClassVar[int]
    INVISIBLE_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    custom_status: str
    invisible: bool
    presence: _types_pb2.PresenceOverride
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., custom_status: _Optional[str] = ..., invisible: bool = ..., presence: _Optional[_Union[_types_pb2.PresenceOverride, str]] = ...) -> None: ...

class SetStatusResponse(_message.Message):
    __slots__ = ["status"]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _types_pb2.UserStatus
    def __init__(self, status: _Optional[_Union[_types_pb2.UserStatus, _Mapping]] = ...) -> None: ...

class SetTypingRequest(_message.Message):
    __slots__ = ["room", "session_id", "typing"]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    room: str
    session_id: str
    typing: bool
    def __init__(self, session_id: _Optional[str] = ..., room: _Optional[str] = ..., typing: bool = ...) -> None: ...

class SetTypingResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class SnapshotPage(_message.Message):
    __slots__ = ["first", "last", "view"]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    first: bool
    last: bool
    view: _types_pb2.RoomView
    def __init__(self, view: _Optional[_Union[_types_pb2.RoomView, _Mapping]] = ..., first: bool = ..., last: bool = ...) -> None: ...

class UpdateCursorRequest(_message.Message):
    __slots__ = ["position", "room", "session_id"]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    position: _types_pb2.CursorPosition
    room: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., room: _Optional[str] = ..., position: _Optional[_Union[_types_pb2.CursorPosition, _Mapping]] = ...) -> None: ...

class UpdateCursorResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class UserStatusSnapshot(_message.Message):
    __slots__ = ["statuses"]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedCompositeFieldContainer[_types_pb2.UserStatus]
    def __init__(self, statuses: _Optional[_Iterable[_Union[_types_pb2.UserStatus, _Mapping]]] = ...) -> None: ...

class WatchPresenceRequest(_message.Message):
    __slots__ = ["detail", "order", "resume_from", "room", "session_id", "snapshot_page_size"]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    RESUME_FROM_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    detail: _types_pb2.Detail
    order: _types_pb2.MemberOrder
    resume_from: _types_pb2.Position
    room: str
    session_id: str
    snapshot_page_size: int
    def __init__(self, room: _Optional[str] = ..., detail: _Optional[_Union[_types_pb2.Detail, str]] = ..., resume_from: _Optional[_Union[_types_pb2.Position, _Mapping]] = ..., session_id: _Optional[str] = ..., order: _Optional[_Union[_types_pb2.MemberOrder, str]] = ..., snapshot_page_size: _Optional[int] = ...) -> None: ...

class WatchPresenceResponse(_message.Message):
    __slots__ = ["broadcast", "counts", "cursors", "ended", "event", "keepalive", "snapshot", "typing"]
    BROADCAST_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    CURSORS_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    broadcast: _broadcast_pb2.RoomBroadcast
    counts: CountsUpdate
    cursors: _types_pb2.CursorBatch
    ended: _rooms_pb2.RoomEnded
    event: _types_pb2.PresenceEvent
    keepalive: Keepalive
    snapshot: SnapshotPage
    typing: _types_pb2.TypingEvent
    def __init__(self, snapshot: _Optional[_Union[SnapshotPage, _Mapping]] = ..., event: _Optional[_Union[_types_pb2.PresenceEvent, _Mapping]] = ..., counts: _Optional[_Union[CountsUpdate, _Mapping]] = ..., keepalive: _Optional[_Union[Keepalive, _Mapping]] = ..., typing: _Optional[_Union[_types_pb2.TypingEvent, _Mapping]] = ..., cursors: _Optional[_Union[_types_pb2.CursorBatch, _Mapping]] = ..., ended: _Optional[_Union[_rooms_pb2.RoomEnded, _Mapping]] = ..., broadcast: _Optional[_Union[_broadcast_pb2.RoomBroadcast, _Mapping]] = ...) -> None: ...

class WatchUsersRequest(_message.Message):
    __slots__ = ["user_ids"]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchUsersResponse(_message.Message):
    __slots__ = ["changed", "keepalive", "snapshot"]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    changed: _types_pb2.UserStatus
    keepalive: Keepalive
    snapshot: UserStatusSnapshot
    def __init__(self, snapshot: _Optional[_Union[UserStatusSnapshot, _Mapping]] = ..., changed: _Optional[_Union[_types_pb2.UserStatus, _Mapping]] = ..., keepalive: _Optional[_Union[Keepalive, _Mapping]] = ...) -> None: ...
