"""`drive_in_turns` (tests/provisioning/conftest.py) drives each line as `drive` would, one
job after another, a job's next run no earlier than its come-back; only the order between
lines changes. What the race tests that play their kill points at once rely on."""

from __future__ import annotations

import time

import pytest

import tests.provisioning.conftest as provisioning_conftest
from provisioning.engine.parking import Outcome
from tests.provisioning.conftest import drive_in_turns


class Killed(BaseException):
    pass


class FakeJob:
    """A job that ends after `runs` runs, asking to come back `retry_in` seconds later."""

    def __init__(self, pk: int, runs: int, retry_in: float, killed_at: int = 0) -> None:
        self.pk, self.left, self.retry_in, self.killed_at = pk, runs, retry_in, killed_at
        self.ran_at: list[float] = []

    @property
    def is_done(self) -> bool:
        return self.left == 0

    status, waiting_reason = "waiting", ""

    def refresh_from_db(self) -> None:
        pass


@pytest.fixture
def runs(monkeypatch):
    jobs: dict[int, FakeJob] = {}
    order: list[int] = []

    def run_now(job_id: int) -> Outcome:
        job = jobs[job_id]
        job.ran_at.append(time.monotonic())
        order.append(job_id)
        if len(job.ran_at) == job.killed_at:
            raise Killed
        job.left -= 1
        return Outcome(retry_in=None if job.is_done else job.retry_in)

    monkeypatch.setattr(provisioning_conftest, "run_now", run_now)
    return jobs, order


def test_a_lines_jobs_run_one_after_another_each_until_it_ends(runs):
    jobs, order = runs
    a1, a2, b = FakeJob(1, 3, 0.01), FakeJob(2, 2, 0.01), FakeJob(3, 4, 0.01)
    jobs.update({1: a1, 2: a2, 3: b})

    assert drive_in_turns({"a": [a1, a2], "b": [b]}) == {}

    assert [j.is_done for j in (a1, a2, b)] == [True] * 3
    line_a = [pk for pk in order if pk in (1, 2)]
    assert line_a == [1, 1, 1, 2, 2]  # a2 starts once a1 has ended
    assert set(order[:4]) == {1, 3}  # the lines took turns


def test_a_job_runs_again_no_earlier_than_its_come_back_and_others_run_meanwhile(runs):
    jobs, order = runs
    slow, quick = FakeJob(1, 3, 0.15), FakeJob(2, 6, 0.01)
    jobs.update({1: slow, 2: quick})

    drive_in_turns({"slow": [slow], "quick": [quick]}, longest_wait=0.2)

    gaps = [later - earlier for earlier, later in zip(slow.ran_at, slow.ran_at[1:], strict=False)]
    assert min(gaps) >= 0.15, gaps
    assert order.index(2) < order.index(1, 1)  # the quick one ran while the slow one waited


def test_the_come_back_is_waited_at_most_longest_wait(runs):
    jobs, _ = runs
    parked = FakeJob(1, 2, 60.0)
    jobs[1] = parked

    started = time.monotonic()
    drive_in_turns({"x": [parked]}, longest_wait=0.05)

    assert time.monotonic() - started < 30  # not the minute it asked for


def test_a_kill_ends_its_own_line_only(runs):
    jobs, _ = runs
    killed, next_in_line, other = (
        FakeJob(1, 5, 0.01, killed_at=2),
        FakeJob(2, 1, 0.01),
        FakeJob(3, 3, 0.01),
    )
    jobs.update({1: killed, 2: next_in_line, 3: other})

    stopped = drive_in_turns({"k": [killed, next_in_line], "o": [other]}, stop=Killed)

    assert list(stopped) == ["k"] and isinstance(stopped["k"], Killed)
    assert (len(killed.ran_at), killed.is_done) == (2, False)
    assert next_in_line.ran_at == []  # nothing after the kill in that line
    assert other.is_done


def test_a_job_that_never_ends_is_reported(runs):
    jobs, _ = runs
    stuck = FakeJob(1, 10**6, 0.0)
    jobs[1] = stuck

    with pytest.raises(AssertionError, match="job 1 still"):
        drive_in_turns({"x": [stuck]}, max_runs=5)
