"""Reservations: tokens taken now, even into debt, for calls sent when they are due. Every
test runs on both backends (database and Redis), which must give the same answers.

The connections here refill at one token a second or slower, so the few milliseconds the
calls take change no answer: the assertions bound what the bucket grants, never a speed.
"""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioning import throttle
from tests.provisioning.throttle_support import (
    REDIS_TEST_URL,
    database_shared_between_threads,
    limiter_backend,  # noqa: F401 - the fixture
    run_threads,
)

pytestmark = pytest.mark.usefixtures("limiter_backend")

BURST = 10
SLACK_S = 0.2  # what the calls' own time may refill, at most, in these tests
EPSILON_S = 0.001  # the clocks' rounding (the database's timestamps are to the microsecond)


@pytest.fixture
def slow(alpha):
    """One token a second, a bucket of ten (the bench's throttled tenant)."""
    connection = alpha.connection
    connection.rate_limit_per_s, connection.rate_burst = 1.0, BURST
    connection.save()
    throttle.reset(connection)
    return connection


def empty(connection) -> None:
    taken, _ = throttle.reserve(connection, BURST, 0.0)
    assert taken


class Bucket:
    """The model: a bucket that does not refill while the test runs. The real one refills as
    time passes, which can only bring an answer forward, and by no more than the time passed
    since it was full (its balance is the model's plus at most that time's tokens); so each
    answer is checked against the model within the seconds the test has taken so far, however
    slow a loaded machine makes its calls."""

    def __init__(self, capacity: float, rate: float):
        self.capacity, self.rate, self.balance = capacity, rate, capacity

    def gate(self) -> float:
        return -self.balance / self.rate

    def reserve(self, tokens: int, within_s: float, passed_s: float) -> tuple[bool, float, float]:
        """Whether the model takes them, and the earliest and latest answer in seconds."""
        gate = self.gate()
        if gate > within_s:
            return False, gate - within_s - passed_s, gate - within_s
        due = max(0.0, min(tokens, self.capacity) - self.balance) / self.rate
        self.balance -= tokens
        return True, max(0.0, due - passed_s), due

    def took_early(self, tokens: int, within_s: float, passed_s: float) -> bool:
        """The real bucket took what the model refused: only if its refill since could have
        opened the gate; the model then takes them too."""
        if self.gate() - passed_s > within_s + EPSILON_S:
            return False
        self.balance -= tokens
        return True


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=14), st.integers(min_value=0, max_value=12)),
        min_size=1,
        max_size=12,
    )
)
def test_reservations_follow_the_model(alpha, limiter_backend, requests):  # noqa: F811
    connection = alpha.connection
    connection.rate_limit_per_s, connection.rate_burst = throttle.MIN_RATE_PER_S * 5, BURST
    full_since = time.monotonic()
    throttle.reset(connection)
    model = Bucket(BURST, connection.rate_limit_per_s)
    for tokens, within_s in requests:
        taken, seconds = throttle.reserve(connection, tokens, float(within_s))
        passed_s = time.monotonic() - full_since
        expected_taken, earliest_s, latest_s = model.reserve(tokens, float(within_s), passed_s)
        if taken and not expected_taken:
            assert model.took_early(tokens, float(within_s), passed_s)
            continue
        assert taken == expected_taken
        assert earliest_s - EPSILON_S <= seconds <= latest_s + EPSILON_S


def test_a_reservation_is_due_after_the_ones_before_it(slow):
    empty(slow)
    answers = [throttle.reserve(slow, tokens, 60.0) for tokens in (1, 7, 1, 3)]
    assert [taken for taken, _ in answers] == [True] * 4
    dues = [due for _, due in answers]
    # Each is due once the tokens of those before it and its own have come in.
    for due, expected in zip(dues, (1, 8, 9, 12), strict=True):
        assert expected - SLACK_S <= due <= expected


@pytest.mark.django_db(transaction=True)
def test_under_contention_no_two_reservations_share_a_token(slow, limiter_backend):  # noqa: F811
    if limiter_backend == "database" and not database_shared_between_threads():
        pytest.skip("the test database is SQLite in memory")
    empty(slow)

    def reserve_three(n: int) -> list[tuple[float, int]]:
        dues = []
        for tokens in (1, 2, 7)[n % 3 :] + (1, 2, 7)[: n % 3]:
            taken, due = throttle.reserve(slow, tokens, 120.0)
            assert taken
            dues.append((time.monotonic() + due, min(tokens, BURST)))
        return dues

    results = run_threads(4, reserve_three)
    assert all(isinstance(r, list) for r in results), results
    granted = sorted(due for result in results for due in result)
    # In the order they fall due, each waits for its own tokens after the one before.
    for (before, _), (after, tokens) in zip(granted, granted[1:], strict=False):
        assert after - before >= tokens - SLACK_S


