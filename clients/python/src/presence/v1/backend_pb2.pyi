from presence.v1 import broadcast_pb2 as _broadcast_pb2
from presence.v1 import errors_pb2 as _errors_pb2
from presence.v1 import presence_pb2 as _presence_pb2
from presence.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

BACKEND_EVENT_KIND_BROADCAST: BackendEventKind
BACKEND_EVENT_KIND_MEMBER_ADDED: BackendEventKind
BACKEND_EVENT_KIND_MEMBER_REMOVED: BackendEventKind
BACKEND_EVENT_KIND_ROOM_OCCUPIED: BackendEventKind
BACKEND_EVENT_KIND_ROOM_VACATED: BackendEventKind
BACKEND_EVENT_KIND_UNSPECIFIED: BackendEventKind
BACKEND_EVENT_KIND_USER_AWAY: BackendEventKind
BACKEND_EVENT_KIND_USER_OFFLINE: BackendEventKind
BACKEND_EVENT_KIND_USER_ONLINE: BackendEventKind
DESCRIPTOR: _descriptor.FileDescriptor

class BackendEvent(_message.Message):
    __slots__ = ["broadcast", "id", "kind", "member_added", "member_removed", "room", "room_occupied", "room_vacated", "time_ms", "user_id", "user_status"]
    BROADCAST_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ADDED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_REMOVED_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    ROOM_OCCUPIED_FIELD_NUMBER: _ClassVar[int]
    ROOM_VACATED_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_STATUS_FIELD_NUMBER: _ClassVar[int]
    broadcast: _broadcast_pb2.RoomBroadcast
    id: str
    kind: BackendEventKind
    member_added: MemberAdded
    member_removed: MemberRemoved
    room: str
    room_occupied: RoomOccupied
    room_vacated: RoomVacated
    time_ms: int
    user_id: str
    user_status: _types_pb2.UserStatus
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[BackendEventKind, str]] = ..., time_ms: _Optional[int] = ..., room: _Optional[str] = ..., user_id: _Optional[str] = ..., room_occupied: _Optional[_Union[RoomOccupied, _Mapping]] = ..., room_vacated: _Optional[_Union[RoomVacated, _Mapping]] = ..., member_added: _Optional[_Union[MemberAdded, _Mapping]] = ..., member_removed: _Optional[_Union[MemberRemoved, _Mapping]] = ..., user_status: _Optional[_Union[_types_pb2.UserStatus, _Mapping]] = ..., broadcast: _Optional[_Union[_broadcast_pb2.RoomBroadcast, _Mapping]] = ...) -> None: ...

class EventsGap(_message.Message):
    __slots__ = ["since_ms"]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    since_ms: int
    def __init__(self, since_ms: _Optional[int] = ...) -> None: ...

class HeartbeatBatchRequest(_message.Message):
    __slots__ = ["heartbeats"]
    HEARTBEATS_FIELD_NUMBER: _ClassVar[int]
    heartbeats: _containers.RepeatedCompositeFieldContainer[_presence_pb2.HeartbeatRequest]
    def __init__(self, heartbeats: _Optional[_Iterable[_Union[_presence_pb2.HeartbeatRequest, _Mapping]]] = ...) -> None: ...

class HeartbeatBatchResponse(_message.Message):
    __slots__ = ["results"]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[HeartbeatResult]
    def __init__(self, results: _Optional[_Iterable[_Union[HeartbeatResult, _Mapping]]] = ...) -> None: ...

