"""A worker run's successes reach the connection's quarantine window together, once the run
ends (quarantine.successes_held): one round trip to the window a run instead of one for each
read and batch, with the window, its expiry and the throttle streak's end as they were.
A failure, or a throttle, in the run pushes what the run holds first, so the window and the
back-off see every answer in the order it came. Both backends. docs/benchmarks.md, engine19."""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings as django_settings

from provisioning import quarantine, throttle
from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.models import Job
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard
from tests.provisioning.throttle_support import limiter_backend  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("limiter_backend")


def window_trips(monkeypatch) -> list[bytes]:
    """The round trips to Redis that touch a quarantine window, as sent."""
    trips: list[bytes] = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent = command if isinstance(command, bytes | str) else b"".join(command)
        sent = sent.encode() if isinstance(sent, str) else sent
        if b":quarantine:" in sent:
            trips.append(sent)
        return send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    return trips


@pytest.mark.django_db(transaction=True)
def test_a_warm_runs_successes_reach_the_window_in_one_round_trip(
    on_sandbox,
    monkeypatch,
    limiter_backend,  # noqa: F811
):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(
        on_sandbox,
        f"qheld{limiter_backend[0]}",
        groups=["Staff", "Sales", "Finance"],
        apps=["Salesforce"],
    )
    assert drive(onboard(dirs, "Warm", "Up")).status == Job.Status.SUCCEEDED
    conn = dirs.tenant.connections.get(kind="entra")
    quarantine._clear_window(conn)
    trips = window_trips(monkeypatch)
    job = onboard(dirs, "Grace", "Hopper")
    executor.execute(job.pk)
    pushes = list(trips)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    # The plan's read, the create, the access batch's five steps, the verifying read: each
    # a success in the window, in one push (4 before engine19).
    assert quarantine.failure_share(conn) == (0, 8)
    if limiter_backend == "redis":
        assert len(pushes) == 1, pushes
        client = redis.Redis.from_url(django_settings.REDIS_URL)
        assert 0 < client.ttl(quarantine._key(conn.pk)) <= quarantine.WINDOW_TTL_S


def test_a_failure_in_a_run_comes_after_the_successes_held_before_it(alpha):
    conn = alpha.connection
    with quarantine.successes_held():
        assert quarantine.record_outcome(conn, ok=True) is False
        assert quarantine.failure_share(conn) == (0, 0)  # held
        quarantine.record_outcomes(conn, [(True, ""), (False, "HTTP 503: first")])
        assert quarantine._outcomes(conn) == ["1:HTTP 503: first", "0", "0"]
        quarantine.record_outcome(conn, ok=True)
    assert quarantine._outcomes(conn) == ["0", "1:HTTP 503: first", "0", "0"]


def test_a_run_of_failures_trips_the_breaker_as_it_happens_not_at_the_runs_end(alpha):
    conn = alpha.connection
    with quarantine.successes_held():
        quarantine.record_outcomes(conn, [(True, "")] * 2)
        tripped = [quarantine.record_outcome(conn, ok=False, reason="HTTP 500") for _ in range(5)]
        assert tripped == [False, False, True, False, False]  # 3 of 5: open, once
        conn.refresh_from_db()
        assert conn.quarantined_at is not None


def test_a_throttle_after_a_held_success_starts_the_back_off_again(alpha, monkeypatch):
    conn = alpha.connection
    conn.rate_limit_per_s, conn.rate_burst = 10.0, 5
    conn.save()
    monkeypatch.setattr(throttle.random, "random", lambda: 1.0)
    throttle.throttled(conn, 0.05)
    time.sleep(throttle.paused_for(conn) + 0.02)  # the pause over; the streak of 1 stays
    assert throttle.throttle_streak(conn) == 1
    with quarantine.successes_held():
        quarantine.record_outcome(conn, ok=True)
        # The success ended the streak before this throttle, as it did when pushed at once.
        assert throttle.throttled(conn, None) == pytest.approx(2.0, abs=0.01)
        assert throttle.throttle_streak(conn) == 1
    assert throttle.throttle_streak(conn) == 1  # the run's end pushes nothing more
    assert quarantine.failure_share(conn) == (0, 1)


def test_outside_a_run_each_outcome_is_pushed_at_once(alpha):
    conn = alpha.connection
    quarantine.record_outcome(conn, ok=True)
    assert quarantine.failure_share(conn) == (0, 1)
