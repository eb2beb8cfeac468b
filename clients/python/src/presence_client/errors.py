"""Errors of the presence service as Python exceptions.

Every failed call raises a :class:`PresenceError` (a subclass per gRPC status code, and per reason
for the reasons callers usually handle). It carries the server's reason code (``reason``, the name
of a ``presence.v1.ErrorReason`` value without its prefix, e.g. ``"SESSION_NOT_FOUND"``, and
``reason_value``, its number), the message (which names the field and the limit), the ``field``,
``limit`` and ``actual`` values from ``google.rpc.ErrorInfo``, the ``google.rpc.BadRequest`` field
violations, and ``retry``: what a client should do next (``"never"``, ``"backoff"``, ``"rejoin"``,
``"new_token"``), as in the server's error table (docs/errors.md).
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Tuple, Type

import grpc

from presence.v1 import errors_pb2

try:  # the usual home of google.rpc, when installed (googleapis-common-protos)
    from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-not-found]
except ImportError:  # our private copy, generated from vendor/proto (buf.gen.python-rpc.yaml)
    from presence_client._vendor.google.rpc import error_details_pb2, status_pb2  # type: ignore[no-redef]

ERROR_DOMAIN = "presence.v1"
_DETAILS_KEY = "grpc-status-details-bin"


class PresenceError(Exception):
    """A call to the presence service failed."""

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode = grpc.StatusCode.UNKNOWN,
        reason: str = "",
        metadata: Optional[Mapping[str, str]] = None,
        violations: Tuple[Tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The gRPC status code (``grpc.StatusCode``).
        self.code = code
        #: The reason, e.g. ``"SESSION_NOT_FOUND"``; empty when the error carried none (for
        #: example one raised by the RPC layer or a proxy).
        self.reason = reason
        #: ``ErrorInfo.metadata``: ``field``, ``limit``, ``actual`` when the server set them.
        self.metadata: Dict[str, str] = dict(metadata or {})
        #: ``BadRequest`` field violations as ``(field, description)`` pairs.
        self.violations = violations

    @property
    def reason_value(self) -> int:
        """The ``presence.v1.ErrorReason`` number of ``reason`` (0 when unknown or absent)."""
        try:
            return errors_pb2.ErrorReason.Value("ERROR_REASON_" + self.reason) if self.reason else 0
        except ValueError:
            return 0

    @property
    def field(self) -> Optional[str]:
        return self.metadata.get("field")

    @property
    def limit(self) -> Optional[int]:
        v = self.metadata.get("limit")
        return int(v) if v is not None and v.lstrip("-").isdigit() else None

    @property
    def actual(self) -> Optional[int]:
        v = self.metadata.get("actual")
        return int(v) if v is not None and v.lstrip("-").isdigit() else None

    @property
    def retry(self) -> str:
        """What to do next: ``never``, ``backoff``, ``rejoin`` or ``new_token``."""
        return _REASON_RETRY.get(self.reason) or _CODE_RETRY.get(self.code, "never")

    @property
    def retryable(self) -> bool:
        return self.retry != "never"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.name}, reason={self.reason!r}, message={self.message!r})"


# One class per gRPC status code the service answers with.
class InvalidArgument(PresenceError):
    pass


class NotFound(PresenceError):
    pass


class AlreadyExists(PresenceError):
    pass


class PermissionDenied(PresenceError):
    pass


class ResourceExhausted(PresenceError):
    pass


class FailedPrecondition(PresenceError):
    pass


class Aborted(PresenceError):
    pass


class Unauthenticated(PresenceError):
    pass


class Unavailable(PresenceError):
    pass


class DeadlineExceeded(PresenceError):
    pass


class Cancelled(PresenceError):
    pass


class Unimplemented(PresenceError):
    pass


class Internal(PresenceError):
    pass


# Reasons callers handle on their own.
class SessionNotFound(NotFound):
    """The session is unknown, expired, reaped or not the caller's: join again."""


class TokenExpired(Unauthenticated):
    """The token is past its ``exp``: call again with a fresh one."""


class Draining(Unavailable):
    """The node is shutting down: retry (another node answers)."""


class StoreUnavailable(Unavailable):
    """The presence store cannot be reached: retry with backoff."""


class RateLimited(ResourceExhausted):
    """Sent faster than the configured rate: retry later."""


class TooManyPresences(ResourceExhausted):
    """A Track stream would hold more presences than PRESENCE_TRACK_MAX_PRESENCES."""


class TrackerConflict(AlreadyExists):
    """Another tracker of the caller holds this tracker id (no or wrong secret)."""


class TrackerReplaced(Aborted):
    """The same tracker opened a newer stream, which now holds its presences."""


class PresenceNotFound(NotFound):
    """The tracker does not track this key."""


