"""Signatures per the Standard Webhooks spec (https://www.standardwebhooks.com/,
github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md):

- headers `webhook-id` (the message id), `webhook-timestamp` (unix seconds) and
  `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256>` entries;
- the signed content is `{id}.{timestamp}.{body}`;
- the key is the base64-decoded part of the secret after `whsec_`.

Several signatures are sent while a rotated-out secret is still in its grace period; a
receiver accepts the message when any `v1` entry matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

PREFIX = "whsec_"
KEY_BYTES = 32
TOLERANCE_S = 5 * 60


class VerificationError(Exception):
    """A message whose headers or signature do not hold up; the reason is safe to log."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(PREFIX)
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def signature(secret: str, msg_id: str, timestamp: int, body: str | bytes) -> str:
    text = body.decode() if isinstance(body, bytes) else body
    signed = f"{msg_id}.{timestamp}.{text}".encode()
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(signing_secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, msg_id, timestamp, body) for secret in signing_secrets
        ),
    }


def verify(
    secret: str, given: Mapping[str, str], body: str | bytes, *, now: float | None = None
) -> None:
    """What a receiver does with a message; VerificationError when it must be refused."""
    lowered = {k.lower(): v for k, v in given.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    sent = lowered.get("webhook-signature", "")
    if not (msg_id and stamp and sent):
        raise VerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise VerificationError("webhook-timestamp is not a number") from None
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_S:
        raise VerificationError("webhook-timestamp is more than five minutes off")
    expected = signature(secret, msg_id, timestamp, body).encode()
    for entry in sent.split(" "):
        if entry.startswith("v1,") and hmac.compare_digest(entry.encode(), expected):
            return
    raise VerificationError("no matching signature")
