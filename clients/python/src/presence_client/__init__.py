"""Python client of the presence service ("who is here now").

- :class:`PresenceClient` (sync, ``grpc``) and :class:`AsyncPresenceClient` (asyncio, ``grpc.aio``):
  join / leave / heartbeat, ``list`` / ``count`` of a room, ``watch`` (typed events, resumed after a
  restart), ``user_status`` / ``watch_users``, ``set_status``, ``broadcast``; scopes
  (``list_online`` / ``iter_online`` / ``count_online``) and managed rooms (``create_room`` /
  ``update_room`` / ``end_room`` / ``get_room``);
- :class:`Tracker`: one Track stream per backend process that keeps any number of presences alive
  (no heartbeats), reconnecting with backoff and reclaiming or re-tracking them;
- :mod:`presence_client.tokens`: mint user, service and admin tokens with PyJWT;
- :mod:`presence_client.errors`: one exception class per status code and common reason, carrying
  the server's reason code, the field and the limit.

The generated stubs are importable too: ``from presence.v1 import presence_pb2, presence_pb2_grpc``.
"""

from . import errors, events, tokens, types, webhooks
from .events import BackendEvent, EventsGap
from .aio import AsyncPresenceClient, AsyncWatch
from .client import PresenceClient, Watch, wait_until_serving
from .errors import PresenceError
from .tracker import Tracker, TrackResult
from .rooms_scopes import OnlineCounts, OnlinePage, OnlineUser, RoomInfo, ScopeCount
from .tokens import admin_token, mint_token, service_token, user_token
from .types import (
    AnonymousChanged,
    Broadcast,
    Connection,
    Counts,
    CountsChanged,
    Joined,
    JoinResult,
    Lease,
    Left,
    Member,
    RoomEnded,
    RoomView,
    Session,
    Snapshot,
    StatusChanged,
    Typing,
    Updated,
    User,
    UserStatus,
)

__version__ = "0.1.0"

__all__ = [
    "AnonymousChanged",
    "BackendEvent",
    "EventsGap",
    "events",
    "AsyncPresenceClient",
    "AsyncWatch",
    "Broadcast",
    "Connection",
    "Counts",
    "CountsChanged",
    "JoinResult",
    "Joined",
    "Lease",
    "Left",
    "Member",
    "PresenceClient",
    "PresenceError",
    "OnlineCounts",
    "OnlinePage",
    "OnlineUser",
    "RoomEnded",
    "RoomInfo",
    "RoomView",
    "ScopeCount",
    "Session",
    "Snapshot",
    "StatusChanged",
    "TrackResult",
    "Tracker",
    "Typing",
    "Updated",
    "User",
    "UserStatus",
    "Watch",
    "admin_token",
    "errors",
    "mint_token",
    "service_token",
    "tokens",
    "types",
    "user_token",
    "webhooks",
    "wait_until_serving",
]
