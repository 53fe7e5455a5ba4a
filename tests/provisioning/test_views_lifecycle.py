"""Offboarding, mover and restore pages: who may use them, every bad input, and the jobs a
submit creates (status, time in the tenant's zone, options). Dry runs against the sandbox are
in test_views_lifecycle_preview.py."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.lifecycle import services as lifecycle
from provisioning.lifecycle.forms import ChangeForm
from provisioning.models import Identity, Job
from tenants.models import OffboardingPreset
from tests.factories import signed_in
from tests.provisioning.test_client_navigation import breadcrumbs, links

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
OPERATORS = [Role.TECHNICIAN, "msp_admin"]
READ_ONLY = [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN]
NEW_YORK = "America/New_York"


def url(name: str, world, identity=None) -> str:
    identity = identity or world.identity
    return reverse(name, kwargs={"tenant": world.tenant.slug, "identity_id": identity.pk})


def person(world, role, msp_admin=None):
    return msp_admin if role == "msp_admin" else world.people[role]


def counts() -> tuple:
    return (
        Job.objects.count(),
        # a refusal is recorded as a security event (tests/security); nothing else may be
        AuditEvent.objects.exclude(action__startswith="security.").count(),
        list(Identity.objects.order_by("pk").values("status", "end_date", "attributes")),
    )


def offboard_data(**overrides) -> dict:
    data = {
        "block_sign_in": "on",
        "okta_mode": "suspend",
        "revoke_sessions": "on",
        "reset_password": "on",
        "remove_groups": "on",
        "remove_licenses": "on",
        "remove_apps": "on",
        "delete_after_days": "30",
        "when": "now",
        "at": "",
    }
    return {k: v for k, v in (data | overrides).items() if v is not None}


def local_in(zone: str, days: int, hour: int = 9, minute: int = 30) -> datetime:
    """A wall-clock time `days` ahead in `zone` (naive), as a person there would type it."""
    day = timezone.now().astimezone(ZoneInfo(zone)).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute)


# -- offboarding: who ------------------------------------------------------------------------


@pytest.mark.parametrize("role", OPERATORS)
def test_operators_open_the_wizard_prefilled_from_the_preset(client, alpha, msp_admin, role):
    OffboardingPreset.objects.create(
        tenant=alpha.tenant,
        okta_mode="deactivate",
        remove_apps=False,
        keep_groups=["All Staff"],
        delete_after_days=7,
    )
    client.force_login(person(alpha, role, msp_admin))
    response = client.get(url("offboard", alpha))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["okta_mode"].value() == "deactivate"
    assert form["remove_apps"].value() is False and form["remove_groups"].value() is True
    assert form["delete_after_days"].value() == 7 and form["when"].value() == "now"
    body = response.content.decode()
    assert "drops app assignments" in body  # the Okta choice explained
    # one control for the kept groups: the preset's start ticked, the dry run offers the rest
    assert '<input type="checkbox" name="keep_group" value="All Staff" checked>' in body
    assert 'name="keep_groups"' not in body and "the preset keeps All Staff" in body
    preview = url("offboard_preview", alpha)
    assert f'hx-post="{preview}"' in body and 'hx-trigger="load, change' in body
    assert 'data-hx-sync="this:queue last"' in body  # never aborted (test_views_onboard)
    assert f"time zone, {alpha.tenant.time_zone}" in body


def test_okta_choice_only_with_an_okta_connection(client, alpha):
    alpha.okta_connection.delete()
    client.force_login(alpha.technician)
    response = client.get(url("offboard", alpha))
    assert "okta_mode" not in response.context["form"].fields
    assert "Deactivate (drops app assignments)" not in response.content.decode()
    # the preset's mode still travels with the options
    assert client.post(url("offboard", alpha), offboard_data(okta_mode=None)).status_code == 302
    assert Job.objects.get(kind=Job.Kind.LEAVE).options["offboard"]["okta_mode"] == "suspend"


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_may_not_offboard(client, alpha, role):
    client.force_login(alpha.people[role])
    before = counts()
    assert client.get(url("offboard", alpha)).status_code == 403
    assert client.post(url("offboard", alpha), offboard_data()).status_code == 403
    assert client.post(url("offboard_preview", alpha), offboard_data(), **HX).status_code == 403
    assert counts() == before


@pytest.mark.parametrize("role", [Role.TECHNICIAN, *READ_ONLY])
def test_other_tenant_gets_404(client, alpha, bravo, role):
    client.force_login(bravo.people[role])
    before = counts()
    for name in ("offboard", "identity_change"):
        assert client.get(url(name, alpha)).status_code == 404
        assert client.post(url(name, alpha), offboard_data()).status_code == 404
    for name in ("offboard_preview", "identity_change_preview"):
        assert client.post(url(name, alpha), offboard_data(), **HX).status_code == 404
    assert client.post(url("identity_restore", alpha)).status_code == 404
    assert client.get(url("identity_restore", alpha)).status_code == 404
    assert counts() == before


def test_a_person_of_a_under_bs_slug_is_not_found(client, alpha, bravo):
    client.force_login(bravo.technician)
    for name in ("offboard", "identity_change"):
        crossed = reverse(
            name, kwargs={"tenant": bravo.tenant.slug, "identity_id": alpha.identity.pk}
        )
        assert client.get(crossed).status_code == 404


@pytest.mark.parametrize("status", [Identity.Status.LEFT, Identity.Status.DELETED])
def test_someone_who_left_is_refused_clearly(client, alpha, status):
    Identity.objects.filter(pk=alpha.identity.pk).update(status=status)
    client.force_login(alpha.technician)
    before = counts()
    for response in (
        client.get(url("offboard", alpha), follow=True),
        client.post(url("offboard", alpha), offboard_data(), follow=True),
    ):
        assert response.redirect_chain[-1][0] == url("identity_detail", alpha)
        assert "has left" in response.content.decode() or "already left" in (
            response.content.decode()
        )
    assert counts() == before


def test_a_running_offboarding_is_not_started_twice(client, alpha):
    running = Job.objects.create(
        tenant=alpha.tenant, identity=alpha.identity, kind=Job.Kind.LEAVE, status="running"
    )
    client.force_login(alpha.technician)
    response = client.post(url("offboard", alpha), offboard_data(), follow=True)
    assert f"is running already (job #{running.pk})" in response.content.decode()
    assert Job.objects.filter(kind=Job.Kind.LEAVE).count() == 1


# -- offboarding: submit ---------------------------------------------------------------------


def test_offboard_now_queues_a_leave_job_with_the_chosen_options(client, alpha):
    client.force_login(alpha.technician)
    data = offboard_data(
        okta_mode="deactivate",
        remove_apps=None,
        keep_group=["Finance", "All Staff", ""],
        delete_after_days="",
    )
    response = client.post(url("offboard", alpha), data)
    job = Job.objects.get(kind=Job.Kind.LEAVE)
    assert response.status_code == 302 and response["Location"] == reverse(
        "job_detail", kwargs={"job_id": job.pk}
    )
    assert job.status == Job.Status.QUEUED and job.not_before is None
    assert job.identity == alpha.identity and job.requested_by == alpha.technician
    options = job.options["offboard"]
    assert options["okta_mode"] == "deactivate" and options["remove_apps"] is False
    assert options["delete_after_days"] is None
    assert options["keep_groups"] == ["Finance", "All Staff"]
    event = AuditEvent.objects.get(action="identity.offboard")
    assert event.actor_username == alpha.technician.username and event.job_id == str(job.pk)
    assert "password" not in str(event.after).replace("reset_password", "")


def test_offboard_at_a_time_in_the_tenants_zone_is_scheduled_at_that_instant(client, alpha):
    alpha.tenant.time_zone = NEW_YORK
    alpha.tenant.save()
    local = local_in(NEW_YORK, days=3)
    client.force_login(alpha.technician)
    data = offboard_data(when="at", at=local.strftime("%Y-%m-%dT%H:%M"))
    assert client.post(url("offboard", alpha), data).status_code == 302
    job = Job.objects.get(kind=Job.Kind.LEAVE)
    assert job.status == Job.Status.SCHEDULED
    assert job.not_before == local.replace(tzinfo=ZoneInfo(NEW_YORK)).astimezone(UTC)
    alpha.identity.refresh_from_db()
    assert alpha.identity.end_date == local.date()


OFFBOARD_CASES = [
    ({"when": "at", "at": "2001-01-01T09:00"}, "That time has passed"),
    ({"when": "at", "at": ""}, "Give the date and time"),
    ({"when": "at", "at": "next tuesday"}, "Enter a valid date/time"),
    ({"when": "at", "at": "2999-01-01T09:00"}, "more than a year ahead"),
    ({"delete_after_days": "-5"}, "from 0 up"),
    ({"delete_after_days": "soon"}, "whole number of days"),
    ({"delete_after_days": "99999"}, "less than or equal to 3650"),
    ({"okta_mode": "obliterate"}, "Select a valid choice"),
    ({"keep_group": ["Sales", "<script>x</script>"]}, "&lt; and &gt; are not allowed"),
    ({"keep_group": [f"Group {n}" for n in range(101)]}, "Too many or too long group names"),
    (
        {k: None for k in ("block_sign_in", "revoke_sessions", "reset_password")}
        | {k: None for k in ("remove_groups", "remove_licenses", "remove_apps")},
        "Choose at least one thing",
    ),
]


@pytest.mark.parametrize("change,message", OFFBOARD_CASES)
def test_offboard_bad_input_changes_nothing(client, alpha, change, message):
    client.force_login(alpha.technician)
    before = counts()
    response = client.post(url("offboard", alpha), offboard_data(**change))
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body and "Nothing was saved" in body
    assert "<script>x</script>" not in body
    assert counts() == before


def test_a_past_time_is_judged_in_the_tenants_zone(client, alpha):
    """An hour ago in Tokyo is in the past even though that wall clock is ahead of UTC."""
    alpha.tenant.time_zone = "Asia/Tokyo"
    alpha.tenant.save()
    an_hour_ago = timezone.now().astimezone(ZoneInfo("Asia/Tokyo")) - timedelta(hours=1)
    client.force_login(alpha.technician)
    data = offboard_data(when="at", at=an_hour_ago.strftime("%Y-%m-%dT%H:%M"))
    response = client.post(url("offboard", alpha), data)
    assert "That time has passed" in response.content.decode() and "Asia/Tokyo" in (
        response.content.decode()
    )
    assert not Job.objects.filter(kind=Job.Kind.LEAVE).exists()


def test_a_past_time_says_the_tenants_now_as_the_pages_write_dates(alpha, monkeypatch):
    """The message said "it is 07 Dec 2026 00:48 now"; the pages write 7 Dec 2026 ("j M Y")."""
    from django.core.exceptions import ValidationError

    from provisioning.lifecycle.forms import clean_future

    alpha.tenant.time_zone = "Europe/London"
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 12, 7, 0, 48, tzinfo=UTC))
    with pytest.raises(ValidationError) as refused:
        clean_future(alpha.tenant, datetime(2026, 12, 1, 9, 0))
    assert "it is 7 Dec 2026 00:48 now in Europe/London" in str(refused.value)


def test_preview_with_bad_input_lists_the_errors_and_reads_nothing(client, alpha):
    client.force_login(alpha.technician)
    response = client.post(
        url("offboard_preview", alpha), offboard_data(delete_after_days="-1"), **HX
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "from 0 up" in body and "plan-directory" not in body


# -- movers ----------------------------------------------------------------------------------


def change_data(world, **overrides) -> dict:
    data = {
        "role_templates": [world.template.pk],
        "department": "Support",
        "job_title": "",
        "office": "",
        "usage_location": "",
        "extra_groups": "",
        "at": "",
    }
    return data | overrides


@pytest.mark.parametrize("role", OPERATORS)
def test_operators_open_the_change_form_with_the_current_role(client, alpha, msp_admin, role):
    client.force_login(person(alpha, role, msp_admin))
    response = client.get(url("identity_change", alpha))
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form["role_templates"].value()) == [alpha.template.pk]
    assert form["department"].value() == "Sales"
    assert url("identity_change_preview", alpha) in response.content.decode()
    assert 'data-hx-sync="this:queue last"' in response.content.decode()


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_may_not_change(client, alpha, role):
    client.force_login(alpha.people[role])
    before = counts()
    assert client.get(url("identity_change", alpha)).status_code == 403
    assert client.post(url("identity_change", alpha), change_data(alpha)).status_code == 403
    response = client.post(url("identity_change_preview", alpha), change_data(alpha), **HX)
    assert response.status_code == 403
    assert counts() == before


def test_someone_who_left_cannot_be_moved(client, alpha):
    Identity.objects.filter(pk=alpha.identity.pk).update(status=Identity.Status.LEFT)
    client.force_login(alpha.technician)
    response = client.get(url("identity_change", alpha), follow=True)
    assert "restore them before changing their role" in response.content.decode()


CHANGE_CASES = [
    ({"role_templates": []}, "Choose at least one role template."),
    ({"role_templates": ["999999"]}, "That role template is not one of this tenant"),
    ({"role_templates": ["abc"]}, "That role template is not one of this tenant"),
    ({"usage_location": "Britain"}, "Two letters, such as GB or US."),
    ({"usage_location": "USA"}, "USA is a three-letter code: a usage location is the two-letter"),
    ({"usage_location": "XX"}, "XX is not an ISO 3166 country code such as GB"),
    ({"department": "<b>x</b>"}, "Holds &lt; or &gt;: use plain text."),
    ({"at": "2001-01-01T09:00"}, "That time has passed"),
    ({"department": "Sales"}, "Nothing differs from what the person has now."),
]


@pytest.mark.parametrize("change,message", CHANGE_CASES)
def test_change_bad_input_changes_nothing(client, alpha, bravo, change, message):
    client.force_login(alpha.technician)
    before = counts() + (list(alpha.identity.role_templates.all()),)
    response = client.post(url("identity_change", alpha), change_data(alpha, **change))
    assert response.status_code == 200
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert counts() + (list(alpha.identity.role_templates.all()),) == before


def test_another_tenants_role_template_is_refused(client, alpha, bravo):
    client.force_login(alpha.technician)
    data = change_data(alpha, role_templates=[bravo.template.pk])
    response = client.post(url("identity_change", alpha), data)
    assert "That role template is not one of this tenant&#x27;s." in response.content.decode()
    assert not Job.objects.filter(kind=Job.Kind.CHANGE).exists()


# -- restore and rehire ----------------------------------------------------------------------


def unreachable(world) -> None:
    """The world's directories refuse at once (nothing listens on port 9): no test here waits
    for a real cloud's host to time out."""
    down = "https://127.0.0.1:9/x"
    world.tenant.connections.update(login_base_url=down, graph_base_url=down, org_url=down)


