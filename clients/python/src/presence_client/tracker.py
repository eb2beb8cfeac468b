"""The Tracker: one Track stream per backend process (``BackendService.Track``), kept open by a
background thread, reconnecting with jittered exponential backoff.

    from presence_client import Tracker, service_token

    tracker = Tracker("127.0.0.1:8080", token=service_token(SECRET, "django"))
    tracker.start()
    tracker.track("ws-81f2", "/docs/intro", user="ana", metadata={"color": "#e11"})
    ...
    tracker.untrack("ws-81f2")          # one room, or every room of the key
    tracker.close()                      # every presence leaves now

While the stream is open the server keeps every tracked presence alive: no heartbeats. The
Tracker remembers what it tracks (key → user, activity, rooms and metadata). When the stream
breaks it reconnects and opens with its tracker id and secret: within the server's reconnect grace
the server reclaims every presence with no leave/join, and the Tracker reconciles the few changes
made meanwhile; after a server restart (or on another node) it tracks everything again. Calls
block until the server answered (their result is the one the unary call would give) and survive a
reconnect: a call made while disconnected is applied once the stream is back.
"""

from __future__ import annotations

import itertools
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional, Tuple

import grpc

from presence.v1 import backend_pb2, backend_pb2_grpc

from . import _calls as c
from . import types as t
from .errors import PresenceError, error_from_item, from_rpc_error

_CLOSE = object()


@dataclass(frozen=True)
class TrackResult:
    connection_id: str
    changed: bool
    view: t.RoomView


@dataclass
class _Key:
    user: Optional[t.User]
    activity: Optional[str]
    rooms: Dict[str, Dict[str, str]] = field(default_factory=dict)


class _Broken(Exception):
    """The stream ended while a request waited for its answer."""