def test_a_refund_shortens_the_debt_and_never_fills_past_a_full_bucket(slow):
    throttle.refund(slow, 5)  # a bucket never used is full: nothing to give back to
    empty(slow)
    assert throttle.reserve(slow, 1, 60.0)[1] == pytest.approx(1.0, abs=SLACK_S)
    assert throttle.reserve(slow, 5, 60.0)[1] == pytest.approx(6.0, abs=SLACK_S)
    throttle.refund(slow, 5)  # those 5 will not be sent
    assert throttle.reserve(slow, 1, 60.0)[1] == pytest.approx(2.0, abs=SLACK_S)
    throttle.refund(slow, 100)
    assert throttle.reserve(slow, BURST, 0.0) == (True, 0.0)  # full again, and no more:
    assert throttle.reserve(slow, 1, 60.0)[1] == pytest.approx(1.0, abs=SLACK_S)


def test_a_big_request_gets_in_whenever_a_small_one_would(slow):
    empty(slow)
    while throttle.reserve(slow, 1, 3.0)[0]:
        pass  # 1-token takers have run the debt up to the bound
    refused_small = throttle.reserve(slow, 1, 3.0)
    refused_big = throttle.reserve(slow, 7, 3.0)
    assert not refused_small[0] and not refused_big[0]
    assert refused_big[1] == pytest.approx(refused_small[1], abs=SLACK_S)  # same turn
    time.sleep(refused_big[1] + 0.05)
    taken, due = throttle.reserve(slow, 7, 3.0)  # polling for 7 free tokens would wait 7 s
    assert taken and due <= 3.0 + 7.0


def test_an_abandoned_reservation_holds_the_connection_no_longer_than_its_tokens(slow):
    empty(slow)
    taken, due = throttle.reserve(slow, 2, 60.0)  # a worker takes these, then is killed
    assert taken and due <= 2.0
    time.sleep(2.05)
    assert throttle.reserve(slow, 1, 0.0)[0]  # the debt is paid: the next one is in


def test_a_pause_is_waited_out_before_the_reservation_is_due(slow):
    throttle.pause(slow, 2.0)
    taken, due = throttle.reserve(slow, 1, 5.0)
    assert taken and 2.0 < due <= 3.0  # the pause, then one token at the rate
    refused, until = throttle.reserve(slow, 1, 0.5)
    assert not refused and until > 2.0


def test_surplus_only_takes_from_a_full_enough_bucket(slow):
    assert throttle.reserve(slow, 4, -5.0)[0]  # 10 in the bucket: 5 to spare
    assert throttle.reserve(slow, 1, -5.0)[0]  # 6: 1 to spare
    assert throttle.reserve(slow, 1, -5.0)[0]  # 5: at the line
    taken, until = throttle.reserve(slow, 1, -5.0)  # 4: below it, for about a second
    assert not taken and 1.0 - SLACK_S <= until <= 1.0
    assert throttle.reserve(slow, 1, 0.0)[0]


def test_while_jobs_wait_their_turn_a_newcomer_gets_no_tokens(slow):
    throttle.hold_line(slow, 30.0)
    throttle.hold_line(slow, 1.0)  # never shortened
    assert throttle.reserve(slow, 1, 0.0, newcomer=True) == (False, 0.0)  # a full bucket
    assert throttle.reserve(slow, 1, 0.0)[0]  # a job admitted already
    throttle.reset(slow)
    assert throttle.reserve(slow, 1, 0.0, newcomer=True)[0]


@pytest.mark.parametrize("limiter_backend", ["redis"], indirect=True)
def test_a_reservation_keeps_the_line_held(slow, limiter_backend):  # noqa: F811
    throttle.hold_line(slow, 30.0)
    assert throttle.reserve(slow, 1, 0.0)[0]  # the bucket itself would be forgotten in ~2 s
    client = redis.Redis.from_url(REDIS_TEST_URL)
    (key,) = client.keys(f"{django_settings.REDIS_KEY_PREFIX}:throttle:*")
    assert client.ttl(key) > 20
