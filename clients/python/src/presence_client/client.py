"""The synchronous client (``grpc``): :class:`PresenceClient`.

    from presence_client import PresenceClient, service_token

    with PresenceClient("127.0.0.1:8080", token=service_token(SECRET)) as presence:
        joined = presence.join("/docs/intro", user="ana", metadata={"color": "#e11"})
        print(presence.count("/docs/intro").users)
        for event in presence.watch("/docs/intro"):   # Snapshot, then Joined / Left / Updated …
            print(event)

Every method raises :class:`~presence_client.errors.PresenceError` (a subclass per code and common
reason) instead of ``grpc.RpcError``.
"""

from __future__ import annotations

import time
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import grpc

from presence.v1 import backend_pb2, backend_pb2_grpc, presence_pb2, presence_pb2_grpc, rooms_pb2, scopes_pb2

from . import _calls as c
from . import events as ev
from . import rooms_scopes as rs
from . import types as t
from ._resume import ResumingStream
from .errors import PresenceError, from_rpc_error

SessionLike = Union[t.Session, t.JoinResult, str]


class Watch(ResumingStream):
    """An iterator of a room's typed events that reconnects and resumes (``resume_from``) after
    the server drains or restarts, with jittered backoff. ``close()`` (or leaving a ``with`` block)
    ends it from any thread."""

    def __init__(self, open_stream, position: c.Position, include_keepalive: bool, resume: bool, max_backoff: float) -> None:
        super().__init__(open_stream, include_keepalive, resume, max_backoff)
        self._pos = position

    def _resume_arg(self) -> object:
        return self._pos.resume_from()

    def _items(self, msg) -> List[object]:
        return self._pos.convert(msg, self._keep)

    def _finished(self) -> bool:
        return self._pos.ended  # after RoomEnded there is nothing to resume


