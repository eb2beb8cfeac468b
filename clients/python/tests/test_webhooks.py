"""Webhook verification: a vector signed by the `standardwebhooks` npm library (an independent
implementation of the scheme the server uses), tampering, replay window, parsing."""

import pytest

from presence.v1 import backend_pb2
from presence_client.webhooks import WebhookVerificationError, sign, verify

# Signed by `new Webhook(secret).sign(id, new Date(timestamp * 1000), body)` of standardwebhooks 1.1.1.
VECTOR = {
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "id": "b_vector-1",
    "timestamp": 1765000000,
    "body": '{"events":[{"id":"ev-1","kind":"BACKEND_EVENT_KIND_MEMBER_ADDED","room":"/docs/intro","userId":"ana"}],"nodeId":"node-a"}',
    "signature": "v1,sjDCY0UNmGdTn5P1h5OfKJlEEWOmIqTjuEscFy1Vcg4=",
}
HEADERS = {"Webhook-Id": VECTOR["id"], "Webhook-Timestamp": str(VECTOR["timestamp"]), "Webhook-Signature": VECTOR["signature"]}


def test_signature_matches_the_reference_implementation():
    assert sign(VECTOR["secret"], VECTOR["id"], VECTOR["timestamp"], VECTOR["body"]) == VECTOR["signature"]


def test_verify_returns_the_parsed_batch():
    batch = verify(VECTOR["body"].encode(), HEADERS, VECTOR["secret"], now=VECTOR["timestamp"] + 10)
    assert batch.node_id == "node-a"
    (event,) = batch.events
    assert (event.id, event.kind, event.room, event.user_id) == ("ev-1", backend_pb2.BACKEND_EVENT_KIND_MEMBER_ADDED, "/docs/intro", "ana")


def test_rotation_accepts_any_listed_signature():
    headers = dict(HEADERS, **{"Webhook-Signature": "v1,b2xkLXNpZ25hdHVyZQ== " + VECTOR["signature"]})
    assert verify(VECTOR["body"], headers, VECTOR["secret"], now=VECTOR["timestamp"]).events[0].id == "ev-1"


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda b, h: (b.replace("ana", "eve"), h), "no signature matches"),
        (lambda b, h: (b, dict(h, **{"Webhook-Id": "b_other"})), "no signature matches"),
        (lambda b, h: (b, dict(h, **{"Webhook-Timestamp": str(VECTOR["timestamp"] - 301)})), "more than 300 s"),
        (lambda b, h: (b, {k: v for k, v in h.items() if k != "Webhook-Signature"}), "missing header webhook-signature"),
    ],
)
def test_refuses_tampering_replays_and_missing_headers(change, message):
    body, headers = change(VECTOR["body"], HEADERS)
    with pytest.raises(WebhookVerificationError, match=message):
        verify(body, headers, VECTOR["secret"], now=VECTOR["timestamp"])
