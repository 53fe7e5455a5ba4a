"""Tenant B's SCIM token sent to tenant A's endpoint is refused (404) and recorded on B's own
audit chain, where B's people look: A's trail never names B's token (its name, its prefix),
so A's client admins learn nothing of tenant B."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.scim import tokens
from tests.scim.test_scim_endpoint import call, url

pytestmark = pytest.mark.django_db


def test_another_tenants_token_is_recorded_on_its_own_tenants_chain(client, scim, bravo, msp_admin):
    bravo_token, clear = tokens.issue(bravo.tenant, "Bravo Okta production", actor=msp_admin)
    response = call(client, scim, "get", url(scim), token=clear)
    assert response.status_code == 404

    refused = AuditEvent.objects.get(action="scim_token.refuse")
    assert refused.tenant_id == bravo.tenant.pk
    assert refused.after["tenant_slug"] == scim.tenant.slug
    for event in AuditEvent.objects.filter(tenant_id=scim.tenant.pk):
        text = str([event.actor_display, event.target_display, event.after])
        assert "Bravo" not in text and bravo_token.prefix not in text, text

    client.force_login(scim.world.client_admin)
    page = client.get(reverse("audit_list"), {"tenant": scim.tenant.slug}).content.decode()
    assert "Bravo" not in page and bravo_token.prefix not in page
