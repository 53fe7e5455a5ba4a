"""`POST /people/{id}/offboard` of someone whose running leave ends between the endpoint's
refusal check and the leave's lock: a 409 problem as for anyone who has left, not a 500
(`lifecycle.HasLeft`; tests/provisioning/test_left_meanwhile.py has the form and the HR
webhook)."""

import pytest

from provisioning.api import endpoints_lifecycle
from provisioning.models import Identity, Job

pytestmark = pytest.mark.django_db


def test_an_offboarding_of_someone_who_left_meanwhile_is_a_409(alpha, api_as, monkeypatch):
    person = alpha.identity
    refusal = endpoints_lifecycle._refusal

    def then_the_leave_ends(identity):
        answer = refusal(identity)
        Identity.objects.filter(pk=person.pk).update(status=Identity.Status.LEFT)
        return answer

    monkeypatch.setattr(endpoints_lifecycle, "_refusal", then_the_leave_ends)
    response = api_as(alpha.technician).post(f"/api/v1/people/{person.pk}/offboard", {})

    assert response.status_code == 409, response.content
    assert "has already left" in response.json()["detail"]
    assert not Job.objects.filter(identity=person, kind=Job.Kind.LEAVE).exists()
