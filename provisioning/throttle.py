"""One token bucket per directory connection, shared by every worker process and machine.

Nothing here sleeps: `acquire` either takes the tokens or says how long to wait, and the
engine re-schedules its task with that countdown so that other tenants keep flowing.

A throttled answer pauses the connection (`throttled`): for the directory's own delay when it
gives one (Retry-After, X-Rate-Limit-Reset), else for an exponential back-off with full
jitter that grows with each consecutive throttle of the connection (a throttle that comes
after the previous pause ended) and starts again after a success (`calm_in`). Throttling is
pacing, never a failure: it counts toward no try limit and no quarantine.

With ``settings.REDIS_URL`` the bucket lives in Redis and is changed by Lua scripts that read
the Redis server's clock, so that several machines agree. Without it (the embedded default:
one machine, several worker processes) it is a `ConnectionBucket` row, changed under a row
lock in a short transaction (SQLite's IMMEDIATE transactions serialise the writers).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Protocol

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from provisioning.models_throttle import ConnectionBucket
from tenants.models import DirectoryConnection

# Guards against a connection configured with a rate of 0 or a burst of 0, which would
# otherwise never let a call through.
MIN_RATE_PER_S = 0.01
MIN_BURST = 1
# Back-off after a throttle that named no delay: between the floor and a ceiling that doubles
# with each consecutive throttle (2, 4, 8 ... seconds), at most the cap.
BACKOFF_FLOOR_S = 1.0
BACKOFF_CAP_S = 60.0
# The database backend keeps the consecutive throttles at the head of the bucket row's
# outcome list ("t:3"); provisioning/quarantine.py skips it and drops it with any outcome.
STREAK = "t:"
# Reservations may put a connection this many seconds of its rate into debt (reserve_ahead_s).
RESERVE_AHEAD_S = 5.0
# Called before a throttle is counted, registered from above (`before_throttled`).
_before_throttled: list[Callable[[DirectoryConnection], None]] = []


def acquire(connection: DirectoryConnection, tokens: int = 1) -> float:
    """Take `tokens` from the connection's bucket. 0.0 when taken; else the seconds until they
    would be available (nothing taken). Also returns > 0 while the connection is paused.

    A request for more tokens than the bucket holds (a `$batch` larger than the burst) is
    granted once the bucket is full and leaves it in debt, so it waits, but never forever.
    """
    if tokens <= 0:
        return 0.0
    return _backend().acquire(connection.pk, bucket_capacity(connection), _rate(connection), tokens)


def reserve(
    connection: DirectoryConnection, tokens: int, within_s: float, *, newcomer: bool = False
) -> tuple[bool, float]:
    """Take `tokens` now, even into debt, for calls sent when they are due: (True, seconds
    until due; 0.0 for now). Refused, nothing taken, while the debt already reserved (and any
    pause) runs more than `within_s` ahead: (False, seconds until it no longer does). A
    negative `within_s` asks for that many seconds of the rate left over in the bucket.

    The gate looks at the debt before this request, never at its size, so a 7-token `$batch`
    gets in whenever a 1-token read would. Reservations are due in the order they were taken.
    A `newcomer` is refused while jobs wait their turn at the connection (`hold_line`).
    """
    if tokens <= 0:
        return True, 0.0
    return _backend().reserve(
        connection.pk, bucket_capacity(connection), _rate(connection), tokens, within_s, newcomer
    )


def refund(connection: DirectoryConnection, tokens: int) -> None:
    """Give back `tokens` reserved and not to be spent (a job that paid ahead for more calls
    than it makes): the debt shrinks by as much, the bucket never beyond full. Reservations
    already taken keep their due times; the next ones find the tokens."""
    if tokens > 0:
        _backend().refund(connection.pk, bucket_capacity(connection), _rate(connection), tokens)


def hold_line(connection: DirectoryConnection, seconds: float) -> None:
    """Jobs wait their turn at the connection for the next `seconds` (extends, never
    shortens): until then a newcomer's `reserve` is refused, so it queues behind them."""
    _backend().hold_line(connection.pk, bucket_capacity(connection), seconds)


def reserve_ahead_s(connection: DirectoryConnection) -> float:
    """How far ahead a connection's reservations may run: a few seconds of its rate, and at
    least a full bucket's worth, so that a `$batch` as big as the bucket always fits."""
    return max(RESERVE_AHEAD_S, bucket_capacity(connection) / _rate(connection))


