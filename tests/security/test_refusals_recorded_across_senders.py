"""The refused-requests limit of the machine endpoints (HR webhook, SCIM, API) counts each
sender (an address; an IPv6 /64), so many senders together (a botnet, a cloud's address
pool) wrote an HR webhook event and an audit event for every refusal without end: each
endpoint now records at most REFUSALS_RECORDED_PER_MINUTE refusals a minute from everyone
together, and answers the rest as before (401, never 429: a caller with a good token or
signature is not slowed by someone else's flood) with a log line instead (attack19)."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning import refusals, tasks
from provisioning.webhook.models import HRWebhookEvent
from tests.api.conftest import ApiClient, token_for
from tests.factories import freeze_minute
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


def test_refusals_past_the_budget_leave_one_summary_each_minute_on_the_trail(alpha):
    """Past the budget, a minute's refusals reached only the log: an auditor reading the
    trail never learned that any went unrecorded. Once its minute has ended, an endpoint's
    minute past its budget leaves one event on the MSP's trail that says how many (attack21);
    a later run of the clock does not say it again."""
    minute = int(time.time() // refusals.WINDOW_SECONDS)
    users = reverse("scim_users", kwargs={"tenant": alpha.tenant.slug})
    with freeze_minute(minute):
        for address in SENDERS:
            for _ in range(2):
                Client(REMOTE_ADDR=address).get(users, HTTP_AUTHORIZATION="Bearer scim_wrong")
            ApiClient("mpp_guess", address).get("/api/v1/tenants")
        assert refusals.summarise_unrecorded() == 0  # the minute has not ended

    with freeze_minute(minute + 1):
        assert refusals.summarise_unrecorded() == 2
        assert refusals.summarise_unrecorded() == 0

    summaries = AuditEvent.objects.filter(action="security.refusals_unrecorded")
    said = {(e.after["endpoint"], e.after["recorded"], e.after["unrecorded"]) for e in summaries}
    assert said == {("scim", 5, 19), ("api", 5, 7)}
    assert {e.tenant_id for e in summaries} == {None}


def test_beat_runs_the_summary_every_minute(settings):
    [entry] = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "provisioning.tasks.summarise_unrecorded_events"
    ]
    assert entry["schedule"] == refusals.WINDOW_SECONDS
    assert tasks.summarise_unrecorded_events.name == entry["task"]
