from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UpdatePresenceRequest(_message.Message):
    __slots__ = ["presence", "replace", "room", "session_id"]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    presence: _struct_pb2.Struct
    replace: bool
    room: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., room: _Optional[str] = ..., presence: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., replace: bool = ...) -> None: ...

class UpdatePresenceResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...