@pytest.mark.parametrize("role", OPERATORS)
@pytest.mark.parametrize("status", [Identity.Status.LEFT, Identity.Status.DELETED])
def test_operators_see_the_restore_page_and_a_get_changes_nothing(
    client, alpha, msp_admin, role, status
):
    """The confirm page, not a one-click restore: a GET sends nothing and queues nothing. (The
    dry run read from real directories: test_views_lifecycle_preview.py.)"""
    Identity.objects.filter(pk=alpha.identity.pk).update(status=status)
    unreachable(alpha)
    client.force_login(person(alpha, role, msp_admin))
    before = counts()
    response = client.get(url("identity_restore", alpha))
    assert response.status_code == 200
    body = response.content.decode()
    verb = "Rehire" if status == Identity.Status.DELETED else "Restore"
    assert f"<h1>{verb} Pat Member-alpha</h1>" in body
    assert 'id="confirm-restore"' in body and "Nothing has been sent" in body
    assert f'id="confirm-restore">Confirm: {verb.lower()} Pat Member-alpha</button>' in body
    assert counts() == before


def test_a_restore_the_dry_run_cannot_check_queues_nothing(client, alpha):
    """Its directories cannot be read: as a mover's, the restore waits until they can."""
    Identity.objects.filter(pk=alpha.identity.pk).update(status=Identity.Status.LEFT)
    unreachable(alpha)
    client.force_login(alpha.technician)
    before = counts()
    response = client.post(url("identity_restore", alpha))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was queued" in body and "could not be read" in body
    assert counts() == before


