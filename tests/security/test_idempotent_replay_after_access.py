"""A kept `Idempotency-Key` answer is replayed only to a token that may still ask the same
thing: the access check runs before the replay."""

import pytest

from portal.models import Role, StaffProfile
from provisioning.models import Job
from tenants.models import TenantAssignment

from ..api.conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


def _offboarded(alpha, **options):
    client = ApiClient(token_for(alpha.technician, **options))
    path = f"/api/v1/people/{alpha.identity.pk}/offboard"
    assert client.post(path, {}, key="k-1").status_code == 202
    return client, path


def test_no_replay_once_the_technician_left_the_tenant(alpha):
    client, path = _offboarded(alpha)
    TenantAssignment.objects.filter(user=alpha.technician).delete()
    response = client.post(path, {}, key="k-1")
    assert response.status_code == 404 and "Idempotent-Replayed" not in response


def test_no_replay_once_the_technician_is_an_account_manager(alpha):
    client, path = _offboarded(alpha)
    StaffProfile.objects.filter(user=alpha.technician).update(role=Role.ACCOUNT_MANAGER)
    response = client.post(path, {}, key="k-1")
    assert response.status_code in (401, 403) and "Idempotent-Replayed" not in response


def test_no_replay_once_the_technician_is_deactivated(alpha):
    client, path = _offboarded(alpha)
    alpha.technician.is_active = False
    alpha.technician.save()
    response = client.post(path, {}, key="k-1")
    assert response.status_code == 401 and "Idempotent-Replayed" not in response
    assert Job.objects.filter(identity=alpha.identity, kind=Job.Kind.LEAVE).count() == 1
