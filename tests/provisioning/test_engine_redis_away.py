"""Redis (where the connections' rate buckets live with `REDIS_URL`) away while a person's
jobs run: restarted, failed over, still loading its data. That is the portal's own
infrastructure away, as a database that does not answer is: it changes when the job ends,
never how (convergence check converge16). Driven in this process on the test's Redis."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from provisioning import throttle
from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.models import Job
from tests.provisioning.conftest import drive, run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_convergence import entra_access, onboard

pytestmark = pytest.mark.django_db(transaction=True)

AWAY = "redis://127.0.0.1:1/0"  # nothing listens there: connection refused, as mid-restart


def test_a_join_run_while_redis_is_away_waits_for_it_and_ends_joined(
    on_sandbox, monkeypatch, settings
):
    """Every run of the join meets the buckets' Redis away, more runs than a portal fault
    is allowed (`crashes.MAX_CRASHES`). The job waits, failing nothing; once Redis is back
    the join runs and verifies: one enabled account, the job Succeeded."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    back = settings.REDIS_URL  # "" without Redis: the buckets in the database again
    dirs = make_directories(on_sandbox, f"redis{uuid.uuid4().hex[:6]}")
    join = onboard(dirs)
    settings.REDIS_URL = AWAY
    for _ in range(5):
        run_now(join.pk)
        join.refresh_from_db()
        assert not join.is_done, (join.status, join.error)
    assert "crashes" not in join.options, join.options  # not counted as a portal fault
    settings.REDIS_URL = back
    throttle.reset(dirs.tenant.connections.get(kind="entra"))
    assert drive(join).status == Job.Status.SUCCEEDED, join.error
    upn = join.identity.username
    users = [u for u in dirs.entra_state()["users"] if u["userPrincipalName"] == upn]
    assert [u["accountEnabled"] for u in users] == [True]
    assert verify_all().ok


def test_redis_away_as_a_batch_is_throttled_mid_round_ends_joined(on_sandbox, monkeypatch):
    """The join's create has landed; its next `$batch` is throttled in part, and Redis is
    away just as the run records that throttle (after the batch's other calls landed, their
    outcomes unwritten). The job waits; the next runs find what landed and end joined, each
    add in the trail once."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"redisb{uuid.uuid4().hex[:6]}")
    real_batch, real_throttled = executor.apply_batch, throttle.throttled
    away = []

    def then_throttled(job, batch, account):
        outcome = real_batch(job, batch, account)
        if batch[0].action == "create_user":
            dirs.behave("entra", throttle_next=1)
        return outcome

    def redis_away_once(connection, retry_after=None):
        if not away:
            away.append(connection.pk)
            raise throttle.Unavailable("Error 111 connecting: Connection refused.")
        return real_throttled(connection, retry_after)

    monkeypatch.setattr(executor, "apply_batch", then_throttled)
    monkeypatch.setattr(throttle, "throttled", redis_away_once)
    join = onboard(dirs)
    run_now(join.pk)
    join.refresh_from_db()
    assert away and join.status == Job.Status.WAITING, (join.status, join.waiting_reason)
    assert "rate limiter" in join.waiting_reason
    assert drive(join).status == Job.Status.SUCCEEDED, join.error
    upn = join.identity.username
    assert entra_access(dirs, upn) == (["Sales", "Staff"], ["SPE_E3"], ["Salesforce"])
    adds = AuditEvent.objects.filter(job_id=join.pk, action="directory.add_group", result="success")
    assert adds.count() == 2
    assert verify_all().ok


def test_a_redis_that_answers_nothing_is_away_not_a_hang(settings):
    """A Redis that takes the connection and never answers (a host frozen, a network that
    drops the replies) is away, as one that refuses is: the bucket call gives up after
    a while and the run parks, instead of blocking its worker's thread for
    good while the job's lease runs out and another run takes it over. A guard: redis-py's
    client gives up reading after 5 s unless told otherwise (`socket_timeout`), and the
    bucket turns that TimeoutError into Unavailable."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as silent:  # never accepts
        settings.REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        raised: list[BaseException] = []

        def reserve() -> None:
            try:
                throttle._redis_buckets(settings.REDIS_URL).reserve(1, 20.0, 10.0, 1, 5.0, False)
            except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
                raised.append(exc)

        call = threading.Thread(target=reserve, daemon=True)
        call.start()
        call.join(timeout=30)
        assert not call.is_alive(), "the bucket call still waits for the silent Redis"
    assert [type(exc) for exc in raised] == [throttle.Unavailable]
