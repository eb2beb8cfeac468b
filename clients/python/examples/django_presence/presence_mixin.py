"""A presence mixin for Django (LiveView-style) views, in the spirit of djust's PresenceMixin,
backed by the presence service instead of the channel layer and Redis keys.

    class DocumentView(PresenceMixin, LiveView):
        presence_key = "document:{doc_id}"

        def mount(self, request, **kwargs):
            self.doc_id = kwargs["doc_id"]
            self.track_presence(meta={"name": request.user.username, "color": "#6c63ff"})

        def get_context_data(self, **kwargs):
            ctx = super().get_context_data(**kwargs)
            ctx["presences"] = self.list_presences()
            ctx["presence_count"] = self.presence_count()
            return ctx

        def handle_presence_join(self, presence): ...
        def handle_presence_leave(self, presence): ...

What the presence service does for it: one Track stream per process (a shared
:class:`presence_client.Tracker`) keeps every view's presence alive with no heartbeats and
survives restarts; ``list_presences`` / ``presence_count`` read the room; join and leave callbacks
come from a watch of the room (``first_of_user`` / ``last_of_user``: a user with two tabs joins
once). Nothing here imports Django: settings come from ``configure()`` (call it from your
``AppConfig.ready``) or from the environment (PRESENCE_TARGET, PRESENCE_JWT_SECRET).
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any, Dict, List, Optional

from presence_client import Joined, Left, PresenceClient, Snapshot, Tracker, service_token

_lock = threading.Lock()
_shared: Dict[str, Any] = {}


def configure(target: Optional[str] = None, secret: Optional[str] = None, service: str = "django") -> None:
    """Creates the process-wide Tracker and client (idempotent)."""
    with _lock:
        if "tracker" in _shared:
            return
        target = target or os.environ.get("PRESENCE_TARGET", "127.0.0.1:8080")
        token = service_token(secret or os.environ["PRESENCE_JWT_SECRET"], service)
        _shared["tracker"] = Tracker(target, token=token).start()
        _shared["client"] = PresenceClient(target, token=token)


def shutdown() -> None:
    """Closes the shared stream (every presence of this process leaves now)."""
    with _lock:
        tracker, client = _shared.pop("tracker", None), _shared.pop("client", None)
    if tracker is not None:
        tracker.close()
    if client is not None:
        client.close()


def _get(name: str):
    if name not in _shared:
        configure()
    return _shared[name]


class PresenceMixin:
    presence_key: str = "presence:{id}"

    # --- identity (override as in djust) ---

    def get_presence_key(self) -> str:
        return self.presence_key.format(**vars(self))

    def get_presence_user_id(self) -> str:
        user = getattr(getattr(self, "request", None), "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return str(user.pk)
        return f"anon_{getattr(getattr(self, 'request', None), 'session_key', None) or uuid.uuid4().hex}"

    # --- tracking ---

    def track_presence(self, meta: Optional[Dict[str, Any]] = None) -> None:
        """Tracks this view (one connection of the user) in its presence group, and starts
        delivering join/leave callbacks."""
        self._presence_conn = getattr(self, "_presence_conn", None) or f"view-{uuid.uuid4().hex}"
        room = self.get_presence_key()
        metadata = {str(k): str(v) for k, v in (meta or {}).items()}
        _get("tracker").track(self._presence_conn, room, user=self.get_presence_user_id(), metadata=metadata)
        self._presence_room = room
        if type(self).handle_presence_join is not PresenceMixin.handle_presence_join or type(self).handle_presence_leave is not PresenceMixin.handle_presence_leave:
            self._start_presence_watch(room)

    def untrack_presence(self) -> None:
        """Stops tracking (call it when the view's socket disconnects)."""
        conn = getattr(self, "_presence_conn", None)
        if conn is not None:
            _get("tracker").untrack(conn)
        watch = getattr(self, "_presence_watch", None)
        if watch is not None:
            watch.close()
            self._presence_watch = None

    def list_presences(self) -> List[Dict[str, str]]:
        """One dict per connection in the group: its metadata plus ``user_id``."""
        out = []
        for member in _get("client").list(self.get_presence_key()):
            for conn in member.connections:
                out.append({**conn.metadata, "user_id": member.user_id})
        return out

    def presence_count(self) -> int:
        """Distinct users in the group (two tabs of one user count once)."""
        return _get("client").count(self.get_presence_key()).users

    # --- callbacks ---

    def handle_presence_join(self, presence: Dict[str, str]) -> None:
        """A user joined the group (their first connection). Override."""

    def handle_presence_leave(self, presence: Dict[str, str]) -> None:
        """A user left the group (their last connection). Override."""

    def _start_presence_watch(self, room: str) -> None:
        if getattr(self, "_presence_watch", None) is not None:
            return
        watch = _get("client").watch(room)
        self._presence_watch = watch
        first = next(watch)  # the snapshot: callbacks are for changes after it
        assert isinstance(first, Snapshot)

        def run() -> None:
            for event in watch:
                if isinstance(event, Joined) and event.first_of_user:
                    self.handle_presence_join({**event.connection.metadata, "user_id": event.user.user_id})
                elif isinstance(event, Left) and event.last_of_user:
                    self.handle_presence_leave({"user_id": event.user_id, "reason": event.reason})

        threading.Thread(target=run, name=f"presence-watch {room}", daemon=True).start()
