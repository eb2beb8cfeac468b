"""UDP heartbeats (``udp.proto``): keep a session alive with fire-and-forget datagrams instead of
Heartbeat RPCs, for mobile and embedded clients. The server must have UDP heartbeats on
(``PRESENCE_UDP_PORT``); the Join answer then carries the session's ``heartbeat_key`` and the
``udp_port``.

Each datagram is ``HeartbeatDatagram{body, mac}``: ``body`` is a serialized
``HeartbeatDatagramBody{session_id, timestamp_ms, activity}`` and ``mac`` is
``HMAC-SHA256(heartbeat_key, body)``. ``timestamp_ms`` is the sender's estimate of the server clock,
strictly increasing. Nothing is ever answered: a datagram the server drops (bad MAC, replay, too
frequent, expired session) is only counted on the server. So send a Heartbeat RPC every few
intervals as well (it raises ``SessionNotFound`` when the session is gone) and join again then.

    joined = presence.join("/chat/42")
    udp = UdpHeartbeats.from_join(joined, host="presence.example.com")
    while running:
        udp.send()                         # or udp.send("away")
        time.sleep(joined.session.heartbeat_interval_ms / 1000)
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from typing import Optional

from presence.v1 import udp_pb2

from .types import JoinResult, activity_to_pb

MAX_DATAGRAM_BYTES = 512


class UdpHeartbeats:
    """Sends UDP heartbeats for one session. Not thread-safe; one per session."""

    def __init__(self, host: str, port: int, session_id: str, heartbeat_key: bytes, server_offset_ms: int = 0) -> None:
        if len(heartbeat_key) != 32:
            raise ValueError("heartbeat_key: must be the 32-byte key of a Join answer (is UDP on? PRESENCE_UDP_PORT)")
        if not port:
            raise ValueError("port: the server's UDP heartbeat port is 0 (UDP heartbeats are off)")
        self._addr = (host, port)
        self._session_id = session_id
        self._key = bytes(heartbeat_key)
        self._offset_ms = server_offset_ms
        self._last_ts = 0
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)

    @classmethod
    def from_join(cls, joined: JoinResult, host: str) -> "UdpHeartbeats":
        """The sender of a joined session, to the server at ``host`` (its UDP port from the answer)."""
        return cls(host, joined.udp_port, joined.session.session_id, joined.heartbeat_key, joined.server_offset_ms)

    def datagram(self, activity: Optional[str] = None, timestamp_ms: Optional[int] = None) -> bytes:
        """The bytes of one datagram (strictly increasing timestamps unless one is given)."""
        if timestamp_ms is None:
            timestamp_ms = max(int(time.time() * 1000) + self._offset_ms, self._last_ts + 1)
            self._last_ts = timestamp_ms
        body = udp_pb2.HeartbeatDatagramBody(session_id=self._session_id, timestamp_ms=timestamp_ms, activity=activity_to_pb(activity)).SerializeToString()
        mac = hmac.new(self._key, body, hashlib.sha256).digest()
        data = udp_pb2.HeartbeatDatagram(body=body, mac=mac).SerializeToString()
        if len(data) > MAX_DATAGRAM_BYTES:
            raise ValueError(f"datagram: {len(data)} bytes, over the {MAX_DATAGRAM_BYTES}-byte limit (session id too long)")
        return data

    def send(self, activity: Optional[str] = None) -> None:
        """Sends one heartbeat (``"active"`` is an activity signal, ``"away"`` reports away)."""
        self._sock.sendto(self.datagram(activity), self._addr)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "UdpHeartbeats":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
