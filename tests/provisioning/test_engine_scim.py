"""SCIM apps through the real engine: a join, a move, a leave, a restore and the hard delete
reach the app in the same job as the directory, and a job succeeds only when the app's
read-back matches (a real Celery worker, scim2-client, the sandbox's SCIM apps)."""

import uuid

import pytest
from django.utils import timezone

from provisioning import services
from provisioning.lifecycle import services as lifecycle
from provisioning.models import DirectoryAccount, Identity, Job
from tenants import mappings
from tenants.models import AttributeMapping, RoleTemplate
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories
from tests.provisioning.scim_apps import connect, make_app

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
pytestmark = pytest.mark.django_db(transaction=True)


def steps_of(job: Job) -> list:
    return list(job.steps.values_list("action", "target_name", "status", "last_error"))


def onboard(tenant, templates, first="Ada", last="Lovelace") -> Job:
    request = services.OnboardingRequest(first, last, list(templates))
    username = services.suggest_username(tenant, request)
    job = services.request_onboarding(tenant, request, username=username, actor="system")
    return wait_for_job(job.pk)


def give_app(template: RoleTemplate, connection, groups) -> RoleTemplate:
    others = [e for e in template.scim_apps if e["connection"] != connection.pk]
    template.scim_apps = [*others, {"connection": connection.pk, "groups": groups}]
    template.save()
    return template


@pytest.fixture
def slack(on_sandbox):
    """A tenant with Entra and a Slack-like app (groups replaced whole with PUT)."""
    dirs = make_directories(on_sandbox, f"scim{uuid.uuid4().hex[:8]}")
    app = make_app(on_sandbox, "slack", groups=["engineering", "sales", "general"])
    connection = connect(dirs.tenant, app, "Slack")
    give_app(dirs.template, connection, ["sales", "general"])
    return dirs, app, connection


def test_join_move_leave_restore_and_delete_reach_the_app(slack, worker):
    dirs, app, connection = slack
    join = onboard(dirs.tenant, [dirs.template])
    assert join.status == Job.Status.SUCCEEDED, steps_of(join)
    identity = join.identity
    held = app.user(identity.username)
    assert held["active"] is True and held["name"]["familyName"] == "Lovelace"
    assert held["externalId"] == str(identity.pk)
    assert app.groups_of(held["id"]) == {"sales", "general"}
    assert dirs.entra_user(identity.username)["accountEnabled"] is True  # the same job
    assert join.verification["directories"][str(connection.pk)]["groups"] == 2
    account = DirectoryAccount.objects.get(identity=identity, connection=connection)
    assert account.remote_id == held["id"]

    engineering = RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Engineering", groups=["Staff"], licenses=["SPE_E3"], apps=[]
    )
    give_app(engineering, connection, ["engineering", "general"])
    move = lifecycle.request_change(
        identity, lifecycle.ChangeRequest([engineering]), actor="system"
    )
    move = wait_for_job(move.pk)
    assert move.status == Job.Status.SUCCEEDED, steps_of(move)
    assert app.groups_of(held["id"]) == {"engineering", "general"}

    options = lifecycle.OffboardingOptions.preset_for(dirs.tenant)
    options.delete_after_days = 0
    leave = wait_for_job(lifecycle.request_offboarding(identity, options, actor="system").pk)
    assert leave.status == Job.Status.SUCCEEDED, steps_of(leave)
    assert app.user(identity.username)["active"] is False
    assert app.groups_of(held["id"]) == set()  # the preset removes groups
    actions = {(a, t) for a, t, _, _ in steps_of(leave)}
    assert not any(a in ("reset_password", "revoke_sessions") and "Slack" in t for a, t in actions)

    restore = wait_for_job(lifecycle.request_restore(identity, actor="system").pk)
    assert restore.status == Job.Status.SUCCEEDED, steps_of(restore)
    assert app.user(identity.username)["active"] is True
    assert app.groups_of(held["id"]) == {"engineering", "general"}

    leave = wait_for_job(lifecycle.request_offboarding(identity, options, actor="system").pk)
    assert leave.status == Job.Status.SUCCEEDED, steps_of(leave)
    deletion = identity.jobs.get(kind=Job.Kind.DELETE, status=Job.Status.SCHEDULED)
    lifecycle.start_due_jobs(now=timezone.now() + timezone.timedelta(seconds=1))
    deletion = wait_for_job(deletion.pk)
    assert deletion.status == Job.Status.SUCCEEDED, steps_of(deletion)
    # Slack's DELETE /Users/<id> "Sets a Slack user to deactivated" (its SCIM reference):
    # the account stays there, inactive, and the portal's link to it goes.
    assert app.user(identity.username)["active"] is False
    links = DirectoryAccount.objects.filter(identity=identity, connection=connection)
    assert [a.remote_id for a in links] in ([], [""])
    identity.refresh_from_db()
    assert identity.status == Identity.Status.DELETED