def test_restore_of_someone_still_here_is_refused(client, alpha):
    client.force_login(alpha.technician)
    before = counts()
    response = client.post(url("identity_restore", alpha), follow=True)
    assert "has not left; there is nothing to restore" in response.content.decode()
    assert counts() == before


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_may_not_restore(client, alpha, role):
    Identity.objects.filter(pk=alpha.identity.pk).update(status=Identity.Status.LEFT)
    client.force_login(alpha.people[role])
    before = counts()
    assert client.post(url("identity_restore", alpha)).status_code == 403
    assert client.get(url("identity_restore", alpha)).status_code == 403
    assert counts() == before


# -- the identity page -----------------------------------------------------------------------


def test_identity_page_offers_offboard_and_change_to_operators_only(client, alpha):
    client.force_login(alpha.technician)
    body = client.get(url("identity_detail", alpha)).content.decode()
    assert url("offboard", alpha) in body and url("identity_change", alpha) in body
    for role in READ_ONLY:
        client.force_login(alpha.people[role])
        body = client.get(url("identity_detail", alpha)).content.decode()
        assert url("offboard", alpha) not in body and url("identity_change", alpha) not in body
        assert 'id="lifecycle"' in body


@pytest.mark.parametrize("name", ["offboard", "identity_change"])
def test_the_wizards_trail_is_the_persons_trail_then_the_person(client, alpha, name):
    client.force_login(alpha.technician)
    person = breadcrumbs(client.get(url("identity_detail", alpha)))
    trail = breadcrumbs(client.get(url(name, alpha)))
    assert trail.startswith(person)
    assert links(trail)[alpha.identity.display_name] == url("identity_detail", alpha)
    assert links(trail)["Tenants"] == reverse("tenant_list")


