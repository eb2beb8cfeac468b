from presence.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KickSessionRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class KickSessionResponse(_message.Message):
    __slots__ = ["rooms_left"]
    ROOMS_LEFT_FIELD_NUMBER: _ClassVar[int]
    rooms_left: int
    def __init__(self, rooms_left: _Optional[int] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ["dead_after_ms", "node_id", "nodes"]
    DEAD_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    dead_after_ms: int
    node_id: str
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ..., node_id: _Optional[str] = ..., dead_after_ms: _Optional[int] = ...) -> None: ...

class ListRoomsRequest(_message.Message):
    __slots__ = ["limit"]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListRoomsResponse(_message.Message):
    __slots__ = ["rooms", "total_rooms"]
    ROOMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ROOMS_FIELD_NUMBER: _ClassVar[int]
    rooms: _containers.RepeatedCompositeFieldContainer[RoomSummary]
    total_rooms: int
    def __init__(self, rooms: _Optional[_Iterable[_Union[RoomSummary, _Mapping]]] = ..., total_rooms: _Optional[int] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ["alive", "last_seen_age_ms", "last_seen_ms", "node_id", "sessions"]
    ALIVE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_MS_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    alive: bool
    last_seen_age_ms: int
    last_seen_ms: int
    node_id: str
    sessions: int
    def __init__(self, node_id: _Optional[str] = ..., last_seen_ms: _Optional[int] = ..., last_seen_age_ms: _Optional[int] = ..., alive: bool = ..., sessions: _Optional[int] = ...) -> None: ...

class PurgeNodeRequest(_message.Message):
    __slots__ = ["force", "node_id"]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    force: bool
    node_id: str
    def __init__(self, node_id: _Optional[str] = ..., force: bool = ...) -> None: ...

class PurgeNodeResponse(_message.Message):
    __slots__ = ["rooms_left", "sessions_kicked"]
    ROOMS_LEFT_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_KICKED_FIELD_NUMBER: _ClassVar[int]
    rooms_left: int
    sessions_kicked: int
    def __init__(self, sessions_kicked: _Optional[int] = ..., rooms_left: _Optional[int] = ...) -> None: ...

class RoomSummary(_message.Message):
    __slots__ = ["counts", "room"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    counts: _types_pb2.Counts
    room: str
    def __init__(self, room: _Optional[str] = ..., counts: _Optional[_Union[_types_pb2.Counts, _Mapping]] = ...) -> None: ...
