"""What the sync and asyncio clients share: building requests, converting answers and stream
messages, call metadata, the watch position and the reconnect backoff. No I/O here."""

from __future__ import annotations

import json
import random
from typing import Callable, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import grpc
from google.protobuf import json_format, struct_pb2

from presence.v1 import broadcast_pb2, presence_pb2, types_pb2

from . import types as t

TokenSource = Union[None, str, Callable[[], str]]


def call_metadata(token: TokenSource) -> Optional[Tuple[Tuple[str, str], ...]]:
    """``authorization`` metadata for one call (a callable token is asked every call)."""
    value = token() if callable(token) else token
    return (("authorization", f"Bearer {value}"),) if value else None


def session_id_of(session: Union[t.Session, t.JoinResult, str]) -> str:
    if isinstance(session, t.JoinResult):
        return session.session.session_id
    return session.session_id if isinstance(session, t.Session) else session


def detail(counts_only: bool) -> int:
    return types_pb2.DETAIL_COUNTS if counts_only else types_pb2.DETAIL_FULL


def join_request(
    room: str,
    *,
    metadata: Optional[Mapping[str, str]] = None,
    user: Optional[t.UserLike] = None,
    session: Union[None, t.Session, t.JoinResult, str] = None,
    resume_secret: Optional[str] = None,
    activity: Optional[str] = None,
    request_id: Optional[str] = None,
    anonymous_id: Optional[str] = None,
    scopes: Optional[Sequence[str]] = None,
) -> presence_pb2.JoinRequest:
    req = presence_pb2.JoinRequest(room=room, metadata=dict(metadata or {}), activity=t.activity_to_pb(activity))
    if scopes is not None:
        if isinstance(scopes, str):
            raise TypeError("scopes: must be a list of scope names, not one string")
        req.scopes.extend(scopes)
    if session is not None:
        req.session_id = session_id_of(session)
        if resume_secret is None and isinstance(session, (t.Session, t.JoinResult)):
            resume_secret = (session.session if isinstance(session, t.JoinResult) else session).resume_secret
    if resume_secret:
        req.resume_secret = resume_secret
    if user is not None:
        req.on_behalf_of.CopyFrom(t.user_to_pb(user))
    if request_id:
        req.request_id = request_id
    if anonymous_id:
        req.anonymous_id = anonymous_id
    return req


def status_request(session: Union[t.Session, t.JoinResult, str], custom_status: Optional[str], invisible: Optional[bool]) -> presence_pb2.SetStatusRequest:
    req = presence_pb2.SetStatusRequest(session_id=session_id_of(session))
    if custom_status is not None:
        req.custom_status = custom_status
    if invisible is not None:
        req.invisible = invisible
    return req


def broadcast_request(room: str, type_: str, payload: object, session: Union[None, t.Session, t.JoinResult, str]) -> broadcast_pb2.BroadcastRequest:
    value = struct_pb2.Value()
    json_format.Parse(json.dumps(payload), value)
    return broadcast_pb2.BroadcastRequest(room=room, type=type_, payload=value, session_id=session_id_of(session) if session is not None else "")


def user_ids(ids: Sequence[str]) -> List[str]:
    if len(ids) == 1 and not isinstance(ids[0], str):  # user_status(["a", "b"])
        ids = list(ids[0])  # type: ignore[arg-type]
    return list(ids)


def statuses(resp: presence_pb2.GetUserStatusResponse) -> "dict[str, t.UserStatus]":
    return {s.user_id: t.UserStatus.from_pb(s) for s in resp.statuses}