def test_a_person_whose_templates_give_no_app_gets_no_account_there(slack, worker):
    dirs, app, _ = slack
    plain = RoleTemplate.objects.create(tenant=dirs.tenant, name="Plain", groups=["Staff"])
    join = onboard(dirs.tenant, [plain], "Bob", "Plain")
    assert join.status == Job.Status.SUCCEEDED, steps_of(join)
    assert app.user(join.identity.username) is None
    assert dirs.entra_user(join.identity.username) is not None


def test_an_app_without_groups_gets_the_account_only(on_sandbox, worker):
    dirs = make_directories(on_sandbox, f"zoom{uuid.uuid4().hex[:8]}")
    app = make_app(on_sandbox, "zoom")
    give_app(dirs.template, connect(dirs.tenant, app, "Zoom"), [])
    join = onboard(dirs.tenant, [dirs.template])
    assert join.status == Job.Status.SUCCEEDED, steps_of(join)
    assert app.user(join.identity.username)["active"] is True


def test_a_group_the_app_does_not_have_stops_the_join_before_anything_is_sent(slack, worker):
    dirs, app, connection = slack
    give_app(dirs.template, connection, ["no-such-channel"])
    join = onboard(dirs.tenant, [dirs.template])
    assert join.status == Job.Status.FAILED
    assert "no-such-channel" in join.error and "Nothing was sent" in join.error
    assert app.user(join.identity.username) is None


def test_the_same_person_in_the_app_already_is_linked(slack, worker):
    dirs, app, _ = slack
    existing = app.add_user(f"ada.lovelace@{dirs.tenant.primary_domain}", "Ada", "Lovelace")
    join = onboard(dirs.tenant, [dirs.template])
    assert join.status == Job.Status.SUCCEEDED, steps_of(join)
    assert [u["id"] for u in app.state()["users"]] == [existing]
    assert app.groups_of(existing) == {"sales", "general"}


def test_a_mover_out_of_the_app_loses_the_account_there_and_back_in_gets_it_again(slack, worker):
    """Out of the app: its account is deleted, which Slack does by deactivating it ("Sets a
    Slack user to deactivated", its SCIM reference; the userName stays taken). Back in: the
    portal finds that account by its userName and activates it in its groups, where a create
    would be refused 409 (the sandbox removed the user, so this path was never met)."""
    dirs, app, _ = slack
    join = onboard(dirs.tenant, [dirs.template])
    assert join.status == Job.Status.SUCCEEDED, steps_of(join)
    held = app.user(join.identity.username)
    plain = RoleTemplate.objects.create(tenant=dirs.tenant, name="Plain", groups=["Staff"])
    move = lifecycle.request_change(join.identity, lifecycle.ChangeRequest([plain]), actor="system")
    move = wait_for_job(move.pk)
    assert move.status == Job.Status.SUCCEEDED, steps_of(move)
    assert app.user(join.identity.username)["active"] is False
    assert dirs.entra_user(join.identity.username)["accountEnabled"] is True

    back = lifecycle.request_change(
        join.identity, lifecycle.ChangeRequest([dirs.template]), actor="system"
    )
    back = wait_for_job(back.pk)
    assert back.status == Job.Status.SUCCEEDED, steps_of(back)
    again = app.user(join.identity.username)
    assert again["id"] == held["id"] and again["active"] is True
    assert app.groups_of(again["id"]) == {"sales", "general"}
    assert len(app.state()["users"]) == 1


def test_a_throttled_app_is_waited_out_and_the_join_still_converges(slack, worker):
    dirs, app, _ = slack
    app.behave(throttle_next=3)
    join = onboard(dirs.tenant, [dirs.template])
    assert join.status == Job.Status.SUCCEEDED, steps_of(join)
    assert app.groups_of(app.user(join.identity.username)["id"]) == {"sales", "general"}


def test_the_apps_own_attribute_mapping_reaches_it_and_not_the_directory(slack, worker):
    dirs, app, connection = slack
    rows = {"job_title": "ToUpper([job_title])", "department": 'Append([department], " (EU)")'}
    for attribute, expression in rows.items():
        AttributeMapping.objects.create(
            tenant=dirs.tenant,
            target=mappings.target_key_for(connection),
            attribute=attribute,
            expression=expression,
        )
    join = onboard(dirs.tenant, [dirs.template])
    assert join.status == Job.Status.SUCCEEDED, steps_of(join)  # the read-back matched
    held = app.user(join.identity.username)
    assert held["title"] == dirs.template.job_title.upper()
    assert held[ENTERPRISE]["department"] == f"{dirs.template.department} (EU)"
    entra = dirs.entra_user(join.identity.username)  # Entra's mapping is the default
    assert (entra["jobTitle"], entra["department"]) == (
        dirs.template.job_title,
        dirs.template.department,
    )