def rate_per_s(connection: DirectoryConnection) -> float:
    return _rate(connection)


def pause(connection: DirectoryConnection, seconds: float) -> None:
    """After a 429: no tokens for this connection for `seconds` (Retry-After /
    X-Rate-Limit-Reset). Extends, never shortens, a pause.

    The bucket is emptied as well: the directory's budget is spent, so calls resume at the
    steady rate after the pause rather than with a burst that would be refused again.
    """
    if seconds > 0:
        _backend().pause(connection.pk, bucket_capacity(connection), _rate(connection), seconds)


def before_throttled(hook: Callable[[DirectoryConnection], None]) -> Callable:
    """Call `hook(connection)` before each throttle of a connection is counted (quarantine's
    successes held by a run, whose push ends the streak, go first)."""
    if hook not in _before_throttled:
        _before_throttled.append(hook)
    return hook


def throttled(connection: DirectoryConnection, retry_after: float | None) -> float:
    """After a throttled answer (429, or Graph's 503 Request_ThrottledTemporarily): pause the
    connection and return the seconds to wait. The directory's delay when it named one; else
    `backoff_ceiling` of the consecutive throttles, with full jitter. A throttle during a pause
    (a call already in flight) belongs to the same episode: it waits out that pause, no more."""
    given = retry_after if retry_after and retry_after > 0 else 0.0
    for hook in _before_throttled:
        hook(connection)
    return _backend().throttled(
        connection.pk, bucket_capacity(connection), _rate(connection), given, random.random()
    )


def calm_in(connection_id: int) -> tuple[str, str]:
    """A call went through: the next throttle starts the back-off from the beginning. Redis
    only: the key and the field to delete, for quarantine's window push to HDEL in its own
    script (one round trip for both, their keys in one hash slot); the database backend
    needs no call: quarantine.record_outcome drops the streak."""
    return _key(connection_id), "streak"


def throttle_streak(connection: DirectoryConnection) -> int:
    """Consecutive throttles of the connection since its last success."""
    return _backend().streak(connection.pk)


def backoff_ceiling(streak: int) -> float:
    return min(BACKOFF_CAP_S, BACKOFF_FLOOR_S * 2 ** min(max(streak, 1), 16))


def _jittered(streak: int, jitter: float) -> float:
    """Full jitter above the floor: anywhere up to the ceiling, so that the callers a
    throttle stopped together do not come back together."""
    return BACKOFF_FLOOR_S + jitter * (backoff_ceiling(streak) - BACKOFF_FLOOR_S)


def paused_for(connection: DirectoryConnection) -> float:
    """Seconds left of the connection's pause; 0.0 when not paused."""
    return _backend().paused_for(connection.pk)


def reset(connection: DirectoryConnection) -> None:
    """Forget the connection's bucket and pause (tests, admin): it starts full again."""
    _backend().reset(connection.pk, bucket_capacity(connection))


def bucket_capacity(connection: DirectoryConnection) -> float:
    return float(max(MIN_BURST, connection.rate_burst))


def _rate(connection: DirectoryConnection) -> float:
    return max(MIN_RATE_PER_S, float(connection.rate_limit_per_s))


class _Buckets(Protocol):
    def acquire(self, pk: int, capacity: float, rate: float, tokens: int) -> float: ...
    def reserve(
        self, pk: int, capacity: float, rate: float, tokens: int, within_s: float, newcomer: bool
    ) -> tuple[bool, float]: ...
    def refund(self, pk: int, capacity: float, rate: float, tokens: int) -> None: ...
    def hold_line(self, pk: int, capacity: float, seconds: float) -> None: ...
    def pause(self, pk: int, capacity: float, rate: float, seconds: float) -> None: ...
    def paused_for(self, pk: int) -> float: ...
    def reset(self, pk: int, capacity: float) -> None: ...
    def throttled(
        self, pk: int, capacity: float, rate: float, given: float, jitter: float
    ) -> float: ...
    def streak(self, pk: int) -> int: ...


def _backend() -> _Buckets:
    # Read at call time, so that tests (and a settings change) switch backends.
    url = settings.REDIS_URL
    return _redis_buckets(url) if url else _DatabaseBuckets()


# --- Redis ------------------------------------------------------------------------------

