"""The refused-requests limit of the machine endpoints (HR webhook, SCIM, API) counts each
sender (an address; an IPv6 /64), so many senders together (a botnet, a cloud's address
pool) wrote an HR webhook event and an audit event for every refusal without end: each
endpoint now records at most REFUSALS_RECORDED_PER_MINUTE refusals a minute from everyone
together, and answers the rest as before (401, never 429: a caller with a good token or
signature is not slowed by someone else's flood) with a log line instead (attack19)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.webhook.models import HRWebhookEvent
from tests.api.conftest import ApiClient, token_for
from tests.provisioning.test_hr_webhook import SECRET, hire, hook_url, signed, with_secret

pytestmark = pytest.mark.django_db

SENDERS = [f"198.51.100.{n}" for n in range(1, 13)]  # twelve senders, two refusals each


@pytest.fixture(autouse=True)
def _budget(settings):
    settings.REFUSALS_RECORDED_PER_MINUTE = 5
    settings.SECURITY_EVENTS_PER_MINUTE = 1000


def hr_refused(tenant, address: str):
    body = json.dumps(hire()).encode()
    bad = signed(body, secret="hrwh_wrong") | {"REMOTE_ADDR": address}
    return Client().post(hook_url(tenant.slug), body, content_type="application/json", **bad)


def test_the_hr_webhook_records_a_budget_of_refusals_from_many_senders(alpha):
    with_secret(alpha.tenant)
    codes = {hr_refused(alpha.tenant, a).status_code for a in SENDERS for _ in range(2)}
    assert codes == {401}
    assert HRWebhookEvent.objects.count() == 5
    assert AuditEvent.objects.filter(action="hr_webhook.reject").count() == 5
    # A signed request is not held by the flood, and its rejection still reaches the trail.
    body = json.dumps({"event": "hire", "id": "x"}).encode()
    meta = signed(body, SECRET) | {"REMOTE_ADDR": "192.0.2.1"}
    response = Client().post(
        hook_url(alpha.tenant.slug), body, content_type="application/json", **meta
    )
    assert response.status_code == 400
    assert AuditEvent.objects.filter(action="hr_webhook.reject").count() == 6


def test_scim_records_a_budget_of_refusals_from_many_senders(alpha):
    users = reverse("scim_users", kwargs={"tenant": alpha.tenant.slug})
    codes = {
        Client(REMOTE_ADDR=a).get(users, HTTP_AUTHORIZATION="Bearer scim_wrong").status_code
        for a in SENDERS
        for _ in range(2)
    }
    assert codes == {401}
    assert AuditEvent.objects.filter(action="scim_token.refuse").count() == 5


def test_the_api_records_a_budget_of_refusals_from_many_senders(alpha):
    codes = {
        ApiClient(f"mpp_guess{n}", a).get("/api/v1/tenants").status_code
        for a in SENDERS
        for n in range(2)
    }
    assert codes == {401}
    assert AuditEvent.objects.filter(action="api_token.refuse").count() == 5
    assert (
        ApiClient(token_for(alpha.technician), "192.0.2.1").get("/api/v1/tenants").status_code
        == 200
    )
