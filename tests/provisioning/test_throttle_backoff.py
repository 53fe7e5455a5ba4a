"""A throttle that names no delay: exponential back-off with full jitter, growing with each
consecutive throttle of the connection, capped, reset by any answer that was not a throttle;
never an outcome for quarantine. Every test runs on both backends (database and Redis)."""

from __future__ import annotations

import time

import pytest
import redis

from provisioning import quarantine, throttle
from tests.provisioning.throttle_support import limiter_backend  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("limiter_backend")

EPSILON_S = 0.001  # the clocks' rounding (the database's timestamps are to the microsecond)


@pytest.fixture
def conn(alpha):
    connection = alpha.connection
    connection.rate_limit_per_s, connection.rate_burst = 10.0, 5
    connection.save()
    return connection


@pytest.fixture
def jitter(monkeypatch):
    """Pin the jitter: 1.0 waits the whole ceiling, 0.0 the floor."""

    def pin(value: float) -> None:
        monkeypatch.setattr(throttle.random, "random", lambda: value)

    return pin


def pause_within(conn, seconds: float, since: float) -> bool:
    """The connection's pause has `seconds` left, less at most the time passed since `since`
    (the clock read before the pause began; read again after asking)."""
    left = throttle.paused_for(conn)
    passed = time.monotonic() - since
    return seconds - passed - EPSILON_S <= left <= seconds + EPSILON_S


def throttled_after_pause(conn, retry_after: float | None) -> float:
    """A throttle that comes after the previous pause is over: a consecutive one."""
    time.sleep(throttle.paused_for(conn) + 0.02)
    return throttle.throttled(conn, retry_after)


def test_the_ceiling_doubles_and_is_capped():
    ceilings = [throttle.backoff_ceiling(n) for n in range(1, 9)]
    assert ceilings == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_no_delay_given_backs_off_within_the_ceiling_and_pauses_the_connection(conn, jitter):
    jitter(1.0)
    since = time.monotonic()
    assert throttle.throttled(conn, None) == pytest.approx(2.0, abs=0.01)
    assert throttle.throttle_streak(conn) == 1
    assert pause_within(conn, 2.0, since)
    assert throttle.acquire(conn) > 0.0


def test_consecutive_throttles_grow_the_back_off_to_the_cap(conn, jitter):
    jitter(0.0)
    for _ in range(6):  # each after the pause before it: 1 s at the floor
        throttled_after_pause(conn, None)
    assert throttle.throttle_streak(conn) == 6
    jitter(1.0)
    time.sleep(throttle.paused_for(conn) + 0.02)
    assert throttle.throttled(conn, None) == pytest.approx(60.0, abs=0.01)  # capped
    assert throttle.throttle_streak(conn) == 7


def test_full_jitter_spreads_the_wait_between_floor_and_ceiling(conn, jitter):
    jitter(0.5)
    assert throttle.throttled(conn, None) == pytest.approx(1.5, abs=0.01)  # halfway to 2 s


def test_a_delay_the_directory_names_is_honoured_and_still_counts(conn):
    assert throttle.throttled(conn, 0.2) == pytest.approx(0.2)
    assert throttle.throttle_streak(conn) == 1
    throttled_after_pause(conn, 0.2)
    assert throttle.throttle_streak(conn) == 2


def test_a_throttle_during_the_pause_is_the_same_episode(conn, jitter):
    jitter(1.0)
    first = throttle.throttled(conn, None)  # a $batch's sub-requests, answered at once
    again = throttle.throttled(conn, None)
    assert again <= first and throttle.throttle_streak(conn) == 1
    since = time.monotonic()
    assert throttle.throttled(conn, 5.0) == pytest.approx(5.0)  # a longer delay extends it
    assert pause_within(conn, 5.0, since)


