"""A bulk onboarding run by a real Celery worker that is killed while it runs, with asks for
some of the batch's people made meanwhile: every person ends as last asked, read from the
sandbox over HTTP, and the batch says each of its jobs succeeded only once it has."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from provisioning import bulk
from provisioning.engine.tasks import resume_stalled_jobs
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Job
from tests.provisioning.bulk_support import (
    ONBOARD_HEADER,
    batch_of,
    csv_text,
    sandbox_tenant,
    upload,
)

pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE = 6
SETTLE_S = 120.0  # a job still unfinished then is reported, not waited for


def test_a_bulk_onboarding_ends_as_asked_through_a_killed_worker(client, on_sandbox, worker):
    dirs = sandbox_tenant(on_sandbox, "bulkkill", ("entra",))
    domain = dirs.tenant.primary_domain
    rows = [[f"P{n}", "Bulk", "Sales", "", "", "", "", "", "", f"E{n}"] for n in range(PEOPLE)]
    client.force_login(dirs.technician)
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    url = reverse("bulk_start", kwargs={"tenant": dirs.tenant.slug, "batch_id": batch.pk})
    assert client.post(url).status_code == 302
    joins = list(batch.jobs.order_by("pk"))
    mover, leaver = joins[0].identity, joins[1].identity
    lifecycle.request_change(mover, lifecycle.ChangeRequest([dirs.support]), actor=dirs.technician)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    lifecycle.request_offboarding(leaver, options, actor=dirs.technician)

    tenant_jobs = Job.objects.filter(tenant=dirs.tenant)
    until(lambda: tenant_jobs.filter(status=Job.Status.RUNNING).exists(), "a job running")
    worker.kill()  # mid-run: leases held, steps maybe running, messages taken
    worker.start()
    deadline = time.monotonic() + SETTLE_S
    while tenant_jobs.exclude(status__in=Job.DONE).exists():
        unfinished = list(tenant_jobs.exclude(status__in=Job.DONE).values_list("pk", "status"))
        assert time.monotonic() < deadline, f"unfinished: {unfinished}"
        resume_stalled_jobs()  # what beat does, every 60 s
        time.sleep(0.5)

    steps = {j.pk: list(j.steps.values_list("action", "status", "last_error")) for j in tenant_jobs}
    assert {j.status for j in tenant_jobs} == {Job.Status.SUCCEEDED}, steps
    assert bulk.service.progress(batch).succeeded == PEOPLE
    for n in range(PEOPLE):
        upn = f"p{n}.bulk@{domain}"
        user = dirs.entra_user(upn)
        groups = sorted(g for g in user["groups"] if "dynamic" not in g)
        apps = sorted(a["app"] for a in user["appRoleAssignments"])
        held = (user["accountEnabled"], groups, user["licenses"], apps)
        if upn == mover.username:
            assert held == (True, ["Staff"], [], ["Slack"]), upn
        elif upn == leaver.username:
            assert held == (False, [], [], []), upn
        else:
            assert held == (True, ["Sales", "Staff"], ["SPE_E3"], ["Salesforce"]), upn


def until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)
