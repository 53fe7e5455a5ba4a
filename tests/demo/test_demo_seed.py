"""The product's promise, shown in one demo tenant: Northwind has Entra ID, Okta and a SaaS app
over SCIM, and a role template that reaches all three, so one form onboards into each."""

import pytest
from django.core.management import call_command

from provisioning.checks import check_connection
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_northwind_has_entra_okta_and_a_scim_app_and_a_template_reaching_all(on_sandbox):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)  # idempotent: nothing twice
    northwind = Tenant.objects.get(slug="northwind")
    kinds = sorted(northwind.connections.values_list("kind", flat=True))
    assert kinds == ["entra", "okta", "scim"]
    app = northwind.connections.get(kind="scim")
    result = check_connection(app)
    assert result.ok, result.checks
    office = northwind.role_templates.get(name="Office")
    assert office.groups and office.licenses  # Entra groups and a licence, Okta groups
    assert office.scim_groups_for(app.pk), "the SaaS app, with its groups"