class Tracker:
    """See the module documentation. ``on_lost(key)`` runs (on the tracker's thread) when the server
    ends a presence the Tracker did not untrack (an operator kicked it)."""

    def __init__(
        self,
        target: str = "127.0.0.1:8080",
        *,
        token: c.TokenSource = None,
        tracker_id: str = "",
        credentials: Optional[grpc.ChannelCredentials] = None,
        options=(),
        timeout: float = 30.0,
        max_backoff: float = 10.0,
        on_lost: Optional[Callable[[str], None]] = None,
    ) -> None:
        self._channel = grpc.secure_channel(target, credentials, options) if credentials else grpc.insecure_channel(target, options)
        self._stub = backend_pb2_grpc.BackendServiceStub(self._channel)
        self._token = token
        self.tracker_id = tracker_id
        self._secret = ""
        self.timeout = timeout
        self._backoff = c.Backoff(cap=max_backoff)
        self._on_lost = on_lost
        self._keys: Dict[str, _Key] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._pending: Dict[int, Future] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._out: Optional[queue.Queue] = None
        self._call = None
        self._thread: Optional[threading.Thread] = None
        #: Times a stream was opened (1 after start, +1 per reconnect) and how many reclaimed.
        self.connects = 0
        self.resumed_connects = 0

    # --- lifecycle ---

    def start(self, wait: bool = True) -> "Tracker":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="presence-tracker", daemon=True)
            self._thread.start()
        if wait and not self._ready.wait(self.timeout):
            raise TimeoutError(f"tracker: not connected within {self.timeout} s")
        return self

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    def wait_connected(self, timeout: Optional[float] = None) -> bool:
        return self._ready.wait(self.timeout if timeout is None else timeout)

    def reconnect(self) -> None:
        """Drops the current stream (as a network loss would); the Tracker reconnects by itself."""
        call = self._call
        if call is not None:
            call.cancel()

    def close(self) -> int:
        """Ends cleanly: every presence leaves at once. Returns how many presences left. Idempotent:
        closing a closed (or abandoned) tracker returns 0 at once."""
        if self._stop.is_set() or self._thread is None:
            self._stop.set()
            return 0
        left = 0
        if self._ready.wait(self.timeout):
            try:
                left = self._request("close", backend_pb2.TrackClose()).closed.left
            except (PresenceError, _Broken, TimeoutError):
                pass
        self._shutdown()
        with self._lock:
            self._keys.clear()
        return left

    def abandon(self) -> None:
        """Stops without leaving: the presences enter the server's reconnect grace."""
        self._shutdown()

    def _shutdown(self) -> None:
        self._stop.set()
        self._ready.clear()
        if self._out is not None:
            self._out.put(_CLOSE)
        if self._call is not None:
            self._call.cancel()
        if self._thread is not None:
            self._thread.join(self.timeout)
        self._channel.close()

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- presences ---

    def track(self, key: str, room: str, *, user: Optional[t.UserLike] = None, metadata: Optional[Mapping[str, str]] = None, activity: Optional[str] = None, include_members: bool = False) -> TrackResult:
        """Tracks ``key`` (one connection of your backend) in ``room``; ``user`` (id or
        :class:`User`) is who it is, needs a service token."""
        u = t.User(user) if isinstance(user, str) else user
        md = dict(metadata or {})
        msg = backend_pb2.TrackPresence(key=key, room=room, metadata=md, activity=t.activity_to_pb(activity), include_members=include_members)
        if u is not None:
            msg.user.CopyFrom(u.to_pb())
        with self._lock:
            k = self._keys.setdefault(key, _Key(u, activity))
            had = room in k.rooms
            k.rooms[room] = md
        try:
            r = self._request("track", msg).tracked
        except PresenceError:
            with self._lock:
                k = self._keys.get(key)
                if k is not None and not had:
                    k.rooms.pop(room, None)
                    if not k.rooms:
                        self._keys.pop(key, None)
            raise
        return TrackResult(r.connection_id, r.changed, t.RoomView.from_pb(r.view))

    def untrack(self, key: str, room: Optional[str] = None) -> bool:
        """Stops tracking ``key`` in ``room`` (every room when omitted). False when it was not tracked there."""
        with self._lock:
            k = self._keys.get(key)
            if k is None or (room is not None and room not in k.rooms):
                return False
            if room is None:
                self._keys.pop(key)
            else:
                k.rooms.pop(room)
                if not k.rooms:
                    self._keys.pop(key)
        try:
            return self._request("untrack", backend_pb2.UntrackPresence(key=key, room=room or "")).untracked.left
        except PresenceError as e:
            if e.reason == "PRESENCE_NOT_FOUND":  # already gone on the server (e.g. re-synced meanwhile)
                return False
            raise

    def update(self, key: str, room: str, metadata: Mapping[str, str]) -> TrackResult:
        md = dict(metadata)
        with self._lock:
            k = self._keys.get(key)
            if k is None or room not in k.rooms:
                raise KeyError(f"key {key!r} is not tracked in room {room!r}")
            k.rooms[room] = md
        r = self._request("update", backend_pb2.UpdateTrackedPresence(key=key, room=room, metadata=md)).updated
        return TrackResult(r.connection_id, r.changed, t.RoomView.from_pb(r.view))

    def set_activity(self, key: str, activity: str) -> None:
        with self._lock:
            k = self._keys.get(key)
            if k is None:
                raise KeyError(f"key {key!r} is not tracked")
            k.activity = activity
        self._request("set_activity", backend_pb2.SetTrackedActivity(key=key, activity=t.activity_to_pb(activity)))

    def tracked(self) -> Dict[str, Tuple[str, ...]]:
        """What the Tracker tracks: key → rooms."""
        with self._lock:
            return {key: tuple(k.rooms) for key, k in self._keys.items()}

    # --- the stream ---

    def _request(self, kind: str, msg, *, wait_ready: bool = True):
        """Sends one request and waits for its answer, resending it after a reconnect."""
        while not self._stop.is_set():
            if wait_ready and not self._ready.wait(self.timeout):
                raise TimeoutError(f"tracker: not connected within {self.timeout} s")
            try:
                return self._send(kind, msg).result(self.timeout)
            except _Broken:
                continue
        raise _Broken("tracker closed")

    def _send(self, kind: str, msg) -> Future:
        out = self._out
        if out is None:
            raise _Broken("no stream")
        rid = next(self._ids)
        fut: Future = Future()
        self._pending[rid] = fut
        req = backend_pb2.TrackRequest(request_id=rid)
        getattr(req, kind).CopyFrom(msg)
        out.put(req)
        return fut

    def _run(self) -> None:
        while not self._stop.is_set():
            out: queue.Queue = queue.Queue()
            self._out = out

            def requests():
                while True:
                    item = out.get()
                    if item is _CLOSE:
                        return
                    yield item

            try:
                self._call = self._stub.Track(requests(), metadata=c.call_metadata(self._token))
                reader = threading.Thread(target=self._read, args=(self._call,), daemon=True)
                out.put(backend_pb2.TrackRequest(open=backend_pb2.TrackOpen(tracker_id=self.tracker_id, tracker_secret=self._secret)))
                opened = next(self._call)
                if opened.WhichOneof("message") != "opened":
                    raise RuntimeError(f"tracker: expected opened, got {opened.WhichOneof('message')}")
                reclaimed = self._read_reclaimed(self._call, opened.opened)
                reader.start()
                self._resync(opened.opened, reclaimed)
                self.connects += 1
                self.resumed_connects += int(opened.opened.resumed)
                self._backoff.reset()
                self._ready.set()
                reader.join()
            except grpc.RpcError as err:
                exc = from_rpc_error(err)
                if exc.reason == "TRACKER_CONFLICT":  # our id is held by someone else: start a new tracker
                    self.tracker_id, self._secret = "", ""
            except (PresenceError, _Broken, StopIteration, TimeoutError, RuntimeError):
                pass
            finally:
                self._ready.clear()
                out.put(_CLOSE)
                self._out = None
                for fut in list(self._pending.values()):
                    if not fut.done():
                        fut.set_exception(_Broken("stream ended"))
                self._pending.clear()
            if not self._stop.is_set():
                self._stop.wait(self._backoff.next_delay())

    def _read_reclaimed(self, call, opened) -> Dict[str, Dict[str, Dict[str, str]]]:
        if opened.tracker_secret:
            self.tracker_id, self._secret = opened.tracker_id, opened.tracker_secret
        server: Dict[str, Dict[str, Dict[str, str]]] = {}
        remaining = opened.reclaimed
        while remaining > 0:
            page = next(call)
            for p in page.reclaimed.presences:
                server.setdefault(p.key, {})[p.room] = dict(p.connection.metadata)
                remaining -= 1
            if page.reclaimed.last:
                break
        if not opened.resumed:
            self.tracker_id = opened.tracker_id
        return server

    def _resync(self, opened, server: Dict[str, Dict[str, Dict[str, str]]]) -> None:
        """Makes the server's presences equal to ours: extra ones untracked, missing ones tracked."""
        with self._lock:
            desired = {key: (k.user, k.activity, dict(k.rooms)) for key, k in self._keys.items()}
        futures = []
        for key, rooms in server.items():
            want = desired.get(key, (None, None, {}))[2]
            for room in rooms:
                if room not in want:
                    futures.append(self._send("untrack", backend_pb2.UntrackPresence(key=key, room=room)))
        for key, (user, activity, rooms) in desired.items():
            for room, md in rooms.items():
                if server.get(key, {}).get(room) != md:
                    msg = backend_pb2.TrackPresence(key=key, room=room, metadata=md, activity=t.activity_to_pb(activity))
                    if user is not None:
                        msg.user.CopyFrom(user.to_pb())
                    futures.append(self._send("track", msg))
        for fut in futures:
            try:
                fut.result(self.timeout)
            except PresenceError:
                pass  # refused now (e.g. rights changed): the caller learns on its next call

    def _read(self, call) -> None:
        try:
            for res in call:
                kind = res.WhichOneof("message")
                if res.request_id and res.request_id in self._pending:
                    fut = self._pending.pop(res.request_id)
                    if kind == "error":
                        fut.set_exception(error_from_item(res.error))
                    else:
                        fut.set_result(res)
                elif kind == "lost":
                    with self._lock:
                        self._keys.pop(res.lost.key, None)
                    if self._on_lost is not None:
                        self._on_lost(res.lost.key)
        except grpc.RpcError:
            pass