def test_people_list_rows_link_the_wizard(client, alpha):
    client.force_login(alpha.technician)
    people = reverse("people_list", kwargs={"tenant": alpha.tenant.slug})
    assert url("offboard", alpha) in client.get(people).content.decode()
    Identity.objects.filter(pk=alpha.identity.pk).update(status=Identity.Status.LEFT)
    assert url("offboard", alpha) not in client.get(people).content.decode()


def test_identity_page_shows_what_was_removed_and_offers_restore(client, alpha):
    from provisioning.models import Step

    Identity.objects.filter(pk=alpha.identity.pk).update(status=Identity.Status.LEFT)
    leave = Job.objects.create(
        tenant=alpha.tenant,
        identity=alpha.identity,
        kind=Job.Kind.LEAVE,
        status="succeeded",
        finished_at=datetime(2031, 2, 1, 9, 30, tzinfo=UTC),
    )
    removed = [
        ("remove_group", "Sales Team", "succeeded"),
        ("remove_license", "SPE_E3", "succeeded"),
    ]
    removed += [("unassign_app", "CRM", "succeeded"), ("remove_group", "Finance", "failed")]
    id_of = {"remove_group": "group_id", "remove_license": "sku_id", "unassign_app": "app_id"}
    for order, (action, name, status) in enumerate(removed, 1):
        Step.objects.create(  # as the engine writes them: the directory's id in the params
            job=leave,
            connection=alpha.connection,
            order=order,
            action=action,
            target_name=name,
            params={id_of[action]: f"id-{name}"},
            status=status,
        )
    deletion = Job.objects.create(
        tenant=alpha.tenant,
        identity=alpha.identity,
        kind=Job.Kind.DELETE,
        status=Job.Status.SCHEDULED,
        not_before=datetime(2031, 3, 1, 12, 0, tzinfo=UTC),
    )
    client.force_login(alpha.technician)
    response = client.get(url("identity_detail", alpha))
    body = response.content.decode()
    assert "Removed at offboarding" in body
    # in the tenant's time (the job page's times are UTC): the zone is named
    assert f"1 Feb 2031 09:30 {alpha.tenant.time_zone}" in body
    for name in ("Sales Team", "SPE_E3", "CRM"):
        assert f'<span class="chip">{name}</span>' in body
    assert (
        '<span class="chip">Finance</span>' not in body
    )  # its removal failed: nothing to put back
    assert "Delete the disabled account" in body and "1 Mar 2031 12:00" in body  # Europe/London
    assert reverse("job_cancel", kwargs={"job_id": deletion.pk}) in body
    assert url("identity_restore", alpha) in body and "the scheduled deletion is cancelled" in body
    # a link to the confirm page with its dry run, not a one-click restore
    assert f'href="{url("identity_restore", alpha)}"' in body
    assert f'action="{url("identity_restore", alpha)}"' not in body
    assert url("offboard", alpha) not in body

    client.force_login(alpha.account_manager)
    body = client.get(url("identity_detail", alpha)).content.decode()
    assert "Removed at offboarding" in body
    assert url("identity_restore", alpha) not in body
    assert reverse("job_cancel", kwargs={"job_id": deletion.pk}) not in body


