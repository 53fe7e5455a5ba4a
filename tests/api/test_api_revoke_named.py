"""Revoking through the API where the resource names its approvers (attack20, held): a
client admin of the tenant who is not named is refused as on the page, a named one revokes,
and the same Idempotency-Key with another body is refused, not a second revoke."""

import pytest

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.models import AccessRequest, Job, RequestableResource
from tests.factories import make_person
from tests.provisioning.test_views_access import approved, requestable, url

pytestmark = pytest.mark.django_db


def test_only_a_named_approver_among_the_client_admins_revokes(alpha, api_as, client):
    named = make_person("ca2-alpha", Role.CLIENT_ADMIN, [alpha.tenant])
    payroll = requestable(alpha, "Payroll", approvers=RequestableResource.Approvers.NAMED)
    payroll.named_approvers.set([named])
    filed = approved(alpha, payroll, by=named)
    path = f"/api/v1/access-requests/{filed.pk}/revoke"
    refused = api_as(alpha.client_admin).post(path, {})
    assert refused.status_code == 403 and "approver of this access" in refused.json()["detail"]
    client.force_login(alpha.client_admin)
    assert client.post(url("access_request_revoke", alpha, request_id=filed.pk)).status_code == 403
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.APPROVED

    as_named = api_as(named)
    assert as_named.post(path, {}, key="revoke-1").status_code == 200
    replayed = as_named.post(path, {}, key="revoke-1")
    assert replayed.status_code == 200 and replayed["Idempotent-Replayed"] == "true"
    reused = as_named.post(path, {"reason": "Another body"}, key="revoke-1")
    assert reused.status_code == 422
    assert Job.objects.filter(kind=Job.Kind.REVOKE).count() == 1
    [ended] = AuditEvent.objects.filter(action="access.end")
    assert ended.actor_user_id == named.pk
