"""A real Celery worker SIGKILLed while an Okta joiner's create, which names their groups
(`groupIds`, engine/create_groups.py), is on its way, and the role template edited before
another worker takes the job over: a group taken off, another added. The create may have
landed in the old groups with its outcome never written. The join and the template's Change
job must end Succeeded, the one Okta account in the template's groups as edited."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import transaction

from provisioning.lifecycle import services as lifecycle
from provisioning.models import Job, Step
from tests.provisioning.directories import make_directories
from tests.provisioning.engine_model import okta_account
from tests.provisioning.test_engine_convergence import onboard
from tests.provisioning.test_engine_killed_workers import leases_run_out
from tests.provisioning.test_engine_stopped_workers import (
    alone_on_the_queue,  # noqa: F401 (a fixture: the session's worker stopped meanwhile)
    assert_all_succeeded,
    settle,
    until,
)

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = {"JOB_LEASE_SECONDS": "5", "WARM_CONNECTOR_KINDS": "okta"}


@pytest.fixture
def start_worker(worker_factory):
    with worker_factory.spare_kept(**WORKER):
        yield lambda: worker_factory(**WORKER)


def test_a_worker_killed_while_the_create_is_on_its_way_and_the_template_edited(
    on_sandbox, start_worker
):
    dirs = make_directories(
        on_sandbox, f"okk{uuid.uuid4().hex[:6]}", kinds=("okta",), licenses=[], apps=[]
    )
    worker = start_worker()
    dirs.behave("okta", latency_ms=3000)
    join = onboard(dirs)
    creating = Step.objects.filter(job=join, action="create_user", status=Step.Status.RUNNING)
    until(creating.exists, "create on its way")
    time.sleep(1.0)  # the request is with Okta (which holds it 3 s, then carries it out)
    worker.kill()
    dirs.behave("okta", latency_ms=0)
    until(lambda: okta_account(dirs.okta_state(), join.identity.username).present, "create")
    template = dirs.template
    template.groups = ["Staff", "Finance"]  # Sales taken off, Finance added
    with transaction.atomic():  # as the template's save asks its holders again
        template.save()
        [change] = lifecycle.template_changed(template, actor="system")

    jobs = Job.objects.filter(tenant=dirs.tenant)
    leases_run_out(jobs)
    worker = start_worker()
    settle(jobs, "okta create killed")
    worker.kill()

    assert_all_succeeded(jobs, "okta create killed")
    held = okta_account(dirs.okta_state(), join.identity.username)
    assert (held.present, held.enabled) == (True, True), held.detail
    assert sorted(held.groups) == ["Finance", "Staff"], held.detail
    assert Job.objects.get(pk=change.pk).status == Job.Status.SUCCEEDED
    create = join.steps.get(action="create_user")
    assert create.result["linked"]  # the first create landed in Staff and Sales, unanswered
