"""The audit trail's one signing function: HMAC-SHA256 under a key of AUDIT_SIGNING_KEYS.

Events, chain heads and retention checkpoints are all signed here, each under a purpose
label so that a signature made for one kind of record never passes for another. Every
record stores the id of the key it was signed with: the current key (AUDIT_SIGNING_KEY_ID)
signs, every configured key verifies, so keys can rotate.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

# Marks rows that migration 0005 could not re-key because their chain was already broken
# under the old plain SHA-256 scheme: they never verify, so the break stays visible.
LEGACY_KEY_ID = "sha256-legacy"


class UnknownKeyError(LookupError):
    def __init__(self, key_id: str) -> None:
        super().__init__(key_id)
        self.key_id = key_id


def current_key_id() -> str:
    return settings.AUDIT_SIGNING_KEY_ID


def mac(key_id: str, purpose: str, message: bytes) -> str:
    """The hex HMAC-SHA256 of ``message`` for ``purpose`` under key ``key_id``."""
    key = settings.AUDIT_SIGNING_KEYS.get(key_id)
    if key is None:
        raise UnknownKeyError(key_id)
    return hmac.new(key, purpose.encode() + b"\0" + message, hashlib.sha256).hexdigest()


def signature_problem(
    key_id: str,
    purpose: str,
    message: bytes,
    signature: str,
    *,
    changed: str = "its signature does not hold: changed or forged without the key",
) -> str | None:
    """Why ``signature`` does not hold for ``message``, or None when it does; ``changed``
    says what a mismatch means for this kind of record."""
    if not key_id or not signature:
        return "not signed"
    if key_id == LEGACY_KEY_ID:
        return (
            "not re-keyed when the trail was keyed (migration 0005): its chain was already "
            "broken here under plain SHA-256"
        )
    try:
        expected = mac(key_id, purpose, message)
    except UnknownKeyError:
        return (
            f"signed with key id {key_id!r}, which is not in AUDIT_SIGNING_KEYS: put that key "
            "back to verify it, or it was forged"
        )
    return None if hmac.compare_digest(expected, signature) else changed
