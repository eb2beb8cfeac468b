"""Receiving the presence service's webhooks: signature verification (the Standard Webhooks
scheme, standardwebhooks.com) and parsing of the body into ``presence.v1.WebhookBatch``.

    from presence_client.webhooks import verify, WebhookVerificationError

    def presence_webhook(request):                       # a Django view, say
        try:
            batch = verify(request.body, request.headers, settings.PRESENCE_WEBHOOK_SECRET)
        except WebhookVerificationError:
            return HttpResponse(status=400)
        for event in batch.events:
            if not seen_before(event.id):                # de-duplicate: retries resend the same ids
                handle(event)                            # event.kind, event.room, event.user_id, …
        return HttpResponse(status=204)                  # any 2xx acknowledges the batch

Verify the raw body exactly as received, before parsing it. A timestamp more than ``tolerance``
seconds (5 minutes) away from your clock is refused: that is the replay window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Mapping, Optional, Union

from google.protobuf import json_format

from presence.v1 import backend_pb2

PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 5 * 60


class WebhookVerificationError(Exception):
    """The request is not a valid, fresh webhook of the presence service."""


def _key(secret: Union[str, bytes]) -> bytes:
    if isinstance(secret, bytes):
        return secret
    if not secret.startswith(PREFIX):
        raise ValueError(f"secret: must start with {PREFIX}")
    return base64.b64decode(secret[len(PREFIX):])


def sign(secret: Union[str, bytes], webhook_id: str, timestamp: int, body: Union[str, bytes]) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) of one request."""
    raw = body.encode() if isinstance(body, str) else body
    mac = hmac.new(_key(secret), f"{webhook_id}.{timestamp}.".encode() + raw, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _header(headers: Mapping[str, str], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name:
            return v
    raise WebhookVerificationError(f"missing header {name}")


def verify(body: Union[str, bytes], headers: Mapping[str, str], secret: Union[str, bytes], *, tolerance: int = DEFAULT_TOLERANCE_S, now: Optional[float] = None) -> backend_pb2.WebhookBatch:
    """Checks the signature and timestamp of a webhook request and returns its parsed batch."""
    webhook_id = _header(headers, "webhook-id")
    try:
        timestamp = int(_header(headers, "webhook-timestamp"))
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp: not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(f"webhook-timestamp: more than {tolerance} s from now (replayed or clock skew)")
    expected = sign(secret, webhook_id, timestamp, body)
    offered = _header(headers, "webhook-signature").split(" ")
    if not any(hmac.compare_digest(expected, sig) for sig in offered if sig.startswith("v1,")):
        raise WebhookVerificationError("webhook-signature: no signature matches")
    batch = backend_pb2.WebhookBatch()
    try:
        json_format.Parse(body if isinstance(body, (str, bytes)) else bytes(body), batch, ignore_unknown_fields=True)
    except json_format.ParseError as e:
        raise WebhookVerificationError(f"body: not a WebhookBatch ({e})") from None
    return batch
