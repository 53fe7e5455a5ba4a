"""A role or tenant taken away counts at the session's next request: the portal reads the
person's role and tenants on every request (portal.models.role_of, tenants.access), keeps
none in the session, and a token has its person's standing at each call. Probe of attack13
(held); pinned so that no cache of roles in the session creeps in."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.models import Role, StaffProfile
from provisioning.models import Job
from tenants.models import TenantAssignment
from tests.api.conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


def make_role(user, role: str) -> None:
    StaffProfile.objects.filter(user=user).update(role=role)


def test_a_technician_made_account_manager_acts_no_more(client, alpha):
    client.force_login(alpha.technician)
    onboard = reverse("onboard", kwargs={"tenant": alpha.tenant.slug})
    retry = reverse("job_retry", kwargs={"job_id": alpha.job.pk})
    assert client.get(onboard).status_code == 200
    api = ApiClient(token_for(alpha.technician))
    make_role(alpha.technician, Role.ACCOUNT_MANAGER)
    assert client.get(onboard).status_code == 403
    assert client.post(retry).status_code == 403
    assert api.post(f"/api/v1/jobs/{alpha.job.pk}/retry").status_code == 403
    assert Job.objects.get(pk=alpha.job.pk).status == Job.Status.FAILED


def test_a_person_taken_off_a_tenant_sees_it_no_more(client, alpha):
    client.force_login(alpha.client_admin)
    page = reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug})
    assert client.get(page).status_code == 200
    TenantAssignment.objects.filter(user=alpha.client_admin).delete()
    assert client.get(page).status_code == 404


def test_an_msp_admin_made_technician_loses_the_staff_pages_and_the_admin(client, msp_admin):
    client.force_login(msp_admin)
    assert client.get(reverse("staff_list")).status_code == 200
    make_role(msp_admin, Role.TECHNICIAN)  # is_superuser left set, as a row edited by hand
    assert client.get(reverse("staff_list")).status_code == 403
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