class Position:
    """The last applied (epoch, version) of a watched room, for `resume_from` after a reconnect."""

    def __init__(self) -> None:
        self.epoch = ""
        self.version = 0
        self._pages: List[types_pb2.UserPresence] = []
        self._first: Optional[types_pb2.RoomView] = None
        #: Set by an ``ended`` message: the room is over, a watch must not reopen.
        self.ended = False

    def resume_from(self) -> Optional[types_pb2.Position]:
        return types_pb2.Position(epoch=self.epoch, version=self.version) if self.epoch else None

    def convert(self, msg: presence_pb2.WatchPresenceResponse, include_keepalive: bool) -> List[object]:
        """The typed events of one stream message (a multi-page snapshot yields one Snapshot)."""
        kind = msg.WhichOneof("message")
        if kind == "snapshot":
            page = msg.snapshot
            if page.first:
                self._first = types_pb2.RoomView()
                self._first.CopyFrom(page.view)
                del self._first.users[:]
                self._pages = []
            self._pages.extend(page.view.users)
            if not page.last or self._first is None:
                return []
            view = self._first
            view.users.extend(self._pages)
            self._first, self._pages = None, []
            self.epoch, self.version = view.epoch, view.version
            return [t.Snapshot(t.RoomView.from_pb(view))]
        if kind == "event":
            e = msg.event
            self.epoch, self.version = e.epoch, e.version
            counts = t.Counts.from_pb(e.counts)
            which = e.WhichOneof("kind")
            if which == "joined":
                j = e.joined
                return [t.Joined(e.room, e.version, t.User.from_pb(j.user), t.Connection.from_pb(j.connection), j.first_of_user, counts)]
            if which == "left":
                lv = e.left
                return [t.Left(e.room, e.version, lv.user_id, lv.connection_id, t.leave_reason(lv.reason), lv.last_of_user, counts)]
            if which == "updated":
                u = e.updated
                return [t.Updated(e.room, e.version, t.User.from_pb(u.user), t.Connection.from_pb(u.connection), counts)]
            if which == "anonymous":
                a = e.anonymous
                return [t.AnonymousChanged(e.room, e.version, a.viewers_delta, a.connections_delta, counts)]
            return []
        if kind == "counts":
            c = msg.counts
            self.epoch, self.version = c.epoch, c.version
            return [t.CountsChanged(c.room, c.version, t.Counts.from_pb(c.counts))]
        if kind == "typing":
            return [t.Typing(msg.typing.room, msg.typing.state.user_id, msg.typing.state.typing)]
        if kind == "broadcast":
            b = msg.broadcast
            payload = json.loads(json_format.MessageToJson(b.payload)) if b.HasField("payload") else None
            return [t.Broadcast(b.room, b.type, payload, b.user_id, b.connection_id, t.when(b.time_ms))]
        if kind == "ended":
            e = msg.ended
            self.ended = True
            return [t.RoomEnded(e.room, e.version, t.when(e.ended_at_ms), e.ended_by, e.reason, t.when(e.tombstone_until_ms))]
        if kind == "keepalive" and include_keepalive:
            return [msg.keepalive]
        return []


def user_watch_events(msg: presence_pb2.WatchUsersResponse) -> List[t.StatusChanged]:
    kind = msg.WhichOneof("message")
    if kind == "snapshot":
        return [t.StatusChanged(t.UserStatus.from_pb(s), snapshot=True) for s in msg.snapshot.statuses]
    if kind == "changed":
        return [t.StatusChanged(t.UserStatus.from_pb(msg.changed))]
    return []


def batch_item(result, ok_case: str, convert):
    """One HeartbeatBatch / LeaveBatch result: the converted value, or the item's PresenceError."""
    from .errors import error_from_item

    return convert(getattr(result, ok_case)) if result.WhichOneof("result") == ok_case else error_from_item(result.error)


# Streams end with these when the server drains, restarts or resets a slow reader: watch again.
RESUMABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})


class Backoff:
    """Exponential backoff with full jitter: 0..min(cap, base·2^n) seconds; reset after success."""

    def __init__(self, base: float = 0.1, cap: float = 10.0, rng: Callable[[], float] = random.random) -> None:
        self.base, self.cap, self.attempt, self._rng = base, cap, 0, rng

    def next_delay(self) -> float:
        delay = self._rng() * min(self.cap, self.base * (2 ** self.attempt))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


def rooms_list(rooms: Iterable[str]) -> List[str]:
    if isinstance(rooms, str):
        raise TypeError("rooms: must be an iterable of room names, not one string")
    return list(rooms)