def test_what_a_leave_removed_in_a_scim_app_lists_only_groups(client, alpha):
    """The demo's Slack (SCIM) showed "Licences –" and "Apps –" under "Removed at
    offboarding": an app over SCIM has neither, and its dashes read as "nothing removed"."""
    from provisioning.models import Step
    from tenants.models import DirectoryConnection

    slack = DirectoryConnection.objects.create(tenant=alpha.tenant, kind="scim", name="Slack")
    Identity.objects.filter(pk=alpha.identity.pk).update(status=Identity.Status.LEFT)
    leave = Job.objects.create(
        tenant=alpha.tenant, identity=alpha.identity, kind=Job.Kind.LEAVE, status="succeeded"
    )
    for order, (connection, action, name, param) in enumerate(
        [
            (alpha.connection, "remove_license", "SPE_E3", "sku_id"),
            (slack, "remove_group", "All Hands", "group_id"),
        ],
        1,
    ):
        Step.objects.create(
            job=leave,
            connection=connection,
            order=order,
            action=action,
            target_name=name,
            params={param: f"id-{name}"},
            status="succeeded",
        )
    client.force_login(alpha.technician)
    body = client.get(url("identity_detail", alpha)).content.decode()
    card = body[body.index('id="removed-per-directory"') :].split("</div>\n")[0]
    entra, app = card.split("<h4>")[1:3]
    assert "<dt>Licences</dt>" in entra and "<dt>Apps</dt>" in entra
    assert app.startswith("Slack") and "All Hands" in app
    assert "<dt>Licences</dt>" not in app and "<dt>Apps</dt>" not in app


