"""Deactivating a person ends their sessions: reactivating them later (a contractor back, an
investigation closed) must not bring back a session that was open on a device before."""

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.api.models import ApiToken
from tenants.staff import initial_for
from tests.api.conftest import ApiClient, token_for
from tests.factories import signed_in

pytestmark = pytest.mark.django_db


def staff_data(person, **changes) -> dict:
    data = initial_for(person) | changes
    data["tenants"] = [t.pk for t in data["tenants"]]
    return {key: value for key, value in data.items() if value not in (False, None)}


def test_a_deactivated_persons_sessions_do_not_come_back_with_reactivation(
    client, alpha, msp_admin
):
    person = alpha.technician
    theirs = Client()
    theirs.force_login(person)
    page = reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug})
    assert theirs.get(page).status_code == 200
    signed_in(client, msp_admin)
    edit = reverse("staff_edit", kwargs={"person_id": person.pk})
    assert client.post(edit, staff_data(person, is_active=False)).status_code == 302
    assert client.post(edit, staff_data(person, is_active=True)).status_code == 302
    response = theirs.get(page)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.get(reverse("staff_list")).status_code == 200  # the admin's own session stays


def test_a_deactivated_persons_api_tokens_do_not_come_back_with_reactivation(
    client, alpha, msp_admin
):
    person = alpha.client_admin
    clear = token_for(person, name="Client RMM")
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 200
    signed_in(client, msp_admin)
    edit = reverse("staff_edit", kwargs={"person_id": person.pk})
    assert client.post(edit, staff_data(person, is_active=False)).status_code == 302
    assert client.post(edit, staff_data(person, is_active=True)).status_code == 302
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 401
    assert ApiToken.objects.get(user=person).revoked_at is not None
    # On the trail the client reads, saying who and why.
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert event.actor_username == msp_admin.username and event.tenant_id == alpha.tenant.pk
    assert "Client RMM" in event.target_display and event.after["reason"] == "person deactivated"


def test_tokens_of_a_person_deactivated_before_are_revoked_when_they_are_reactivated(
    client, alpha, msp_admin
):
    """Someone deactivated before deactivation revoked tokens (or behind the pages' back)
    kept them: reactivation revokes what is left rather than bring it back."""
    person = alpha.technician
    clear = token_for(person)
    type(person).objects.filter(pk=person.pk).update(is_active=False)
    person.refresh_from_db()
    signed_in(client, msp_admin)
    edit = reverse("staff_edit", kwargs={"person_id": person.pk})
    assert client.post(edit, staff_data(person, is_active=True)).status_code == 302
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 401
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert event.after["reason"] == "issued before the person was deactivated"


def test_a_token_issued_after_reactivation_works(client, alpha, msp_admin):
    person = alpha.technician
    signed_in(client, msp_admin)
    edit = reverse("staff_edit", kwargs={"person_id": person.pk})
    assert client.post(edit, staff_data(person, is_active=False)).status_code == 302
    assert client.post(edit, staff_data(person, is_active=True)).status_code == 302
    assert ApiClient(token_for(person)).get("/api/v1/tenants").status_code == 200


def test_the_staff_list_says_active_and_disabled_as_every_other_status_badge(
    client, alpha, msp_admin
):
    """Capitalised like the rest of the portal's badges ("Active" on a person's page)."""
    signed_in(client, msp_admin)
    edit = reverse("staff_edit", kwargs={"person_id": alpha.technician.pk})
    assert client.post(edit, staff_data(alpha.technician, is_active=False)).status_code == 302
    body = client.get(reverse("staff_list")).content.decode()
    assert '<span class="badge ok">Active</span>' in body
    assert '<span class="badge">Disabled</span>' in body
    assert ">active<" not in body and ">disabled<" not in body