_BY_CODE: Dict[grpc.StatusCode, Type[PresenceError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.INTERNAL: Internal,
}

_BY_REASON: Dict[str, Type[PresenceError]] = {
    "SESSION_NOT_FOUND": SessionNotFound,
    "TOKEN_EXPIRED": TokenExpired,
    "DRAINING": Draining,
    "STORE_UNAVAILABLE": StoreUnavailable,
    "RATE_LIMITED": RateLimited,
    "TOO_MANY_PRESENCES": TooManyPresences,
    "TRACKER_CONFLICT": TrackerConflict,
    "TRACKER_REPLACED": TrackerReplaced,
    "PRESENCE_NOT_FOUND": PresenceNotFound,
}

# The retry advice of the server's error table (src/core/error-policy.ts, docs/errors.md) for the
# reasons whose advice differs from their code's; tests/test_errors.py keeps it in step.
_REASON_RETRY: Dict[str, str] = {
    "SESSION_NOT_FOUND": "rejoin",
    "TOKEN_EXPIRED": "new_token",
    "METADATA_TOO_LARGE": "never",
    "TOO_MANY_ROOMS": "never",
    "TOO_MANY_PRESENCES": "never",
    "MESSAGE_TOO_LARGE": "never",
    "TRACKER_REPLACED": "never",
    "PRESENCE_NOT_FOUND": "never",
    "NODE_NOT_FOUND": "never",
    "PRESENCE_TOO_LARGE": "never",
    "TOO_MANY_SCOPES": "never",
}
_CODE_RETRY: Dict[grpc.StatusCode, str] = {
    grpc.StatusCode.CANCELLED: "backoff",
    grpc.StatusCode.UNKNOWN: "backoff",
    grpc.StatusCode.DEADLINE_EXCEEDED: "backoff",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "backoff",
    grpc.StatusCode.ABORTED: "backoff",
    grpc.StatusCode.INTERNAL: "backoff",
    grpc.StatusCode.UNAVAILABLE: "backoff",
    grpc.StatusCode.DATA_LOSS: "backoff",
}

_CODES_BY_VALUE = {c.value[0]: c for c in grpc.StatusCode}


def error_for(code: grpc.StatusCode, message: str, reason: str = "", metadata: Optional[Mapping[str, str]] = None, violations: Tuple[Tuple[str, str], ...] = ()) -> PresenceError:
    """The exception for a code and reason (the most specific class that fits)."""
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code, PresenceError)
    if not issubclass(cls, _BY_CODE.get(code, PresenceError)):  # a reason under an unexpected code
        cls = _BY_CODE.get(code, PresenceError)
    return cls(message, code=code, reason=reason, metadata=metadata, violations=violations)


def error_from_item(item) -> PresenceError:
    """The exception for a ``presence.v1.ItemError`` (a failed Track request or batch item)."""
    code = _CODES_BY_VALUE.get(item.code, grpc.StatusCode.UNKNOWN)
    name = errors_pb2.ErrorReason.Name(item.reason) if item.reason in errors_pb2.ErrorReason.values() else ""
    reason = name[len("ERROR_REASON_"):] if name.startswith("ERROR_REASON_") and item.reason != 0 else ""
    return error_for(code, item.message, reason, dict(item.metadata))


def _details(trailers) -> Tuple[str, Dict[str, str], Tuple[Tuple[str, str], ...]]:
    for key, value in trailers or ():
        if key != _DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        reason, metadata, violations = "", {}, []
        for any_ in status.details:
            if any_.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                any_.Unpack(info)
                if info.domain == ERROR_DOMAIN:
                    reason, metadata = info.reason, dict(info.metadata)
            elif any_.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                any_.Unpack(bad)
                violations.extend((v.field, v.description) for v in bad.field_violations)
        return reason, metadata, tuple(violations)
    return "", {}, ()


def from_rpc_error(err: grpc.RpcError) -> PresenceError:
    """Maps a ``grpc.RpcError`` (sync or asyncio) to a :class:`PresenceError`."""
    code = err.code() if callable(getattr(err, "code", None)) else grpc.StatusCode.UNKNOWN
    message = err.details() if callable(getattr(err, "details", None)) else str(err)
    trailers = err.trailing_metadata() if callable(getattr(err, "trailing_metadata", None)) else None
    reason, metadata, violations = _details(trailers)
    exc = error_for(code or grpc.StatusCode.UNKNOWN, message or "", reason, metadata, violations)
    exc.__cause__ = err
    return exc


__all__: List[str] = [
    "PresenceError",
    "error_for",
    "error_from_item",
    "from_rpc_error",
] + [c.__name__ for c in list(_BY_CODE.values()) + list(_BY_REASON.values())]