def test_a_deleted_person_is_offered_a_rehire(client, alpha):
    Identity.objects.filter(pk=alpha.identity.pk).update(status=Identity.Status.DELETED)
    client.force_login(alpha.technician)
    body = client.get(url("identity_detail", alpha)).content.decode()
    assert "Rehire Pat Member-alpha" in body and "new join of this same person" in body
    assert f'href="{url("identity_restore", alpha)}"' in body
    assert f'action="{url("identity_restore", alpha)}"' not in body


def test_unknown_role_template_pk_is_not_a_server_error(client, alpha):
    client.force_login(alpha.technician)
    data = change_data(alpha, role_templates=[str(alpha.template.pk), "x" * 50])
    assert client.post(url("identity_change_preview", alpha), data, **HX).status_code == 200


# -- a leaver's mail, files and reports ------------------------------------------------------


def test_the_wizard_offers_the_handover_prefilled_from_the_preset(client, alpha):
    OffboardingPreset.objects.create(
        tenant=alpha.tenant,
        auto_reply=True,
        auto_reply_message="Pat has left; write to sales@alpha.test.",
        forward_to_manager=True,
        files_to_manager=False,
    )
    client.force_login(alpha.technician)
    response = client.get(url("offboard", alpha))
    form = response.context["form"]
    assert form["auto_reply"].value() is True and form["forward_to_manager"].value() is True
    assert form["files_to_manager"].value() is False and form["reassign_reports"].value() is True
    assert form["convert_to_shared_mailbox"].value() is True
    body = response.content.decode()
    assert "Mail, files and reports" in body and "write to sales@alpha.test" in body
    assert "Only Exchange can do it" in body  # why it is a checklist item, not a step


