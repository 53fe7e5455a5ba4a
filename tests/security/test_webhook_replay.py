"""Issue 12, item 7: a captured, signed HR webhook request must not start a second job.

The attacker holds one request as it went over the wire (body, timestamp, signature) but not
the secret. The idempotency key is the event's id inside the signed body, so a copy sent again
within the 5-minute window is the same event whatever its Idempotency-Key header says.
Requests are signed here with hmac directly, as an HR system would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
from django.urls import reverse

from provisioning.models import Identity, Job
from provisioning.webhook.models import HRWebhookEvent
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db

SECRET = "hrwh_replay-test-secret-4b7e"


@pytest.fixture(autouse=True)
def _no_refusal_limit(settings):
    settings.HR_WEBHOOK_REFUSALS_PER_MINUTE = 100_000


@pytest.fixture
def tenant(on_sandbox):
    tenant = make_directories(on_sandbox, f"replay-{uuid.uuid4().hex[:8]}").tenant
    tenant.set_hr_webhook_secret(SECRET)
    tenant.save()
    return tenant


def capture(event: dict, *, age: int = 0) -> tuple[bytes, dict]:
    """The bytes and signature headers of a request HR signed `age` seconds ago."""
    body = json.dumps(event).encode()
    ts = str(int(time.time()) - age)
    digest = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, {"HTTP_X_SIGNATURE_TIMESTAMP": ts, "HTTP_X_SIGNATURE": f"sha256={digest}"}


def post(client, tenant, body: bytes, headers: dict, **extra):
    url = reverse("hr_webhook", kwargs={"tenant": tenant.slug})
    return client.post(url, data=body, content_type="application/json", **headers, **extra)


def hire(**extra) -> dict:
    event = {
        "event": "hire",
        "employee_id": "E7001",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "role": "Sales",
    }
    return event | extra


def jobs_and_people(tenant) -> tuple[int, int]:
    return Job.objects.filter(tenant=tenant).count(), Identity.objects.filter(tenant=tenant).count()


def test_a_signed_body_without_an_id_is_refused_whatever_the_header(client, tenant):
    body, headers = capture(hire())
    for key in ("hr-1", "hr-2", None):
        extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        response = post(client, tenant, body, headers, **extra)
        assert response.status_code == 400, response.content
        answer = response.json()
        assert answer["error"] == "invalid_event"
        assert "id: required" in answer["message"] and "signed body" in answer["message"]
    assert jobs_and_people(tenant) == (0, 0)
    outcomes = set(HRWebhookEvent.objects.filter(tenant=tenant).values_list("outcome", flat=True))
    assert outcomes == {HRWebhookEvent.Outcome.REJECTED}


def test_a_replay_with_other_idempotency_keys_is_answered_as_a_duplicate(client, tenant):
    body, headers = capture(hire(id="hire-E7001"), age=60)
    first = post(client, tenant, body, headers, HTTP_IDEMPOTENCY_KEY="hr-1")
    assert first.status_code == 202, first.content
    job = first.json()["job"]

    for key in ("hr-2", "hire-E7001-again", None):  # the attacker's copies, headers changed
        extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        again = post(client, tenant, body, headers, **extra)
        assert again.status_code == 200, again.content
        assert again.json() == {"job": job, "status": "queued", "duplicate": True}

    assert jobs_and_people(tenant) == (1, 1)
    recorded = HRWebhookEvent.objects.filter(tenant=tenant).order_by("pk")
    assert list(recorded.values_list("outcome", "idempotency_key", "job_id")) == [
        ("accepted", "hire-E7001", job),
        ("duplicate", "hire-E7001", job),
        ("duplicate", "hire-E7001", job),
        ("duplicate", "hire-E7001", job),
    ]


def test_a_captured_body_with_another_id_fails_the_signature(client, tenant):
    body, headers = capture(hire(id="hire-E7001"))
    assert post(client, tenant, body, headers).status_code == 202
    forged = body.replace(b'"hire-E7001"', b'"hire-E7001-b"')
    assert forged != body
    response = post(client, tenant, forged, headers, HTTP_IDEMPOTENCY_KEY="hire-E7001-b")
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    assert jobs_and_people(tenant) == (1, 1)


def test_a_replay_after_five_minutes_is_stale(client, tenant):
    body, headers = capture(hire(id="hire-E7001"), age=301)
    response = post(client, tenant, body, headers)
    assert response.status_code == 401 and response.json()["error"] == "stale"
    assert jobs_and_people(tenant) == (0, 0)
