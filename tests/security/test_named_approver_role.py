"""A named approver of a requestable resource decides only while they are a client admin of
its tenant: one made an account manager (who "changes nothing") or a technician (who files
requests) keeps the tenant but no longer approves, on the page and through the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.models import Role, StaffProfile
from provisioning.access import services as ar
from provisioning.models import AccessRequest, RequestableResource
from tests.api.conftest import ApiClient, token_for
from tests.provisioning.test_views_access import file, requestable

pytestmark = pytest.mark.django_db


@pytest.fixture
def named(alpha):
    resource = requestable(alpha, "Alpha Payroll", approvers=RequestableResource.Approvers.NAMED)
    resource.named_approvers.set([alpha.client_admin])
    return resource


def demote(user, role: str) -> None:
    StaffProfile.objects.filter(user=user).update(role=role)
    user.refresh_from_db()


def test_the_named_client_admin_decides(alpha, named):
    assert ar.approvers_of(named) == [alpha.client_admin]


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.TECHNICIAN])
def test_a_named_approver_no_longer_a_client_admin_cannot_approve_on_the_page(
    client, alpha, named, role
):
    pending = file(alpha, named)
    demote(alpha.client_admin, role)
    client.force_login(alpha.client_admin)
    url = reverse(
        "access_request_decide", kwargs={"tenant": alpha.tenant.slug, "request_id": pending.pk}
    )
    response = client.post(url, {"decision": "approve", "reason": "fine"})
    assert response.status_code == 403, response.status_code
    assert AccessRequest.objects.get(pk=pending.pk).status == AccessRequest.Status.PENDING
    assert ar.approvers_of(named) == []


def test_a_named_approver_made_account_manager_cannot_approve_through_the_api(alpha, named):
    pending = file(alpha, named)
    api = ApiClient(token_for(alpha.client_admin))
    demote(alpha.client_admin, Role.ACCOUNT_MANAGER)
    body = {"decision": "approve", "reason": "fine"}
    response = api.post(f"/api/v1/access-requests/{pending.pk}/decision", body)
    assert response.status_code == 403, response.content
    assert AccessRequest.objects.get(pk=pending.pk).status == AccessRequest.Status.PENDING
