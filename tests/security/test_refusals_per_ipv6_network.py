"""The refused-requests limit of the machine endpoints (HR webhook, SCIM, API) counts an IPv6
sender by its /64, the least a host is given (RFC 8273; a site more, RFC 6177): counted
by the whole address, a sender cycling through its 2^64 addresses wrote an HR webhook event
and an audit event on the tenant's trail for every refused request, without end (attack17).
Another network is not slowed."""

import json

import pytest

from portal.audit.models import AuditEvent
from provisioning.webhook.models import HRWebhookEvent
from tests.provisioning.test_hr_webhook import hire, hook_url, signed

pytestmark = pytest.mark.django_db


def refused_from(client, tenant, address: str):
    body = json.dumps(hire()).encode()
    bad = signed(body, secret="hrwh_wrong") | {"REMOTE_ADDR": address}
    return client.post(hook_url(tenant.slug), body, content_type="application/json", **bad)


@pytest.mark.usefixtures("one_minute")
def test_a_sender_cycling_through_its_ipv6_network_is_held_as_one(client, alpha, settings):
    settings.HR_WEBHOOK_REFUSALS_PER_MINUTE = 3
    for host in ("a", "b", "c"):
        assert refused_from(client, alpha.tenant, f"2001:db8:7:1::{host}").status_code == 401
    recorded = HRWebhookEvent.objects.count(), AuditEvent.objects.count()

    response = refused_from(client, alpha.tenant, "2001:db8:7:1:ffff:1:2:3")

    assert response.status_code == 429 and response.json()["error"] == "too_many_refusals"
    assert (HRWebhookEvent.objects.count(), AuditEvent.objects.count()) == recorded
    assert refused_from(client, alpha.tenant, "2001:db8:7:2::a").status_code == 401
