"""A role template's deletion takes the tenant's SCIM role rules that choose it, which only an
MSP admin may change on the SCIM page: the trail says each one went, by whom and with what
(attack17: the rows went by cascade, and the trail said only that the template was deleted)."""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.scim.models import RoleRule

pytestmark = pytest.mark.django_db


def test_deleting_a_template_records_each_scim_rule_it_takes(client, scim):
    client.force_login(scim.world.technician)
    url = reverse(
        "role_delete", kwargs={"tenant": scim.tenant.slug, "template_id": scim.finance.pk}
    )

    assert client.post(url).status_code == 302

    assert not RoleRule.objects.filter(tenant=scim.tenant, attribute="department").exists()
    [event] = AuditEvent.objects.filter(action="scim_rule.delete")
    assert event.actor_username == scim.world.technician.username
    assert event.tenant_id == scim.tenant.pk
    assert event.after == {
        "attribute": "department",
        "value": "Finance",
        "role_template": "Finance",
    }
    # The default rule chooses another template: it stays, and nothing records it.
    assert RoleRule.objects.filter(tenant=scim.tenant, attribute="default").exists()
