"""The shared token bucket: bursts, refill, pauses after a 429, and no overspending when
several threads or processes take from it at once. Every test runs on both backends.

Times are real (Redis uses its own clock), so the assertions allow for a slow machine: they
bound what a token bucket may grant, never how fast the code runs.
"""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings

from provisioning import throttle
from tests.provisioning.throttle_support import (
    REDIS_TEST_URL,
    database_shared_between_threads,
    limiter_backend,  # noqa: F401 - the fixture
    run_threads,
    start_hammers,
)

pytestmark = pytest.mark.usefixtures("limiter_backend")

RATE = 10.0  # tokens per second
BURST = 5
EPSILON_S = 0.001  # the clocks' rounding (the database's timestamps are to the microsecond)
# Tokens a loop may take one by one before it stops: on a machine so loaded that a call takes
# longer than a token (0.1 s), tokens come in as fast as it takes them.
MOST_TAKEN = 100


@pytest.fixture
def conn(alpha):
    connection = alpha.connection
    connection.rate_limit_per_s, connection.rate_burst = RATE, BURST
    connection.save()
    return connection


def drain(connection) -> float:
    """Take the whole (full) bucket at once; the clock read before, from which it refills."""
    emptied = time.monotonic()
    assert throttle.acquire(connection, tokens=BURST) == 0.0
    return emptied


def take_all(connection) -> int:
    """Take tokens one by one until refused (or MOST_TAKEN): how many were granted."""
    granted = 0
    while granted < MOST_TAKEN and throttle.acquire(connection) == 0.0:
        granted += 1
    return granted


def within(seconds: float, expected: float, since: float) -> bool:
    """`seconds` is `expected` less at most the time passed since `since` (a clock read before
    the call that set it; read again here, after the answer): however slow the machine."""
    passed = time.monotonic() - since
    return expected - passed - EPSILON_S <= seconds <= expected + EPSILON_S


@pytest.fixture
def slow(conn):
    """One token a second: a pause of the test process shorter than that changes nothing."""
    conn.rate_limit_per_s = 1.0
    conn.save()
    return conn


def test_a_burst_is_granted_then_the_next_call_waits_for_one_token(slow):
    assert [throttle.acquire(slow) for _ in range(BURST)] == [0.0] * BURST
    wait = throttle.acquire(slow)
    assert 0.0 < wait <= 1.0


def test_tokens_refill_at_the_rate(conn):
    emptied = drain(conn)
    time.sleep(0.35)  # 3.5 tokens at 10/s
    granted = take_all(conn)
    # At most what came in since the bucket was emptied: more than the bucket holds when the
    # calls are slow, as tokens keep coming while they are taken.
    assert 3 <= granted <= int(RATE * (time.monotonic() - emptied)) + 1


def test_waiting_the_answer_is_enough(conn):
    drain(conn)
    wait = throttle.acquire(conn, tokens=3)
    assert 0.0 < wait <= 3 / RATE
    time.sleep(wait + 0.01)
    assert throttle.acquire(conn, tokens=3) == 0.0


def test_a_refused_call_takes_nothing(slow):
    drain(slow)
    before = time.monotonic()
    first = throttle.acquire(slow)
    after = time.monotonic()
    assert 0.0 < first <= 1.0
    # The token the first refusal waits for is due between before + first and after + first,
    # however long the calls take on a loaded machine.
    for _ in range(20):
        wait = throttle.acquire(slow)
        if wait == 0.0:  # granted: only once that token was due, so nothing was taken before
            assert time.monotonic() >= before + first - 0.02
            return
        assert wait <= first + 0.02  # a refusal adds no debt: the wait never grows
    time.sleep(max(0.0, after + first - time.monotonic()) + 0.05)
    assert throttle.acquire(slow) == 0.0


def test_more_than_the_burst_is_granted_from_a_full_bucket_and_leaves_a_debt(slow):
    assert throttle.acquire(slow, tokens=BURST + 3) == 0.0
    wait = throttle.acquire(slow)
    assert 3.0 < wait <= 4.0  # 3 owed plus the one asked for


def test_more_than_the_burst_waits_for_a_full_bucket_not_forever(slow):
    assert throttle.acquire(slow, tokens=2) == 0.0
    wait = throttle.acquire(slow, tokens=BURST + 10)
    assert 0.0 < wait <= 2.0


def test_a_connection_set_to_zero_still_lets_calls_through(conn):
    conn.rate_limit_per_s, conn.rate_burst = 0.0, 0
    assert throttle.acquire(conn) == 0.0
    assert throttle.acquire(conn) > 0.0


