"""Minting tokens for the presence service with PyJWT.

The server verifies HS256 tokens signed with ``PRESENCE_JWT_SECRET`` (at least 32 bytes), or
RS256/ES256 tokens against ``PRESENCE_JWKS_FILE``. Claims it reads: ``sub`` (user id), ``name``,
``picture``, ``meta`` (small object, values as strings), ``role`` (``"service"`` or ``"admin"``),
``exp`` (required), and ``iss`` / ``aud`` when the server is configured to check them.

A backend mints a short-lived token per browser user (``user_token``) and holds a service token
for itself (``service_token``), which lets it act on behalf of any user (Track, Join
``on_behalf_of``).
"""

from __future__ import annotations

import time
from typing import Any, Dict, Mapping, Optional, Union

import jwt

DEFAULT_TTL_SECONDS = 3600


def mint_token(
    secret: Union[str, bytes],
    *,
    sub: Optional[str] = None,
    name: Optional[str] = None,
    picture: Optional[str] = None,
    meta: Optional[Mapping[str, str]] = None,
    role: Optional[str] = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    issuer: Optional[str] = None,
    audience: Optional[str] = None,
    algorithm: str = "HS256",
    key_id: Optional[str] = None,
    extra_claims: Optional[Mapping[str, Any]] = None,
    now: Optional[float] = None,
) -> str:
    """Signs a token. ``secret`` is the HS256 secret, or a private key for RS256/ES256."""
    if ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds: must be positive (got {ttl_seconds})")
    if algorithm == "HS256" and len(secret.encode() if isinstance(secret, str) else secret) < 32:
        raise ValueError("secret: must be at least 32 bytes for HS256 (the server refuses shorter ones)")
    issued = int(now if now is not None else time.time())
    claims: Dict[str, Any] = {"iat": issued, "exp": issued + ttl_seconds}
    for key, value in (("sub", sub), ("name", name), ("picture", picture), ("role", role), ("iss", issuer), ("aud", audience)):
        if value is not None:
            claims[key] = value
    if meta:
        claims["meta"] = {str(k): str(v) for k, v in meta.items()}
    if extra_claims:
        claims.update(extra_claims)
    headers = {"kid": key_id} if key_id else None
    return jwt.encode(claims, secret, algorithm=algorithm, headers=headers)


def user_token(secret: Union[str, bytes], user_id: str, *, name: Optional[str] = None, picture: Optional[str] = None, **kwargs: Any) -> str:
    """A token for one user (``sub`` = ``user_id``), e.g. handed to a browser by your backend."""
    if not user_id:
        raise ValueError("user_id: must not be empty")
    return mint_token(secret, sub=user_id, name=name, picture=picture, **kwargs)


def service_token(secret: Union[str, bytes], service: str = "backend", **kwargs: Any) -> str:
    """A token with ``role: "service"``: tracks presences on behalf of any user."""
    return mint_token(secret, sub=service, role="service", **kwargs)


def admin_token(secret: Union[str, bytes], operator: str = "operator", **kwargs: Any) -> str:
    """A token with ``role: "admin"`` (AdminService, real user statuses)."""
    return mint_token(secret, sub=operator, role="admin", **kwargs)
