"""Scopes (who is online in a zone, an org, everywhere) and managed rooms (an owner, a participant
limit, an idle timeout, an end): the values and the requests the sync and asyncio clients share.
No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, Iterable, Mapping, Optional, Tuple

from presence.v1 import rooms_pb2, scopes_pb2

from .types import _STATE, ONLINE, Counts, User, when

_ROOM_STATUS = {rooms_pb2.ROOM_STATUS_OPEN: "open", rooms_pb2.ROOM_STATUS_ENDED: "ended"}


@dataclass(frozen=True)
class ScopeCount:
    """Distinct users and their connections in one scope ("" = everyone online)."""

    scope: str
    users: int = 0
    connections: int = 0

    @staticmethod
    def from_pb(c: scopes_pb2.ScopeCount) -> "ScopeCount":
        return ScopeCount(c.scope, c.users, c.connections)


@dataclass(frozen=True)
class OnlineCounts:
    """``count_online``'s answer: each asked scope by name, and everyone online (``total``)."""

    scopes: Dict[str, ScopeCount]
    total: ScopeCount

    @staticmethod
    def from_pb(r) -> "OnlineCounts":  # CountOnlineResponse or WatchScopeCountsResponse
        return OnlineCounts({s.scope: ScopeCount.from_pb(s) for s in r.scopes}, ScopeCount.from_pb(getattr(r, "global")))


@dataclass(frozen=True)
class OnlineUser:
    user: User
    #: "online" or "away" (invisible users are never listed).
    state: str
    #: Last activity signal of any of the user's sessions (``None``: none yet).
    last_active: Optional[datetime]
    connections: int

    @staticmethod
    def from_pb(u: scopes_pb2.OnlineUser) -> "OnlineUser":
        return OnlineUser(User.from_pb(u.user), _STATE.get(u.state, ONLINE), when(u.last_active_ms), u.connections)


@dataclass(frozen=True)
class OnlinePage:
    """One page of ``list_online``, most recently active first; pass ``next_page_token`` on ("" = last page)."""

    users: Tuple[OnlineUser, ...]
    next_page_token: str
    count: ScopeCount

    @staticmethod
    def from_pb(r: scopes_pb2.ListOnlineResponse) -> "OnlinePage":
        return OnlinePage(tuple(OnlineUser.from_pb(u) for u in r.users), r.next_page_token, ScopeCount.from_pb(r.count))


@dataclass(frozen=True)
class RoomInfo:
    """A room's record (``managed`` False: a room nobody created, only ``room`` and ``counts`` are set)."""

    room: str
    managed: bool
    #: "open", "ended" (refusing joins until ``tombstone_until``), or "" for an unmanaged room.
    status: str
    owner_user_id: str
    metadata: Dict[str, str] = field(default_factory=dict)
    #: 0 = no limit.
    max_participants: int = 0
    idle_timeout_ms: int = 0
    away_after_ms: int = 0
    created_at: Optional[datetime] = None
    last_activity: Optional[datetime] = None
    ended_at: Optional[datetime] = None
    tombstone_until: Optional[datetime] = None
    #: Who ended it: a user id, or "" when the idle reaper did.
    ended_by: str = ""
    counts: Counts = Counts()

    @staticmethod
    def from_pb(r: rooms_pb2.RoomInfo) -> "RoomInfo":
        return RoomInfo(
            r.room,
            r.managed,
            _ROOM_STATUS.get(r.status, ""),
            r.owner_user_id,
            dict(r.metadata),
            r.max_participants,
            r.idle_timeout_ms,
            r.away_after_ms,
            when(r.created_at_ms),
            when(r.last_activity_ms),
            when(r.ended_at_ms),
            when(r.tombstone_until_ms),
            r.ended_by,
            Counts.from_pb(r.counts),
        )


def scopes_list(scopes: Iterable[str]) -> list:
    if isinstance(scopes, str):
        raise TypeError("scopes: must be an iterable of scope names, not one string")
    return list(scopes)


def create_room_request(room: str, metadata: Optional[Mapping[str, str]], max_participants: int, idle_timeout_ms: int, away_after_ms: int, owner: str) -> rooms_pb2.CreateRoomRequest:
    return rooms_pb2.CreateRoomRequest(room=room, metadata=dict(metadata or {}), max_participants=max_participants, idle_timeout_ms=idle_timeout_ms, away_after_ms=away_after_ms, owner_user_id=owner)


def update_room_request(
    room: str,
    metadata: Optional[Mapping[str, str]],
    max_participants: Optional[int],
    idle_timeout_ms: Optional[int],
    away_after_ms: Optional[int],
    owner: Optional[str],
) -> rooms_pb2.UpdateRoomRequest:
    """Only the given settings change; ``metadata`` replaces the whole map when given."""
    req = rooms_pb2.UpdateRoomRequest(room=room)
    if metadata is not None:
        req.metadata.entries.update(dict(metadata))
        req.metadata.SetInParent()
    if max_participants is not None:
        req.max_participants = max_participants
    if idle_timeout_ms is not None:
        req.idle_timeout_ms = idle_timeout_ms
    if away_after_ms is not None:
        req.away_after_ms = away_after_ms
    if owner is not None:
        req.owner_user_id = owner
    return req
