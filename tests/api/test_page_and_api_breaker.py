"""Offboarding from person pages counts toward the mass-offboarding limit (leftover2).

The API's, the bulk files', the HR webhook's, SCIM's and the takeover scope's leaves of the
hour were counted by the circuit breaker; a leave from the person page was not, so a
technician (or a stolen technician session) could offboard a whole client one person page
at a time, with no MSP admin asked. The person pages' leaves of the hour now count as the
API's do, and together with them: a technician who mixes the two does not get the limit
twice."""

from __future__ import annotations

import pytest
from django.urls import reverse

from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, Identity, Job
from tests.factories import make_identity
from tests.provisioning.test_views_lifecycle import offboard_data

pytestmark = pytest.mark.django_db


def _people(tenant, count: int) -> list[Identity]:
    return [
        make_identity(tenant, "Lee", f"Leaver{n}", status=Identity.Status.ACTIVE)
        for n in range(count)
    ]


@pytest.fixture
def limit_of_one(alpha):
    """Alpha with ten managed people (nine and the fixture's joiner): a limit of one."""
    people = _people(alpha.tenant, 9)
    assert alpha.tenant.offboard_hold_limit(lifecycle.managed_count(alpha.tenant)) == 1
    return people


def _offboard_page(client, world, identity):
    url = reverse("offboard", kwargs={"tenant": world.tenant.slug, "identity_id": identity.pk})
    return client.post(url, offboard_data(), follow=True)


def _leave_of(identity) -> Job:
    return Job.objects.filter(identity=identity, kind=Job.Kind.LEAVE).latest("pk")


def test_person_pages_offboarding_past_the_limit_is_held_and_says_why(
    client, alpha, limit_of_one, msp_admin
):
    first, second = limit_of_one[:2]
    client.force_login(alpha.technician)

    _offboard_page(client, alpha, first)
    assert _leave_of(first).status == Job.Status.QUEUED  # one leaver: within the limit

    page = _offboard_page(client, alpha, second).content.decode()
    held = _leave_of(second)
    assert held.status == Job.Status.HELD
    second.refresh_from_db()
    assert second.status == Identity.Status.ACTIVE  # nothing of the leave is asked yet
    assert "needs an MSP admin" in page and "within the hour" in page
    assert "Offboards 2 of 10 managed people" in page

    person = client.get(
        reverse("identity_detail", kwargs={"tenant": alpha.tenant.slug, "identity_id": second.pk})
    ).content.decode()
    assert "Offboards 2 of 10 managed people within the hour" in person

    schedule = client.get(reverse("tenant_schedule", kwargs={"tenant": alpha.tenant.slug}))
    assert "Offboards 2 of 10 managed people" in schedule.content.decode()
    lifecycle.confirm_batch(held.batch, actor=msp_admin)  # the schedule's Confirm
    held.refresh_from_db()
    assert held.status == Job.Status.QUEUED
    second.refresh_from_db()
    assert second.status == Identity.Status.LEAVER


def test_a_page_leave_after_an_api_leave_of_the_hour_is_held(client, alpha, limit_of_one, api_as):
    first, second = limit_of_one[:2]
    api = api_as(alpha.technician)
    assert api.post(f"/api/v1/people/{first.pk}/offboard", {}).json()["job"]["status"] == "queued"

    client.force_login(alpha.technician)
    page = _offboard_page(client, alpha, second).content.decode()

    assert _leave_of(second).status == Job.Status.HELD
    assert "(1 by earlier asks)" in page


def test_an_api_leave_after_a_page_leave_of_the_hour_is_held(client, alpha, limit_of_one, api_as):
    first, second = limit_of_one[:2]
    client.force_login(alpha.technician)
    _offboard_page(client, alpha, first)
    assert _leave_of(first).status == Job.Status.QUEUED

    held = api_as(alpha.technician).post(f"/api/v1/people/{second.pk}/offboard", {})

    assert held.status_code == 202 and held.json()["job"]["status"] == "held"
    assert Batch.objects.get(pk=_leave_of(second).batch_id).status == Batch.Status.HELD


def test_a_cancelled_page_leave_does_not_count(client, alpha, limit_of_one):
    first, second = limit_of_one[:2]
    client.force_login(alpha.technician)
    _offboard_page(client, alpha, first)
    Job.objects.filter(identity=first).update(status=Job.Status.CANCELLED)

    _offboard_page(client, alpha, second)

    assert _leave_of(second).status == Job.Status.QUEUED
