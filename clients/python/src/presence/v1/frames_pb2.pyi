from presence.v1 import broadcast_pb2 as _broadcast_pb2
from presence.v1 import errors_pb2 as _errors_pb2
from presence.v1 import member_presence_pb2 as _member_presence_pb2
from presence.v1 import presence_pb2 as _presence_pb2
from presence.v1 import rooms_pb2 as _rooms_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

CLOSE_CODE_BAD_REQUEST: CloseCode
CLOSE_CODE_DRAINING: CloseCode
CLOSE_CODE_FORBIDDEN: CloseCode
CLOSE_CODE_NORMAL: CloseCode
CLOSE_CODE_QUOTA_EXCEEDED: CloseCode
CLOSE_CODE_RATE_LIMITED: CloseCode
CLOSE_CODE_SERVER_ERROR: CloseCode
CLOSE_CODE_SESSION_ENDED: CloseCode
CLOSE_CODE_SLOW_CONSUMER: CloseCode
CLOSE_CODE_STORE_OVER_BUDGET: CloseCode
CLOSE_CODE_TOKEN_EXPIRED: CloseCode
CLOSE_CODE_TOO_LARGE: CloseCode
CLOSE_CODE_UNAUTHENTICATED: CloseCode
CLOSE_CODE_UNAVAILABLE: CloseCode
CLOSE_CODE_UNSPECIFIED: CloseCode
DESCRIPTOR: _descriptor.FileDescriptor

class Ack(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ClientFrame(_message.Message):
    __slots__ = ["broadcast", "cursor", "heartbeat", "join", "leave", "navigate", "request_id", "status", "typing", "unwatch", "unwatch_users", "update_presence", "watch", "watch_users"]
    BROADCAST_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    LEAVE_FIELD_NUMBER: _ClassVar[int]
    NAVIGATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    UNWATCH_FIELD_NUMBER: _ClassVar[int]
    UNWATCH_USERS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    WATCH_FIELD_NUMBER: _ClassVar[int]
    WATCH_USERS_FIELD_NUMBER: _ClassVar[int]
    broadcast: _broadcast_pb2.BroadcastRequest
    cursor: _presence_pb2.UpdateCursorRequest
    heartbeat: _presence_pb2.HeartbeatRequest
    join: _presence_pb2.JoinRequest
    leave: _presence_pb2.LeaveRequest
    navigate: _presence_pb2.NavigateRequest
    request_id: int
    status: _presence_pb2.SetStatusRequest
    typing: _presence_pb2.SetTypingRequest
    unwatch: UnwatchRequest
    unwatch_users: UnwatchUsersRequest
    update_presence: _member_presence_pb2.UpdatePresenceRequest
    watch: _presence_pb2.WatchPresenceRequest
    watch_users: _presence_pb2.WatchUsersRequest
    def __init__(self, request_id: _Optional[int] = ..., join: _Optional[_Union[_presence_pb2.JoinRequest, _Mapping]] = ..., leave: _Optional[_Union[_presence_pb2.LeaveRequest, _Mapping]] = ..., navigate: _Optional[_Union[_presence_pb2.NavigateRequest, _Mapping]] = ..., heartbeat: _Optional[_Union[_presence_pb2.HeartbeatRequest, _Mapping]] = ..., typing: _Optional[_Union[_presence_pb2.SetTypingRequest, _Mapping]] = ..., cursor: _Optional[_Union[_presence_pb2.UpdateCursorRequest, _Mapping]] = ..., watch: _Optional[_Union[_presence_pb2.WatchPresenceRequest, _Mapping]] = ..., unwatch: _Optional[_Union[UnwatchRequest, _Mapping]] = ..., status: _Optional[_Union[_presence_pb2.SetStatusRequest, _Mapping]] = ..., watch_users: _Optional[_Union[_presence_pb2.WatchUsersRequest, _Mapping]] = ..., unwatch_users: _Optional[_Union[UnwatchUsersRequest, _Mapping]] = ..., update_presence: _Optional[_Union[_member_presence_pb2.UpdatePresenceRequest, _Mapping]] = ..., broadcast: _Optional[_Union[_broadcast_pb2.BroadcastRequest, _Mapping]] = ...) -> None: ...

class ErrorFrame(_message.Message):
    __slots__ = ["code", "message", "metadata", "reason"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    metadata: _containers.ScalarMap[str, str]
    reason: _errors_pb2.ErrorReason
    def __init__(self, code: _Optional[int] = ..., reason: _Optional[_Union[_errors_pb2.ErrorReason, str]] = ..., message: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ServerFrame(_message.Message):
    __slots__ = ["ack", "broadcast", "error", "heartbeat", "join", "leave", "navigate", "request_id", "room_ended", "status", "users", "watch"]
    ACK_FIELD_NUMBER: _ClassVar[int]
    BROADCAST_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    LEAVE_FIELD_NUMBER: _ClassVar[int]
    NAVIGATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_ENDED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    WATCH_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    broadcast: _broadcast_pb2.BroadcastResponse
    error: ErrorFrame
    heartbeat: _presence_pb2.HeartbeatResponse
    join: _presence_pb2.JoinResponse
    leave: _presence_pb2.LeaveResponse
    navigate: _presence_pb2.NavigateResponse
    request_id: int
    room_ended: _rooms_pb2.RoomEnded
    status: _presence_pb2.SetStatusResponse
    users: _presence_pb2.WatchUsersResponse
    watch: _presence_pb2.WatchPresenceResponse
    def __init__(self, request_id: _Optional[int] = ..., join: _Optional[_Union[_presence_pb2.JoinResponse, _Mapping]] = ..., leave: _Optional[_Union[_presence_pb2.LeaveResponse, _Mapping]] = ..., navigate: _Optional[_Union[_presence_pb2.NavigateResponse, _Mapping]] = ..., heartbeat: _Optional[_Union[_presence_pb2.HeartbeatResponse, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., status: _Optional[_Union[_presence_pb2.SetStatusResponse, _Mapping]] = ..., watch: _Optional[_Union[_presence_pb2.WatchPresenceResponse, _Mapping]] = ..., users: _Optional[_Union[_presence_pb2.WatchUsersResponse, _Mapping]] = ..., room_ended: _Optional[_Union[_rooms_pb2.RoomEnded, _Mapping]] = ..., error: _Optional[_Union[ErrorFrame, _Mapping]] = ..., broadcast: _Optional[_Union[_broadcast_pb2.BroadcastResponse, _Mapping]] = ...) -> None: ...

class UnwatchRequest(_message.Message):
    __slots__ = ["room"]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    room: str
    def __init__(self, room: _Optional[str] = ...) -> None: ...

class UnwatchUsersRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class CloseCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