class HeartbeatResult(_message.Message):
    __slots__ = ["error", "lease"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    error: ItemError
    lease: _presence_pb2.Lease
    def __init__(self, lease: _Optional[_Union[_presence_pb2.Lease, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class ItemError(_message.Message):
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

class LeaveBatchItem(_message.Message):
    __slots__ = ["room", "session_id"]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    room: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., room: _Optional[str] = ...) -> None: ...

class LeaveBatchRequest(_message.Message):
    __slots__ = ["leaves"]
    LEAVES_FIELD_NUMBER: _ClassVar[int]
    leaves: _containers.RepeatedCompositeFieldContainer[LeaveBatchItem]
    def __init__(self, leaves: _Optional[_Iterable[_Union[LeaveBatchItem, _Mapping]]] = ...) -> None: ...

class LeaveBatchResponse(_message.Message):
    __slots__ = ["results"]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[LeaveResult]
    def __init__(self, results: _Optional[_Iterable[_Union[LeaveResult, _Mapping]]] = ...) -> None: ...

class LeaveResult(_message.Message):
    __slots__ = ["error", "left"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    error: ItemError
    left: _presence_pb2.LeaveResponse
    def __init__(self, left: _Optional[_Union[_presence_pb2.LeaveResponse, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class MemberAdded(_message.Message):
    __slots__ = ["connection", "counts", "user"]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    connection: _types_pb2.Connection
    counts: _types_pb2.Counts
    user: _types_pb2.UserInfo
    def __init__(self, user: _Optional[_Union[_types_pb2.UserInfo, _Mapping]] = ..., connection: _Optional[_Union[_types_pb2.Connection, _Mapping]] = ..., counts: _Optional[_Union[_types_pb2.Counts, _Mapping]] = ...) -> None: ...

class MemberRemoved(_message.Message):
    __slots__ = ["counts", "reason"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    counts: _types_pb2.Counts
    reason: _types_pb2.LeaveReason
    def __init__(self, reason: _Optional[_Union[_types_pb2.LeaveReason, str]] = ..., counts: _Optional[_Union[_types_pb2.Counts, _Mapping]] = ...) -> None: ...

class PresenceLost(_message.Message):
    __slots__ = ["key", "reason"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    key: str
    reason: _errors_pb2.ErrorReason
    def __init__(self, key: _Optional[str] = ..., reason: _Optional[_Union[_errors_pb2.ErrorReason, str]] = ...) -> None: ...

class RoomOccupied(_message.Message):
    __slots__ = ["counts"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    counts: _types_pb2.Counts
    def __init__(self, counts: _Optional[_Union[_types_pb2.Counts, _Mapping]] = ...) -> None: ...

class RoomVacated(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class SetTrackedActivity(_message.Message):
    __slots__ = ["activity", "key"]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    activity: _types_pb2.Activity
    key: str
    def __init__(self, key: _Optional[str] = ..., activity: _Optional[_Union[_types_pb2.Activity, str]] = ...) -> None: ...

class SetTrackedActivityResult(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class TrackClose(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class TrackClosed(_message.Message):
    __slots__ = ["left"]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    left: int
    def __init__(self, left: _Optional[int] = ...) -> None: ...

class TrackOpen(_message.Message):
    __slots__ = ["tracker_id", "tracker_secret"]
    TRACKER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACKER_SECRET_FIELD_NUMBER: _ClassVar[int]
    tracker_id: str
    tracker_secret: str
    def __init__(self, tracker_id: _Optional[str] = ..., tracker_secret: _Optional[str] = ...) -> None: ...

class TrackOpened(_message.Message):
    __slots__ = ["max_messages_per_sec", "max_presences", "reclaimed", "reconnect_grace_ms", "resumed", "tracker_id", "tracker_secret"]
    MAX_MESSAGES_PER_SEC_FIELD_NUMBER: _ClassVar[int]
    MAX_PRESENCES_FIELD_NUMBER: _ClassVar[int]
    RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    RECONNECT_GRACE_MS_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    TRACKER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACKER_SECRET_FIELD_NUMBER: _ClassVar[int]
    max_messages_per_sec: int
    max_presences: int
    reclaimed: int
    reconnect_grace_ms: int
    resumed: bool
    tracker_id: str
    tracker_secret: str
    def __init__(self, tracker_id: _Optional[str] = ..., tracker_secret: _Optional[str] = ..., resumed: bool = ..., reclaimed: _Optional[int] = ..., reconnect_grace_ms: _Optional[int] = ..., max_presences: _Optional[int] = ..., max_messages_per_sec: _Optional[int] = ...) -> None: ...

class TrackPresence(_message.Message):
    __slots__ = ["activity", "include_members", "key", "metadata", "room", "user"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    activity: _types_pb2.Activity
    include_members: bool
    key: str
    metadata: _containers.ScalarMap[str, str]
    room: str
    user: _types_pb2.UserInfo
    def __init__(self, key: _Optional[str] = ..., room: _Optional[str] = ..., user: _Optional[_Union[_types_pb2.UserInfo, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., activity: _Optional[_Union[_types_pb2.Activity, str]] = ..., include_members: bool = ...) -> None: ...

class TrackRequest(_message.Message):
    __slots__ = ["close", "open", "request_id", "set_activity", "track", "untrack", "update"]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SET_ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    UNTRACK_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    close: TrackClose
    open: TrackOpen
    request_id: int
    set_activity: SetTrackedActivity
    track: TrackPresence
    untrack: UntrackPresence
    update: UpdateTrackedPresence
    def __init__(self, request_id: _Optional[int] = ..., open: _Optional[_Union[TrackOpen, _Mapping]] = ..., track: _Optional[_Union[TrackPresence, _Mapping]] = ..., untrack: _Optional[_Union[UntrackPresence, _Mapping]] = ..., update: _Optional[_Union[UpdateTrackedPresence, _Mapping]] = ..., set_activity: _Optional[_Union[SetTrackedActivity, _Mapping]] = ..., close: _Optional[_Union[TrackClose, _Mapping]] = ...) -> None: ...

class TrackResponse(_message.Message):
    __slots__ = ["activity_set", "closed", "error", "keepalive", "lost", "opened", "reclaimed", "request_id", "tracked", "untracked", "updated"]
    ACTIVITY_SET_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    OPENED_FIELD_NUMBER: _ClassVar[int]
    RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRACKED_FIELD_NUMBER: _ClassVar[int]
    UNTRACKED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    activity_set: SetTrackedActivityResult
    closed: TrackClosed
    error: ItemError
    keepalive: _presence_pb2.Keepalive
    lost: PresenceLost
    opened: TrackOpened
    reclaimed: TrackedPresences
    request_id: int
    tracked: TrackResult
    untracked: UntrackResult
    updated: TrackResult
    def __init__(self, request_id: _Optional[int] = ..., opened: _Optional[_Union[TrackOpened, _Mapping]] = ..., reclaimed: _Optional[_Union[TrackedPresences, _Mapping]] = ..., tracked: _Optional[_Union[TrackResult, _Mapping]] = ..., untracked: _Optional[_Union[UntrackResult, _Mapping]] = ..., updated: _Optional[_Union[TrackResult, _Mapping]] = ..., activity_set: _Optional[_Union[SetTrackedActivityResult, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ..., closed: _Optional[_Union[TrackClosed, _Mapping]] = ..., lost: _Optional[_Union[PresenceLost, _Mapping]] = ..., keepalive: _Optional[_Union[_presence_pb2.Keepalive, _Mapping]] = ...) -> None: ...

class TrackResult(_message.Message):
    __slots__ = ["changed", "connection_id", "view"]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    changed: bool
    connection_id: str
    view: _types_pb2.RoomView
    def __init__(self, connection_id: _Optional[str] = ..., changed: bool = ..., view: _Optional[_Union[_types_pb2.RoomView, _Mapping]] = ...) -> None: ...

class TrackedPresence(_message.Message):
    __slots__ = ["connection", "key", "room", "user_id"]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    connection: _types_pb2.Connection
    key: str
    room: str
    user_id: str
    def __init__(self, key: _Optional[str] = ..., room: _Optional[str] = ..., user_id: _Optional[str] = ..., connection: _Optional[_Union[_types_pb2.Connection, _Mapping]] = ...) -> None: ...

class TrackedPresences(_message.Message):
    __slots__ = ["last", "presences"]
    LAST_FIELD_NUMBER: _ClassVar[int]
    PRESENCES_FIELD_NUMBER: _ClassVar[int]
    last: bool
    presences: _containers.RepeatedCompositeFieldContainer[TrackedPresence]
    def __init__(self, presences: _Optional[_Iterable[_Union[TrackedPresence, _Mapping]]] = ..., last: bool = ...) -> None: ...

class UntrackPresence(_message.Message):
    __slots__ = ["key", "room"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    key: str
    room: str
    def __init__(self, key: _Optional[str] = ..., room: _Optional[str] = ...) -> None: ...

class UntrackResult(_message.Message):
    __slots__ = ["ended", "left"]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    ended: bool
    left: bool
    def __init__(self, left: bool = ..., ended: bool = ...) -> None: ...

class UpdateTrackedPresence(_message.Message):
    __slots__ = ["key", "metadata", "room"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    key: str
    metadata: _containers.ScalarMap[str, str]
    room: str
    def __init__(self, key: _Optional[str] = ..., room: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ["kinds", "resume_after", "rooms", "users"]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_FIELD_NUMBER: _ClassVar[int]
    ROOMS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[BackendEventKind]
    resume_after: str
    rooms: _containers.RepeatedScalarFieldContainer[str]
    users: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rooms: _Optional[_Iterable[str]] = ..., users: _Optional[_Iterable[str]] = ..., kinds: _Optional[_Iterable[_Union[BackendEventKind, str]]] = ..., resume_after: _Optional[str] = ...) -> None: ...

class WatchEventsResponse(_message.Message):
    __slots__ = ["cursor", "event", "gap", "keepalive"]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    event: BackendEvent
    gap: EventsGap
    keepalive: _presence_pb2.Keepalive
    def __init__(self, event: _Optional[_Union[BackendEvent, _Mapping]] = ..., keepalive: _Optional[_Union[_presence_pb2.Keepalive, _Mapping]] = ..., gap: _Optional[_Union[EventsGap, _Mapping]] = ..., cursor: _Optional[str] = ...) -> None: ...

class WebhookBatch(_message.Message):
    __slots__ = ["events", "node_id"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[BackendEvent]
    node_id: str
    def __init__(self, events: _Optional[_Iterable[_Union[BackendEvent, _Mapping]]] = ..., node_id: _Optional[str] = ...) -> None: ...

class BackendEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
