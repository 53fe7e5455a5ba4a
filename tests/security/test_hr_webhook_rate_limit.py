"""A signed HR webhook sender is limited per tenant: a leaked secret or an HR system in a
loop must not queue jobs without end. Past HR_WEBHOOK_REQUESTS_PER_MINUTE signed requests
to one tenant's endpoint in a minute, each is answered 429 with Retry-After (RFC 6585 §4,
RFC 9110 §10.2.3) and nothing is done or written, except one security event on the tenant's
trail for the minute (within the security events' budget). The count is the tenant's: an
outsider's unsigned requests do not use it up, another tenant's sender is not slowed."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.models import Job
from provisioning.webhook.models import HRWebhookEvent

pytestmark = pytest.mark.django_db

SECRET = "hrwh_rate-limit-test-secret"


@pytest.fixture(autouse=True)
def _no_refusal_limit(settings):
    settings.HR_WEBHOOK_REFUSALS_PER_MINUTE = 100_000
    settings.HR_WEBHOOK_REQUESTS_PER_MINUTE = 2


def with_secret(tenant):
    tenant.set_hr_webhook_secret(SECRET)
    tenant.save()
    return tenant


def send(client, tenant, n: int, *, secret: str = SECRET):
    body = json.dumps({"event": "terminate", "id": f"term-{n}", "employee_id": f"E{n}"}).encode()
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return client.post(
        reverse("hr_webhook", kwargs={"tenant": tenant.slug}),
        data=body,
        content_type="application/json",
        HTTP_X_SIGNATURE_TIMESTAMP=ts,
        HTTP_X_SIGNATURE=digest,
    )


def limited_events(tenant):
    return AuditEvent.objects.filter(tenant_id=tenant.pk, action="hr_webhook.rate_limited")


def test_past_the_limit_a_signed_sender_gets_429_with_retry_after_and_nothing_is_done(
    client, alpha
):
    tenant = with_secret(alpha.tenant)
    assert [send(client, tenant, n).status_code for n in (1, 2)] == [422, 422]  # unknown people
    rows, jobs = HRWebhookEvent.objects.count(), Job.objects.count()
    response = send(client, tenant, 3)
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert (HRWebhookEvent.objects.count(), Job.objects.count()) == (rows, jobs)
    (event,) = limited_events(tenant)
    assert event.after["limit"] == 2 and event.result == "denied"


def test_the_limit_is_recorded_once_a_minute_not_once_a_request(client, alpha):
    tenant = with_secret(alpha.tenant)
    codes = [send(client, tenant, n).status_code for n in range(1, 8)]
    assert codes == [422, 422, 429, 429, 429, 429, 429]
    assert limited_events(tenant).count() == 1


def test_unsigned_requests_do_not_use_up_the_tenants_count(client, alpha):
    tenant = with_secret(alpha.tenant)
    assert {send(client, tenant, n, secret="hrwh_wrong").status_code for n in range(5)} == {401}
    assert send(client, tenant, 6).status_code == 422


def test_another_tenants_sender_is_not_slowed(client, alpha, bravo):
    ours, theirs = with_secret(alpha.tenant), with_secret(bravo.tenant)
    assert [send(client, ours, n).status_code for n in (1, 2, 3)] == [422, 422, 429]
    assert send(client, theirs, 4).status_code == 422
