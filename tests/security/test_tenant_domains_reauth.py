"""A tenant's domains decide where a joiner's first sign-in may go (a manager's address is
used only at one of them) and which userNames SCIM takes: a domain added is a new place
every joiner's pass may go, from then on. Adding one asks for the password typed within
REAUTH_MAX_AGE_SECONDS first, as naming a first sign-in recipient does (attack23: a
session taken without the password added evil.example, then onboarded a joiner whose
manager was there)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from tests.factories import signed_in
from tests.security.test_unlock_reauth import STALE, to_password_page
from tests.test_forms_bad_input import TENANT_FORM

pytestmark = pytest.mark.django_db


def _form(alpha, **change) -> dict:
    tenant = alpha.tenant
    stored = {"name": tenant.name, "slug": tenant.slug, "primary_domain": tenant.primary_domain}
    return {**TENANT_FORM, **stored, "other_domains": "\n".join(tenant.other_domains), **change}


def _url(alpha) -> str:
    return reverse("tenant_edit", kwargs={"tenant": alpha.tenant.slug})


def test_adding_a_domain_asks_for_the_password_again(client, alpha, msp_admin):
    signed_in(client, msp_admin, seconds_ago=STALE)
    added = _form(alpha, other_domains="alpha-eu.test\nevil.example")

    assert to_password_page(client.post(_url(alpha), added), _url(alpha))
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.domains == ["alpha.test", "alpha-eu.test"]
    assert not AuditEvent.objects.filter(action="tenant.update").exists()

    signed_in(client, msp_admin)
    assert client.post(_url(alpha), added).status_code == 302
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.domains == ["alpha.test", "alpha-eu.test", "evil.example"]


def test_a_new_primary_domain_asks_too(client, alpha, msp_admin):
    signed_in(client, msp_admin, seconds_ago=STALE)
    moved = _form(alpha, primary_domain="evil.example")

    assert to_password_page(client.post(_url(alpha), moved), _url(alpha))
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.primary_domain == "alpha.test"


def test_other_edits_and_fewer_domains_need_no_password(client, alpha, msp_admin):
    signed_in(client, msp_admin, seconds_ago=STALE)

    swapped = _form(alpha, primary_domain="ALPHA-EU.test", other_domains="alpha.test")
    assert client.post(_url(alpha), swapped).status_code == 302
    fewer = {**swapped, "notes": "VIP", "other_domains": ""}
    assert client.post(_url(alpha), fewer).status_code == 302

    alpha.tenant.refresh_from_db()
    domains = [domain.casefold() for domain in alpha.tenant.domains]
    assert (alpha.tenant.notes, domains) == ("VIP", ["alpha-eu.test"])
