from presence.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CountOnlineRequest(_message.Message):
    __slots__ = ["scopes"]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class CountOnlineResponse(_message.Message):
    __slots__ = ["scopes"]
    GLOBAL_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedCompositeFieldContainer[ScopeCount]
    def __init__(self, scopes: _Optional[_Iterable[_Union[ScopeCount, _Mapping]]] = ..., **kwargs) -> None: ...

class ListOnlineRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "scope"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    scope: str
    def __init__(self, scope: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListOnlineResponse(_message.Message):
    __slots__ = ["count", "next_page_token", "users"]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    count: ScopeCount
    next_page_token: str
    users: _containers.RepeatedCompositeFieldContainer[OnlineUser]
    def __init__(self, users: _Optional[_Iterable[_Union[OnlineUser, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., count: _Optional[_Union[ScopeCount, _Mapping]] = ...) -> None: ...

class OnlineUser(_message.Message):
    __slots__ = ["connections", "last_active_ms", "state", "user"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVE_MS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    connections: int
    last_active_ms: int
    state: _types_pb2.UserState
    user: _types_pb2.UserInfo
    def __init__(self, user: _Optional[_Union[_types_pb2.UserInfo, _Mapping]] = ..., state: _Optional[_Union[_types_pb2.UserState, str]] = ..., last_active_ms: _Optional[int] = ..., connections: _Optional[int] = ...) -> None: ...

class ScopeCount(_message.Message):
    __slots__ = ["connections", "scope", "users"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    connections: int
    scope: str
    users: int
    def __init__(self, scope: _Optional[str] = ..., users: _Optional[int] = ..., connections: _Optional[int] = ...) -> None: ...

class WatchScopeCountsRequest(_message.Message):
    __slots__ = ["scopes"]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchScopeCountsResponse(_message.Message):
    __slots__ = ["scopes", "time_ms"]
    GLOBAL_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedCompositeFieldContainer[ScopeCount]
    time_ms: int
    def __init__(self, scopes: _Optional[_Iterable[_Union[ScopeCount, _Mapping]]] = ..., time_ms: _Optional[int] = ..., **kwargs) -> None: ...
