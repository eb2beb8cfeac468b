"""Plain Python values of the presence API (frozen dataclasses), converted from the protobuf
messages of ``presence.v1`` so that callers never handle generated classes. Times are timezone-aware
``datetime`` objects in UTC (``None`` for "never"); activities and states are short strings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, Optional, Tuple, Union

from presence.v1 import presence_pb2, types_pb2

ACTIVE, AWAY = "active", "away"
ONLINE, OFFLINE = "online", "offline"

_ACTIVITY = {types_pb2.ACTIVITY_ACTIVE: ACTIVE, types_pb2.ACTIVITY_AWAY: AWAY}
_ACTIVITY_PB = {ACTIVE: types_pb2.ACTIVITY_ACTIVE, AWAY: types_pb2.ACTIVITY_AWAY}
_STATE = {types_pb2.USER_STATE_ONLINE: ONLINE, types_pb2.USER_STATE_AWAY: AWAY, types_pb2.USER_STATE_OFFLINE: OFFLINE}
_REASON = {types_pb2.LEAVE_REASON_LEFT: "left", types_pb2.LEAVE_REASON_TIMEOUT: "timeout", types_pb2.LEAVE_REASON_KICKED: "kicked", types_pb2.LEAVE_REASON_ENDED: "ended"}


def when(ms: int) -> Optional[datetime]:
    """Milliseconds since the Unix epoch as an aware UTC datetime; 0 is ``None`` ("never")."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms else None


def activity_to_pb(activity: Optional[str]) -> int:
    if activity is None:
        return types_pb2.ACTIVITY_UNSPECIFIED
    try:
        return _ACTIVITY_PB[activity]
    except KeyError:
        raise ValueError(f"activity: must be 'active' or 'away' (got {activity!r})") from None


@dataclass(frozen=True)
class User:
    user_id: str
    name: str = ""
    avatar_url: str = ""
    metadata: Dict[str, str] = field(default_factory=dict)

    def to_pb(self) -> types_pb2.UserInfo:
        return types_pb2.UserInfo(user_id=self.user_id, name=self.name, avatar_url=self.avatar_url, metadata=self.metadata)

    @staticmethod
    def from_pb(u: types_pb2.UserInfo) -> "User":
        return User(u.user_id, u.name, u.avatar_url, dict(u.metadata))


UserLike = Union[User, str]


def user_to_pb(user: UserLike) -> types_pb2.UserInfo:
    return User(user).to_pb() if isinstance(user, str) else user.to_pb()


@dataclass(frozen=True)
class Counts:
    users: int = 0
    connections: int = 0
    anonymous: int = 0

    @staticmethod
    def from_pb(c: types_pb2.Counts) -> "Counts":
        return Counts(c.users, c.connections, c.anonymous)


@dataclass(frozen=True)
class Connection:
    connection_id: str
    activity: str
    joined_at: Optional[datetime]
    metadata: Dict[str, str]

    @staticmethod
    def from_pb(c: types_pb2.Connection) -> "Connection":
        return Connection(c.connection_id, _ACTIVITY.get(c.activity, ACTIVE), when(c.joined_at_ms), dict(c.metadata))


@dataclass(frozen=True)
class Member:
    """A user present in a room, with all of their connections there."""

    user: User
    activity: str
    connections: Tuple[Connection, ...]

    @property
    def user_id(self) -> str:
        return self.user.user_id

    @staticmethod
    def from_pb(p: types_pb2.UserPresence) -> "Member":
        return Member(User.from_pb(p.user), _ACTIVITY.get(p.activity, ACTIVE), tuple(Connection.from_pb(c) for c in p.connections))


@dataclass(frozen=True)
class RoomView:
    room: str
    epoch: str
    version: int
    counts: Counts
    members: Tuple[Member, ...]
    members_omitted: bool
    typing: Tuple[str, ...]

    @staticmethod
    def from_pb(v: types_pb2.RoomView) -> "RoomView":
        return RoomView(
            v.room, v.epoch, v.version, Counts.from_pb(v.counts), tuple(Member.from_pb(u) for u in v.users), v.members_omitted, tuple(t.user_id for t in v.typing if t.typing)
        )


