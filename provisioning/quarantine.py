"""Quarantine: a circuit breaker per directory connection, so that one broken client
directory does not eat every worker's retries, and does not wait for a person once it heals.

- Closed: calls flow. The final outcome of each operation is noted (a step or a plan read
  that succeeded, however many retries it took, or that gave up); a transient failure a
  later retry absorbs counts for nothing, and throttling is pacing, not sickness.
- Open (`DirectoryConnection.quarantined_at` set): when more than THRESHOLD of the last
  WINDOW outcomes are failures (with at least MIN_CALLS seen), jobs on the connection wait.
- Half-open: after a cool-down (`QUARANTINE_COOLDOWN_SECONDS`, doubled by each failed probe,
  capped by `QUARANTINE_COOLDOWN_MAX_SECONDS`), beat runs exactly one probe, one read through
  the connector. Success closes it by itself and resumes the waiting jobs; failure opens it
  again for a longer cool-down.
- Held: an MSP admin may quarantine a connection by hand; no probe releases a hold.

The window of recent outcomes lives in Redis (a capped list) with ``settings.REDIS_URL``, else
on the connection's `ConnectionBucket` row (the local-memory cache is not shared between
worker processes), where the head may hold provisioning/throttle.py's run of throttles
("t:<n>"), which is no outcome. The breaker's own state is a `ConnectionBreaker` row.
Every change of state is audited on the tenant's chain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import redis
from celery import current_app, shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from portal.audit.events import record
from provisioning import throttle
from provisioning.connectors import bridge
from provisioning.connectors.errors import ConnectorError, ThrottledError
from provisioning.connectors.factory import connector_for
from provisioning.events import describe
from provisioning.events.models import Event
from provisioning.events.publish import emit
from provisioning.models import Identity, Job
from provisioning.models_throttle import ConnectionBreaker, ConnectionBucket
from provisioning.throttle import bucket_capacity, locked_bucket, without_streak
from tenants.crypto import CredentialError
from tenants.models import DirectoryConnection

WINDOW = 20
THRESHOLD = 0.5
MIN_CALLS = 5  # final outcomes, each already past its retries: a few give-ups say enough

SUCCESS = "0"
FAILURE = "1:"  # followed by the reason, so a quarantine can say what went wrong
REASON_CHARS = 300
# An idle connection's window is forgotten after this long (Redis only; housekeeping).
WINDOW_TTL_S = 30 * 24 * 3600
PROBE_TIMEOUT_S = 30.0
# A probe whose worker died frees the half-open claim after this long.
PROBE_CLAIM_S = PROBE_TIMEOUT_S + 30
RUN_JOB_TASK = "provisioning.tasks.run_job"  # by name: the engine imports this module

log = logging.getLogger(__name__)
# A run's successes not pushed yet, by connection id (`successes_held`); None: outside one.
_held: ContextVar[dict[int, tuple[DirectoryConnection, list[str]]] | None] = ContextVar(
    "quarantine_held", default=None
)


def record_outcome(connection: DirectoryConnection, ok: bool, reason: str = "") -> bool:
    """Note the final outcome of one operation on the connection: a success (retries that
    overcame a transient failure included) or a give-up after its last retry. Not permanent
    4xx answers, which say nothing about the connection's health, nor throttling. When more
    than THRESHOLD of the last WINDOW outcomes failed (with at least MIN_CALLS seen), open
    the breaker and return True (only on the call that tipped it)."""
    return record_outcomes(connection, [(ok, reason)])


def record_outcomes(connection: DirectoryConnection, outcomes: list[tuple[bool, str]]) -> bool:
    """`record_outcome` for several operations at once, oldest first (a batch's steps): one
    round trip to the window, not one per step. Within `successes_held`, successes wait for
    the run's end (or its next failure or throttle of the connection) and go with those."""
    if not outcomes:
        return False
    entries = [SUCCESS if ok else FAILURE + reason[:REASON_CHARS] for ok, reason in outcomes]
    held = _held.get()
    if held is not None:
        if all(ok for ok, _ in outcomes):
            held.setdefault(connection.pk, (connection, []))[1].extend(entries)
            return False
        entries = [*held.pop(connection.pk, (connection, []))[1], *entries]
    return _pushed(connection, entries)


@contextmanager
def successes_held() -> Iterator[None]:
    """A worker run: its successes reach each connection's window once, as it ends, in one
    round trip a connection instead of one for each read and batch. A success tips no
    breaker that the run's failures had not; a failure is pushed as it comes, after the
    successes held before it, and a throttle after them too (`_push_held`), so the window and
    the throttle streak see every answer in its order, as before, only later by a run's
    length. What a killed run held is lost: successes only, which close no breaker."""
    token = _held.set({})
    try:
        yield
    finally:
        held = _held.get() or {}
        _held.reset(token)
        for connection, entries in held.values():
            _push_at_the_end(connection, entries)


def _push_at_the_end(connection: DirectoryConnection, entries: list[str]) -> None:
    try:
        _pushed(connection, entries)
    except redis.RedisError:  # its job is ended or parked already; the window is away too
        log.warning(
            "The window of connection %s was away: %d successes not noted",
            connection.pk,
            len(entries),
        )


@throttle.before_throttled
def _push_held(connection: DirectoryConnection) -> None:
    """A throttle of the connection comes after the successes held before it (their push
    ends the throttle streak, which the throttle then starts again)."""
    held = _held.get()
    if held and connection.pk in held:
        _pushed(connection, held.pop(connection.pk)[1])


def _pushed(connection: DirectoryConnection, entries: list[str]) -> bool:
    if settings.REDIS_URL:
        window = _redis_window(settings.REDIS_URL).push(connection.pk, entries)
        return _quarantine_if_failing(connection, window) if _failing(window) else False
    with transaction.atomic():
        bucket = locked_bucket(connection.pk, bucket_capacity(connection))
        bucket.outcomes = [*reversed(entries), *without_streak(bucket.outcomes)][:WINDOW]
        bucket.save(update_fields=["outcomes"])
        return _failing(bucket.outcomes) and _quarantine_if_failing(connection, bucket.outcomes)


# -- what the pages show -------------------------------------------------------------------


@dataclass(frozen=True)
class BreakerState:
    open_since: datetime | None
    reason: str
    held: bool = False
    next_probe_at: datetime | None = None
    last_probe_at: datetime | None = None
    last_probe_ok: bool | None = None
    last_probe_message: str = ""

    @property
    def is_open(self) -> bool:
        return self.open_since is not None


def state_of(connection: DirectoryConnection) -> BreakerState:
    if connection.quarantined_at is None:
        return BreakerState(None, "")
    breaker = ConnectionBreaker.objects.filter(connection_id=connection.pk).first()
    return breaker_state(connection.quarantined_at, connection.quarantine_reason, breaker)


def breakers_of(connection_ids: list[int]) -> dict[int, ConnectionBreaker]:
    """The breaker rows of these connections by connection id, in one query."""
    return {
        b.connection_id: b
        for b in ConnectionBreaker.objects.filter(connection_id__in=connection_ids)
    }


def states_of(connections: list[DirectoryConnection]) -> dict[int, BreakerState]:
    """The breaker of each connection by its id, in one query."""
    breakers = breakers_of([c.pk for c in connections])
    return {
        c.pk: breaker_state(c.quarantined_at, c.quarantine_reason, breakers.get(c.pk))
        for c in connections
    }


def breaker_state(
    since: datetime | None, reason: str, breaker: ConnectionBreaker | None
) -> BreakerState:
    """What the pages say of a connection quarantined `since` (None: closed)."""
    if since is None:
        return BreakerState(None, "")
    breaker = breaker or ConnectionBreaker()
    return BreakerState(
        open_since=since,
        reason=reason,
        held=breaker.held,
        next_probe_at=_next_probe_at(since, breaker),
        last_probe_at=breaker.last_probe_at,
        last_probe_ok=breaker.last_probe_ok,
        last_probe_message=breaker.last_probe_message,
    )


def cooldown_seconds(probe_failures: int) -> float:
    """How long an open breaker waits before its next probe: longer after each failed one."""
    base = float(settings.QUARANTINE_COOLDOWN_SECONDS)
    cap = max(base, float(settings.QUARANTINE_COOLDOWN_MAX_SECONDS))
    return min(cap, base * 2 ** min(probe_failures, 20))


def _next_probe_at(since: datetime, breaker: ConnectionBreaker) -> datetime | None:
    if breaker.held:
        return None
    start = max(since, breaker.last_probe_at) if breaker.last_probe_at else since
    return start + timedelta(seconds=cooldown_seconds(breaker.probe_failures))


# -- half-open: the probe ------------------------------------------------------------------


@shared_task(name="provisioning.quarantine.probe_due_connections", ignore_result=True)
def probe_due_connections() -> dict[str, int]:
    """Run by beat: probe each open connection whose cool-down is over (never a held one)."""
    released = failed = 0
    for connection in due_for_probe():
        outcome = probe(connection)
        if outcome is True:
            released += 1
        elif outcome is False:
            failed += 1
    return {"released": released, "failed": failed}


def due_for_probe(now: datetime | None = None) -> list[DirectoryConnection]:
    now = now or timezone.now()
    open_ = DirectoryConnection.objects.filter(quarantined_at__isnull=False).select_related(
        "tenant"
    )
    states = states_of(list(open_))
    return [c for c in open_ if states[c.pk].next_probe_at and states[c.pk].next_probe_at <= now]


def probe(connection: DirectoryConnection) -> bool | None:
    """One read through the connector, by one caller at a time (the half-open state).
    True: released by itself; False: the probe failed and the breaker stays open; None: not
    probed (closed meanwhile, held, another caller is probing, or the directory throttled it)."""
    if not _claim_probe(connection):
        return None
    try:
        connector = connector_for(connection)
        bridge.run(connector.probe(), timeout=PROBE_TIMEOUT_S)
    except ThrottledError as exc:  # pacing says nothing of health: probe again at a later beat
        throttle.throttled(connection, exc.retry_after)
        ConnectionBreaker.objects.filter(connection_id=connection.pk).update(probing_until=None)
        return None
    except ConnectorError as exc:
        return _probe_failed(connection, exc.message)
    except CredentialError as exc:
        return _probe_failed(connection, str(exc))
    except TimeoutError:
        return _probe_failed(connection, f"No answer within {PROBE_TIMEOUT_S:.0f} seconds.")
    return _probe_succeeded(connection)


def _claim_probe(connection: DirectoryConnection) -> bool:
    now = timezone.now()
    ConnectionBreaker.objects.get_or_create(connection_id=connection.pk)
    # The conditional UPDATE is the claim: one prober at a time, across processes.
    return bool(
        ConnectionBreaker.objects.filter(
            Q(probing_until__isnull=True) | Q(probing_until__lt=now),
            connection_id=connection.pk,
            held=False,
            connection__quarantined_at__isnull=False,
        ).update(probing_until=now + timedelta(seconds=PROBE_CLAIM_S))
    )


def _probe_failed(connection: DirectoryConnection, message: str) -> bool:
    now = timezone.now()
    with transaction.atomic():
        breaker = ConnectionBreaker.objects.select_for_update().get(connection_id=connection.pk)
        breaker.probe_failures += 1
        breaker.probing_until = None
        breaker.last_probe_at, breaker.last_probe_ok = now, False
        breaker.last_probe_message = message[:300]
        breaker.save()
        current = DirectoryConnection.objects.get(pk=connection.pk)
        after = {"error": breaker.last_probe_message, "probe_failures": breaker.probe_failures}
        if current.quarantined_at:
            at = _next_probe_at(current.quarantined_at, breaker)
            after["next_probe_at"] = at.isoformat() if at else None
        record(
            "connection.probe_failed",
            actor="system",
            tenant=connection.tenant,
            target=connection,
            after=after,
            result="failure",
        )
    return False


def _probe_succeeded(connection: DirectoryConnection) -> bool:
    now = timezone.now()
    with transaction.atomic():
        current = DirectoryConnection.objects.select_for_update().get(pk=connection.pk)
        breaker = ConnectionBreaker.objects.select_for_update().get(connection_id=connection.pk)
        breaker.probing_until = None
        breaker.last_probe_at, breaker.last_probe_ok, breaker.last_probe_message = now, True, ""
        if current.quarantined_at is None or breaker.held:
            breaker.save()
            return False  # a person released or held it while the probe ran
        breaker.probe_failures = 0
        breaker.save()
        _close(connection)
        record(
            "connection.release",
            actor="system",
            tenant=connection.tenant,
            target=connection,
            before=_quarantine_state(current),
            after={"quarantined_at": None, "quarantine_reason": "", "released_by": "probe"},
        )
        _emit_released(connection, current, by="probe")
        # What changed behind the portal's back meanwhile is found by the periodic
        # reconciliation, which takes the tenant's people first now.
        Identity.objects.filter(tenant_id=connection.tenant_id).update(last_reconciled_at=None)
        transaction.on_commit(lambda: resume_waiting_jobs(connection))
    return True


def resume_waiting_jobs(connection: DirectoryConnection) -> int:
    """Enqueue the tenant's waiting jobs again, so they run now rather than at their lease."""
    waiting = list(
        Job.objects.filter(tenant_id=connection.tenant_id, status=Job.Status.WAITING).values_list(
            "pk", flat=True
        )
    )
    for job_id in waiting:
        current_app.send_task(RUN_JOB_TASK, args=[job_id])
    return len(waiting)


# -- by hand -------------------------------------------------------------------------------


def hold(
    connection: DirectoryConnection, *, actor, reason: str = "", request: HttpRequest | None = None
) -> bool:
    """MSP admin: quarantine the connection until a person releases it (audited:
    "connection.hold"). False when it was held already."""
    now = timezone.now()
    with transaction.atomic():
        current = DirectoryConnection.objects.select_for_update().get(pk=connection.pk)
        breaker, _ = ConnectionBreaker.objects.select_for_update().get_or_create(
            connection_id=connection.pk
        )
        if breaker.held and current.quarantined_at:
            return False
        words = reason.strip() or "no reason given"
        text = f"Held by {getattr(actor, 'username', actor)}: {words}"[:500]
        since = current.quarantined_at or now
        DirectoryConnection.objects.filter(pk=connection.pk).update(
            quarantined_at=since, quarantine_reason=text
        )
        breaker.held, breaker.probing_until = True, None
        breaker.save(update_fields=["held", "probing_until"])
        connection.quarantined_at, connection.quarantine_reason = since, text
        record(
            "connection.hold",
            actor=actor,
            tenant=connection.tenant,
            target=connection,
            before=_quarantine_state(current),
            after=_quarantine_state(connection),
            request=request,
        )
        if current.quarantined_at is None:  # a hold on an open breaker changes nothing outside
            _emit_quarantined(connection, by=getattr(actor, "username", str(actor)))
    return True


def release(connection: DirectoryConnection, *, actor, request: HttpRequest | None = None) -> bool:
    """MSP admin: close the breaker (a hold included), clear the outcome window (audited:
    "connection.release"). False when it was not open."""
    with transaction.atomic():
        current = DirectoryConnection.objects.select_for_update().get(pk=connection.pk)
        _clear_window(connection)
        connection.quarantined_at, connection.quarantine_reason = None, ""
        if current.quarantined_at is None:
            return False
        _close(connection)
        ConnectionBreaker.objects.filter(connection_id=connection.pk).update(
            held=False, probe_failures=0, probing_until=None
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
        _emit_released(connection, current, by=getattr(actor, "username", str(actor)))
    return True


def failure_share(connection: DirectoryConnection) -> tuple[int, int]:
    """(failed, seen) in the connection's window of recent outcomes."""
    return _count(_outcomes(connection))


# -- internals -----------------------------------------------------------------------------


def _close(connection: DirectoryConnection) -> None:
    _clear_window(connection)
    DirectoryConnection.objects.filter(pk=connection.pk).update(
        quarantined_at=None, quarantine_reason=""
    )
    connection.quarantined_at, connection.quarantine_reason = None, ""


def _failing(outcomes: list[str]) -> bool:
    failed, seen = _count(outcomes)
    return seen >= MIN_CALLS and failed > THRESHOLD * seen


def _count(outcomes: list[str]) -> tuple[int, int]:
    outcomes = without_streak(outcomes)  # throttling is pacing, not an outcome
    return sum(1 for o in outcomes if o.startswith(FAILURE)), len(outcomes)


def _quarantine_if_failing(connection: DirectoryConnection, outcomes: list[str]) -> bool:
    """Open the breaker, unless another call (maybe in another process) already has."""
    failed, seen = _count(outcomes)
    last = next((o[len(FAILURE) :] for o in outcomes if o.startswith(FAILURE)), "")
    reason = f"{failed} of the last {seen} operations failed" + (f": {last}" if last else "")
    reason = reason[:500]
    now = timezone.now()
    with transaction.atomic():
        # The conditional UPDATE is the claim: exactly one caller moves it out of NULL.
        claimed = DirectoryConnection.objects.filter(
            pk=connection.pk, quarantined_at__isnull=True
        ).update(quarantined_at=now, quarantine_reason=reason)
        if not claimed:
            return False
        # A new episode: the cool-down starts short again.
        breaker, _ = ConnectionBreaker.objects.update_or_create(
            connection_id=connection.pk,
            defaults={
                "held": False,
                "probe_failures": 0,
                "probing_until": None,
                "last_probe_at": None,
                "last_probe_ok": None,
                "last_probe_message": "",
            },
        )
        connection.quarantined_at, connection.quarantine_reason = now, reason
        record(
            "connection.quarantine",
            actor="system",
            tenant=connection.tenant,
            target=connection,
            before={"quarantined_at": None, "quarantine_reason": ""},
            after={
                **_quarantine_state(connection),
                "failed": failed,
                "seen": seen,
                "next_probe_at": _next_probe_at(now, breaker).isoformat(),
            },
        )
        _emit_quarantined(connection, by="breaker")
    return True


def _emit_quarantined(connection: DirectoryConnection, *, by: str) -> None:
    emit(
        Event.Kind.CONNECTION_QUARANTINED,
        tenant=connection.tenant,
        data={
            "connection": describe.connection(connection),
            "reason": connection.quarantine_reason,
            "by": by,
            "quarantined_at": describe.when(connection.quarantined_at),
        },
    )


def _emit_released(connection: DirectoryConnection, before: DirectoryConnection, *, by: str):
    emit(
        Event.Kind.CONNECTION_RELEASED,
        tenant=connection.tenant,
        data={
            "connection": describe.connection(connection),
            "reason": f"Released by {by}",
            "by": by,
            "quarantined_since": describe.when(before.quarantined_at),
        },
    )


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


# The window push in one script (atomic as the MULTI/EXEC it replaced, and one command for the
# client to pack and parse instead of seven): end the throttle streak, push the entries
# (oldest first, so the newest is the head), keep WINDOW, set the TTL, return the window, or
# nothing when it holds no failure (it cannot be failing then; nothing to decode).
_PUSH = """
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('LPUSH', KEYS[1], unpack(ARGV, 5))
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
local window = redis.call('LRANGE', KEYS[1], 0, -1)
local failure = ARGV[4]
for _, entry in ipairs(window) do
  if string.sub(entry, 1, #failure) == failure then return window end
end
return {}
"""


class _RedisWindow:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, decode_responses=True)
        self._push = self.client.register_script(_PUSH)

    def push(self, pk: int, entries: list[str]) -> list[str]:
        """Add `entries` (oldest first) and return the window after them, newest first (or []
        when it holds no failure), in one script; an answer that was not a throttle also ends
        the connection's run of throttles."""
        calm_key, calm_field = throttle.calm_in(pk)
        return self._push(
            keys=[_key(pk), calm_key], args=[WINDOW, WINDOW_TTL_S, calm_field, FAILURE, *entries]
        )

    def read(self, pk: int) -> list[str]:
        return self.client.lrange(_key(pk), 0, -1)

    def clear(self, pk: int) -> None:
        self.client.delete(_key(pk))


@cache
def _redis_window(url: str) -> _RedisWindow:
    return _RedisWindow(url)


def _key(pk: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:quarantine:{{{pk}}}:window"
