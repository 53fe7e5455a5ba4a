"""The schedule (per tenant and across tenants), cancelling jobs, confirming held batches, the
job pages' scheduled time, and a tenant's lifecycle settings."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, Job
from tenants.models import OffboardingPreset
from tests.factories import make_joiner, signed_in

pytestmark = pytest.mark.django_db

READERS = [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN]
READ_ONLY = [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN]
WHEN = datetime(2031, 7, 1, 7, 0, tzinfo=UTC)  # 09:00 in Europe/Berlin (summer time)


def scheduled_leave(world, when=WHEN) -> Job:
    return Job.objects.create(
        tenant=world.tenant,
        identity=world.identity,
        kind=Job.Kind.LEAVE,
        status=Job.Status.SCHEDULED,
        not_before=when,
        options={"offboard": lifecycle.OffboardingOptions().as_dict()},
    )


def held_batch(world, leavers: int = 2) -> Batch:
    batch = Batch.objects.create(
        tenant=world.tenant,
        kind=Batch.Kind.CSV_OFFBOARD,
        status=Batch.Status.HELD,
        filename="leavers.csv",
        hold_reason="Offboards 2 of 3 managed people; more than 1 at once needs an MSP admin.",
        created_by=world.technician,
    )
    for n in range(leavers):
        identity, _ = make_joiner(world, first=f"Leaver{n}")
        Job.objects.create(
            tenant=world.tenant,
            identity=identity,
            kind=Job.Kind.LEAVE,
            status=Job.Status.HELD,
            batch=batch,
            options={"offboard": lifecycle.OffboardingOptions().as_dict()},
        )
    return batch


def schedule_url(world) -> str:
    return reverse("tenant_schedule", kwargs={"tenant": world.tenant.slug})


def cancel_url(job) -> str:
    return reverse("job_cancel", kwargs={"job_id": job.pk})


def batch_url(name, batch) -> str:
    return reverse(name, kwargs={"tenant": batch.tenant.slug, "batch_id": batch.pk})


# -- the schedule ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", READERS)
def test_every_role_reads_the_schedule_in_the_tenants_zone(client, alpha, role):
    alpha.tenant.time_zone = "Europe/Berlin"
    alpha.tenant.save()
    job = scheduled_leave(alpha)
    batch = held_batch(alpha)
    client.force_login(alpha.people[role])
    body = client.get(schedule_url(alpha)).content.decode()
    assert "1 Jul 2031 09:00" in body and "Europe/Berlin" in body
    assert alpha.identity.display_name in body and "Offboard" in body
    assert batch.hold_reason in body and "leavers.csv" in body
    operator = role == Role.TECHNICIAN
    assert (cancel_url(job) in body) is operator
    assert (batch_url("batch_cancel", batch) in body) is operator
    assert batch_url("batch_confirm", batch) not in body  # MSP admins only


def test_msp_admin_sees_confirm(client, alpha, msp_admin):
    batch = held_batch(alpha)
    client.force_login(msp_admin)
    body = client.get(schedule_url(alpha)).content.decode()
    assert batch_url("batch_confirm", batch) in body


def first_day_job(world) -> Job:
    """What a joiner created ahead waits for: sign-in allowed at the start of the first day."""
    return Job.objects.create(
        tenant=world.tenant,
        identity=world.identity,
        kind=Job.Kind.CHANGE,
        status=Job.Status.SCHEDULED,
        not_before=WHEN,
        options={"enable": True},
    )


def test_schedule_says_what_each_job_does(client, alpha):
    enable = first_day_job(alpha)
    for kind in (Job.Kind.JOIN, Job.Kind.DELETE):
        Job.objects.create(
            tenant=alpha.tenant,
            identity=alpha.identity,
            kind=kind,
            status=Job.Status.SCHEDULED,
            not_before=WHEN,
        )
    Job.objects.create(tenant=alpha.tenant, identity=alpha.identity, kind="leave", status="queued")
    client.force_login(alpha.client_admin)
    response = client.get(schedule_url(alpha))
    body = response.content.decode()
    assert "Allow sign-in on the first day (created ahead)" in body
    assert "Onboard on the start date" in body and "Delete the disabled account" in body
    assert [j.pk for j in response.context["jobs"]][0] == enable.pk
    assert len(response.context["jobs"]) == 3  # the queued job is not on the schedule


def test_a_joiners_first_day_job_is_named_for_what_it_does_on_every_page(client, alpha):
    """A future-start joiner's scheduled job, which only lets them sign in on their first day,
    was "Change #N" on the person page, the job list, the schedule's Job column and its own
    page, as a move is."""
    enable = first_day_job(alpha)
    person = reverse(
        "identity_detail", kwargs={"tenant": alpha.tenant.slug, "identity_id": alpha.identity.pk}
    )
    job_page = reverse("job_detail", kwargs={"job_id": enable.pk})
    client.force_login(alpha.technician)
    for url in (person, reverse("job_list"), schedule_url(alpha), job_page):
        body = client.get(url).content.decode()
        assert f"Allow sign-in #{enable.pk}" in body or f"Allow sign-in job #{enable.pk}" in body
        assert f"Change #{enable.pk}" not in body and f"Change job #{enable.pk}" not in body
    assert str(enable) == f"Allow sign-in #{enable.pk}"


def test_cross_tenant_schedule_shows_only_the_persons_tenants(client, alpha, bravo, msp_admin):
    scheduled_leave(alpha)
    scheduled_leave(bravo)
    client.force_login(alpha.account_manager)
    body = client.get(reverse("schedule")).content.decode()
    assert alpha.identity.display_name in body and alpha.tenant.name in body
    assert bravo.identity.display_name not in body and bravo.tenant.name not in body
    client.force_login(msp_admin)
    body = client.get(reverse("schedule")).content.decode()
    assert alpha.identity.display_name in body and bravo.identity.display_name in body


@pytest.mark.parametrize("role", READERS)
def test_other_tenant_gets_404(client, alpha, bravo, role):
    job = scheduled_leave(alpha)
    batch = held_batch(alpha)
    client.force_login(bravo.people[role])
    changes = AuditEvent.objects.exclude(action__startswith="security.")  # refusals are audited
    before = list(Job.objects.values_list("pk", "status")), changes.count()
    assert client.get(schedule_url(alpha)).status_code == 404
    assert client.post(cancel_url(job)).status_code == 404
    assert client.post(batch_url("batch_cancel", batch)).status_code == 404
    assert client.post(batch_url("batch_confirm", batch)).status_code == 404
    # A's batch under B's slug is not found either
    crossed = reverse("batch_cancel", kwargs={"tenant": bravo.tenant.slug, "batch_id": batch.pk})
    assert client.post(crossed).status_code in (403, 404)
    assert (list(Job.objects.values_list("pk", "status")), changes.count()) == before


def test_a_batch_of_a_under_bs_slug_is_not_found(client, alpha, bravo):
    batch = held_batch(alpha)
    client.force_login(bravo.technician)
    crossed = reverse("batch_cancel", kwargs={"tenant": bravo.tenant.slug, "batch_id": batch.pk})
    assert client.post(crossed).status_code == 404


# -- cancelling jobs -------------------------------------------------------------------------


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_get_403_on_every_post(client, alpha, role):
    job = scheduled_leave(alpha)
    batch = held_batch(alpha)
    client.force_login(alpha.people[role])
    assert client.post(cancel_url(job)).status_code == 403
    assert client.post(batch_url("batch_cancel", batch)).status_code == 403
    assert client.post(batch_url("batch_confirm", batch)).status_code == 403
    assert client.get(cancel_url(job)).status_code == 405
    job.refresh_from_db()
    batch.refresh_from_db()
    assert job.status == Job.Status.SCHEDULED and batch.status == Batch.Status.HELD


def test_technician_cancels_a_scheduled_job(client, alpha):
    job = scheduled_leave(alpha)
    client.force_login(alpha.technician)
    response = client.post(cancel_url(job), {"next": schedule_url(alpha)})
    assert response.status_code == 302 and response["Location"] == schedule_url(alpha)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    event = AuditEvent.objects.get(action="job.cancel")
    assert event.actor_username == alpha.technician.username and event.job_id == str(job.pk)


def test_every_cancel_button_of_a_job_asks_first(client, alpha):
    """A mistaken cancel of a scheduled leave leaves the leaver's access in place: each page
    that offers it asks, naming the job and the person, before anything is posted."""
    job = scheduled_leave(alpha)
    client.force_login(alpha.technician)
    pages = [
        schedule_url(alpha),
        reverse("job_list"),
        reverse("job_detail", kwargs={"job_id": job.pk}),
        reverse(
            "identity_detail",
            kwargs={"tenant": alpha.tenant.slug, "identity_id": alpha.identity.pk},
        ),
    ]
    asked = f"Cancel Leave #{job.pk} for {alpha.identity.display_name}? It will not run."
    for page in pages:
        body = client.get(page).content.decode()
        form = re.search(rf'<form [^>]*action="{re.escape(cancel_url(job))}"[^>]*>', body)
        assert form is not None, page
        assert f'data-confirm="{asked}"' in form.group(0), page


def test_cancel_ignores_a_next_url_elsewhere(client, alpha):
    job = scheduled_leave(alpha)
    client.force_login(alpha.technician)
    response = client.post(cancel_url(job), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("job_detail", kwargs={"job_id": job.pk})


@pytest.mark.parametrize("status", [Job.Status.RUNNING, Job.Status.SUCCEEDED, "cancelled"])
def test_a_job_that_started_cannot_be_cancelled(client, alpha, status):
    job = scheduled_leave(alpha)
    Job.objects.filter(pk=job.pk).update(status=status)
    client.force_login(alpha.technician)
    before = AuditEvent.objects.count()
    response = client.post(cancel_url(job), follow=True)
    assert "it can no longer be cancelled" in response.content.decode()
    job.refresh_from_db()
    assert job.status == status and AuditEvent.objects.count() == before


# -- held batches ----------------------------------------------------------------------------


def test_only_an_msp_admin_confirms_a_held_batch(client, alpha, msp_admin):
    batch = held_batch(alpha)
    client.force_login(alpha.technician)
    assert client.post(batch_url("batch_confirm", batch)).status_code == 403
    assert set(batch.jobs.values_list("status", flat=True)) == {Job.Status.HELD}

    signed_in(client, msp_admin)  # the password typed: confirming asks it
    response = client.post(batch_url("batch_confirm", batch), follow=True)
    assert "2 jobs released" in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == Batch.Status.STARTED and batch.confirmed_by == msp_admin
    assert set(batch.jobs.values_list("status", flat=True)) == {Job.Status.QUEUED}
    assert AuditEvent.objects.filter(action="batch.confirm").count() == 1
    # a second confirm is refused clearly and changes nothing
    response = client.post(batch_url("batch_confirm", batch), follow=True)
    assert "does not need confirmation" in response.content.decode()
    assert AuditEvent.objects.filter(action="batch.confirm").count() == 1


def test_technician_cancels_a_held_batch(client, alpha):
    batch = held_batch(alpha)
    client.force_login(alpha.technician)
    response = client.post(batch_url("batch_cancel", batch), follow=True)
    assert "2 jobs will not run" in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == Batch.Status.CANCELLED
    assert set(batch.jobs.values_list("status", flat=True)) == {Job.Status.CANCELLED}
    response = client.post(batch_url("batch_cancel", batch), follow=True)
    assert "was cancelled already" in response.content.decode()


# -- job pages -------------------------------------------------------------------------------


def test_job_page_shows_the_scheduled_time_and_cancel(client, alpha):
    alpha.tenant.time_zone = "Europe/Berlin"
    alpha.tenant.save()
    job = scheduled_leave(alpha)
    url = reverse("job_detail", kwargs={"job_id": job.pk})
    client.force_login(alpha.technician)
    body = client.get(url).content.decode()
    assert "1 Jul 2031 09:00" in body and "Europe/Berlin" in body
    assert cancel_url(job) in body
    assert 'hx-trigger="every 10s"' in body  # a scheduled job polls slowly
    body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body and cancel_url(job) in body  # in the polled partial
    client.force_login(alpha.account_manager)
    body = client.get(url).content.decode()
    assert "1 Jul 2031 09:00" in body and cancel_url(job) not in body


def test_job_page_says_a_held_job_needs_confirmation(client, alpha):
    batch = held_batch(alpha, leavers=1)
    job = batch.jobs.get()
    client.force_login(alpha.technician)
    body = client.get(reverse("job_detail", kwargs={"job_id": job.pk})).content.decode()
    assert "Needs confirmation" in body and batch.hold_reason in body
    assert schedule_url(alpha) in body and cancel_url(job) in body


def test_job_list_shows_scheduled_time_and_cancel_for_operators(client, alpha):
    job = scheduled_leave(alpha)
    client.force_login(alpha.technician)
    body = client.get(reverse("job_list")).content.decode()
    assert "1 Jul 2031 08:00 Europe/London" in body and cancel_url(job) in body
    assert reverse("schedule") in body
    client.force_login(alpha.client_admin)
    body = client.get(reverse("job_list")).content.decode()
    assert "1 Jul 2031 08:00" in body and cancel_url(job) not in body


# -- lifecycle settings ----------------------------------------------------------------------


def settings_url(world) -> str:
    return reverse("lifecycle_settings", kwargs={"tenant": world.tenant.slug})


def settings_data(**overrides) -> dict:
    data = {
        "block_sign_in": "on",
        "okta_mode": "deactivate",
        "revoke_sessions": "on",
        "reset_password": "on",
        "remove_groups": "on",
        "keep_groups": "All Staff",
        "remove_licenses": "on",
        "delete_after_days": "14",
        "offboard_hold_percent": "20",
        "offboard_hold_count": "5",
        "link_existing_accounts": "on",
    }
    return {k: v for k, v in (data | overrides).items() if v is not None}


def test_msp_admin_saves_lifecycle_settings_with_an_audited_before_and_after(
    client, alpha, msp_admin
):
    signed_in(client, msp_admin)  # a limit raised asks for the password
    response = client.get(settings_url(alpha))
    assert response.status_code == 200
    assert "a run of more than <strong>1</strong> leaver" in response.content.decode()
    assert not OffboardingPreset.objects.exists()  # created on first save

    response = client.post(settings_url(alpha), settings_data())
    assert response.status_code == 302
    preset = OffboardingPreset.objects.get(tenant=alpha.tenant)
    assert preset.okta_mode == "deactivate" and preset.remove_apps is False
    assert preset.keep_groups == ["All Staff"] and preset.delete_after_days == 14
    alpha.tenant.refresh_from_db()
    assert (alpha.tenant.offboard_hold_percent, alpha.tenant.offboard_hold_count) == (20, 5)
    assert alpha.tenant.link_existing_accounts is True
    event = AuditEvent.objects.get(action="tenant.lifecycle_update")
    assert event.tenant_id == alpha.tenant.pk and event.actor_username == msp_admin.username
    assert event.before["preset"] is None and event.before["offboard_hold_percent"] == 10
    assert event.after["preset.okta_mode"] == "deactivate"
    assert event.after["offboard_hold_count"] == 5

    client.post(settings_url(alpha), settings_data(delete_after_days="", okta_mode="suspend"))
    preset.refresh_from_db()
    assert preset.delete_after_days is None and OffboardingPreset.objects.count() == 1
    second = AuditEvent.objects.filter(action="tenant.lifecycle_update").order_by("-pk")[0]
    assert second.before["preset.delete_after_days"] == 14
    assert second.after["preset.delete_after_days"] is None
    # the offboarding wizard starts from it
    assert lifecycle.OffboardingOptions.preset_for(alpha.tenant).okta_mode == "suspend"


SETTINGS_CASES = [
    ({"delete_after_days": "-1"}, "from 0 up"),
    ({"delete_after_days": "abc"}, "whole number of days"),
    ({"offboard_hold_percent": "0"}, "greater than or equal to 1"),
    ({"offboard_hold_percent": "101"}, "less than or equal to 100"),
    ({"offboard_hold_count": "-3"}, "greater than or equal to 1"),
    ({"okta_mode": "vaporise"}, "Select a valid choice"),
    ({"keep_groups": "<img src=x>"}, "&lt; and &gt; are not allowed"),
]


@pytest.mark.parametrize("change,message", SETTINGS_CASES)
def test_lifecycle_settings_bad_input_changes_nothing(client, alpha, msp_admin, change, message):
    client.force_login(msp_admin)
    before = AuditEvent.objects.count(), alpha.tenant.offboard_hold_percent
    response = client.post(settings_url(alpha), settings_data(**change))
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body and "Nothing was saved" in body and "<img src=x>" not in body
    alpha.tenant.refresh_from_db()
    assert (AuditEvent.objects.count(), alpha.tenant.offboard_hold_percent) == before
    assert not OffboardingPreset.objects.exists()


@pytest.mark.parametrize("role", READERS)
def test_lifecycle_settings_are_for_msp_admins(client, alpha, bravo, role):
    client.force_login(alpha.people[role])
    assert client.get(settings_url(alpha)).status_code == 403
    assert client.post(settings_url(alpha), settings_data()).status_code == 403
    client.force_login(bravo.people[role])
    assert client.get(settings_url(alpha)).status_code == 404
    assert not OffboardingPreset.objects.exists()


def test_tenant_page_links_schedule_and_settings(client, alpha, msp_admin):
    tenant_url = reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug})
    client.force_login(msp_admin)
    body = client.get(tenant_url).content.decode()
    assert settings_url(alpha) in body and schedule_url(alpha) in body
    client.force_login(alpha.technician)
    body = client.get(tenant_url).content.decode()
    assert settings_url(alpha) not in body and schedule_url(alpha) in body


def test_a_bulk_leavers_page_names_the_msp_admin_who_confirmed_the_file(client, alpha, msp_admin):
    """The auditor's question of a bulk leave: who asked (the uploader) and who let it run."""
    batch = held_batch(alpha, leavers=1)
    Batch.objects.filter(pk=batch.pk).update(
        status=Batch.Status.STARTED, confirmed_by=msp_admin, confirmed_at=WHEN
    )
    leave = batch.jobs.get()
    Job.objects.filter(pk=leave.pk).update(
        status=Job.Status.SUCCEEDED, requested_by=alpha.technician, finished_at=WHEN
    )
    client.force_login(alpha.technician)
    url = reverse(
        "identity_detail", kwargs={"tenant": alpha.tenant.slug, "identity_id": leave.identity_id}
    )
    proof = re.search(r'id="leave-proof">(.*?)</p>', client.get(url).content.decode(), re.S)
    admin = msp_admin.get_full_name() or msp_admin.username
    assert f"(bulk file leavers.csv), confirmed by {admin}" in proof.group(1)


def test_the_schedule_names_who_asked_and_who_started_a_file_not_their_logins(client, alpha):
    """Its Requested by and Started by read "tech" where the job page says "Taylor Brooks"."""
    asker = alpha.technician
    asker.first_name, asker.last_name = "Taylor", "Brooks"
    asker.save(update_fields=["first_name", "last_name"])
    job = scheduled_leave(alpha)
    job.requested_by = asker
    job.save(update_fields=["requested_by"])
    held_batch(alpha)
    client.force_login(asker)
    body = client.get(schedule_url(alpha)).content.decode()
    assert '<span class="cell-label">Requested by </span>Taylor Brooks</td>' in body
    assert '<span class="cell-label">Started by </span>Taylor Brooks</td>' in body
    assert f"</span>{asker.username}</td>" not in body
