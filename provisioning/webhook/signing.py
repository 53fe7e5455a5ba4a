"""The webhook signature: hex HMAC-SHA256 with the tenant's secret over "<timestamp>." + body."""

from __future__ import annotations

import hashlib
import hmac

WINDOW_SECONDS = 300  # a request signed longer ago (or ahead) than this is refused
PREFIX = "sha256="


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def parse_timestamp(value: str) -> int | None:
    """Unix seconds as the header gives them, or None when it is not a plain integer."""
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        return None
    return int(value)


def within_window(timestamp: int, now: float) -> bool:
    return abs(now - timestamp) <= WINDOW_SECONDS


def signature_matches(secret: str, timestamp: int | str, body: bytes, given: str) -> bool:
    """Constant-time comparison; "sha256=" before the hex digest is allowed."""
    given = given.strip()
    if given[: len(PREFIX)].lower() == PREFIX:
        given = given[len(PREFIX) :]
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace"))
