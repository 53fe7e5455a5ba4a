"""A leave while the SCIM app is down, run by a real Celery worker SIGKILLed while the
leave's Entra ID write is on its way (converge26): the writes to the directories it could
read, then the wait for the app. A rehire (restore) is asked while the leave is half-done
and the app comes back; the jobs end Succeeded with the person as last asked, and the
person never reads Left on the way."""

from __future__ import annotations

import time

import pytest

from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job, Step
from tests.provisioning.test_engine_killed_workers import leases_run_out
from tests.provisioning.test_engine_stopped_workers import (
    alone_on_the_queue,  # noqa: F401 (a fixture: the session's worker stopped meanwhile)
    assert_all_succeeded,
    settle,
    until,
)
from tests.provisioning.test_join_one_app_refuses import ada_joins, entra_okta_and_slack

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = {"JOB_LEASE_SECONDS": "5"}


@pytest.fixture
def start_worker(worker_factory):
    with worker_factory.spare_kept(**WORKER):
        yield lambda: worker_factory(**WORKER)


def ada_joined(dirs) -> tuple[Identity, str, object]:
    """Ada's onboarding run by the worker to its end: the person, her username, the
    tenant's jobs."""
    join, username = ada_joins(dirs)
    jobs = Job.objects.filter(tenant=dirs.tenant)
    settle(jobs, "the join")
    assert_all_succeeded(jobs, "the join")
    return Identity.objects.get(pk=join.identity_id), username, jobs


def test_a_leave_killed_mid_write_with_the_app_down_then_a_rehire(
    on_sandbox,
    start_worker,
    alone_on_the_queue,  # noqa: F811
):
    dirs, app = entra_okta_and_slack(on_sandbox, "lk")
    worker = start_worker()
    identity, username, jobs = ada_joined(dirs)

    app.behave(error_rate=1.0)  # the app is down
    dirs.behave("entra", latency_ms=3000)
    leave = lifecycle.request_offboarding(
        identity, lifecycle.OffboardingOptions(delete_after_days=None), actor="system"
    )
    writing = Step.objects.filter(job=leave, status=Step.Status.RUNNING, connection__kind="entra")
    until(writing.exists, "the leave's Entra write on its way")
    time.sleep(1.0)  # with Entra, which holds it 3 s, then carries it out
    worker.kill()
    dirs.behave("entra", latency_ms=0)
    leases_run_out(jobs)
    worker = start_worker()
    # The run that takes over finishes the writes it can, then waits for the app.
    until(lambda: dirs.entra_user(username)["accountEnabled"] is False, "Entra disabled")
    until(lambda: dirs.okta_user(username)["status"] == "SUSPENDED", "Okta suspended")
    leave.refresh_from_db()
    assert not leave.is_done
    assert Identity.objects.get(pk=identity.pk).status == Identity.Status.LEAVER

    identity.refresh_from_db()
    restore = lifecycle.request_restore(identity, actor="system")  # the rehire, meanwhile
    app.behave(error_rate=0.0)  # and the app comes back
    settle(jobs, "the leave and the rehire")
    worker.kill()

    assert_all_succeeded(jobs, "the leave and the rehire")
    assert Job.objects.get(pk=restore.pk).status == Job.Status.SUCCEEDED
    assert Identity.objects.get(pk=identity.pk).status == Identity.Status.ACTIVE
    assert dirs.entra_user(username)["accountEnabled"] is True
    assert dirs.okta_user(username)["status"] == "ACTIVE"
    held = app.user(username)
    assert held["active"] is True and app.groups_of(held["id"]) == {"sales"}


def test_a_leave_under_an_okta_429_storm_its_worker_killed(
    on_sandbox,
    start_worker,
    alone_on_the_queue,  # noqa: F811
):
    """Okta answers 429 to every call (a storm) when the leave is asked: Entra ID and the
    app are cut at once; the worker is SIGKILLed while the job waits out Okta; the storm
    passes and the next worker ends the leave: Left, each directory as asked."""
    dirs, app = entra_okta_and_slack(on_sandbox, "lo")
    worker = start_worker()
    identity, username, jobs = ada_joined(dirs)

    dirs.behave("okta", throttle_next=100_000)
    leave = lifecycle.request_offboarding(
        identity, lifecycle.OffboardingOptions(delete_after_days=None), actor="system"
    )
    until(lambda: dirs.entra_user(username)["accountEnabled"] is False, "Entra disabled")
    until(lambda: app.user(username)["active"] is False, "the app's user inactive")
    worker.kill()
    assert Identity.objects.get(pk=identity.pk).status == Identity.Status.LEAVER
    assert dirs.okta_user(username)["status"] == "ACTIVE"

    dirs.behave("okta", throttle_next=0)  # the storm passes
    leases_run_out(jobs)
    worker = start_worker()
    settle(jobs, "the leave")
    worker.kill()

    assert_all_succeeded(jobs, "the leave")
    assert Job.objects.get(pk=leave.pk).status == Job.Status.SUCCEEDED
    assert Identity.objects.get(pk=identity.pk).status == Identity.Status.LEFT
    assert dirs.okta_user(username)["status"] == "SUSPENDED"
    assert dirs.entra_user(username)["accountEnabled"] is False
