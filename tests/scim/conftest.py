"""A tenant with a SCIM token and role rules, for the SCIM endpoint's tests."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from provisioning.scim import rules, tokens
from provisioning.scim.models import RoleRule
from tenants.models import RoleTemplate


@pytest.fixture(autouse=True)
def _no_refusal_limit(settings):
    """These tests send refused requests from one address; one test sets a limit."""
    settings.SCIM_REFUSALS_PER_MINUTE = 100_000


@pytest.fixture
def scim(alpha, msp_admin):
    return scim_world(alpha, msp_admin)


def scim_world(alpha, msp_admin):
    """Tenant A with a token, a Finance template chosen by department and the Sales template
    as the default."""
    finance = RoleTemplate.objects.create(tenant=alpha.tenant, name="Finance", department="")
    rules.add(
        alpha.tenant,
        attribute=RoleRule.Attribute.DEPARTMENT,
        value="Finance",
        template=finance,
        actor=msp_admin,
        http_request=None,
    )
    rules.add(
        alpha.tenant,
        attribute=RoleRule.Attribute.DEFAULT,
        value="",
        template=alpha.template,
        actor=msp_admin,
        http_request=None,
    )
    token, clear = tokens.issue(alpha.tenant, "Okta production", actor=msp_admin)
    return SimpleNamespace(
        world=alpha, tenant=alpha.tenant, token=token, clear=clear, finance=finance
    )
