"""The synchronous resuming stream loop shared by room watches (:class:`~presence_client.client.Watch`)
and backend event watches (:class:`~presence_client.events.EventWatch`)."""

from __future__ import annotations

import threading
from typing import Iterator, List

import grpc

from . import _calls as c
from .errors import from_rpc_error


class ResumingStream(Iterator[object]):
    """An iterator over a server stream that opens it again where it left off after the server
    drains, restarts or resets it (codes in ``RESUMABLE``), with jittered backoff; ``close()`` (or
    leaving a ``with`` block) ends it from any thread. Subclasses say where to resume
    (:meth:`_resume_arg`, passed to ``open_stream``), how a message becomes items (:meth:`_items`)
    and when nothing is left to resume (:meth:`_finished`). With ``resume=False`` the first end or
    error of the stream ends the iterator (errors as :class:`~presence_client.errors.PresenceError`)."""

    def __init__(self, open_stream, include_keepalive: bool, resume: bool, max_backoff: float) -> None:
        self._open, self._keep, self._resume = open_stream, include_keepalive, resume
        self._backoff = c.Backoff(cap=max_backoff)
        self._closed = threading.Event()
        self._call = None
        self._pending: List[object] = []

    def _resume_arg(self) -> object:
        raise NotImplementedError

    def _items(self, msg) -> List[object]:
        raise NotImplementedError

    def _finished(self) -> bool:
        return False

    def __iter__(self) -> "ResumingStream":
        return self

    def __next__(self) -> object:
        while not self._pending:
            if self._closed.is_set() or self._finished():
                raise StopIteration
            if self._call is None:
                self._call = self._open(self._resume_arg())
            try:
                msg = next(self._call)
            except StopIteration:
                self._call = None
                if not self._resume:
                    raise
                continue
            except grpc.RpcError as err:
                self._call = None
                if self._closed.is_set():
                    raise StopIteration from None
                if not self._resume or err.code() not in c.RESUMABLE:
                    raise from_rpc_error(err) from None
                self._closed.wait(self._backoff.next_delay())
                continue
            self._backoff.reset()
            self._pending.extend(self._items(msg))
        return self._pending.pop(0)

    def close(self) -> None:
        self._closed.set()
        if self._call is not None:
            self._call.cancel()

    def __enter__(self) -> "ResumingStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