def test_pause_refuses_tokens_for_its_length_on_that_connection_only(alpha, conn):
    since = time.monotonic()
    throttle.pause(conn, 2.0)
    wait = throttle.acquire(conn)
    assert wait > 0.0 and within(wait, 2.0, since)
    assert within(throttle.paused_for(conn), 2.0, since)
    other = alpha.okta_connection
    assert throttle.paused_for(other) == 0.0
    assert throttle.acquire(other) == 0.0


def test_pause_extends_but_never_shortens(conn):
    since = time.monotonic()
    throttle.pause(conn, 5.0)
    throttle.pause(conn, 1.0)
    assert within(throttle.paused_for(conn), 5.0, since)
    since = time.monotonic()
    throttle.pause(conn, 8.0)
    assert within(throttle.paused_for(conn), 8.0, since)


def test_after_a_pause_calls_resume_at_the_rate_not_with_a_burst(conn):
    paused_at = time.monotonic()
    throttle.pause(conn, 0.2)
    time.sleep(0.2 + 1 / RATE + 0.02)
    assert throttle.paused_for(conn) == 0.0
    granted = take_all(conn)
    since_the_pause = time.monotonic() - (paused_at + 0.2)
    assert 1 <= granted <= int(RATE * since_the_pause) + 1


def test_not_paused_is_zero(conn):
    assert throttle.paused_for(conn) == 0.0


def test_reset_forgets_bucket_and_pause(conn):
    drain(conn)
    throttle.pause(conn, 30.0)
    throttle.reset(conn)
    assert throttle.paused_for(conn) == 0.0
    assert [throttle.acquire(conn) for _ in range(BURST)] == [0.0] * BURST


@pytest.mark.parametrize("limiter_backend", ["redis"], indirect=True)
def test_redis_keys_expire(conn, limiter_backend):  # noqa: F811
    throttle.pause(conn, 3.0)
    throttle.acquire(conn)
    client = redis.Redis.from_url(REDIS_TEST_URL)
    keys = client.keys(f"{settings.REDIS_KEY_PREFIX}:throttle:*")
    assert keys and all(0 < client.ttl(key) <= 3 + BURST / RATE + 2 for key in keys)


@pytest.mark.django_db(transaction=True)
def test_threads_never_get_more_than_the_bucket_allows(conn, limiter_backend):  # noqa: F811
    if limiter_backend == "database" and not database_shared_between_threads():
        pytest.skip("the test database is SQLite in memory")
    conn.rate_limit_per_s, conn.rate_burst = 20.0, 10
    conn.save()

    def hammer(_: int) -> int:
        granted, deadline = 0, time.monotonic() + 1.0
        while time.monotonic() < deadline:
            granted += throttle.acquire(conn) == 0.0
        return granted

    started = time.monotonic()
    results = run_threads(4, hammer)
    elapsed = time.monotonic() - started
    assert all(isinstance(r, int) for r in results), results
    assert 10 <= sum(results) <= 10 + 20.0 * elapsed + 1


@pytest.mark.django_db(transaction=True)
def test_processes_never_get_more_than_the_bucket_allows(conn, limiter_backend, settings):  # noqa: F811
    if limiter_backend == "database" and not database_shared_between_threads():
        pytest.skip("the test database is SQLite in memory: other processes cannot see it")
    processes = start_hammers(3, settings.REDIS_URL, str(conn.pk), "20", "10", "1.0")
    started = time.monotonic()
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=60) for process in processes]
    elapsed = time.monotonic() - started
    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
    total = sum(int(out) for out, _ in outputs)
    assert 10 <= total <= 10 + 20.0 * elapsed + 1


@pytest.mark.parametrize("limiter_backend", ["redis"], indirect=True)
def test_a_wait_shorter_than_the_answers_rounding_is_no_grant(conn, limiter_backend):  # noqa: F811
    """A bucket a hair short of a token answers a wait, however small, and takes nothing: a
    wait that printed as 0.000000 read as 0.0, "taken", and a call went out without its token
    (four threads hammering one bucket were granted one or two more than it allows)."""
    client = redis.Redis.from_url(REDIS_TEST_URL)
    seconds, micros = client.time()
    key = throttle._key(conn.pk)
    # Counted "now" and a moment ahead, so nothing refills before the acquire reads it.
    client.hset(key, mapping={"tokens": "0.99999999", "ts": f"{seconds + 5}.{micros:06d}"})

    wait = throttle.acquire(conn)

    assert wait > 0.0
    assert float(client.hget(key, "tokens")) == pytest.approx(0.99999999)
