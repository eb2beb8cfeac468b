"""Errors become exceptions carrying the server's reason code, field and limit."""

import re
from pathlib import Path

import grpc
import pytest

from presence.v1 import errors_pb2
from presence_client import errors
from presence_client.errors import PresenceError, error_for


def test_invalid_room_names_the_field_with_bad_request_details(server):
    with server.client() as anon:
        with pytest.raises(errors.InvalidArgument) as info:
            anon.join("")
    e = info.value
    assert e.code == grpc.StatusCode.INVALID_ARGUMENT
    assert e.reason == "INVALID_ROOM" and e.reason_value == errors_pb2.ERROR_REASON_INVALID_ROOM
    assert e.message == "room: must not be empty" and e.field == "room"
    assert e.violations == (("room", "room: must not be empty"),)
    assert e.retry == "never" and not e.retryable


def test_limits_carry_limit_and_actual(server, room):
    with server.client(server.user_token("olga")) as olga:
        with pytest.raises(errors.ResourceExhausted) as info:
            olga.join(room, metadata={"k": "x" * 2000})
    e = info.value
    assert e.reason == "METADATA_TOO_LARGE" and e.limit == 1024 and e.actual is not None and e.actual > 1024
    assert e.retry == "never"


def test_unknown_session_is_session_not_found(server):
    with server.client(server.user_token("paul")) as paul:
        with pytest.raises(errors.SessionNotFound) as info:
            paul.heartbeat("x" * 22)
    assert info.value.reason_value == errors_pb2.ERROR_REASON_SESSION_NOT_FOUND
    assert isinstance(info.value, errors.NotFound) and info.value.retry == "rejoin"


def test_on_behalf_of_needs_the_service_role(server, room):
    with server.client(server.user_token("quinn")) as quinn:
        with pytest.raises(errors.PermissionDenied) as info:
            quinn.join(room, user="someone-else")
    assert info.value.reason == "PERMISSION_DENIED" and info.value.field == "on_behalf_of"


def test_bad_and_expired_tokens(server, room):
    with server.client("not-a-jwt") as bad:
        with pytest.raises(errors.Unauthenticated) as info:
            bad.join(room)
    assert info.value.reason == "TOKEN_INVALID"
    expired = server.user_token("rita", ttl_seconds=1, now=1_000_000)
    with server.client(expired) as old:
        with pytest.raises(errors.TokenExpired) as info:
            old.join(room)
    assert info.value.retry == "new_token"


def test_unreachable_server_is_unavailable():
    from presence_client import PresenceClient

    with PresenceClient("127.0.0.1:1", timeout=2) as nowhere:
        with pytest.raises(errors.Unavailable) as info:
            nowhere.count("/x")
    assert info.value.reason == "" and info.value.retryable


def test_reason_classes_fit_their_codes():
    e = error_for(grpc.StatusCode.UNAVAILABLE, "draining", "DRAINING")
    assert isinstance(e, errors.Draining) and isinstance(e, errors.Unavailable) and e.retry == "backoff"
    # A known reason under another code keeps the code's class.
    assert type(error_for(grpc.StatusCode.INTERNAL, "x", "SESSION_NOT_FOUND")) is errors.Internal
    assert isinstance(error_for(grpc.StatusCode.OUT_OF_RANGE, "x"), PresenceError)


# The page's words for the table's retry values.
ADVICE = {"no": "never", "after backoff": "backoff", "join again at once": "rejoin", "with a fresh token": "new_token"}
DOC = Path(__file__).resolve().parents[3] / "docs" / "errors.md"


@pytest.mark.skipif(not DOC.exists(), reason="docs/errors.md (generated from the server's error table) not present")
def test_retry_advice_matches_the_servers_error_table():
    """Every reason of errors.proto has the retry advice of the server's table (docs/errors.md)."""
    text = DOC.read_text()
    checked = 0
    for name in errors_pb2.ErrorReason.keys():
        reason = name[len("ERROR_REASON_"):]
        if reason == "UNSPECIFIED":
            continue
        row = next((line for line in text.splitlines() if re.match(rf"^\|\s*`?{reason}`?\s*\|", line)), None)
        if row is None:
            continue
        # | reason | number | code | HTTP | close | retry | when |
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        code = cells[2].split()[0].strip("`")
        advice = ADVICE.get(cells[5])
        assert advice is not None and code is not None, row
        e = error_for(grpc.StatusCode[code.upper()], "x", reason)
        assert e.retry == advice, f"{reason}: client says {e.retry}, server table says {advice}"
        checked += 1
    assert checked > 0
