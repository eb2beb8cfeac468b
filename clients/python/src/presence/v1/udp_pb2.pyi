from presence.v1 import types_pb2 as _types_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HeartbeatDatagram(_message.Message):
    __slots__ = ["body", "mac"]
    BODY_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    mac: bytes
    def __init__(self, body: _Optional[bytes] = ..., mac: _Optional[bytes] = ...) -> None: ...

class HeartbeatDatagramBody(_message.Message):
    __slots__ = ["activity", "session_id", "timestamp_ms"]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    activity: _types_pb2.Activity
    session_id: str
    timestamp_ms: int
    def __init__(self, session_id: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., activity: _Optional[_Union[_types_pb2.Activity, str]] = ...) -> None: ...
