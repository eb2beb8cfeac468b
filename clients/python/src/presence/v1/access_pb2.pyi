from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuthorizeRequest(_message.Message):
    __slots__ = ["operation", "resources", "role", "subject"]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    operation: str
    resources: _containers.RepeatedScalarFieldContainer[str]
    role: str
    subject: str
    def __init__(self, subject: _Optional[str] = ..., role: _Optional[str] = ..., operation: _Optional[str] = ..., resources: _Optional[_Iterable[str]] = ...) -> None: ...

class AuthorizeResponse(_message.Message):
    __slots__ = ["decisions"]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[Decision]
    def __init__(self, decisions: _Optional[_Iterable[_Union[Decision, _Mapping]]] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ["allow", "ttl_ms"]
    ALLOW_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    allow: bool
    ttl_ms: int
    def __init__(self, allow: bool = ..., ttl_ms: _Optional[int] = ...) -> None: ...
