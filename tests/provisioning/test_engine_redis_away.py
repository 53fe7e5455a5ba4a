"""Redis (where the connections' rate buckets live with `REDIS_URL`) away while a person's
jobs run: restarted, failed over, still loading its data. That is the portal's own
infrastructure away, as a database that does not answer is: it changes when the job ends,
never how (convergence check converge16). Driven in this process on the test's Redis."""

from __future__ import annotations

import uuid

import pytest

from portal.audit.verify import verify_all
from provisioning import throttle
from provisioning.engine.tasks import run_job
from provisioning.models import Job
from tests.provisioning.conftest import drive, run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_convergence import onboard

pytestmark = pytest.mark.django_db(transaction=True)

AWAY = "redis://127.0.0.1:1/0"  # nothing listens there: connection refused, as mid-restart


def test_a_join_run_while_redis_is_away_waits_for_it_and_ends_joined(
    on_sandbox, monkeypatch, settings
):
    """Every run of the join meets the buckets' Redis away, more runs than a portal fault
    is allowed (`crashes.MAX_CRASHES`). The job waits, failing nothing; once Redis is back
    the join runs and verifies: one enabled account, the job Succeeded."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    back = settings.REDIS_URL or "redis://127.0.0.1:6380/0"
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