# One hash per connection: tokens, ts (when tokens was counted) and until (end of a pause),
# all in Redis server seconds. A missing hash is a full bucket, so every write sets a TTL of
# the time the bucket needs to be full again.
_ACQUIRE = """
-- A wait is never printed as 0.000000, which the caller would read as "taken".
local function wait(seconds) return string.format('%.6f', math.max(seconds, 0.000001)) end
local capacity, rate, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'until')
local paused = tonumber(s[3]) or 0
if paused > now then return wait(paused - now) end
local tokens = tonumber(s[1]) or capacity
local ts = tonumber(s[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local need = math.min(want, capacity)
if tokens < need then return wait((need - tokens) / rate) end
tokens = tokens - want
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%.6f', now))
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1)
return '0'
"""

# Taken when the debt (and pause) before it ends within ARGV[4] seconds (a negative ARGV[4]:
# when that many seconds of surplus are left): "1 <due in>"; else "0 <seconds until then>".
# The clock (ts) never goes back, so that after a pause the bucket refills from its end. A
# newcomer (ARGV[5] = 1) is refused while a line is held: "0 0".
_RESERVE = """
local capacity, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local want, within, newcomer = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'line')
if newcomer and (tonumber(s[3]) or 0) > now then return '0 0' end
local tokens = tonumber(s[1]) or capacity
local ts = tonumber(s[2]) or now
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local ahead = ts - now
local gate = ahead - tokens / rate
if gate > within then return '0 ' .. string.format('%.6f', gate - within) end
local due = ahead + math.max(0, math.min(want, capacity) - tokens) / rate
tokens = tokens - want
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%.6f', ts))
local line = (tonumber(s[3]) or 0) - now
redis.call('EXPIRE', KEYS[1], math.ceil(math.max(line, ahead + (capacity - tokens) / rate)) + 1)
return '1 ' .. string.format('%.6f', due)
"""

# The tokens back, as _RESERVE counts them, never beyond a full bucket. A missing hash is a
# full bucket already; the key's TTL is left as it is (it outlasts the smaller debt).
_REFUND = """
local capacity, rate, give = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
if not s[1] then return '0' end
local tokens = tonumber(s[1])
local ts = tonumber(s[2]) or now
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
tokens = math.min(capacity, tokens + give)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%.6f', ts))
return '0'
"""

_HOLD_LINE = """
local seconds = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local line = math.max(tonumber(redis.call('HGET', KEYS[1], 'line')) or 0, now + seconds)
redis.call('HSET', KEYS[1], 'line', string.format('%.6f', line))
if redis.call('TTL', KEYS[1]) < line - now then
  redis.call('EXPIRE', KEYS[1], math.ceil(line - now) + 1)
end
return '0'
"""

_PAUSE = """
local capacity, rate, seconds = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'until')
local tokens = tonumber(s[1]) or capacity
local ts = tonumber(s[2]) or now
local untl = math.max(tonumber(s[3]) or 0, now + seconds)
if ts < now then tokens = math.min(capacity, tokens + (now - ts) * rate) end
tokens = math.min(tokens, 0)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%.6f', untl), 'until', string.format('%.6f', untl))
redis.call('EXPIRE', KEYS[1], math.ceil(untl - now + (capacity - tokens) / rate) + 1)
return '0'
"""

# A throttle: within a pause, the pause's remainder (extended to `given`); else one more in
# the streak and a pause of `given` or of the jittered back-off. The pause as in _PAUSE.
_THROTTLED = """
local capacity, rate, given = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local jitter, floor, cap = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'until', 'streak')
local paused = tonumber(s[3]) or 0
local streak = tonumber(s[4]) or 0
local seconds
if paused > now then
  seconds = math.max(paused - now, given)
else
  streak = streak + 1
  seconds = given
  if seconds <= 0 then
    local ceiling = math.min(cap, floor * 2 ^ math.min(math.max(streak, 1), 16))
    seconds = floor + jitter * (ceiling - floor)
  end
end
local tokens = tonumber(s[1]) or capacity
local ts = tonumber(s[2]) or now
local untl = math.max(paused, now + seconds)
if ts < now then tokens = math.min(capacity, tokens + (now - ts) * rate) end
tokens = math.min(tokens, 0)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%.6f', untl), 'until', string.format('%.6f', untl),
           'streak', streak)
redis.call('EXPIRE', KEYS[1], math.ceil(untl - now + (capacity - tokens) / rate) + 1)
return string.format('%.6f', seconds)
"""

