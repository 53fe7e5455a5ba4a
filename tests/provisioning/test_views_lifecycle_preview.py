"""The dry runs of the offboarding wizard and the mover, read from sandbox directories over
HTTPS (the person is onboarded there first, by the real engine run in-process)."""

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning import services
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from provisioning.tasks import run_job
from tenants import clock
from tenants.models import OffboardingPreset, RoleTemplate
from tests.factories import make_person
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.test_views_lifecycle import NEW_YORK, change_data, local_in, offboard_data

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def northwind(on_sandbox):
    """Ada Lovelace, onboarded as Sales into Entra ID and Okta."""
    slug = f"nw-{uuid.uuid4().hex[:8]}"
    dirs = make_directories(on_sandbox, slug, ("entra", "okta"))
    dirs.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    job = services.request_onboarding(dirs.tenant, request, username=upn, actor="system")
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, list(job.steps.values_list("action", "last_error"))
    dirs.identity = job.identity
    dirs.upn = upn
    return dirs


def url(name, dirs) -> str:
    return reverse(name, kwargs={"tenant": dirs.tenant.slug, "identity_id": dirs.identity.pk})


def preview(client, name, dirs, data) -> str:
    client.force_login(dirs.technician)
    response = client.post(url(name, dirs), data, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    return body


def test_offboarding_dry_run_lists_every_step_per_directory(client, northwind):
    body = preview(client, "offboard_preview", northwind, offboard_data())
    for step in (
        "Reset the password to a random secret (never shown or stored)",
        f"Block sign-in {northwind.upn}",
        f"Revoke sessions {northwind.upn}",
        "Remove from group Staff",
        "Remove from group Sales",
        "Remove licence SPE_E3 — Microsoft 365 E3",
        "Unassign app Salesforce",
        f"Suspend {northwind.upn} (keeps app assignments)",
    ):
        assert f"<li>{step}</li>" in body, step
    assert "Microsoft Entra ID" in body and "Okta" in body
    assert "rule-based" in body  # "Sales (dynamic)" stays: the directory manages it
    # the person's groups are offered to keep, once for every directory, above their plans
    assert '<input type="checkbox" name="keep_group" value="Sales">' in body
    keep = body.index("<h3>Every directory</h3>")
    assert keep < body.index('id="keep-groups"') < body.index('<div class="plan-directory">')
    assert '<input type="checkbox" name="keep_group" value="Staff">' in body
    assert "30 days after the offboarding" in body and "Ready." in body
    assert Job.objects.filter(kind=Job.Kind.LEAVE).count() == 0  # a dry run sends nothing


def test_kept_groups_and_deactivate_change_the_plan(client, northwind):
    data = offboard_data(okta_mode="deactivate", keep_group=["Sales"], delete_after_days="")
    body = preview(client, "offboard_preview", northwind, data)
    assert "<li>Remove from group Sales</li>" not in body
    assert "<li>Remove from group Staff</li>" in body
    assert '<input type="checkbox" name="keep_group" value="Sales" checked>' in body
    assert f"Deactivate {northwind.upn} (drops app assignments: Salesforce)" in body
    assert "The disabled account is kept" in body
    # Each removal once: the deactivation drops Salesforce, so Okta's plan has no unassign
    # step of its own for it (Entra's, which keeps no such rule, still has one).
    okta = body[body.index("<h3>Okta</h3>") :].split('<div class="plan-directory"')[0]
    assert "Deactivate" in okta and "Unassign app" not in okta
    entra = body[body.index("<h3>Microsoft Entra ID</h3>") :].split('<div class="plan-directory"')[
        0
    ]
    assert "<li>Unassign app Salesforce</li>" in entra


def test_an_unreadable_directory_warns_but_does_not_stop_an_offboarding(client, northwind):
    northwind.tenant.connections.filter(kind="okta").update(org_url="https://127.0.0.1:9/okta/x")
    body = preview(client, "offboard_preview", northwind, offboard_data())
    assert (
        "could not be read now" in body
        and "<li>Remove licence SPE_E3 — Microsoft 365 E3</li>" in body
    )
    response = client.post(url("offboard", northwind), offboard_data())
    assert response.status_code == 302
    assert Job.objects.filter(kind=Job.Kind.LEAVE, identity=northwind.identity).exists()


def test_the_dry_run_dates_the_deletion_from_the_chosen_leave_time(client, northwind):
    """The preset's deletion is a step of the dry run, dated in the tenant's zone."""
    OffboardingPreset.objects.create(tenant=northwind.tenant, delete_after_days=30)
    northwind.tenant.time_zone = NEW_YORK
    northwind.tenant.save()
    leave = local_in(NEW_YORK, days=3, hour=9, minute=30)
    data = offboard_data(when="at", at=leave.strftime("%Y-%m-%dT%H:%M"))
    body = preview(client, "offboard_preview", northwind, data)
    deleted = (leave.replace(tzinfo=ZoneInfo(NEW_YORK)) + timedelta(days=30)).astimezone(
        ZoneInfo(NEW_YORK)
    )
    expected = f"Delete the account at about <strong>{deleted.day} {deleted:%b %Y %H:%M}</strong>"
    assert f"{expected} ({NEW_YORK})" in body
    assert "30 days after the offboarding" in body

    now = preview(client, "offboard_preview", northwind, offboard_data(delete_after_days="7"))
    day = clock.tenant_today(northwind.tenant) + timedelta(days=7)
    assert f"Delete the account at about <strong>{day.day} {day:%b %Y} " in now
    kept = preview(client, "offboard_preview", northwind, offboard_data(delete_after_days=""))
    assert "Delete the account" not in kept and "nothing is deleted" in kept


def test_an_unreadable_directory_still_offers_the_roles_groups_to_keep(client, northwind):
    OffboardingPreset.objects.create(tenant=northwind.tenant, keep_groups=["VPN Users"])
    northwind.tenant.connections.update(
        org_url="https://127.0.0.1:9/okta/x", login_base_url="https://127.0.0.1:9/login"
    )
    client.force_login(northwind.technician)
    page = client.get(url("offboard", northwind)).content.decode()
    assert '<input type="checkbox" name="keep_group" value="VPN Users" checked>' in page
    body = preview(client, "offboard_preview", northwind, offboard_data(keep_group=["VPN Users"]))
    assert "could not be read now" in body
    for group in northwind.template.groups:  # Sales and Staff, from the role template
        assert f'<input type="checkbox" name="keep_group" value="{group}">' in body
    assert '<input type="checkbox" name="keep_group" value="VPN Users" checked>' in body


@pytest.fixture
def support(northwind):
    return RoleTemplate.objects.create(
        tenant=northwind.tenant,
        name="Support",
        groups=["Staff", "Finance"],
        licenses=["EMS"],
        apps=["Slack"],
        department="Support",
        job_title="Agent",
    )


def test_mover_dry_run_shows_only_the_difference(client, northwind, support):
    data = change_data(northwind, role_templates=[support.pk], department="")
    body = preview(client, "identity_change_preview", northwind, data)
    assert '<div class="ok">+ Finance</div>' in body and '<div class="bad">− Sales</div>' in body
    assert "Staff</div>" not in body  # both roles give it: untouched
    assert (
        '<div class="ok">+ EMS (50 available) — Enterprise Mobility + Security E3</div>' in body
        and '<div class="bad">− SPE_E3 — Microsoft 365 E3</div>' in body
    )
    assert '<div class="ok">+ Slack</div>' in body and '<div class="bad">− Salesforce</div>' in body
    assert "department → <strong>Support</strong>" in body
    assert "job_title → <strong>Agent</strong>" in body
    assert "Ready to queue" in body
    assert Job.objects.filter(kind=Job.Kind.CHANGE).count() == 0


def test_mover_dry_run_shows_what_the_portal_set_and_nothing_sets_now_as_cleared(client, northwind):
    plain = RoleTemplate.objects.create(tenant=northwind.tenant, name="Plain", groups=["Staff"])
    data = change_data(northwind, role_templates=[plain.pk], department="")
    body = preview(client, "identity_change_preview", northwind, data)
    assert body.count("department → <strong>cleared</strong>") == 2  # Entra and Okta
    assert body.count("job_title → <strong>cleared</strong>") == 2
    assert "usage_location → <strong>cleared</strong>" not in body  # never cleared


def test_mover_submit_queues_a_change_job(client, northwind, support):
    client.force_login(northwind.technician)
    data = change_data(northwind, role_templates=[support.pk], department="", office="Leeds")
    response = client.post(url("identity_change", northwind), data)
    job = Job.objects.get(kind=Job.Kind.CHANGE, identity=northwind.identity)
    assert response["Location"] == reverse("job_detail", kwargs={"job_id": job.pk})
    assert job.status == Job.Status.QUEUED
    northwind.identity.refresh_from_db()
    assert list(northwind.identity.role_templates.all()) == [support]
    assert northwind.identity.attributes == {"office": "Leeds"}


def test_mover_blocked_by_the_plan_queues_nothing(client, northwind, support):
    client.force_login(northwind.technician)
    data = change_data(northwind, role_templates=[support.pk], extra_groups="No Such Group")
    response = client.post(url("identity_change", northwind), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was queued" in body and "No group “No Such Group”" in body
    assert not Job.objects.filter(kind=Job.Kind.CHANGE).exists()
    northwind.identity.refresh_from_db()
    assert list(northwind.identity.role_templates.all()) == [northwind.template]


# -- a mover's licence seats: shown, and the last one or none asks, as onboarding does ------


@pytest.fixture
def seats(on_sandbox):
    """Ada Lovelace, onboarded as Sales (SPE_E3) into an Entra directory where VISIO has one
    free seat and PROJECT none; a role template for each."""
    slug = f"seats-{uuid.uuid4().hex[:8]}"
    extra = {"skus": [{"sku_part_number": "VISIO", "seats": 1}]}
    extra["skus"].append({"sku_part_number": "PROJECT", "seats": 0})
    dirs = make_directories(on_sandbox, slug, ("entra",), entra_extra=extra)
    dirs.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    job = services.request_onboarding(dirs.tenant, request, username=upn, actor="system")
    run_job(job.pk)
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED
    dirs.identity = job.identity
    for name, sku in (("Designer", "VISIO"), ("Planner", "PROJECT")):
        template = RoleTemplate.objects.create(
            tenant=dirs.tenant, name=name, groups=["Staff"], licenses=[sku], apps=[]
        )
        setattr(dirs, name.lower(), template)
    return dirs


def test_a_movers_dry_run_shows_the_free_seats_of_what_it_adds(client, seats):
    support = RoleTemplate.objects.create(
        tenant=seats.tenant, name="Support", groups=["Staff"], licenses=["EMS"], apps=[]
    )
    body = preview(
        client, "identity_change_preview", seats, change_data(seats, role_templates=[support.pk])
    )
    assert '<div class="ok">+ EMS (50 available) — Enterprise Mobility + Security E3</div>' in body
    assert "last free seat" not in body and "Ready to queue" in body


def test_a_mover_taking_the_last_seat_is_told_and_may_choose(client, seats):
    data = change_data(seats, role_templates=[seats.designer.pk])
    body = preview(client, "identity_change_preview", seats, data)
    assert '<div class="ok">+ VISIO (1 available)</div>' in body
    assert "This takes the last free seat of VISIO" in body
    assert '<option value="" selected>Take the last free seat of VISIO</option>' in body
    assert "Use EMS instead (50 available)" in body and "Go without this licence" in body
    assert "Ready to queue" in body  # the last seat is the technician's to take

    chosen = preview(
        client, "identity_change_preview", seats, data | {"license_choice__VISIO": "EMS"}
    )
    assert (
        '<div class="ok">+ EMS (50 available) — Enterprise Mobility + Security E3</div>' in chosen
        and "+ VISIO" not in chosen
    )
    assert '<option value="EMS" selected>Use EMS instead (50 available)</option>' in chosen


def test_a_mover_with_no_free_seat_queues_nothing_until_answered(client, seats):
    data = change_data(seats, role_templates=[seats.planner.pk])
    body = preview(client, "identity_change_preview", seats, data)
    assert "No free seat of PROJECT: what should this person get?" in body
    assert 'name="license_choice__PROJECT"' in body and "Use EMS instead (50 available)" in body
    assert "Not ready" in body
    response = client.post(url("identity_change", seats), data)
    assert "Nothing was queued" in response.content.decode()
    assert not Job.objects.filter(kind=Job.Kind.CHANGE).exists()

    answered = data | {"license_choice__PROJECT": "__without__"}
    body = preview(client, "identity_change_preview", seats, answered)
    assert "+ PROJECT" not in body and "Ready to queue" in body
    assert '<option value="__without__" selected>Go without this licence</option>' in body
    response = client.post(url("identity_change", seats), answered)
    job = Job.objects.get(kind=Job.Kind.CHANGE, identity=seats.identity)
    assert response["Location"] == reverse("job_detail", kwargs={"job_id": job.pk})
    seats.identity.refresh_from_db()
    assert seats.identity.license_choices == {"PROJECT": ""}  # part of their desired state
    assert list(seats.identity.role_templates.all()) == [seats.planner]


def test_a_scheduled_movers_licence_choice_waits_with_the_change(client, seats):
    client.force_login(seats.technician)
    day = clock.tenant_today(seats.tenant) + timedelta(days=5)
    data = change_data(seats, role_templates=[seats.planner.pk], at=f"{day.isoformat()}T09:00")
    response = client.post(url("identity_change", seats), data | {"license_choice__PROJECT": "EMS"})
    job = Job.objects.get(kind=Job.Kind.CHANGE, identity=seats.identity)
    assert response.status_code == 302 and job.status == Job.Status.SCHEDULED
    seats.identity.refresh_from_db()
    assert seats.identity.license_choices == {}  # nothing changes before the time comes
    assert job.options["change"]["license_choices"] == {"PROJECT": "EMS"}

    assert lifecycle.start_due_jobs(now=job.not_before) == 1
    seats.identity.refresh_from_db()
    assert seats.identity.license_choices == {"PROJECT": "EMS"}
    assert list(seats.identity.role_templates.all()) == [seats.planner]


# -- restore: the dry run on a confirm page, then one job ------------------------------------


def offboarded(dirs):
    """`dirs.identity` offboarded with the defaults (disabled, stripped), the leave run."""
    options = lifecycle.OffboardingOptions(reset_password=False, delete_after_days=30)
    job = drive(lifecycle.request_offboarding(dirs.identity, options, actor="system"))
    dirs.identity.refresh_from_db()
    assert dirs.identity.status == Identity.Status.LEFT, list(
        job.steps.values_list("action", "last_error")
    )
    return dirs


def restore_counts(identity) -> tuple:
    return (
        list(Job.objects.filter(identity=identity).values_list("kind", "status")),
        AuditEvent.objects.exclude(action__startswith="security.").count(),
        Identity.objects.filter(pk=identity.pk).values("status", "license_choices").get(),
    )


def test_the_restore_page_shows_the_dry_run_and_a_get_sends_nothing(client, northwind):
    offboarded(northwind)
    client.force_login(northwind.technician)
    before = restore_counts(northwind.identity)
    response = client.get(url("identity_restore", northwind))
    assert response.status_code == 200
    body = response.content.decode()
    for step in (
        f"Allow sign-in {northwind.upn}",
        "Add to group Sales",
        "Add to group Staff",
        "Assign licence SPE_E3 — Microsoft 365 E3",
        "Assign app Salesforce",
    ):
        assert f"<li>{step}</li>" in body, step
    assert "Microsoft Entra ID" in body and "Okta" in body
    assert '<div class="ok">+ SPE_E3 (' in body  # the licence's free seats, as a mover's
    assert "The scheduled deletion" in body and "Ready to queue" in body
    assert restore_counts(northwind.identity) == before  # a dry run sends and queues nothing


def test_confirming_queues_one_restore_job_and_one_audit_event(client, northwind):
    offboarded(northwind)
    client.force_login(northwind.technician)
    jobs = Job.objects.filter(identity=northwind.identity, kind=Job.Kind.RESTORE)
    events = AuditEvent.objects.filter(action="identity.restore")
    response = client.post(url("identity_restore", northwind))
    job = jobs.get()
    assert response["Location"] == reverse("job_detail", kwargs={"job_id": job.pk})
    assert job.status == Job.Status.QUEUED and events.count() == 1
    assert events.get().after["cancelled_deletion"] is True
    deletion = Job.objects.get(identity=northwind.identity, kind=Job.Kind.DELETE)
    assert deletion.status == Job.Status.CANCELLED


def test_a_restore_with_no_free_seat_queues_nothing_until_answered(client, seats):
    """The role was given a licence with no free seat while they were away: the restore asks,
    as a mover's change does, and keeps the answer in their desired state."""
    offboarded(seats)
    seats.identity.role_templates.add(seats.planner)  # PROJECT: no free seat
    client.force_login(seats.technician)
    body = client.get(url("identity_restore", seats)).content.decode()
    assert "No free seat of PROJECT: what should this person get?" in body
    assert 'name="license_choice__PROJECT"' in body and "Not ready" in body
    before = restore_counts(seats.identity)
    response = client.post(url("identity_restore", seats))
    assert "Nothing was queued" in response.content.decode()
    assert restore_counts(seats.identity) == before

    response = client.post(url("identity_restore", seats), {"license_choice__PROJECT": "EMS"})
    job = Job.objects.get(kind=Job.Kind.RESTORE, identity=seats.identity)
    assert response["Location"] == reverse("job_detail", kwargs={"job_id": job.pk})
    seats.identity.refresh_from_db()
    assert seats.identity.license_choices == {"PROJECT": "EMS"}
    event = AuditEvent.objects.get(action="identity.restore")
    assert event.after["license_choices"] == {"PROJECT": "EMS"}


def test_a_rehire_after_the_hard_delete_shows_a_new_join(client, northwind):
    offboarded(northwind)
    deletion = Job.objects.get(identity=northwind.identity, kind=Job.Kind.DELETE)
    with transaction.atomic():
        lifecycle.start_job(deletion)
    drive(deletion)  # a worker's runs, each retry included (the purge waits for the delete)
    northwind.identity.refresh_from_db()
    assert northwind.identity.status == Identity.Status.DELETED
    client.force_login(northwind.technician)
    before = restore_counts(northwind.identity)
    body = client.get(url("identity_restore", northwind)).content.decode()
    assert "<h1>Rehire Ada Lovelace</h1>" in body
    assert body.count("<li>Create user") == 2  # Entra ID and Okta: new accounts, not the old
    assert "<li>Assign licence SPE_E3 — Microsoft 365 E3</li>" in body and "Ready to queue" in body
    assert restore_counts(northwind.identity) == before


def give_a_seat_away(dirs, sku: str) -> None:
    """An admin gives a seat of `sku` to someone else, in the directory, as a form is open."""
    other = dirs.add_entra_user(
        f"late.{uuid.uuid4().hex[:6]}@{dirs.tenant.primary_domain}", "Late", "Comer"
    )
    dirs.graph("PATCH", f"/users/{other['id']}", {"usageLocation": "GB"})
    skus = dirs.graph("GET", "/subscribedSkus").json()["value"]
    sku_id = next(s["skuId"] for s in skus if s["skuPartNumber"] == sku)
    given = dirs.graph(
        "POST", f"/users/{other['id']}/assignLicense",
        {"addLicenses": [{"skuId": sku_id, "disabledPlans": []}], "removeLicenses": []},
    )  # fmt: skip
    assert given.status_code == 200, given.text


def test_a_replacement_whose_last_seat_went_since_the_dry_run_queues_nothing(client, seats):
    """The dry run offered VISIO's last seat in place of PROJECT; before the submit, the seat
    went to someone else. The submit judges the choice against the seats as they are now."""
    data = change_data(seats, role_templates=[seats.planner.pk])
    body = preview(client, "identity_change_preview", seats, data)
    assert "Use VISIO instead (1 available)" in body
    give_a_seat_away(seats, "VISIO")

    response = client.post(
        url("identity_change", seats), data | {"license_choice__PROJECT": "VISIO"}
    )

    body = response.content.decode()
    assert "Nothing was queued" in body
    assert "VISIO cannot replace PROJECT now" in body
    assert not Job.objects.filter(kind=Job.Kind.CHANGE).exists()
    seats.identity.refresh_from_db()
    assert seats.identity.license_choices == {}


def test_the_deletion_note_names_how_each_of_the_persons_directories_deletes(
    client, on_sandbox, northwind
):
    """The note named Okta's deactivate-then-delete for a tenant with no Okta, and nothing of
    a SCIM app's account: it names the person's directories, each with its own way."""
    OffboardingPreset.objects.create(tenant=northwind.tenant, delete_after_days=30)
    body = preview(client, "offboard_preview", northwind, offboard_data())
    assert "Microsoft Entra ID: soft-delete, then purge; Okta: deactivate, then delete." in body

    slug = f"ent-{uuid.uuid4().hex[:8]}"
    entra_only = make_directories(on_sandbox, slug, ("entra",))
    entra_only.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [entra_only.tenant])
    OffboardingPreset.objects.create(tenant=entra_only.tenant, delete_after_days=30)
    request = services.OnboardingRequest("Ada", "Lovelace", [entra_only.template])
    upn = f"ada.lovelace@{entra_only.tenant.primary_domain}"
    job = drive(
        services.request_onboarding(entra_only.tenant, request, username=upn, actor="system")
    )
    assert job.status == Job.Status.SUCCEEDED, job.error
    entra_only.identity = job.identity
    body = preview(client, "offboard_preview", entra_only, offboard_data())
    assert "Microsoft Entra ID: soft-delete, then purge." in body
    assert "Okta" not in body
