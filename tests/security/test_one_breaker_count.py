"""The circuit breaker counts a tenant's leavers of the hour together, whichever path asked
(breaker23).

Each path counted only its own runs of the hour (files with files, the person page with the
API, the HR webhook's and SCIM's each alone, the scope's saves, the role template changes),
and adopting and offboarding from the inventory counted nowhere: a technician (or a stolen
session) could use the limit once through each path within the same hour. Now the people
losing access in the tenant's hour are one count, so N people over the limit are held
however the asks are split."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from provisioning.inventory import adoption
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, Identity, Job
from tenants.models import RoleTemplate
from tests.factories import make_identity
from tests.provisioning.bulk_support import OFFBOARD_OPTIONS, batch_of, csv_text, upload
from tests.provisioning.test_views_lifecycle import offboard_data
from tests.test_isolation_crawl import unmanaged_person_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(alpha) -> list[Identity]:
    """Alpha with ten managed people (nine and the fixture's joiner): a limit of one."""
    made = [
        make_identity(alpha.tenant, "Lee", f"Leaver{n}", status=Identity.Status.ACTIVE)
        for n in range(9)
    ]
    assert alpha.tenant.offboard_hold_limit(lifecycle.managed_count(alpha.tenant)) == 1
    return made


def _leave_of(identity) -> Job:
    return Job.objects.filter(identity=identity, kind=Job.Kind.LEAVE).latest("pk")


def _page_leave(client, world, identity):
    url = reverse("offboard", kwargs={"tenant": world.tenant.slug, "identity_id": identity.pk})
    return client.post(url, offboard_data(), follow=True)


def _file(client, world, leavers: list[Identity]) -> Batch:
    text = csv_text(["username", "leave_at"], [[p.username, ""] for p in leavers])
    batch = batch_of(upload(client, world.tenant, text, kind="offboard", **OFFBOARD_OPTIONS))
    url = reverse("bulk_start", kwargs={"tenant": world.tenant.slug, "batch_id": batch.pk})
    client.post(url)
    batch.refresh_from_db()
    return batch


def test_a_file_after_a_page_leave_of_the_hour_is_held(client, alpha, people):
    client.force_login(alpha.technician)
    _page_leave(client, alpha, people[0])
    assert _leave_of(people[0]).status == Job.Status.QUEUED  # one leaver: within the limit

    batch = _file(client, alpha, people[1:2])

    assert batch.status == Batch.Status.HELD
    assert "Offboards 2 of 10 managed people within the hour" in batch.hold_reason
    assert _leave_of(people[1]).status == Job.Status.HELD


def test_a_page_leave_after_a_file_of_the_hour_is_held_and_says_why(client, alpha, people):
    client.force_login(alpha.technician)
    assert _file(client, alpha, people[:1]).status == Batch.Status.STARTED

    page = html.unescape(_page_leave(client, alpha, people[1]).content.decode())

    assert _leave_of(people[1]).status == Job.Status.HELD
    people[1].refresh_from_db()
    assert people[1].status == Identity.Status.ACTIVE  # nothing of the leave asked yet
    assert "Offboards 2 of 10 managed people within the hour (1 by earlier" in page
    assert "needs an MSP admin" in page


def test_an_hr_leave_after_a_page_leave_of_the_hour_is_held(client, alpha, people):
    client.force_login(alpha.technician)
    _page_leave(client, alpha, people[0])

    options = lifecycle.OffboardingOptions.preset_for(alpha.tenant)
    job = lifecycle.offboard_in_window(people[1], options, kind=Batch.Kind.WEBHOOK, actor="webhook")

    assert job.status == Job.Status.HELD
    assert job.batch.status == Batch.Status.HELD


def test_a_page_leave_after_a_scim_leave_of_the_hour_is_held(client, alpha, people):
    options = lifecycle.OffboardingOptions.preset_for(alpha.tenant)
    lifecycle.offboard_in_window(people[0], options, kind=Batch.Kind.SCIM, actor="system")
    assert _leave_of(people[0]).status == Job.Status.QUEUED

    client.force_login(alpha.technician)
    _page_leave(client, alpha, people[1])

    assert _leave_of(people[1]).status == Job.Status.HELD


def test_adopting_and_offboarding_past_the_limit_is_held(client, alpha, people):
    client.force_login(alpha.technician)
    _page_leave(client, alpha, people[0])
    unmanaged = unmanaged_person_of(alpha)

    options = lifecycle.OffboardingOptions(delete_after_days=None)
    job = adoption.offboard(unmanaged, [], options, alpha.technician)

    assert job.status == Job.Status.HELD
    assert job.batch is not None and job.batch.status == Batch.Status.HELD
    job.identity.refresh_from_db()
    assert job.identity.status == Identity.Status.ACTIVE  # adopted, the leave waits


def test_a_cancelled_held_file_does_not_count_against_a_page_leave(
    client, alpha, people, msp_admin
):
    client.force_login(alpha.technician)
    batch = _file(client, alpha, people[:2])
    assert batch.status == Batch.Status.HELD
    lifecycle.cancel_batch(batch, actor=msp_admin)  # the schedule's Cancel

    _page_leave(client, alpha, people[2])

    assert _leave_of(people[2]).status == Job.Status.QUEUED


def test_a_role_template_deletion_after_a_page_leave_of_the_hour_is_held(client, alpha, people):
    support = RoleTemplate.objects.create(
        tenant=alpha.tenant, name="Support", groups=["Support Team"], apps=["Zendesk"]
    )
    people[1].role_templates.set([support])
    client.force_login(alpha.technician)
    _page_leave(client, alpha, people[0])

    url = reverse("role_delete", kwargs={"tenant": alpha.tenant.slug, "template_id": support.pk})
    body = html.unescape(client.post(url, follow=True).content.decode())

    assert "needs an MSP admin's confirmation" in body
    assert RoleTemplate.objects.filter(pk=support.pk).exists()
    held = Batch.objects.get(tenant=alpha.tenant, kind=Batch.Kind.TEMPLATE)
    assert held.status == Batch.Status.HELD
    assert "from 2 of 10 managed people within the hour (1 by earlier asks)" in held.hold_reason
