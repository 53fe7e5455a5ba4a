"""`Idempotency-Key` on the POST endpoints: a retry gets the first answer again and changes
nothing more; the key on another request is refused; two at once make one job."""

import threading
import uuid

import pytest
from django.db import connection, connections

from portal.models import Role
from provisioning.models import Identity, Job

from .conftest import ApiClient, token_for
from .test_api_lifecycle import onboarding, sandboxed  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def test_the_same_key_and_body_make_one_job_and_the_answer_is_replayed(sandboxed, api_as):  # noqa: F811
    client = api_as(sandboxed.people[Role.TECHNICIAN])
    path = f"/api/v1/tenants/{sandboxed.tenant.slug}/people"
    key = str(uuid.uuid4())
    first = client.post(path, onboarding(sandboxed), key=key)
    again = client.post(path, onboarding(sandboxed), key=key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert again["Location"] == first["Location"] == first.json()["job"]["url"]
    assert Identity.objects.filter(tenant=sandboxed.tenant).count() == 1
    assert Job.objects.filter(tenant=sandboxed.tenant, kind=Job.Kind.JOIN).count() == 1


def test_the_same_key_on_another_body_is_422_and_changes_nothing(alpha, api_as):
    client = api_as(alpha.technician)
    path = f"/api/v1/people/{alpha.identity.pk}/offboard"
    assert client.post(path, {"reset_password": True}, key="ticket-4711").status_code == 202
    response = client.post(path, {"reset_password": False}, key="ticket-4711")
    assert response.status_code == 422
    assert response.json()["type"].endswith("#problem-idempotency-key-reused")
    assert Job.objects.filter(identity=alpha.identity, kind=Job.Kind.LEAVE).count() == 1


def test_a_refused_request_keeps_no_answer_so_its_retry_is_tried_again(alpha, api_as):
    client = api_as(alpha.technician)
    path = f"/api/v1/people/{alpha.identity.pk}/restore"
    assert client.post(path, key="restore-1").status_code == 409
    Identity.objects.filter(pk=alpha.identity.pk).update(status=Identity.Status.LEFT)
    response = client.post(path, key="restore-1")
    assert response.status_code == 202 and "Idempotent-Replayed" not in response


def test_keys_belong_to_one_token(alpha, api_as):
    path = f"/api/v1/people/{alpha.identity.pk}/offboard"
    assert api_as(alpha.technician).post(path, {}, key="shared").status_code == 202
    response = api_as(alpha.technician).post(path, {}, key="shared")
    assert response.status_code == 409 and "Idempotent-Replayed" not in response


@pytest.mark.parametrize("key", ["", "a" * 256, "with space", "naïve"])
def test_a_malformed_key_is_a_422_problem(alpha, api_as, key):
    response = api_as(alpha.technician).post(f"/api/v1/jobs/{alpha.job.pk}/retry", key=key)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert alpha.job.steps.get().status == "failed"  # not retried


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite writes one at a time")
@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_with_one_key_make_one_job(alpha):
    clear = token_for(alpha.technician)
    path = f"/api/v1/people/{alpha.identity.pk}/offboard"
    start = threading.Barrier(2)
    answers: list = []

    def send() -> None:
        try:
            start.wait(timeout=10)
            answers.append(ApiClient(clear).post(path, {"remove_groups": True}, key="at-once"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [202, 202], [a.content for a in answers]
    assert answers[0].json() == answers[1].json()
    assert sorted(a.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]
    assert Job.objects.filter(identity=alpha.identity, kind=Job.Kind.LEAVE).count() == 1
