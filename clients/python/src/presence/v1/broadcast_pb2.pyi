from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BroadcastRequest(_message.Message):
    __slots__ = ["payload", "room", "session_id", "type"]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    payload: _struct_pb2.Value
    room: str
    session_id: str
    type: str
    def __init__(self, room: _Optional[str] = ..., type: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., session_id: _Optional[str] = ...) -> None: ...

class BroadcastResponse(_message.Message):
    __slots__ = ["local_watchers"]
    LOCAL_WATCHERS_FIELD_NUMBER: _ClassVar[int]
    local_watchers: int
    def __init__(self, local_watchers: _Optional[int] = ...) -> None: ...

class RoomBroadcast(_message.Message):
    __slots__ = ["connection_id", "payload", "room", "time_ms", "type", "user_id"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    payload: _struct_pb2.Value
    room: str
    time_ms: int
    type: str
    user_id: str
    def __init__(self, room: _Optional[str] = ..., type: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., user_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., time_ms: _Optional[int] = ...) -> None: ...
