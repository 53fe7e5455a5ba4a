"""Reservations: tokens taken now, even into debt, for calls sent when they are due. Every
test runs on both backends (database and Redis), which must give the same answers.

The bucket refills while the test runs, which only brings an answer forward: each answer is
checked against a bucket that does not refill, within the time actually passed since the
bucket was last at a known level (the clock read before that call and after the answer), so
a loaded machine's slow calls move the bounds, never fail them.
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
EPSILON_S = 0.001  # the clocks' rounding (the database's timestamps are to the microsecond)


@pytest.fixture
def slow(alpha):
    """One token a second, a bucket of ten (the bench's throttled tenant)."""
    connection = alpha.connection
    connection.rate_limit_per_s, connection.rate_burst = 1.0, BURST
    connection.save()
    throttle.reset(connection)
    return connection


def empty(connection) -> float:
    """Take the whole bucket; the clock read before it, from which the refill is counted."""
    since = time.monotonic()
    taken, _ = throttle.reserve(connection, BURST, 0.0)
    assert taken
    return since


class Refilled:
    """An answer in seconds of a bucket that does not refill (`expected`), brought forward by
    at most the refill of the time passed since `since` (read when compared, after the
    answer): `==` holds within that, however slow the machine."""

    def __init__(self, expected: float, since: float) -> None:
        self.expected, self.since, self.passed = expected, since, 0.0

    def __eq__(self, answer: object) -> bool:
        self.passed = time.monotonic() - self.since
        earliest = max(0.0, self.expected - self.passed)
        return isinstance(answer, float | int) and (
            earliest - EPSILON_S <= answer <= self.expected + EPSILON_S
        )

    def __repr__(self) -> str:
        return f"{self.expected} less at most the {self.passed:.3f} s passed"


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
    since = empty(slow)
    for tokens, expected in zip((1, 7, 1, 3), (1, 8, 9, 12), strict=True):
        # Each is due once the tokens of those before it and its own have come in.
        taken, due = throttle.reserve(slow, tokens, 60.0)
        assert taken and due == Refilled(expected, since)


@pytest.mark.django_db(transaction=True)
def test_under_contention_no_two_reservations_share_a_token(slow, limiter_backend):  # noqa: F811
    if limiter_backend == "database" and not database_shared_between_threads():
        pytest.skip("the test database is SQLite in memory")
    since = empty(slow)

    def reserve_three(n: int) -> list[tuple[float, float, int]]:
        """Each reservation's tokens and when they fall due, on this clock: between the
        answer's seconds added to the clock read before the call and after it."""
        dues = []
        for tokens in (1, 2, 7)[n % 3 :] + (1, 2, 7)[: n % 3]:
            before = time.monotonic()
            taken, due = throttle.reserve(slow, tokens, 120.0)
            assert taken
            dues.append((before + due, time.monotonic() + due, tokens))
        return dues

    results = run_threads(4, reserve_three)
    assert all(isinstance(r, list) for r in results), results
    granted = [due for result in results for due in result]
    # At one token a second, a reservation of n tokens owns the n seconds before it falls due;
    # no two of those spans overlap, whichever order the threads were served in.
    for i, (earliest_a, latest_a, tokens_a) in enumerate(granted):
        for earliest_b, latest_b, tokens_b in granted[i + 1 :]:
            b_after_a = latest_b - earliest_a >= tokens_b - EPSILON_S
            a_after_b = latest_a - earliest_b >= tokens_a - EPSILON_S
            assert b_after_a or a_after_b, granted
    # All of them came in after the bucket was emptied.
    total = sum(tokens for _, _, tokens in granted)
    assert max(latest for _, latest, _ in granted) - since >= total - EPSILON_S


def test_a_refund_shortens_the_debt_and_never_fills_past_a_full_bucket(slow):
    throttle.refund(slow, 5)  # a bucket never used is full: nothing to give back to
    since = empty(slow)
    assert throttle.reserve(slow, 1, 60.0)[1] == Refilled(1.0, since)
    assert throttle.reserve(slow, 5, 60.0)[1] == Refilled(6.0, since)
    throttle.refund(slow, 5)  # those 5 will not be sent
    assert throttle.reserve(slow, 1, 60.0)[1] == Refilled(2.0, since)
    throttle.refund(slow, 100)
    since = time.monotonic()
    assert throttle.reserve(slow, BURST, 0.0) == (True, 0.0)  # full again, and no more:
    assert throttle.reserve(slow, 1, 60.0)[1] == Refilled(1.0, since)


def test_a_big_request_gets_in_whenever_a_small_one_would(slow):
    empty(slow)
    while True:  # 1-token takers run the debt up to the bound
        asked = time.monotonic()
        taken, wait = throttle.reserve(slow, 1, 3.0)
        if not taken:
            break
    taken, due = throttle.reserve(slow, 7, 3.0)
    if taken:  # the refill since the small one's refusal had opened the gate: so would it
        assert time.monotonic() - asked >= wait - EPSILON_S
    else:  # refused for what was left of the small one's wait: the same turn
        assert due == Refilled(wait, asked)
        time.sleep(due + 0.05)
        taken, due = throttle.reserve(slow, 7, 3.0)  # polling for 7 free tokens would wait 7 s
    assert taken and due <= 3.0 + 7.0


def test_an_abandoned_reservation_holds_the_connection_no_longer_than_its_tokens(slow):
    empty(slow)
    taken, due = throttle.reserve(slow, 2, 60.0)  # a worker takes these, then is killed
    assert taken and due <= 2.0
    time.sleep(2.05)
    assert throttle.reserve(slow, 1, 0.0)[0]  # the debt is paid: the next one is in


def test_a_pause_is_waited_out_before_the_reservation_is_due(slow):
    since = time.monotonic()
    throttle.pause(slow, 2.0)
    taken, due = throttle.reserve(slow, 1, 5.0)
    assert taken and due == Refilled(3.0, since)  # the pause, then one token at the rate
    refused, until = throttle.reserve(slow, 1, 0.5)
    # The pause and that token's debt, but the half second allowed.
    assert not refused and until == Refilled(2.5, since)


def test_surplus_only_takes_from_a_full_enough_bucket(slow):
    since = time.monotonic()
    assert throttle.reserve(slow, 4, -5.0)[0]  # 10 in the bucket: 5 to spare
    assert throttle.reserve(slow, 1, -5.0)[0]  # 6: 1 to spare
    assert throttle.reserve(slow, 1, -5.0)[0]  # 5: at the line
    taken, until = throttle.reserve(slow, 1, -5.0)  # 4: below it, for a second
    if taken:  # only the refill since the first could have brought it back to the line
        assert time.monotonic() - since >= 1.0 - EPSILON_S
    else:
        assert until == Refilled(1.0, since)
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
