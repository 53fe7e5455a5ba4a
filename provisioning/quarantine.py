"""Quarantine: a connection whose recent calls mostly fail stops taking calls until an MSP
admin releases it, so one broken client directory does not eat every worker's retries.

The window of recent outcomes lives in Redis (a capped list) with ``settings.REDIS_URL``, else
on the connection's `ConnectionBucket` row (the local-memory cache is not shared between
worker processes). Quarantining and releasing are audited changes of the connection.
"""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from portal.audit.events import record
from provisioning.models_throttle import ConnectionBucket
from provisioning.throttle import bucket_capacity, locked_bucket
from tenants.models import DirectoryConnection

WINDOW = 50
THRESHOLD = 0.4
MIN_CALLS = WINDOW  # judge only a full window: 20 % errors must not trip it by chance

SUCCESS = "0"
FAILURE = "1:"  # followed by the reason, so a quarantine can say what went wrong
REASON_CHARS = 300
# An idle connection's window is forgotten after this long (Redis only; housekeeping).
WINDOW_TTL_S = 30 * 24 * 3600


def record_outcome(connection: DirectoryConnection, ok: bool, reason: str = "") -> bool:
    """Note one call's outcome (transient failures and successes; not permanent 4xx answers,
    which say nothing about the connection's health). When more than THRESHOLD of the last
    WINDOW outcomes failed (with at least MIN_CALLS seen), quarantine the connection and
    return True (only on the call that tipped it)."""
    entry = SUCCESS if ok else FAILURE + reason[:REASON_CHARS]
    if settings.REDIS_URL:
        outcomes = _redis_window(settings.REDIS_URL).push(connection.pk, entry)
        return _quarantine_if_failing(connection, outcomes) if _failing(outcomes) else False
    with transaction.atomic():
        bucket = locked_bucket(connection.pk, bucket_capacity(connection))
        bucket.outcomes = [entry, *bucket.outcomes][:WINDOW]
        bucket.save(update_fields=["outcomes"])
        return _failing(bucket.outcomes) and _quarantine_if_failing(connection, bucket.outcomes)


def release(connection: DirectoryConnection, *, actor, request: HttpRequest | None = None) -> None:
    """MSP admin: clear the quarantine and the outcome window (audited: "connection.release")."""
    with transaction.atomic():
        current = DirectoryConnection.objects.select_for_update().get(pk=connection.pk)
        _clear_window(connection)
        connection.quarantined_at, connection.quarantine_reason = None, ""
        if current.quarantined_at is None:
            return
        DirectoryConnection.objects.filter(pk=connection.pk).update(
            quarantined_at=None, quarantine_reason=""
        )
        record(
            "connection.release",
            actor=actor,
            tenant=connection.tenant,
            target=connection,
            before=_quarantine_state(current),
            after={"quarantined_at": None, "quarantine_reason": ""},
            request=request,
        )


def failure_share(connection: DirectoryConnection) -> tuple[int, int]:
    """(failed, seen) in the connection's window of recent outcomes."""
    return _count(_outcomes(connection))


def _failing(outcomes: list[str]) -> bool:
    failed, seen = _count(outcomes)
    return seen >= MIN_CALLS and failed > THRESHOLD * seen


def _count(outcomes: list[str]) -> tuple[int, int]:
    return sum(1 for o in outcomes if o.startswith(FAILURE)), len(outcomes)


def _quarantine_if_failing(connection: DirectoryConnection, outcomes: list[str]) -> bool:
    """Quarantine, unless another call (maybe in another process) already has."""
    failed, seen = _count(outcomes)
    last = next((o[len(FAILURE) :] for o in outcomes if o.startswith(FAILURE)), "")
    reason = f"{failed} of the last {seen} calls failed" + (f": {last}" if last else "")
    reason = reason[:500]
    now = timezone.now()
    with transaction.atomic():
        # The conditional UPDATE is the claim: exactly one caller moves it out of NULL.
        claimed = DirectoryConnection.objects.filter(
            pk=connection.pk, quarantined_at__isnull=True
        ).update(quarantined_at=now, quarantine_reason=reason)
        if not claimed:
            return False
        connection.quarantined_at, connection.quarantine_reason = now, reason
        record(
            "connection.quarantine",
            actor="system",
            tenant=connection.tenant,
            target=connection,
            before={"quarantined_at": None, "quarantine_reason": ""},
            after={**_quarantine_state(connection), "failed": failed, "seen": seen},
        )
    return True


def _quarantine_state(connection: DirectoryConnection) -> dict[str, str | None]:
    at = connection.quarantined_at
    return {
        "quarantined_at": at.isoformat() if at else None,
        "quarantine_reason": connection.quarantine_reason,
    }


def _outcomes(connection: DirectoryConnection) -> list[str]:
    if settings.REDIS_URL:
        return _redis_window(settings.REDIS_URL).read(connection.pk)
    row = ConnectionBucket.objects.filter(connection_id=connection.pk).first()
    return list(row.outcomes) if row else []


def _clear_window(connection: DirectoryConnection) -> None:
    if settings.REDIS_URL:
        _redis_window(settings.REDIS_URL).clear(connection.pk)
        return
    ConnectionBucket.objects.filter(connection_id=connection.pk).update(outcomes=[])


class _RedisWindow:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, decode_responses=True)

    def push(self, pk: int, entry: str) -> list[str]:
        """Add `entry` and return the window after it, newest first, in one MULTI/EXEC."""
        key = _key(pk)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.lpush(key, entry).ltrim(key, 0, WINDOW - 1).expire(key, WINDOW_TTL_S)
            pipe.lrange(key, 0, -1)
            return pipe.execute()[-1]

    def read(self, pk: int) -> list[str]:
        return self.client.lrange(_key(pk), 0, -1)

    def clear(self, pk: int) -> None:
        self.client.delete(_key(pk))


@cache
def _redis_window(url: str) -> _RedisWindow:
    return _RedisWindow(url)


def _key(pk: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:quarantine:{{{pk}}}:window"
