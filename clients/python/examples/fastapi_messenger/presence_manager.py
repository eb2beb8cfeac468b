"""Connection hooks of a FastAPI messenger (the seed's ConnectionManager) on the presence service:
``connect`` / ``disconnect`` per WebSocket, with ``on_first_connect`` / ``on_last_disconnect`` fired
once per user (a second tab is not a new arrival, closing one of two tabs is not a departure).

The presence service keeps the truth: every WebSocket is one presence on the process's Track
stream (no heartbeats; a crashed process's users go offline after the reconnect grace), a user's
status is online while any of their connections is, and ``last_seen`` is kept for 30 days. This
module needs no FastAPI import; ``app.py`` wires it to a WebSocket endpoint.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Awaitable, Callable, Dict, List, Optional, Set

from presence_client import AsyncPresenceClient, Tracker, UserStatus

Hook = Callable[[str], Awaitable[None]]


class PresenceManager:
    def __init__(self, target: str, token: str, *, on_first_connect: Optional[Hook] = None, on_last_disconnect: Optional[Hook] = None) -> None:
        self._tracker = Tracker(target, token=token)
        self._target, self._token = target, token
        self._client: Optional[AsyncPresenceClient] = None
        self._connections: Dict[str, Set[str]] = {}
        self._lock = asyncio.Lock()
        self.on_first_connect, self.on_last_disconnect = on_first_connect, on_last_disconnect

    async def start(self) -> None:
        await asyncio.to_thread(self._tracker.start)
        self._client = AsyncPresenceClient(self._target, token=self._token)

    async def stop(self) -> None:
        await asyncio.to_thread(self._tracker.close)
        if self._client is not None:
            await self._client.close()

    async def connect(self, user_id: str, *, zone: Optional[str] = None, name: str = "") -> str:
        """Registers one WebSocket of ``user_id``; returns its connection key (pass it to disconnect)."""
        key = f"ws-{uuid.uuid4().hex}"
        room = f"zone:{zone}" if zone else "global"
        await asyncio.to_thread(self._tracker.track, key, room, user=user_id, metadata={"name": name})
        async with self._lock:
            conns = self._connections.setdefault(user_id, set())
            first = not conns
            conns.add(key)
        if first and self.on_first_connect is not None:
            await self.on_first_connect(user_id)
        return key

    async def disconnect(self, user_id: str, key: str) -> None:
        await asyncio.to_thread(self._tracker.untrack, key)
        async with self._lock:
            conns = self._connections.get(user_id, set())
            conns.discard(key)
            last = not conns
            if last:
                self._connections.pop(user_id, None)
        if last and self.on_last_disconnect is not None:
            await self.on_last_disconnect(user_id)

    async def statuses(self, *user_ids: str) -> Dict[str, UserStatus]:
        assert self._client is not None, "start() first"
        return await self._client.user_status(*user_ids)

    async def online_in(self, zone: Optional[str] = None) -> List[str]:
        assert self._client is not None, "start() first"
        return [m.user_id for m in await self._client.list(f"zone:{zone}" if zone else "global")]