def test_offboard_carries_the_handover_options_into_the_job(client, alpha):
    client.force_login(alpha.technician)
    data = offboard_data(
        auto_reply="on",
        auto_reply_message="  Pat has left the company.  ",
        forward_to_manager="on",
        files_to_manager="on",
        reassign_reports="on",
        hide_from_address_list="on",
    )
    assert client.post(url("offboard", alpha), data).status_code == 302
    options = Job.objects.get(kind=Job.Kind.LEAVE).options["offboard"]
    assert options["auto_reply"] is True
    assert options["auto_reply_message"] == "Pat has left the company."
    assert options["forward_to_manager"] and options["files_to_manager"]
    assert options["reassign_reports"] and options["hide_from_address_list"]
    assert options["convert_to_shared_mailbox"] is False  # unticked
    alpha.identity.refresh_from_db()
    assert alpha.identity.leave_options["auto_reply_message"] == "Pat has left the company."


def test_a_reply_text_without_the_reply_is_not_kept(client, alpha):
    client.force_login(alpha.technician)
    data = offboard_data(auto_reply_message="Unused text")
    assert client.post(url("offboard", alpha), data).status_code == 302
    options = Job.objects.get(kind=Job.Kind.LEAVE).options["offboard"]
    assert options["auto_reply"] is False and options["auto_reply_message"] == ""


HANDOVER_CASES = [
    ({"auto_reply": "on", "auto_reply_message": "   "}, "Write the reply"),
    ({"auto_reply": "on", "auto_reply_message": "<b>gone</b>"}, "&lt; and &gt; are not allowed"),
    ({"auto_reply": "on", "auto_reply_message": "x" * 2001}, "at most 2000 characters"),
]


@pytest.mark.parametrize("change,message", HANDOVER_CASES)
def test_offboard_bad_handover_input_changes_nothing(client, alpha, change, message):
    client.force_login(alpha.technician)
    before = counts()
    response = client.post(url("offboard", alpha), offboard_data(**change))
    body = response.content.decode()
    assert response.status_code == 200 and message in body and "Nothing was saved" in body
    assert "<b>gone</b>" not in body
    assert counts() == before


def test_without_entra_the_mail_options_are_not_offered_and_are_off(client, alpha):
    alpha.job.steps.all().delete()
    alpha.connection.delete()
    client.force_login(alpha.technician)
    response = client.get(url("offboard", alpha))
    fields = response.context["form"].fields
    assert "auto_reply" not in fields and "files_to_manager" not in fields
    assert "reassign_reports" in fields  # Okta has managers too
    data = offboard_data(auto_reply="on", auto_reply_message="x", reassign_reports="on")
    assert client.post(url("offboard", alpha), data).status_code == 302
    options = Job.objects.get(kind=Job.Kind.LEAVE).options["offboard"]
    assert not any(options[k] for k in ("auto_reply", "files_to_manager", "forward_to_manager"))
    assert options["reassign_reports"] is True


def preset_data(**overrides) -> dict:
    data = {
        "block_sign_in": "on",
        "okta_mode": "suspend",
        "revoke_sessions": "on",
        "reset_password": "on",
        "remove_groups": "on",
        "keep_groups": "",
        "remove_licenses": "on",
        "remove_apps": "on",
        "delete_after_days": "30",
        "offboard_hold_percent": "10",
        "offboard_hold_count": "50",
    }
    return {k: v for k, v in (data | overrides).items() if v is not None}


