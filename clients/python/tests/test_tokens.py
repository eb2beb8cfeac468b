"""Token minting with PyJWT, checked by the real server."""

import jwt
import pytest

from presence_client import mint_token, service_token, tokens, user_token

SECRET = "0123456789abcdef0123456789abcdef"


def test_claims():
    tok = user_token(SECRET, "ana", name="Ana", picture="https://img.example/a.png", meta={"team": 7}, ttl_seconds=60, now=1_700_000_000)
    claims = jwt.decode(tok, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"sub": "ana", "name": "Ana", "picture": "https://img.example/a.png", "meta": {"team": "7"}, "iat": 1_700_000_000, "exp": 1_700_000_060}
    assert jwt.decode(service_token(SECRET, "api"), SECRET, algorithms=["HS256"])["role"] == "service"
    assert jwt.decode(tokens.admin_token(SECRET), SECRET, algorithms=["HS256"])["role"] == "admin"


def test_refuses_what_the_server_would_refuse():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        mint_token("short", sub="x")
    with pytest.raises(ValueError, match="ttl_seconds"):
        mint_token(SECRET, sub="x", ttl_seconds=0)
    with pytest.raises(ValueError, match="user_id"):
        user_token(SECRET, "")


def test_server_accepts_minted_tokens(server, room):
    with server.client(server.user_token("sam", name="Sam", meta={"plan": "pro"})) as sam:
        view = sam.join(room).view
    assert view.members[0].user.name == "Sam" and view.members[0].user.metadata == {"plan": "pro"}