_PAUSED_FOR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local untl = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
return string.format('%.6f', math.max(0, untl - now))
"""


class Unavailable(Exception):
    """The buckets' Redis did not answer (restarted, failed over, still loading its data):
    the portal's own infrastructure away, not a fault of the portal's; nothing was taken."""


def _answering(method):
    """A bucket call whose Redis is away raises Unavailable (redis-py has retried it)."""

    @functools.wraps(method)
    def call(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise Unavailable(f"The rate limiter's Redis did not answer ({exc})") from exc

    return call


class _RedisBuckets:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self._acquire = self.client.register_script(_ACQUIRE)
        self._reserve = self.client.register_script(_RESERVE)
        self._refund = self.client.register_script(_REFUND)
        self._hold_line = self.client.register_script(_HOLD_LINE)
        self._pause = self.client.register_script(_PAUSE)
        self._paused_for = self.client.register_script(_PAUSED_FOR)
        self._throttled = self.client.register_script(_THROTTLED)

    @_answering
    def acquire(self, pk: int, capacity: float, rate: float, tokens: int) -> float:
        return float(self._acquire(keys=[_key(pk)], args=[capacity, rate, tokens]))

    @_answering
    def reserve(
        self, pk: int, capacity: float, rate: float, tokens: int, within_s: float, newcomer: bool
    ) -> tuple[bool, float]:
        args = [capacity, rate, tokens, within_s, int(newcomer)]
        taken, seconds = self._reserve(keys=[_key(pk)], args=args).split()
        return taken == b"1", float(seconds)

    @_answering
    def refund(self, pk: int, capacity: float, rate: float, tokens: int) -> None:
        self._refund(keys=[_key(pk)], args=[capacity, rate, tokens])

    @_answering
    def hold_line(self, pk: int, capacity: float, seconds: float) -> None:
        self._hold_line(keys=[_key(pk)], args=[seconds])

    @_answering
    def pause(self, pk: int, capacity: float, rate: float, seconds: float) -> None:
        self._pause(keys=[_key(pk)], args=[capacity, rate, seconds])

    @_answering
    def paused_for(self, pk: int) -> float:
        return float(self._paused_for(keys=[_key(pk)]))

    @_answering
    def reset(self, pk: int, capacity: float) -> None:
        self.client.delete(_key(pk))

    @_answering
    def throttled(
        self, pk: int, capacity: float, rate: float, given: float, jitter: float
    ) -> float:
        args = [capacity, rate, given, jitter, BACKOFF_FLOOR_S, BACKOFF_CAP_S]
        return float(self._throttled(keys=[_key(pk)], args=args))

    @_answering
    def streak(self, pk: int) -> int:
        return int(self.client.hget(_key(pk), "streak") or 0)


@cache
def _redis_buckets(url: str) -> _RedisBuckets:
    # One client (and connection pool) per process and URL; redis-py re-creates the pool's
    # connections after a fork, so Celery's prefork children can share this.
    return _RedisBuckets(url)


def _key(pk: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:throttle:{{{pk}}}"


# --- Database ---------------------------------------------------------------------------


class _DatabaseBuckets:
    def acquire(self, pk: int, capacity: float, rate: float, tokens: int) -> float:
        with transaction.atomic():
            bucket = locked_bucket(pk, capacity)
            now = timezone.now()
            if bucket.paused_until and bucket.paused_until > now:
                return _seconds(bucket.paused_until - now)
            available = _refilled(bucket, now, capacity, rate)
            need = min(tokens, capacity)
            if available < need:
                return (need - available) / rate
            bucket.tokens, bucket.updated_at = available - tokens, now
            bucket.save(update_fields=["tokens", "updated_at"])
            return 0.0

    def reserve(
        self, pk: int, capacity: float, rate: float, tokens: int, within_s: float, newcomer: bool
    ) -> tuple[bool, float]:
        with transaction.atomic():
            bucket = locked_bucket(pk, capacity)
            now = timezone.now()
            if newcomer and bucket.line_until and bucket.line_until > now:
                return False, 0.0
            counted_at = max(bucket.updated_at, now)
            balance = _refilled(bucket, now, capacity, rate)
            ahead = _seconds(counted_at - now)
            gate = ahead - balance / rate
            if gate > within_s:
                return False, gate - within_s
            due = ahead + max(0.0, min(tokens, capacity) - balance) / rate
            bucket.tokens, bucket.updated_at = balance - tokens, counted_at
            bucket.save(update_fields=["tokens", "updated_at"])
            return True, due

    def refund(self, pk: int, capacity: float, rate: float, tokens: int) -> None:
        with transaction.atomic():
            bucket = locked_bucket(pk, capacity)
            now = timezone.now()
            balance = _refilled(bucket, now, capacity, rate)
            bucket.tokens = min(capacity, balance + tokens)
            bucket.updated_at = max(bucket.updated_at, now)
            bucket.save(update_fields=["tokens", "updated_at"])

    def hold_line(self, pk: int, capacity: float, seconds: float) -> None:
        with transaction.atomic():
            bucket = locked_bucket(pk, capacity)
            until = timezone.now() + timedelta(seconds=seconds)
            if bucket.line_until is None or bucket.line_until < until:
                bucket.line_until = until
                bucket.save(update_fields=["line_until"])

    def pause(self, pk: int, capacity: float, rate: float, seconds: float) -> None:
        with transaction.atomic():
            bucket = locked_bucket(pk, capacity)
            now = timezone.now()
            until = now + timedelta(seconds=seconds)
            if bucket.paused_until and bucket.paused_until > until:
                until = bucket.paused_until
            bucket.tokens = min(_refilled(bucket, now, capacity, rate), 0.0)
            bucket.updated_at = bucket.paused_until = until
            bucket.save(update_fields=["tokens", "updated_at", "paused_until"])

    def paused_for(self, pk: int) -> float:
        until = (
            ConnectionBucket.objects.filter(connection_id=pk)
            .values_list("paused_until", flat=True)
            .first()
        )
        return _seconds(until - timezone.now()) if until else 0.0

    def reset(self, pk: int, capacity: float) -> None:
        # The outcome window shares the row (provisioning/quarantine.py), so keep the row.
        with transaction.atomic():
            bucket = ConnectionBucket.objects.select_for_update().filter(connection_id=pk).first()
            if bucket is not None:
                bucket.tokens, bucket.updated_at, bucket.paused_until = (
                    capacity,
                    timezone.now(),
                    None,
                )
                bucket.line_until = None
                bucket.outcomes = without_streak(bucket.outcomes)
                bucket.save(
                    update_fields=["tokens", "updated_at", "paused_until", "line_until", "outcomes"]
                )

    def throttled(
        self, pk: int, capacity: float, rate: float, given: float, jitter: float
    ) -> float:
        with transaction.atomic():
            bucket = locked_bucket(pk, capacity)
            now = timezone.now()
            streak = streak_of(bucket.outcomes)
            if bucket.paused_until and bucket.paused_until > now:
                seconds = max(_seconds(bucket.paused_until - now), given)
            else:
                streak += 1
                seconds = given or _jittered(streak, jitter)
            until = max(bucket.paused_until or now, now + timedelta(seconds=seconds))
            bucket.tokens = min(_refilled(bucket, now, capacity, rate), 0.0)
            bucket.updated_at = bucket.paused_until = until
            bucket.outcomes = [f"{STREAK}{streak}", *without_streak(bucket.outcomes)]
            bucket.save(update_fields=["tokens", "updated_at", "paused_until", "outcomes"])
            return seconds

    def streak(self, pk: int) -> int:
        row = ConnectionBucket.objects.filter(connection_id=pk).values_list("outcomes", flat=True)
        return streak_of(row.first() or [])


def streak_of(outcomes: list[str]) -> int:
    head = outcomes[0] if outcomes else ""
    return int(head[len(STREAK) :]) if head.startswith(STREAK) else 0


def without_streak(outcomes: list[str]) -> list[str]:
    return [o for o in outcomes if not o.startswith(STREAK)]


def locked_bucket(pk: int, capacity: float) -> ConnectionBucket:
    """The connection's bucket row, locked until the caller's transaction ends; created full."""
    rows = ConnectionBucket.objects.select_for_update()
    bucket = rows.filter(connection_id=pk).first()
    if bucket is None:
        # A concurrent first caller makes this a no-op; the unique key keeps one row.
        ConnectionBucket.objects.bulk_create(
            [ConnectionBucket(connection_id=pk, tokens=capacity, updated_at=timezone.now())],
            ignore_conflicts=True,
        )
        bucket = rows.get(connection_id=pk)
    return bucket


def _refilled(bucket: ConnectionBucket, now: datetime, capacity: float, rate: float) -> float:
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    return min(capacity, bucket.tokens + elapsed * rate)


def _seconds(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds())