def test_the_preset_keeps_the_handover_with_an_audited_before_and_after(client, alpha, msp_admin):
    settings_url = reverse("lifecycle_settings", kwargs={"tenant": alpha.tenant.slug})
    signed_in(client, msp_admin)  # a limit raised asks for the password
    body = client.get(settings_url).content.decode()
    assert "Mail, files and reports" in body and "Give their direct reports" in body
    data = preset_data(
        auto_reply="on",
        auto_reply_message="This person has left.",
        forward_to_manager="on",
        convert_to_shared_mailbox="on",
    )
    assert client.post(settings_url, data).status_code == 302
    preset = OffboardingPreset.objects.get(tenant=alpha.tenant)
    assert preset.auto_reply and preset.forward_to_manager and preset.convert_to_shared_mailbox
    assert not (preset.files_to_manager or preset.reassign_reports or preset.hide_from_address_list)
    event = AuditEvent.objects.get(action="tenant.lifecycle_update")
    assert event.after["preset.auto_reply_message"] == "This person has left."
    chosen = OffboardingPreset.objects.get(tenant=alpha.tenant)
    assert chosen.auto_reply_message == "This person has left."


def test_the_preset_refuses_a_reply_without_text(client, alpha, msp_admin):
    settings_url = reverse("lifecycle_settings", kwargs={"tenant": alpha.tenant.slug})
    client.force_login(msp_admin)
    response = client.post(settings_url, preset_data(auto_reply="on", auto_reply_message=""))
    assert response.status_code == 200
    assert "Write the reply" in response.content.decode()
    assert not OffboardingPreset.objects.exists()


def test_a_new_tenants_preset_has_the_msp_defaults():
    """Off: what answers or reads a leaver's mail is the client's call. On: the org chart,
    the files and the Exchange checklist."""
    from provisioning.lifecycle.services import OffboardingOptions

    defaults = OffboardingPreset()
    for name in ("auto_reply", "forward_to_manager"):
        assert getattr(defaults, name) is False and getattr(OffboardingOptions(), name) is False
    for name in ("files_to_manager", "reassign_reports", "convert_to_shared_mailbox"):
        assert getattr(defaults, name) is True and getattr(OffboardingOptions(), name) is True


def test_someone_adopted_without_a_role_can_have_an_attribute_changed(alpha):
    """Bulk adoption gives no template when none fits: such a person's department can be
    changed without choosing a role (which would add its access); someone with a role must
    keep one."""
    from provisioning.lifecycle.forms import ChangeForm

    world = alpha
    identity = world.identity
    identity.role_templates.clear()
    identity.attributes = {"department": "Sales", "usage_location": "DE"}
    identity.save()

    form = ChangeForm(change_data(world, role_templates=[], usage_location="DE"), identity=identity)
    assert form.is_valid(), form.errors
    assert form.change_request().attributes == {"department": "Support", "usage_location": "DE"}

    identity.role_templates.set([world.template])
    with_role = ChangeForm(change_data(world, role_templates=[]), identity=identity)
    assert not with_role.is_valid() and "role_templates" in with_role.errors


def test_a_change_keeps_a_licence_choice_made_since_its_form_was_read(alpha):
    """The form read Pat with no licence choices; before it is saved, another change answers
    VISIO. Saving this one (PROJECT: go without) adds to the choices as they are then, under
    the person's lock, and loses neither."""
    form = ChangeForm(change_data(alpha), identity=alpha.identity)
    assert form.is_valid(), form.errors
    change = form.change_request({"PROJECT": ""})
    Identity.objects.filter(pk=alpha.identity.pk).update(license_choices={"VISIO": "EMS"})

    lifecycle.request_change(alpha.identity, change, actor=alpha.technician)

    alpha.identity.refresh_from_db()
    assert alpha.identity.license_choices == {"VISIO": "EMS", "PROJECT": ""}
