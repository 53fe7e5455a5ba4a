"""A SCIM token has its issuer's standing: refused (401, as a revoked one) once the MSP admin
who issued it is deactivated or is no longer an MSP admin, as Okta refuses an API token whose
admin was deactivated ("Tokens are valid only if the user who created them is active. Tokens
issued by deactivated users are rejected", help.okta.com, *Manage Okta API tokens*). The
tenant's page says which tokens are refused and why."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.models import Role, StaffProfile
from provisioning.scim import tokens
from tests.factories import make_person, signed_in
from tests.security.test_sessions_after_deactivation import staff_data

pytestmark = pytest.mark.django_db
User = get_user_model()


def users(scim, clear):
    path = reverse("scim_users", kwargs={"tenant": scim.tenant.slug})
    return path, {"HTTP_AUTHORIZATION": f"Bearer {clear}"}


def issued_by_another_admin(scim):
    issuer = make_person("second-admin", Role.MSP_ADMIN)
    token, clear = tokens.issue(scim.tenant, "Entra ID", actor=issuer)
    return issuer, token, clear


def test_a_token_is_refused_once_its_issuer_is_deactivated(client, scim):
    issuer, token, clear = issued_by_another_admin(scim)
    path, auth = users(scim, clear)
    assert client.get(path, **auth).status_code == 200
    User.objects.filter(pk=issuer.pk).update(is_active=False)  # behind the pages' back too
    refused = client.get(path, **auth)
    assert refused.status_code == 401 and "Bearer" in refused["WWW-Authenticate"]
    event = AuditEvent.objects.filter(action="scim_token.refuse").latest("pk")
    assert event.tenant_id == scim.tenant.pk and "issuer" in event.after["reason"]
    # The tokens of an issuer still active work on.
    assert client.get(path, HTTP_AUTHORIZATION=f"Bearer {scim.clear}").status_code == 200


def test_a_token_is_refused_once_its_issuer_is_no_msp_admin(client, scim):
    issuer, _, clear = issued_by_another_admin(scim)
    StaffProfile.objects.filter(user=issuer).update(role=Role.TECHNICIAN)
    path, auth = users(scim, clear)
    assert client.get(path, **auth).status_code == 401


def test_a_token_whose_issuer_was_deleted_is_refused(client, scim):
    issuer, _, clear = issued_by_another_admin(scim)
    issuer.delete()
    path, auth = users(scim, clear)
    assert client.get(path, **auth).status_code == 401


def test_deactivating_the_issuer_on_the_staff_page_revokes_their_tokens_for_good(
    client, scim, msp_admin
):
    issuer, token, clear = issued_by_another_admin(scim)
    signed_in(client, msp_admin)
    edit = reverse("staff_edit", kwargs={"person_id": issuer.pk})
    assert client.post(edit, staff_data(issuer, is_active=False)).status_code == 302
    assert client.post(edit, staff_data(issuer, is_active=True)).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    path, auth = users(scim, clear)
    assert client.get(path, **auth).status_code == 401
    event = AuditEvent.objects.get(action="scim_token.revoke")
    assert event.tenant_id == scim.tenant.pk and event.actor_username == msp_admin.username
    assert event.after["reason"] == "person deactivated"


def test_the_tenants_page_says_a_token_is_refused_and_why(client, scim, msp_admin):
    issuer, token, _ = issued_by_another_admin(scim)
    User.objects.filter(pk=issuer.pk).update(is_active=False)
    client.force_login(msp_admin)
    page = client.get(reverse("scim_settings", kwargs={"tenant": scim.tenant.slug}))
    row = page.content.decode().split(f'id="token-{token.pk}"')[1].split("</tr>")[0]
    assert "refused" in row and "second-admin" in row and "deactivated" in row
    live = page.content.decode().split(f'id="token-{scim.token.pk}"')[1].split("</tr>")[0]
    assert "refused" not in live