@dataclass(frozen=True)
class Session:
    """A session made by Join. ``session_id`` and ``resume_secret`` are secrets."""

    session_id: str
    resume_secret: str
    connection_id: str
    ttl_ms: int
    heartbeat_interval_ms: int
    expires_at: Optional[datetime]


@dataclass(frozen=True)
class JoinResult:
    session: Session
    resumed: bool
    view: RoomView
    #: The session's UDP heartbeat key (32 bytes) when the server has UDP heartbeats on, else b"".
    heartbeat_key: bytes = b""
    #: The server's UDP heartbeat port; 0 when UDP heartbeats are off.
    udp_port: int = 0
    #: Server clock minus local clock (ms) when the answer arrived, for UDP timestamps.
    server_offset_ms: int = 0

    @staticmethod
    def from_pb(r: presence_pb2.JoinResponse) -> "JoinResult":
        s, lease = r.session, r.lease
        session = Session(s.session_id, s.resume_secret, s.connection_id, lease.ttl_ms, lease.heartbeat_interval_ms, when(lease.expires_at_ms))
        offset = (lease.expires_at_ms - lease.ttl_ms) - int(time.time() * 1000) if lease.expires_at_ms else 0
        return JoinResult(session, r.resumed, RoomView.from_pb(r.view), bytes(r.heartbeat_key), r.udp_port, offset)


@dataclass(frozen=True)
class Lease:
    ttl_ms: int
    heartbeat_interval_ms: int
    expires_at: Optional[datetime]

    @staticmethod
    def from_pb(lease: presence_pb2.Lease) -> "Lease":
        return Lease(lease.ttl_ms, lease.heartbeat_interval_ms, when(lease.expires_at_ms))


@dataclass(frozen=True)
class UserStatus:
    """A user's status as the caller may see it: ``online``, ``away`` or ``offline``."""

    user_id: str
    state: str
    last_seen: Optional[datetime]
    custom_status: str = ""
    invisible: bool = False

    @property
    def online(self) -> bool:
        return self.state != OFFLINE

    @staticmethod
    def from_pb(s: types_pb2.UserStatus) -> "UserStatus":
        return UserStatus(s.user_id, _STATE.get(s.state, OFFLINE), when(s.last_seen_ms), s.custom_status, s.invisible)


# --- events of a watched room (PresenceClient.watch) ---


@dataclass(frozen=True)
class Snapshot:
    """The whole room (sent first, and again after a gap): replace your view with it."""

    view: RoomView


@dataclass(frozen=True)
class Joined:
    room: str
    version: int
    user: User
    connection: Connection
    first_of_user: bool
    counts: Counts


@dataclass(frozen=True)
class Left:
    room: str
    version: int
    user_id: str
    connection_id: str
    reason: str
    last_of_user: bool
    counts: Counts


@dataclass(frozen=True)
class Updated:
    room: str
    version: int
    user: User
    connection: Connection
    counts: Counts


@dataclass(frozen=True)
class AnonymousChanged:
    room: str
    version: int
    viewers_delta: int
    connections_delta: int
    counts: Counts


@dataclass(frozen=True)
class CountsChanged:
    room: str
    version: int
    counts: Counts


@dataclass(frozen=True)
class Typing:
    room: str
    user_id: str
    typing: bool


@dataclass(frozen=True)
class Broadcast:
    """A custom room event (PresenceService.Broadcast); ``payload`` is the decoded JSON value."""

    room: str
    type: str
    payload: object
    user_id: str
    connection_id: str
    time: Optional[datetime]


@dataclass(frozen=True)
class RoomEnded:
    """The room was ended (EndRoom, or the idle reaper): the last event of its watch, after every
    member's :class:`Left` with reason "ended". Joins are refused until ``tombstone_until``."""

    room: str
    version: int
    ended_at: Optional[datetime]
    #: A user id, or "" when the idle reaper ended it.
    ended_by: str
    reason: str
    tombstone_until: Optional[datetime]


@dataclass(frozen=True)
class StatusChanged:
    """A watched user's status changed (``watch_users``); the first ones are the snapshot."""

    status: UserStatus
    snapshot: bool = False


def leave_reason(reason: int) -> str:
    return _REASON.get(reason, "left")
