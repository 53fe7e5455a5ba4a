"""A real onboarding in the sandbox, run by the session's Celery worker, ends with a
job.succeeded delivered to the MSP's receiver, signed with the endpoint's secret."""

import json
import time

import pytest

from provisioning import services
from provisioning.models import Job
from provisioning.outbound import signing
from provisioning.outbound.models import Delivery
from tests.outbound.support import make_endpoint, received, receiver
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_delivery(kind: str, timeout: float = 30.0) -> Delivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = Delivery.objects.filter(kind=kind, status=Delivery.Status.DELIVERED).first()
        if found:
            return found
        time.sleep(0.2)
    rows = list(Delivery.objects.values_list("kind", "status", "last_error"))
    raise AssertionError(f"no delivered {kind} within {timeout} s: {rows}")


def test_an_onboarding_ends_with_a_signed_job_succeeded(on_sandbox, worker):
    url = receiver(on_sandbox)
    endpoint, secret = make_endpoint(None, url, kinds=["job.succeeded", "job.failed"])
    dirs = make_directories(on_sandbox, "hooks-e2e", ("entra",))
    request = services.OnboardingRequest(
        first_name="Grace", last_name="Hopper", role_templates=[dirs.template]
    )
    username = services.suggest_username(dirs.tenant, request)
    job = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    ended = wait_for_job(job.pk)
    assert ended.status == Job.Status.SUCCEEDED

    delivery = wait_for_delivery("job.succeeded")
    assert delivery.endpoint_id == endpoint.pk and delivery.attempts == 1
    (got,) = [g for g in received(on_sandbox, url) if '"job.succeeded"' in g["body"]]
    signing.verify(secret, got["headers"], got["body"])
    body = json.loads(got["body"])
    assert body["data"]["job"]["id"] == job.pk and body["data"]["job"]["status"] == "succeeded"
    assert body["data"]["job"]["url"].endswith(f"/jobs/{job.pk}/")
    # What the job's end wrote, as the job page shows it.
    assert body["data"]["job"]["steps_total"] == ended.steps_total > 0
    assert body["data"]["job"]["finished_at"] == ended.finished_at.isoformat()
    assert body["data"]["person"]["display_name"] == "Grace Hopper"
    assert body["tenant"]["slug"] == dirs.tenant.slug
    assert body["ticket"]["dedupe_key"] == f"msp-portal:{dirs.tenant.slug}:job:{job.pk}"
    assert body["ticket"]["state"] == "resolved"
