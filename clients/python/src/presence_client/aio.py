"""The asyncio client (``grpc.aio``): :class:`AsyncPresenceClient`, the same calls as
:class:`~presence_client.client.PresenceClient` as coroutines and async iterators.

    async with AsyncPresenceClient("127.0.0.1:8080", token=token) as presence:
        await presence.join("/chat/42", user="ana")
        async for event in presence.watch("/chat/42"):
            ...
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Dict, List, Mapping, Optional, Sequence, Tuple

import grpc
import grpc.aio

from presence.v1 import backend_pb2, backend_pb2_grpc, presence_pb2, presence_pb2_grpc, rooms_pb2, scopes_pb2

from . import _calls as c
from . import events as ev
from . import rooms_scopes as rs
from . import types as t
from .client import SessionLike
from .errors import from_rpc_error


class AsyncWatch(AsyncIterator[object]):
    """An async iterator of a room's typed events, resuming after a drain or restart."""

    def __init__(self, open_stream, position: c.Position, include_keepalive: bool, resume: bool, max_backoff: float) -> None:
        self._open, self._pos, self._keep, self._resume = open_stream, position, include_keepalive, resume
        self._backoff = c.Backoff(cap=max_backoff)
        self._closed = False
        self._call = None
        self._pending: List[object] = []

    def __aiter__(self) -> "AsyncWatch":
        return self

    async def __anext__(self) -> object:
        while not self._pending:
            if self._closed or self._pos.ended:  # after RoomEnded there is nothing to resume
                raise StopAsyncIteration
            if self._call is None:
                self._call = self._open(self._pos.resume_from())
            try:
                msg = await self._call.read()
            except grpc.aio.AioRpcError as err:
                self._call = None
                if self._closed or err.code() == grpc.StatusCode.CANCELLED and self._closed:
                    raise StopAsyncIteration from None
                if not self._resume or err.code() not in c.RESUMABLE:
                    raise from_rpc_error(err) from None
                await asyncio.sleep(self._backoff.next_delay())
                continue
            except asyncio.CancelledError:
                self.close()
                raise
            if msg is grpc.aio.EOF:
                self._call = None
                if not self._resume:
                    raise StopAsyncIteration
                continue
            self._backoff.reset()
            self._pending.extend(self._pos.convert(msg, self._keep))
        return self._pending.pop(0)

    def close(self) -> None:
        self._closed = True
        if self._call is not None:
            self._call.cancel()

    async def __aenter__(self) -> "AsyncWatch":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class AsyncPresenceClient:
    """A client of ``presence.v1.PresenceService`` over one ``grpc.aio`` channel; arguments as
    :class:`~presence_client.client.PresenceClient`. Create it inside a running event loop."""

    def __init__(
        self,
        target: str = "127.0.0.1:8080",
        *,
        token: c.TokenSource = None,
        credentials: Optional[grpc.ChannelCredentials] = None,
        timeout: float = 10.0,
        options: Sequence[tuple] = (),
        channel: Optional[grpc.aio.Channel] = None,
    ) -> None:
        self._own = channel is None
        self.channel = channel or (grpc.aio.secure_channel(target, credentials, options) if credentials else grpc.aio.insecure_channel(target, options))
        self._stub = presence_pb2_grpc.PresenceServiceStub(self.channel)
        self._backend = backend_pb2_grpc.BackendServiceStub(self.channel)
        self._token = token
        self.timeout = timeout

    async def _unary(self, method, request, stub=None):
        try:
            return await getattr(stub or self._stub, method)(request, timeout=self.timeout, metadata=c.call_metadata(self._token))
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err) from None

    async def join(self, room: str, *, metadata: Optional[Mapping[str, str]] = None, user: Optional[t.UserLike] = None, session: Optional[SessionLike] = None, resume_secret: Optional[str] = None, activity: Optional[str] = None, request_id: Optional[str] = None, anonymous_id: Optional[str] = None, scopes: Optional[Sequence[str]] = None) -> t.JoinResult:
        req = c.join_request(room, metadata=metadata, user=user, session=session, resume_secret=resume_secret, activity=activity, request_id=request_id, anonymous_id=anonymous_id, scopes=scopes)
        return t.JoinResult.from_pb(await self._unary("Join", req))

    async def leave(self, session: SessionLike, room: str) -> bool:
        return (await self._unary("Leave", presence_pb2.LeaveRequest(session_id=c.session_id_of(session), room=room))).left

    async def heartbeat(self, session: SessionLike, activity: Optional[str] = None) -> t.Lease:
        req = presence_pb2.HeartbeatRequest(session_id=c.session_id_of(session), activity=t.activity_to_pb(activity))
        return t.Lease.from_pb((await self._unary("Heartbeat", req)).lease)

    async def heartbeat_many(self, sessions, activity: Optional[str] = None):
        """As :meth:`PresenceClient.heartbeat_many`."""
        req = backend_pb2.HeartbeatBatchRequest(heartbeats=[presence_pb2.HeartbeatRequest(session_id=c.session_id_of(s), activity=t.activity_to_pb(activity)) for s in sessions])
        return [c.batch_item(r, "lease", t.Lease.from_pb) for r in (await self._unary("HeartbeatBatch", req, self._backend)).results]

    async def leave_many(self, leaves):
        """As :meth:`PresenceClient.leave_many`."""
        req = backend_pb2.LeaveBatchRequest(leaves=[backend_pb2.LeaveBatchItem(session_id=c.session_id_of(s), room=room) for s, room in leaves])
        return [c.batch_item(r, "left", lambda v: v.left) for r in (await self._unary("LeaveBatch", req, self._backend)).results]

    async def set_status(self, session: SessionLike, *, custom_status: Optional[str] = None, invisible: Optional[bool] = None) -> t.UserStatus:
        return t.UserStatus.from_pb((await self._unary("SetStatus", c.status_request(session, custom_status, invisible))).status)

    async def broadcast(self, room: str, type: str, payload: object = None, *, session: Optional[SessionLike] = None) -> int:
        return (await self._unary("Broadcast", c.broadcast_request(room, type, payload, session))).local_watchers

    async def get_presence(self, room: str, *, counts_only: bool = False) -> t.RoomView:
        return t.RoomView.from_pb((await self._unary("GetPresence", presence_pb2.GetPresenceRequest(room=room, detail=c.detail(counts_only)))).view)

    async def list(self, room: str) -> List[t.Member]:
        return list((await self.get_presence(room)).members)

    async def count(self, room: str) -> t.Counts:
        return (await self.get_presence(room, counts_only=True)).counts

    async def batch_get(self, rooms, *, counts_only: bool = False) -> Dict[str, t.RoomView]:
        resp = await self._unary("BatchGetPresence", presence_pb2.BatchGetPresenceRequest(rooms=c.rooms_list(rooms), detail=c.detail(counts_only)))
        return {v.room: t.RoomView.from_pb(v) for v in resp.views}

    async def user_status(self, *user_ids: str) -> Dict[str, t.UserStatus]:
        return c.statuses(await self._unary("GetUserStatus", presence_pb2.GetUserStatusRequest(user_ids=c.user_ids(user_ids))))

    async def list_online(self, scope: str = "", *, page_size: int = 50, page_token: str = "") -> rs.OnlinePage:
        req = scopes_pb2.ListOnlineRequest(scope=scope, page_size=page_size, page_token=page_token)
        return rs.OnlinePage.from_pb(await self._unary("ListOnline", req))

    async def iter_online(self, scope: str = "", *, page_size: int = 50) -> AsyncIterator[rs.OnlineUser]:
        token = ""
        while True:
            page = await self.list_online(scope, page_size=page_size, page_token=token)
            for user in page.users:
                yield user
            token = page.next_page_token
            if not token:
                return

    async def count_online(self, *scopes: str) -> rs.OnlineCounts:
        return rs.OnlineCounts.from_pb(await self._unary("CountOnline", scopes_pb2.CountOnlineRequest(scopes=rs.scopes_list(scopes))))

    async def create_room(self, room: str, *, metadata: Optional[Mapping[str, str]] = None, max_participants: int = 0, idle_timeout_ms: int = 0, away_after_ms: int = 0, owner: str = "") -> rs.RoomInfo:
        req = rs.create_room_request(room, metadata, max_participants, idle_timeout_ms, away_after_ms, owner)
        return rs.RoomInfo.from_pb((await self._unary("CreateRoom", req)).room)

    async def update_room(self, room: str, *, metadata: Optional[Mapping[str, str]] = None, max_participants: Optional[int] = None, idle_timeout_ms: Optional[int] = None, away_after_ms: Optional[int] = None, owner: Optional[str] = None) -> rs.RoomInfo:
        req = rs.update_room_request(room, metadata, max_participants, idle_timeout_ms, away_after_ms, owner)
        return rs.RoomInfo.from_pb((await self._unary("UpdateRoom", req)).room)

    async def end_room(self, room: str, reason: str = "") -> Tuple[rs.RoomInfo, int]:
        resp = await self._unary("EndRoom", rooms_pb2.EndRoomRequest(room=room, reason=reason))
        return rs.RoomInfo.from_pb(resp.room), resp.connections_removed

    async def get_room(self, room: str) -> rs.RoomInfo:
        return rs.RoomInfo.from_pb((await self._unary("GetRoom", rooms_pb2.GetRoomRequest(room=room))).room)

    def watch(self, room: str, *, counts_only: bool = False, resume: bool = True, include_keepalive: bool = False, max_backoff: float = 10.0) -> AsyncWatch:
        def open_stream(resume_from):
            req = presence_pb2.WatchPresenceRequest(room=room, detail=c.detail(counts_only))
            if resume_from is not None:
                req.resume_from.CopyFrom(resume_from)
            return self._stub.WatchPresence(req, metadata=c.call_metadata(self._token))

        return AsyncWatch(open_stream, c.Position(), include_keepalive, resume, max_backoff)

    def watch_events(self, *, rooms=(), users=(), kinds=(), resume_after: str = "", resume: bool = True, include_keepalive: bool = False, max_backoff: float = 10.0):
        """As :meth:`PresenceClient.watch_events`, an async generator."""

        def open_stream(cursor: str):
            return self._backend.WatchEvents(ev.request(rooms, users, kinds, cursor), metadata=c.call_metadata(self._token))

        ev.request(rooms, users, kinds, resume_after)
        return ev.watch_async(open_stream, resume_after, include_keepalive, resume, max_backoff)

    async def watch_users(self, *user_ids: str) -> AsyncIterator[t.StatusChanged]:
        """Async generator of :class:`StatusChanged` (the snapshot first); break to stop."""
        call = self._stub.WatchUsers(presence_pb2.WatchUsersRequest(user_ids=c.user_ids(user_ids)), metadata=c.call_metadata(self._token))
        try:
            async for msg in call:
                for event in c.user_watch_events(msg):
                    yield event
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err) from None
        finally:
            call.cancel()

    async def close(self) -> None:
        if self._own:
            await self.channel.close()

    async def __aenter__(self) -> "AsyncPresenceClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
