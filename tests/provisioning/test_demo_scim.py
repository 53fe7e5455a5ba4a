"""The demo tenants' SCIM apps: seeded as connections to the sandbox's demo apps, working,
and given by a role template in each tenant."""

import pytest
from django.core.management import call_command

from provisioning.checks import check_connection
from tenants.models import DirectoryConnection, RoleTemplate

pytestmark = pytest.mark.django_db


def test_seed_demo_connects_slack_to_contoso_zoom_to_fabrikam_dropbox_to_northwind(on_sandbox):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)  # idempotent: nothing twice
    apps = DirectoryConnection.objects.filter(kind="scim").order_by("name")
    assert [(a.tenant.slug, a.name, a.scim_profile) for a in apps] == [
        ("northwind", "Dropbox", "generic"),
        ("contoso", "Slack", "slack"),
        ("fabrikam", "Zoom", "zoom"),
    ]
    dropbox, slack, zoom = apps
    result = check_connection(slack)
    assert result.ok, result.checks
    assert result.discovered["groups"] and not result.discovered["group_patch"]
    assert check_connection(zoom).ok
    engineering = RoleTemplate.objects.get(tenant__slug="contoso", name="Engineering")
    assert engineering.scim_groups_for(slack.pk) == ["All Hands", "Engineering"]
    support = RoleTemplate.objects.get(tenant__slug="fabrikam", name="Support")
    assert support.scim_groups_for(zoom.pk) == []
    office = RoleTemplate.objects.get(tenant__slug="northwind", name="Office")
    assert office.scim_groups_for(dropbox.pk) == ["Everyone", "Office"]
    assert check_connection(dropbox).ok
