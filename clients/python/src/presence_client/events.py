"""Backend events (``BackendService.WatchEvents``): typed values and the resuming iterators used by
``PresenceClient.watch_events`` and ``AsyncPresenceClient.watch_events``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import AsyncIterator, Iterable, List, Optional

import grpc

from presence.v1 import backend_pb2

from . import _calls as c
from . import types as t
from ._resume import ResumingStream
from .errors import from_rpc_error

PREFIX = "BACKEND_EVENT_KIND_"
KINDS = tuple(name[len(PREFIX):].lower() for name in backend_pb2.BackendEventKind.keys() if name != PREFIX + "UNSPECIFIED")


@dataclass(frozen=True)
class BackendEvent:
    """One backend event: ``kind`` is ``member_added``, ``member_removed``, ``room_occupied``,
    ``room_vacated``, ``user_online``, ``user_away``, ``user_offline`` or ``broadcast``; ``id`` is
    stable across redeliveries (de-duplicate by it); ``detail`` is the protobuf detail message."""

    id: str
    kind: str
    time: Optional[datetime]
    room: str
    user_id: str
    cursor: str
    detail: object

    @staticmethod
    def from_pb(e: backend_pb2.BackendEvent, cursor: str) -> "BackendEvent":
        which = e.WhichOneof("detail")
        kind = backend_pb2.BackendEventKind.Name(e.kind)[len(PREFIX):].lower()
        return BackendEvent(e.id, kind, t.when(e.time_ms), e.room, e.user_id, cursor, getattr(e, which) if which else None)


@dataclass(frozen=True)
class EventsGap:
    """Events were missed (the resume cursor was older than the server's retention): re-read the
    state you rely on."""

    cursor: str


def request(rooms: Iterable[str], users: Iterable[str], kinds: Iterable[str], resume_after: str) -> backend_pb2.WatchEventsRequest:
    pb_kinds = []
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"kinds: {k!r} is not one of {', '.join(KINDS)}")
        pb_kinds.append(backend_pb2.BackendEventKind.Value(PREFIX + k.upper()))
    return backend_pb2.WatchEventsRequest(rooms=list(c.rooms_list(rooms)), users=list(c.rooms_list(users)), kinds=pb_kinds, resume_after=resume_after)


def convert(msg: backend_pb2.WatchEventsResponse, include_keepalive: bool) -> List[object]:
    kind = msg.WhichOneof("message")
    if kind == "event":
        return [BackendEvent.from_pb(msg.event, msg.cursor)]
    if kind == "gap":
        return [EventsGap(msg.cursor)]
    return [msg.keepalive] if include_keepalive else []


class EventWatch(ResumingStream):
    """Iterator of :class:`BackendEvent` (and :class:`EventsGap`), resuming from its last cursor
    after the server drains or restarts. ``close()`` ends it from any thread."""

    def __init__(self, open_stream, cursor: str, include_keepalive: bool, resume: bool, max_backoff: float) -> None:
        super().__init__(open_stream, include_keepalive, resume, max_backoff)
        self.cursor = cursor

    def _resume_arg(self) -> object:
        return self.cursor

    def _items(self, msg) -> List[object]:
        if msg.cursor:
            self.cursor = msg.cursor
        return convert(msg, self._keep)


async def watch_async(open_stream, cursor: str, include_keepalive: bool, resume: bool, max_backoff: float) -> AsyncIterator[object]:
    """The asyncio form of :class:`EventWatch` (an async generator; break or cancel to stop)."""
    backoff = c.Backoff(cap=max_backoff)
    while True:
        call = open_stream(cursor)
        try:
            async for msg in call:
                backoff.reset()
                if msg.cursor:
                    cursor = msg.cursor
                for item in convert(msg, include_keepalive):
                    yield item
            if not resume:
                return
        except grpc.aio.AioRpcError as err:
            if not resume or err.code() not in c.RESUMABLE:
                raise from_rpc_error(err) from None
            await asyncio.sleep(backoff.next_delay())
        finally:
            call.cancel()
