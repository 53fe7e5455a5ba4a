"""The tenant's SCIM page: tokens (shown once, stored hashed, revoked) and role rules, for MSP
admins only (403 for other roles, 404 for another tenant and for another tenant's token)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.scim import tokens
from provisioning.scim.models import RoleRule, ScimToken
from tenants.models import RoleTemplate
from tests.factories import PASSWORD, signed_in

pytestmark = pytest.mark.django_db


def page(tenant) -> str:
    return reverse("scim_settings", kwargs={"tenant": tenant.slug})


def test_an_msp_admin_creates_a_token_shown_once(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    response = client.post(page(alpha.tenant), {"token-name": "Okta production"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    token = ScimToken.objects.get(tenant=alpha.tenant)
    body = response.content.decode()
    clear = body.split('aria-label="New SCIM token"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert clear.startswith("scim_") and len(clear) > 40
    assert token.token_sha256 == hashlib.sha256(clear.encode()).hexdigest()
    assert clear not in client.get(page(alpha.tenant)).content.decode()
    event = AuditEvent.objects.get(action="scim_token.create")
    assert clear not in str(event.after) and event.after["name"] == "Okta production"
    assert "/scim/v2/alpha" in body.replace("<wbr>", "")  # the URL breaks after its slashes


def test_making_a_token_asks_for_the_password_again_after_five_minutes(client, alpha, msp_admin):
    """A SCIM token is a key to every person of the tenant, good until revoked, whoever made
    it: a session left open does not make one without the password (as an API token)."""
    signed_in(client, msp_admin, seconds_ago=301)
    assert client.get(page(alpha.tenant)).status_code == 200  # looking needs nothing more
    refused = client.post(page(alpha.tenant), {"token-name": "Okta production"})
    assert refused["Location"] == reverse("reauth") + "?next=%2Ftenants%2Falpha%2Fscim%2F"
    assert not ScimToken.objects.exists()

    client.post(reverse("reauth"), {"password": PASSWORD, "next": page(alpha.tenant)})
    made = client.post(page(alpha.tenant), {"token-name": "Okta production"})
    assert made.status_code == 200 and ScimToken.objects.filter(tenant=alpha.tenant).count() == 1


def test_revoking_refuses_the_token(client, alpha, msp_admin):
    token, clear = tokens.issue(alpha.tenant, "Entra", actor=msp_admin)
    client.force_login(msp_admin)
    url = reverse("scim_token_revoke", kwargs={"tenant": alpha.tenant.slug, "token_id": token.pk})
    assert client.post(url).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and tokens.find(clear) is None
    assert AuditEvent.objects.filter(action="scim_token.revoke").count() == 1


def test_another_tenants_token_is_404(client, alpha, bravo, msp_admin):
    token, _ = tokens.issue(bravo.tenant, "Bravo", actor=msp_admin)
    client.force_login(msp_admin)
    url = reverse("scim_token_revoke", kwargs={"tenant": alpha.tenant.slug, "token_id": token.pk})
    assert client.post(url).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_other_roles_get_403(client, alpha, msp_admin, role):
    token, _ = tokens.issue(alpha.tenant, "Okta", actor=msp_admin)
    client.force_login(alpha.people[role])
    assert client.get(page(alpha.tenant)).status_code == 403
    assert client.post(page(alpha.tenant), {"token-name": "mine"}).status_code == 403
    revoke = reverse(
        "scim_token_revoke", kwargs={"tenant": alpha.tenant.slug, "token_id": token.pk}
    )
    assert client.post(revoke).status_code == 403
    add = reverse("scim_rule_add", kwargs={"tenant": alpha.tenant.slug})
    assert client.post(add, {"rule-attribute": "default"}).status_code == 403
    assert ScimToken.objects.filter(tenant=alpha.tenant).count() == 1
    assert not RoleRule.objects.exists()


def test_another_tenants_people_get_404(client, alpha, bravo):
    client.force_login(bravo.technician)
    assert client.get(page(alpha.tenant)).status_code == 404
    add = reverse("scim_rule_add", kwargs={"tenant": alpha.tenant.slug})
    assert client.post(add, {"rule-attribute": "default"}).status_code == 404


def test_rules_are_added_ordered_and_deleted(client, alpha, msp_admin):
    finance = RoleTemplate.objects.create(tenant=alpha.tenant, name="Finance")
    client.force_login(msp_admin)
    add = reverse("scim_rule_add", kwargs={"tenant": alpha.tenant.slug})
    rows = [
        {
            "rule-attribute": "job_title",
            "rule-value": "Accountant",
            "rule-role_template": finance.pk,
        },
        {"rule-attribute": "default", "rule-role_template": alpha.template.pk},
    ]
    for row in rows:
        assert client.post(add, row).status_code == 302
    first, second = RoleRule.objects.filter(tenant=alpha.tenant)
    assert (first.attribute, first.value, second.attribute) == (
        "job_title",
        "Accountant",
        "default",
    )
    move = reverse("scim_rule_move", kwargs={"tenant": alpha.tenant.slug, "rule_id": second.pk})
    client.post(move, {"direction": "up"})
    assert list(RoleRule.objects.filter(tenant=alpha.tenant)) == [second, first]
    delete = reverse("scim_rule_delete", kwargs={"tenant": alpha.tenant.slug, "rule_id": first.pk})
    assert client.post(delete).status_code == 302
    assert list(RoleRule.objects.filter(tenant=alpha.tenant)) == [second]
    body = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug})).content
    assert page(alpha.tenant).encode() in body


def test_a_rule_without_value_or_with_another_tenants_template_is_refused(
    client, alpha, bravo, msp_admin
):
    client.force_login(msp_admin)
    add = reverse("scim_rule_add", kwargs={"tenant": alpha.tenant.slug})
    no_value = {"rule-attribute": "department", "rule-role_template": alpha.template.pk}
    assert client.post(add, no_value).status_code == 400
    foreign = {"rule-attribute": "default", "rule-role_template": bravo.template.pk}
    assert client.post(add, foreign).status_code == 400
    assert not RoleRule.objects.exists()


def test_a_tokens_times_are_in_the_tenants_zone(client, alpha, msp_admin):
    """As the tenant's other pages: made at 14:30 UTC reads 09:30 in New York, named."""
    alpha.tenant.time_zone = "America/New_York"
    alpha.tenant.save(update_fields=["time_zone"])
    token, _ = tokens.issue(alpha.tenant, "Entra", actor=msp_admin)
    made = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
    ScimToken.objects.filter(pk=token.pk).update(created_at=made)
    signed_in(client, msp_admin)
    body = client.get(page(alpha.tenant)).content.decode()
    assert "Times in America/New_York." in body
    assert "3 Dec 2026 09:30" in body and "14:30" not in body


def test_the_page_says_where_okta_and_entra_take_the_url_and_token(client, alpha, msp_admin):
    """It pointed at `docs/scim.md`, a repository file a browser cannot open, and its role
    template list started with Django's bare "---------"."""
    signed_in(client, msp_admin)
    body = client.get(page(alpha.tenant)).content.decode()
    assert "docs/scim.md" not in body
    for words in ("SCIM connector base URL", "HTTP Header", "Tenant URL", "Secret Token"):
        assert words in body, words
    assert "---------" not in body and "Choose a role template" in body


def test_the_base_url_breaks_only_after_a_slash(client, alpha, msp_admin):
    """In the Endpoint card's narrow column the URL broke mid-word ("contos" / "o")."""
    signed_in(client, msp_admin)
    body = client.get(page(alpha.tenant)).content.decode()
    slug = alpha.tenant.slug
    assert f'<code id="scim-endpoint">http://<wbr>testserver/<wbr>scim/<wbr>v2/<wbr>{slug}' in body