class PresenceClient:
    """A client of ``presence.v1.PresenceService`` over one gRPC channel.

    ``target`` is ``host:port`` of the RPC port. ``token`` is a JWT, or a callable returning one
    (called for every call, so it can refresh); ``None`` calls as an anonymous viewer.
    ``credentials`` switches to TLS (``grpc.ssl_channel_credentials()``); ``timeout`` is the
    deadline of unary calls in seconds.
    """

    def __init__(
        self,
        target: str = "127.0.0.1:8080",
        *,
        token: c.TokenSource = None,
        credentials: Optional[grpc.ChannelCredentials] = None,
        timeout: float = 10.0,
        options: Sequence[tuple] = (),
        channel: Optional[grpc.Channel] = None,
    ) -> None:
        self._own = channel is None
        self.channel = channel or (grpc.secure_channel(target, credentials, options) if credentials else grpc.insecure_channel(target, options))
        self._stub = presence_pb2_grpc.PresenceServiceStub(self.channel)
        self._backend = backend_pb2_grpc.BackendServiceStub(self.channel)
        self._token = token
        self.timeout = timeout

    def _unary(self, method, request, stub=None):
        try:
            return getattr(stub or self._stub, method)(request, timeout=self.timeout, metadata=c.call_metadata(self._token))
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    # --- sessions ---

    def join(self, room: str, *, metadata: Optional[Mapping[str, str]] = None, user: Optional[t.UserLike] = None, session: Optional[SessionLike] = None, resume_secret: Optional[str] = None, activity: Optional[str] = None, request_id: Optional[str] = None, anonymous_id: Optional[str] = None, scopes: Optional[Sequence[str]] = None) -> t.JoinResult:
        """Joins ``room`` (a new session, or ``session`` gains the room). ``user`` (id or
        :class:`User`) joins on behalf of that user: needs a service token. ``scopes`` (a new
        session only): the scopes it is online in, e.g. ``["zone:10", "org:100"]``."""
        req = c.join_request(room, metadata=metadata, user=user, session=session, resume_secret=resume_secret, activity=activity, request_id=request_id, anonymous_id=anonymous_id, scopes=scopes)
        return t.JoinResult.from_pb(self._unary("Join", req))

    def leave(self, session: SessionLike, room: str) -> bool:
        """Leaves ``room``; False when the session was not in it. Its last room ends the session."""
        return self._unary("Leave", presence_pb2.LeaveRequest(session_id=c.session_id_of(session), room=room)).left

    def heartbeat(self, session: SessionLike, activity: Optional[str] = None) -> t.Lease:
        """Keeps ``session`` alive (at least once per TTL) and optionally reports its activity."""
        req = presence_pb2.HeartbeatRequest(session_id=c.session_id_of(session), activity=t.activity_to_pb(activity))
        return t.Lease.from_pb(self._unary("Heartbeat", req).lease)

    def heartbeat_many(self, sessions, activity: Optional[str] = None) -> List[Union[t.Lease, PresenceError]]:
        """Heartbeats many sessions in one call (``HeartbeatBatch``, at most 1,000 by default): one
        :class:`Lease` or :class:`PresenceError` per session, in order (an unknown session is a
        ``SessionNotFound`` item; the others still apply)."""
        req = backend_pb2.HeartbeatBatchRequest(heartbeats=[presence_pb2.HeartbeatRequest(session_id=c.session_id_of(s), activity=t.activity_to_pb(activity)) for s in sessions])
        return [c.batch_item(r, "lease", t.Lease.from_pb) for r in self._unary("HeartbeatBatch", req, self._backend).results]

    def leave_many(self, leaves) -> List[Union[bool, PresenceError]]:
        """Leaves many ``(session, room)`` pairs in one call (``LeaveBatch``): per pair ``True``
        (left), ``False`` (was not in the room) or a :class:`PresenceError`."""
        req = backend_pb2.LeaveBatchRequest(leaves=[backend_pb2.LeaveBatchItem(session_id=c.session_id_of(s), room=room) for s, room in leaves])
        return [c.batch_item(r, "left", lambda v: v.left) for r in self._unary("LeaveBatch", req, self._backend).results]

    def set_status(self, session: SessionLike, *, custom_status: Optional[str] = None, invisible: Optional[bool] = None) -> t.UserStatus:
        return t.UserStatus.from_pb(self._unary("SetStatus", c.status_request(session, custom_status, invisible)).status)

    def broadcast(self, room: str, type: str, payload: object = None, *, session: Optional[SessionLike] = None) -> int:
        """Sends a custom ephemeral event to the room's watchers; ``payload`` is any JSON value."""
        return self._unary("Broadcast", c.broadcast_request(room, type, payload, session)).local_watchers

    # --- reads ---

    def get_presence(self, room: str, *, counts_only: bool = False) -> t.RoomView:
        return t.RoomView.from_pb(self._unary("GetPresence", presence_pb2.GetPresenceRequest(room=room, detail=c.detail(counts_only))).view)

    def list(self, room: str) -> List[t.Member]:
        """The users in ``room`` (each with their connections), in order of arrival."""
        return list(self.get_presence(room).members)

    def count(self, room: str) -> t.Counts:
        """The room's counts (users, connections, anonymous viewers) without listing anyone."""
        return self.get_presence(room, counts_only=True).counts

    def batch_get(self, rooms, *, counts_only: bool = False) -> Dict[str, t.RoomView]:
        resp = self._unary("BatchGetPresence", presence_pb2.BatchGetPresenceRequest(rooms=c.rooms_list(rooms), detail=c.detail(counts_only)))
        return {v.room: t.RoomView.from_pb(v) for v in resp.views}

    def user_status(self, *user_ids: str) -> Dict[str, t.UserStatus]:
        """Statuses of users, keyed by id in request order: ``user_status("ana", "bob")``."""
        return c.statuses(self._unary("GetUserStatus", presence_pb2.GetUserStatusRequest(user_ids=c.user_ids(user_ids))))

    # --- scopes (who is online in a zone, an org, everywhere: scope "") ---

    def list_online(self, scope: str = "", *, page_size: int = 50, page_token: str = "") -> rs.OnlinePage:
        """One page of the users online in ``scope``, most recently active first."""
        req = scopes_pb2.ListOnlineRequest(scope=scope, page_size=page_size, page_token=page_token)
        return rs.OnlinePage.from_pb(self._unary("ListOnline", req))

    def iter_online(self, scope: str = "", *, page_size: int = 50) -> Iterator[rs.OnlineUser]:
        """Every user online in ``scope``, page by page (no user twice in one walk)."""
        token = ""
        while True:
            page = self.list_online(scope, page_size=page_size, page_token=token)
            yield from page.users
            token = page.next_page_token
            if not token:
                return

    def count_online(self, *scopes: str) -> rs.OnlineCounts:
        """Users and connections online in each scope, and everyone online (``.total``)."""
        return rs.OnlineCounts.from_pb(self._unary("CountOnline", scopes_pb2.CountOnlineRequest(scopes=rs.scopes_list(scopes))))

    # --- managed rooms (an owner, a participant limit, an idle timeout, an end) ---

    def create_room(self, room: str, *, metadata: Optional[Mapping[str, str]] = None, max_participants: int = 0, idle_timeout_ms: int = 0, away_after_ms: int = 0, owner: str = "") -> rs.RoomInfo:
        """Creates a managed room owned by the caller (a service may name another ``owner``)."""
        req = rs.create_room_request(room, metadata, max_participants, idle_timeout_ms, away_after_ms, owner)
        return rs.RoomInfo.from_pb(self._unary("CreateRoom", req).room)

    def update_room(self, room: str, *, metadata: Optional[Mapping[str, str]] = None, max_participants: Optional[int] = None, idle_timeout_ms: Optional[int] = None, away_after_ms: Optional[int] = None, owner: Optional[str] = None) -> rs.RoomInfo:
        """Changes the given settings only (owner, service or admin)."""
        req = rs.update_room_request(room, metadata, max_participants, idle_timeout_ms, away_after_ms, owner)
        return rs.RoomInfo.from_pb(self._unary("UpdateRoom", req).room)

    def end_room(self, room: str, reason: str = "") -> Tuple[rs.RoomInfo, int]:
        """Ends the room: every connection leaves (reason "ended"), watchers get :class:`RoomEnded`.
        Returns the record and how many connections were removed."""
        resp = self._unary("EndRoom", rooms_pb2.EndRoomRequest(room=room, reason=reason))
        return rs.RoomInfo.from_pb(resp.room), resp.connections_removed

    def get_room(self, room: str) -> rs.RoomInfo:
        return rs.RoomInfo.from_pb(self._unary("GetRoom", rooms_pb2.GetRoomRequest(room=room)).room)

    # --- streams ---

    def watch(self, room: str, *, counts_only: bool = False, resume: bool = True, include_keepalive: bool = False, max_backoff: float = 10.0) -> Watch:
        """Streams ``room``: a :class:`Snapshot` first, then :class:`Joined`, :class:`Left`,
        :class:`Updated`, :class:`AnonymousChanged`, :class:`Typing`, :class:`Broadcast` (or
        :class:`CountsChanged` with ``counts_only``), and :class:`RoomEnded` last if the room is
        ended. With ``resume`` (default) a stream ended by the server (drain, restart, reset) is
        reopened from the last position; never after :class:`RoomEnded`."""

        def open_stream(resume_from):
            req = presence_pb2.WatchPresenceRequest(room=room, detail=c.detail(counts_only))
            if resume_from is not None:
                req.resume_from.CopyFrom(resume_from)
            return self._stub.WatchPresence(req, metadata=c.call_metadata(self._token))

        return Watch(open_stream, c.Position(), include_keepalive, resume, max_backoff)

    def watch_events(self, *, rooms=(), users=(), kinds=(), resume_after: str = "", resume: bool = True, include_keepalive: bool = False, max_backoff: float = 10.0) -> "ev.EventWatch":
        """Streams the deployment's backend events (``BackendService.WatchEvents``; service or
        admin token): :class:`~presence_client.events.BackendEvent` values, filtered by room and
        user patterns and kinds (``"member_added"``, …). It resumes by itself from its last
        ``cursor`` after a drain or restart; pass ``resume_after`` to continue a previous stream."""

        def open_stream(cursor: str):
            return self._backend.WatchEvents(ev.request(rooms, users, kinds, cursor), metadata=c.call_metadata(self._token))

        ev.request(rooms, users, kinds, resume_after)  # validate now, not on the first next()
        return ev.EventWatch(open_stream, resume_after, include_keepalive, resume, max_backoff)

    def watch_users(self, *user_ids: str) -> Iterator[t.StatusChanged]:
        """Streams status changes of users: one :class:`StatusChanged` per user first
        (``snapshot=True``), then one per change. Close it with ``.cancel()`` on the returned call's
        iterator or by breaking out of the loop and dropping it."""
        call = self._stub.WatchUsers(presence_pb2.WatchUsersRequest(user_ids=c.user_ids(user_ids)), metadata=c.call_metadata(self._token))
        return _UserWatch(call)

    def close(self) -> None:
        if self._own:
            self.channel.close()

    def __enter__(self) -> "PresenceClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _UserWatch(Iterator[t.StatusChanged]):
    def __init__(self, call) -> None:
        self._call, self._pending = call, []

    def __next__(self) -> t.StatusChanged:
        while not self._pending:
            try:
                self._pending.extend(c.user_watch_events(next(self._call)))
            except grpc.RpcError as err:
                if err.code() == grpc.StatusCode.CANCELLED:
                    raise StopIteration from None
                raise from_rpc_error(err) from None
        return self._pending.pop(0)

    def close(self) -> None:
        self._call.cancel()

    cancel = close

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_until_serving(target: str, timeout: float = 30.0) -> None:
    """Blocks until the RPC port answers (a GetPresence round trip), or raises after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Optional[Exception] = None
    while time.monotonic() < deadline:
        try:
            with PresenceClient(target, timeout=1.0) as client:
                client.count("/__ready__")
                return
        except PresenceError as err:  # any answer but "unavailable" means the port serves
            if err.code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return
            last = err
            time.sleep(0.1)
    raise TimeoutError(f"{target} did not answer within {timeout} s: {last}")
