"""Deactivating a person ends their sessions: reactivating them later (a contractor back, an
investigation closed) must not bring back a session that was open on a device before."""

import pytest
from django.test import Client
from django.urls import reverse

from tenants.staff import initial_for

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
    client.force_login(msp_admin)
    edit = reverse("staff_edit", kwargs={"person_id": person.pk})
    assert client.post(edit, staff_data(person, is_active=False)).status_code == 302
    assert client.post(edit, staff_data(person, is_active=True)).status_code == 302
    response = theirs.get(page)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.get(reverse("staff_list")).status_code == 200  # the admin's own session stays