def test_an_answer_that_is_no_throttle_starts_the_back_off_again(conn, jitter):
    jitter(1.0)
    throttle.throttled(conn, 0.05)
    throttled_after_pause(conn, 0.05)
    assert throttle.throttle_streak(conn) == 2
    quarantine.record_outcome(conn, ok=True)
    assert throttle.throttle_streak(conn) == 0
    time.sleep(throttle.paused_for(conn) + 0.02)
    assert throttle.throttled(conn, None) == pytest.approx(2.0, abs=0.01)


def test_an_outcome_ends_the_streak_in_the_window_s_round_trip(conn, monkeypatch, settings):
    """On Redis a step's or a read's outcome is one round trip: the throttle streak's end goes
    in the MULTI/EXEC that pushes the quarantine window (the keys share their hash slot)."""
    throttle.throttled(conn, 0.05)
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    quarantine.record_outcomes(conn, [(True, ""), (True, "")])
    monkeypatch.undo()
    assert throttle.throttle_streak(conn) == 0
    assert len(sent) == (1 if settings.REDIS_URL else 0)


def test_the_window_push_is_one_command(conn, monkeypatch, settings):
    """On Redis the push is one script run (EVALSHA), not a MULTI/EXEC of seven commands:
    the client packs and parses one command. Its effects are the pipeline's, on either
    backend: the streak ends, the entries go in newest first, the window is capped (and on
    Redis expires)."""
    quarantine.record_outcome(conn, ok=True)  # the script loaded (a first EVALSHA may miss)
    throttle.throttled(conn, 0.05)
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(b"".join(command) if isinstance(command, list) else command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    quarantine.record_outcomes(conn, [(False, "first"), (True, "")])
    monkeypatch.undo()
    assert len(sent) == (1 if settings.REDIS_URL else 0)
    if settings.REDIS_URL:
        assert b"\r\nEVALSHA\r\n" in sent[0].upper() and b"MULTI" not in sent[0].upper()
        client = redis.Redis.from_url(settings.REDIS_URL)
        assert 0 < client.ttl(quarantine._key(conn.pk)) <= quarantine.WINDOW_TTL_S
        client.close()
    assert throttle.throttle_streak(conn) == 0
    window = quarantine._outcomes(conn)
    assert window == [quarantine.SUCCESS, quarantine.FAILURE + "first", quarantine.SUCCESS]
    for _ in range(quarantine.WINDOW):
        quarantine.record_outcome(conn, ok=True)
    assert quarantine._outcomes(conn) == [quarantine.SUCCESS] * quarantine.WINDOW


def test_the_redis_push_answers_the_window_only_while_it_holds_a_failure(conn, settings):
    """A window without a failure cannot be failing: the script answers [] for it, nothing to
    decode. The database backend keeps its window on a row (no push)."""
    if settings.REDIS_URL:
        window = quarantine._redis_window(settings.REDIS_URL)
        failure = quarantine.FAILURE + "boom"
        assert window.push(conn.pk, [failure]) == [failure]
        assert window.push(conn.pk, [quarantine.SUCCESS]) == [quarantine.SUCCESS, failure]
        window.push(conn.pk, [quarantine.SUCCESS] * (quarantine.WINDOW - 2))
        assert window.push(conn.pk, [quarantine.SUCCESS]) == []
        assert window.read(conn.pk) == [quarantine.SUCCESS] * quarantine.WINDOW
    quarantine.record_outcome(conn, ok=False, reason="boom")
    assert quarantine.failure_share(conn)[0] == 1


def test_throttles_are_no_outcome_for_quarantine(conn):
    for _ in range(3):
        throttled_after_pause(conn, 0.05)
    quarantine.record_outcome(conn, ok=False, reason="boom")
    assert quarantine.failure_share(conn) == (1, 1)
    throttled_after_pause(conn, 0.05)
    assert quarantine.failure_share(conn) == (1, 1)
    conn.refresh_from_db()
    assert conn.quarantined_at is None


def test_reset_forgets_the_streak(conn):
    throttle.throttled(conn, 0.05)
    throttle.reset(conn)
    assert throttle.throttle_streak(conn) == 0
    assert throttle.paused_for(conn) == 0.0
