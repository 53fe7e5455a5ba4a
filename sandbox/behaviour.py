"""What a sandbox directory does to each call: rate limits, latency, injected faults, stats.

Shared by the Entra and Okta emulations. Pure logic apart from `delay()`: the clouds turn a
decision into their own HTTP shape (Graph's 429 + Retry-After, Okta's X-Rate-Limit-* headers).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Literal

Fault = Literal["error", "timeout", "garbled", "lost", "failed_after"]


@dataclass
class BehaviourSettings:
    rate_per_s: float | None = None  # None: unlimited
    burst: int | None = None  # bucket size; defaults to max(1, rate_per_s)
    latency_ms: int = 0
    jitter_ms: int = 0
    error_rate: float = 0.0  # share of calls answered 500/503
    timeout_rate: float = 0.0  # share of calls that hang past any client timeout
    replication_lag_ms: int = 0  # objects younger than this are 404 on some reads
    read_lag_ms: int = 0  # a user's memberships changed less than this ago read as before
    throttle_next: int = 0  # the next this many calls are throttled, whatever the bucket holds
    error_next: int = 0  # the next this many calls fail as `error_rate`'s do, whatever the share
    lose_answer_next: int = 0  # the next this many writes are carried out, their answers lost
    fail_after_next: int = 0  # the next this many writes are carried out, then answered 5xx
    # How Graph says so (Okta keeps its X-Rate-Limit-* 429): with or without Retry-After,
    # as 429 TooManyRequests or as 503 Request_ThrottledTemporarily.
    throttle_retry_after: bool = True
    throttle_status: int = 429
    batch_order_seed: int = 0  # with the body, seeds the order a `$batch` runs its requests in
    # Okta: requests one org serves at once before the next is 429 (None: Okta's default, 75;
    # sandbox/okta/pipeline.py). Graph's concurrency limits are not modelled.
    concurrent_limit: int | None = None

    def validate(self) -> None:
        for name in ("rate_per_s", "error_rate", "timeout_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | None):
                raise ValueError(f"{name} must be a number")
        for name in (
            "burst",
            "latency_ms",
            "jitter_ms",
            "replication_lag_ms",
            "read_lag_ms",
            "throttle_next",
            "error_next",
            "lose_answer_next",
            "fail_after_next",
            "throttle_status",
            "batch_order_seed",
            "concurrent_limit",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | None):
                raise ValueError(f"{name} must be a whole number")
        for name in (
            "latency_ms",
            "jitter_ms",
            "replication_lag_ms",
            "read_lag_ms",
            "error_rate",
            "timeout_rate",
            "throttle_next",
            "error_next",
            "lose_answer_next",
            "fail_after_next",
            "throttle_status",
            "batch_order_seed",
        ):
            if getattr(self, name) is None:
                raise ValueError(f"{name} must not be null")
        if not isinstance(self.throttle_retry_after, bool):
            raise ValueError("throttle_retry_after must be true or false")
        if self.throttle_status not in (429, 503):
            raise ValueError("throttle_status must be 429 or 503")
        if self.rate_per_s is not None and self.rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive (or null for unlimited)")
        if self.burst is not None and self.burst < 1:
            raise ValueError("burst must be at least 1")
        if self.concurrent_limit is not None and self.concurrent_limit < 1:
            raise ValueError("concurrent_limit must be at least 1 (or null for Okta's 75)")
        for name in (
            "latency_ms",
            "jitter_ms",
            "replication_lag_ms",
            "read_lag_ms",
            "throttle_next",
            "error_next",
            "lose_answer_next",
            "fail_after_next",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("error_rate", "timeout_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int  # bucket size, for X-Rate-Limit-Limit
    remaining: int
    reset_epoch: int  # when the bucket is full again (epoch seconds), for X-Rate-Limit-Reset
    retry_after_s: int  # whole seconds until one token is available (0 when allowed)


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.capacity = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> RateDecision:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        allowed = self.tokens >= 1.0
        if allowed:
            self.tokens -= 1.0
        missing_for_one = max(0.0, 1.0 - self.tokens)
        until_full = (self.capacity - self.tokens) / self.rate
        return RateDecision(
            allowed=allowed,
            limit=self.capacity,
            remaining=int(self.tokens),
            reset_epoch=math.ceil(time.time() + until_full),
            retry_after_s=0 if allowed else max(1, math.ceil(missing_for_one / self.rate)),
        )


class Behaviour:
    """Settings plus one token bucket per key (e.g. app id for Graph, endpoint family for Okta)."""

    def __init__(self, settings: BehaviourSettings | None = None) -> None:
        self.settings = settings or BehaviourSettings()
        self._buckets: dict[str, TokenBucket] = {}

    def update(self, data: dict) -> None:
        """Apply a partial update from the control API; raises ValueError, changing nothing."""
        if not isinstance(data, dict):
            raise ValueError("behaviour must be a JSON object")
        known = {f.name for f in fields(BehaviourSettings)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown behaviour settings: {', '.join(sorted(unknown))}")
        merged = BehaviourSettings(**{**asdict(self.settings), **data})
        merged.validate()
        self.settings = merged
        self._buckets.clear()

    def as_dict(self) -> dict:
        return asdict(self.settings)

    def take_token(self, key: str = "default") -> RateDecision:
        s = self.settings
        if s.throttle_next > 0:
            s.throttle_next -= 1
            return RateDecision(False, 1, 0, math.ceil(time.time()) + 1, 1)
        if s.rate_per_s is None:
            return RateDecision(True, 10_000, 9_999, math.ceil(time.time()) + 60, 0)
        bucket = self._buckets.get(key)
        if bucket is None:
            burst = s.burst or max(1, math.ceil(s.rate_per_s))
            bucket = self._buckets[key] = TokenBucket(s.rate_per_s, burst)
        return bucket.take()

    def draw_fault(self) -> Fault | None:
        s = self.settings
        if s.error_next > 0:
            s.error_next -= 1
            return "error"
        roll = random.random()
        if roll < s.timeout_rate:
            return "timeout"
        if roll < s.timeout_rate + s.error_rate:
            return "error"
        return None

    def draw_lost_answer(self) -> bool:
        """Whether this write, carried out, has its answer lost (`lose_answer_next`): the
        connection then hangs until the client gives up, as when a network drops the answer
        of a request the service applied (RFC 9110 §9.2.2)."""
        return self._spend("lose_answer_next")

    def draw_failed_after(self) -> bool:
        """Whether this write, carried out, is answered as a failure (`fail_after_next`): a
        gateway that gave up on the service it fronts answers 504 while the service still
        completes the request (Microsoft Graph's error table: 504 "didn't receive a timely
        response from the upstream server"; RFC 9110 §15.6.5), so a 5xx does not say the
        write did not happen."""
        return self._spend("fail_after_next")

    def _spend(self, countdown: str) -> bool:
        """Whether one of the next-N faults named `countdown` is left, taking it if so."""
        left = getattr(self.settings, countdown)
        if left > 0:
            setattr(self.settings, countdown, left - 1)
        return left > 0

    def draw_timeout(self) -> bool:
        """Whether a call that carries others (a `$batch`) hangs: its own faults are theirs."""
        return random.random() < self.settings.timeout_rate

    async def delay(self, stats: Stats) -> None:
        """The latency asked for (with its jitter), counted in `stats` as it is applied: a
        test reads the delay the sandbox added rather than timing a call on a busy machine."""
        s = self.settings
        ms = s.latency_ms + (random.uniform(-s.jitter_ms, s.jitter_ms) if s.jitter_ms else 0)
        if ms > 0:
            stats.delayed(ms)
            await asyncio.sleep(ms / 1000)

    def is_replicating(self, created_monotonic: float) -> bool:
        lag = self.settings.replication_lag_ms
        return lag > 0 and (time.monotonic() - created_monotonic) * 1000 < lag


class Stats:
    """Calls by "METHOD route-template", with the 429s and injected faults served.

    `calls` counts every operation, a `$batch` sub-request as well as the `$batch` that
    carried it; `batched_calls` counts the sub-requests alone, so `http_requests` (what
    crossed the network) is the difference. `peak_in_flight` is the most HTTP requests
    served at once, which tells concurrent requests from sequential ones.
    """

    def __init__(self) -> None:
        self.in_flight = 0  # not reset: requests running across a reset still end
        self.reset()

    def reset(self) -> None:
        self.calls: Counter[str] = Counter()
        self.batched: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.throttled = 0
        self.faults: Counter[str] = Counter()
        self.peak_in_flight = self.in_flight
        self.delayed_calls = 0
        self.delayed_ms = 0.0

    def record(
        self,
        method: str,
        route: str,
        status: int,
        fault: Fault | None = None,
        *,
        batched: bool = False,
    ) -> None:
        self.calls[f"{method} {route}"] += 1
        if batched:
            self.batched[f"{method} {route}"] += 1
        self.statuses[status] += 1
        if status == 429:
            self.throttled += 1
        if fault:
            self.faults[fault] += 1

    def delayed(self, ms: float) -> None:
        self.delayed_calls += 1
        self.delayed_ms += ms

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Around one HTTP request, for `peak_in_flight`."""
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1

    def snapshot(self) -> dict:
        total = sum(self.calls.values())
        return {
            "total_calls": total,
            "calls": dict(self.calls),
            "http_requests": total - sum(self.batched.values()),
            "batched_calls": dict(self.batched),
            "peak_in_flight": self.peak_in_flight,
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "throttled": self.throttled,
            "faults": dict(self.faults),
            "delayed_calls": self.delayed_calls,
            "delayed_ms": round(self.delayed_ms),
        }
