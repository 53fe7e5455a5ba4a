"""The engine on Okta's own rules, against the sandbox through the okta SDK: a leaver's app
that a group grants goes with the group (never unassigned: E0000046), an imported group is
checklist work for Active Directory (never a step: E0000006), and an activation Okta runs
asynchronously is waited out by the read-back."""

from __future__ import annotations

import uuid

import httpx
import pytest
from django.db import transaction

from provisioning import services
from provisioning.connectors import bridge
from provisioning.connectors.base import NewUser
from provisioning.connectors.errors import ConflictError, PermanentError, ReplicationLagError
from provisioning.connectors.factory import connector_for
from provisioning.engine import group_sources
from provisioning.lifecycle import services as lifecycle
from provisioning.models import DirectoryAccount, Identity, Job, Step
from tenants.models import AttributeMapping, DirectoryConnection, RoleTemplate, Tenant
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import GROUPS, Directories

pytestmark = pytest.mark.django_db(transaction=True)

LEAVE = lifecycle.OffboardingOptions(delete_after_days=None)
APPS = [
    {"name": "salesforce", "label": "Salesforce"},
    {"name": "slack", "label": "Slack", "groups": ["Everyone"]},  # every user holds it
    {"name": "active_directory", "label": "Active Directory"},
    {"name": "vpn", "label": "VPN", "groups": ["Staff"]},  # every Staff member holds it
]
AD_GROUP = {"name": "AD Engineers", "type": "APP_GROUP", "source": "active_directory"}


def set_activation(server, org_id: str, ms: int) -> None:
    """The org's activation time, for those under way too (counted from their start)."""
    with server.control() as control:
        answer = control.put(f"/_sandbox/okta/{org_id}/settings", json={"activation_ms": ms})
        assert answer.status_code == 200, answer.text


def okta_world(
    server,
    ada_groups: list[str] | None = None,
    activation_ms: int = 0,
    extra_groups: list[str] = (),
):
    """An Okta-only tenant whose org has an imported group and an app assigned to Staff; with
    `ada_groups`, Ada is in the org already (in those groups, Salesforce assigned to her)."""
    slug = f"ok{uuid.uuid4().hex[:8]}"
    org_id, token = f"t-{slug}", f"t-{slug}-token"
    body = {
        "id": org_id,
        "name": f"Test org {org_id}",
        "api_token": token,
        "groups": [{"name": name} for name in [*GROUPS, *extra_groups]] + [AD_GROUP],
        "apps": APPS,
        "users": [seeded_ada(f"{slug}.example", ada_groups)] if ada_groups else [],
        "activation_ms": activation_ms,
    }
    with server.control() as control:
        created = control.post("/_sandbox/okta/orgs", json=body)
        assert created.status_code == 201, created.text
    tenant = Tenant.objects.create(
        name=slug.title(), slug=slug, primary_domain=f"{slug}.example", default_usage_location="GB"
    )
    connection = DirectoryConnection(
        tenant=tenant, kind="okta", org_url=f"{server.url}/okta/{org_id}"
    )
    connection.set_secret(token)
    connection.save()
    template = RoleTemplate.objects.create(
        tenant=tenant,
        name="Sales",
        groups=["Staff", "Sales"],
        licenses=[],
        apps=["Salesforce"],
        department="Sales",
        job_title="Account Executive",
    )
    return Directories(server, tenant, template, okta_id=org_id)


def seeded_ada(domain: str, groups: list[str]) -> dict:
    login = f"ada.lovelace@{domain}"
    profile = {"firstName": "Ada", "lastName": "Lovelace", "email": login, "login": login}
    return {"profile": profile, "groups": groups, "apps": ["salesforce"]}


def join(dirs: Directories) -> Job:
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    job = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    job = wait_for_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED, list(job.steps.values_list("action", "last_error"))
    return job


def held(dirs: Directories, login: str) -> tuple[str, set[str], set[str]]:
    """Status, groups and apps of the user as the org holds them."""
    state = dirs.okta_state()
    user = next(u for u in state["users"] if u["profile"]["login"] == login)
    groups = {g["name"] for g in state["groups"] if user["id"] in g["members"]}
    apps = {a["label"] for a in state["apps"] if user["id"] in a["user_ids"]}
    return user["status"], groups, apps


def okta_plan(preview):
    [(_, plan, error)] = preview.plans
    assert not error, error
    return plan


def test_a_leavers_group_granted_app_goes_with_the_group_and_ad_is_a_checklist_item(
    on_sandbox, worker
):
    dirs = okta_world(on_sandbox, ["Staff", "Sales", "AD Engineers"])  # linked at the join
    login = f"ada.lovelace@{dirs.tenant.primary_domain}"
    assert held(dirs, login)[2] == {"Salesforce", "VPN", "Slack"}  # through Staff, Everyone
    identity = join(dirs).identity

    plan = okta_plan(lifecycle.preview_offboarding(identity, LEAVE))
    steps = {(s.action, s.target_name) for s in plan.steps}
    assert ("unassign_app", "Salesforce") in steps
    assert ("unassign_app", "VPN") not in steps  # Okta would answer E0000046
    assert {("remove_group", "Staff"), ("remove_group", "Sales")} <= steps
    assert not {name for action, name in steps if action == "remove_group"} & {
        "AD Engineers",
        "Everyone",
    }
    [item] = [c for c in plan.checklist if c.kind == group_sources.IMPORTED_GROUP]
    assert item.item == f"Remove {login} from AD Engineers in Active Directory"
    notes = sorted(p.message for p in plan.problems if p.kind == group_sources.APP_THROUGH_GROUP)
    assert notes == [
        "Slack stays: it comes through a group the user stays in (“Everyone” is built in: "
        "every user is in it). Remove the user from that group, or the app from the group, "
        "to take it away.",
        "VPN comes through “Staff”: it goes with the group.",
    ]
    assert not plan.blocked

    job = wait_for_job(lifecycle.request_offboarding(identity, LEAVE, actor="system").pk)
    steps = list(job.steps.values_list("action", "target_name", "status", "last_error"))
    assert job.status == Job.Status.SUCCEEDED, steps
    assert not job.steps.filter(action=Step.Action.UNASSIGN_APP, target_name="VPN").exists()
    assert not job.steps.filter(target_name="AD Engineers").exists()
    kept = [(c["kind"], c["item"]) for c in job.checklist]  # shown on the job's page
    assert (group_sources.IMPORTED_GROUP, item.item) in kept
    status, groups, apps = held(dirs, login)
    assert status == "SUSPENDED"
    assert groups == {"Everyone", "AD Engineers"}  # built in, and Active Directory's to change
    assert apps == {"Slack"}  # VPN left with Staff; Salesforce was unassigned; Everyone's stays
    assert job.verification["directories"]  # the read-back found nothing left to do


def test_a_leaver_in_more_groups_than_a_page_is_planned_and_read_back_whole(on_sandbox):
    """Okta pages a user's groups 200 at a time: the plan and the read-back see every page."""
    teams = [f"Team {n:03}" for n in range(205)]
    dirs = okta_world(on_sandbox, ["Staff", *teams], extra_groups=teams)
    login = f"ada.lovelace@{dirs.tenant.primary_domain}"
    [ada] = [u for u in dirs.okta_state()["users"] if u["profile"]["login"] == login]
    identity = Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Ada",
        last_name="Lovelace",
        display_name="Ada Lovelace",
        username=login,
        email=login,
        status=Identity.Status.ACTIVE,
    )
    connection = dirs.tenant.connections.get()
    DirectoryAccount.objects.create(identity=identity, connection=connection, remote_id=ada["id"])

    plan = okta_plan(lifecycle.preview_offboarding(identity, LEAVE))
    removed = {s.target_name for s in plan.steps if s.action == "remove_group"}
    assert removed == {"Staff", *teams}
    okta = connector_for(connection)
    _, access = bridge.run(okta.read_state(ada["id"]))
    names = {g.id: g.name for g in bridge.run(okta.groups())}
    assert {names[g] for g in access.groups} == {"Everyone", "Staff", *teams}
    assert bridge.run(okta.access_of(ada["id"])) == access


def test_a_granting_group_the_leave_keeps_keeps_its_app_and_says_so(on_sandbox, worker):
    dirs = okta_world(on_sandbox, ["Staff"])
    identity = join(dirs).identity

    keep_staff = lifecycle.OffboardingOptions(delete_after_days=None, keep_groups=["Staff"])
    plan = okta_plan(lifecycle.preview_offboarding(identity, keep_staff))
    assert "VPN" not in {s.target_name for s in plan.steps}
    notes = [p for p in plan.problems if p.kind == group_sources.APP_THROUGH_GROUP]
    [note] = [p for p in notes if p.subject == "VPN"]
    assert note.message.startswith("VPN stays: it comes through a group the user stays in")
    assert "“Staff” is kept" in note.message and not note.blocking


def test_an_imported_group_in_a_template_is_checklist_work_at_the_joiners_dry_run(on_sandbox):
    dirs = okta_world(on_sandbox)
    dirs.template.groups = ["Staff", "AD Engineers"]
    dirs.template.save()
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template], username=username)
    plan = okta_plan(services.preview_onboarding(dirs.tenant, request))
    assert ("add_group", "Staff") in {(s.action, s.target_name) for s in plan.steps}
    assert "AD Engineers" not in {s.target_name for s in plan.steps}
    [item] = plan.checklist
    assert (item.kind, item.item) == (
        group_sources.IMPORTED_GROUP,
        f"Add {username} to AD Engineers in Active Directory",
    )
    assert "imported from Active Directory" in item.reason and not plan.blocked


def test_an_asynchronous_activation_is_waited_out_not_enabled_again(on_sandbox, worker):
    dirs = okta_world(on_sandbox, activation_ms=2500)
    job = join(dirs)  # created with activate=true: STAGED, transitioning to ACTIVE
    actions = list(job.steps.values_list("action", flat=True))
    assert "create_user" in actions and "enable_user" not in actions  # no activate again
    status, groups, apps = held(dirs, job.identity.username)
    assert status == "ACTIVE" and groups == {"Everyone", "Staff", "Sales"}
    assert apps == {"Salesforce", "VPN", "Slack"}
    read = job.verification["directories"][str(dirs.tenant.connections.get().pk)]
    assert read["enabled"] is True


def test_the_connector_reads_a_transition_as_lag_and_enables_only_what_okta_activates(
    on_sandbox,
):
    # An activation no loaded machine outlasts while it is read, then let end (counted from
    # its start): with 1.5 s, both reads had to land within 1.5 s of the create.
    dirs = okta_world(on_sandbox, activation_ms=600_000)
    okta = connector_for(dirs.tenant.connections.get())
    made = bridge.run(
        okta.create_user(
            NewUser("slow@example.com", "Slow", "Starter", "Slow Starter", "slow@example.com", "")
        )
    )
    with pytest.raises(ReplicationLagError):
        bridge.run(okta.read_state(made.id))
    with pytest.raises(ReplicationLagError):
        bridge.run(okta.get_user(made.id))
    set_activation(on_sandbox, dirs.okta_id, ms=0)
    user, _ = bridge.run(okta.read_state(made.id))
    assert user.attributes["status"] == "PROVISIONED" and user.enabled  # waits for its person
    bridge.run(okta.enable_user(made.id))  # allowed already: no activate (E0000016)
    assert bridge.run(okta.get_user(made.id)).attributes["status"] == "PROVISIONED"

    # A password reset under way (RECOVERY) is sign-in allowed too: nothing to enable.
    recovering = bridge.run(
        okta.create_user(
            NewUser("reset@example.com", "Re", "Set", "Re Set", "reset@example.com", "Pa55-word!x")
        )
    )
    url = f"{on_sandbox.url}/okta/{dirs.okta_id}/api/v1/users/{recovering.id}"
    token = dirs.tenant.connections.get().get_secret()
    reset = httpx.post(
        f"{url}/lifecycle/reset_password?sendEmail=false",
        headers={"Authorization": f"SSWS {token}"},
        verify=str(on_sandbox.ca),
    )
    assert reset.status_code == 200, reset.text
    user = bridge.run(okta.get_user(recovering.id))
    assert user.attributes["status"] == "RECOVERY" and user.enabled
    bridge.run(okta.enable_user(recovering.id))
    assert bridge.run(okta.get_user(recovering.id)).attributes["status"] == "RECOVERY"


def test_a_restore_activates_a_deactivated_leaver_and_waits_for_okta(on_sandbox, worker):
    dirs = okta_world(on_sandbox, ["Staff"], activation_ms=2000)
    identity = join(dirs).identity
    deactivate = lifecycle.OffboardingOptions(delete_after_days=None, okta_mode="deactivate")
    left = wait_for_job(lifecycle.request_offboarding(identity, deactivate, actor="system").pk)
    assert left.status == Job.Status.SUCCEEDED, list(left.steps.values_list("last_error"))
    assert held(dirs, identity.username)[0] == "DEPROVISIONED"
    # The deactivation drops Salesforce: no unassign call of its own, and none left held.
    assert not left.steps.filter(action="unassign_app").exists()
    assert held(dirs, identity.username)[2] == set()

    job = wait_for_job(lifecycle.request_restore(identity, actor="system").pk)
    steps = list(job.steps.values_list("action", "status", "last_error"))
    assert job.status == Job.Status.SUCCEEDED, steps
    assert [a for a, _, _ in steps].count("enable_user") == 1  # activated once, then waited
    status, groups, apps = held(dirs, identity.username)
    assert status == "ACTIVE" and {"Staff", "Sales"} <= groups
    assert apps == {"Salesforce", "VPN", "Slack"}  # VPN and Slack back with their groups


def test_a_deactivating_leave_asked_with_a_move_keeps_no_exception_of_the_old_role(
    on_sandbox, worker
):
    """Deactivation drops the old role's app, which the portal gave (the move had not run
    yet): not access someone gave by hand, so a restore gives the new role's access only."""
    dirs = okta_world(on_sandbox)
    identity = join(dirs).identity
    support = RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Support", groups=["Staff"], department="Support"
    )
    deactivate = lifecycle.OffboardingOptions(delete_after_days=None, okta_mode="deactivate")
    with transaction.atomic():  # both asked before either job runs
        move = lifecycle.request_change(
            identity, lifecycle.ChangeRequest([support]), actor="system"
        )
        leave = lifecycle.request_offboarding(identity, deactivate, actor="system")
    assert wait_for_job(move.pk).status == Job.Status.SUCCEEDED
    left = wait_for_job(leave.pk)
    assert left.status == Job.Status.SUCCEEDED, list(left.steps.values_list("action", "last_error"))
    assert held(dirs, identity.username)[0] == "DEPROVISIONED"
    identity.refresh_from_db()
    exceptions = identity.access_exceptions
    assert not any(refs for kinds in exceptions.values() for refs in kinds.values()), exceptions

    restore = wait_for_job(lifecycle.request_restore(identity, actor="system").pk)
    assert restore.status == Job.Status.SUCCEEDED
    status, groups, apps = held(dirs, identity.username)
    assert status == "ACTIVE" and groups >= {"Staff"} and "Sales" not in groups
    assert apps == {"VPN", "Slack"}  # through Staff and Everyone; Salesforce stays gone


def test_a_profile_value_over_oktas_bound_is_a_permanent_error_naming_it(on_sandbox):
    """Okta's base profile takes at most 50 characters of lastName (the portal up to 64): the
    okta SDK refuses such a body before sending it. That is the person's data, not the
    directory's answer: a permanent error that names the field, not an unreadable reply
    retried as transient; nothing is created."""
    dirs = okta_world(on_sandbox)
    okta = connector_for(dirs.tenant.connections.get())
    last = "de la Santísima Trinidad Fernández de Córdoba y Mendoza"  # 55 characters
    new = NewUser("long@example.com", "Maria", last, f"Maria {last}", "long@example.com", "")
    with pytest.raises(PermanentError) as caught:
        bridge.run(okta.create_user(new))
    assert "lastName" in caught.value.message and "50" in caught.value.message
    assert "long@example.com" not in bridge.run(okta.list_usernames())

    made = bridge.run(
        okta.create_user(NewUser("short@example.com", "Al", "Li", "Al Li", "short@example.com", ""))
    )
    with pytest.raises(PermanentError) as caught:
        bridge.run(okta.update_user(made.id, {"last_name": last}))
    assert "lastName" in caught.value.message
    assert bridge.run(okta.get_user(made.id)).attributes["last_name"] == "Li"


def test_a_mapped_last_name_over_oktas_bound_blocks_the_joiners_dry_run(on_sandbox):
    """The forms keep a joiner's names within Okta's 50 characters (name_bounds), but a
    tenant's Okta mapping may lengthen one: the dry run says so and blocks, rather than the
    create failing with the permanent error above."""
    dirs = okta_world(on_sandbox)
    AttributeMapping.objects.create(
        tenant=dirs.tenant,
        target="okta",
        attribute="last_name",
        expression='Join(" ", [last_name], "(Contractor, Fabrikam Professional Services EMEA)")',
    )
    request = services.OnboardingRequest(
        "Ada", "Lovelace", [dirs.template], username=f"ada@{dirs.tenant.primary_domain}"
    )
    plan = okta_plan(services.preview_onboarding(dirs.tenant, request))
    [problem] = [p for p in plan.problems if p.blocking]
    assert (problem.kind, problem.subject) == ("too_long", "last_name")
    assert "58 characters" in problem.message and "at most 50" in problem.message
    assert plan.blocked and not plan.steps


def test_a_login_an_accented_twin_holds_is_a_conflict_naming_the_twin(on_sandbox):
    """Okta keeps logins unique without regard to diacritics, but neither a GET by login nor
    a search value finds rené.müller@ for rene.muller@: the connector lists the domain's
    logins (`co`) and compares them as Okta does, so the conflict names the holder."""
    dirs = okta_world(on_sandbox)
    okta = connector_for(dirs.tenant.connections.get())
    domain = dirs.tenant.primary_domain

    def create(login: str, first: str, last: str):
        return bridge.run(
            okta.create_user(NewUser(login, first, last, f"{first} {last}", login, ""))
        )

    create(f"renee.muller@{domain}", "Renée", "Muller")  # alike, but no twin
    twin = create(f"rené.müller@{domain}", "René", "Müller")
    with pytest.raises(ConflictError) as caught:
        create(f"rene.muller@{domain}", "Rene", "Muller")
    holder = caught.value.existing
    assert holder is not None, caught.value.message
    assert (holder.id, holder.username) == (twin.id, f"rené.müller@{domain}")


def test_a_deactivated_leavers_new_role_waits_for_the_restore(on_sandbox, worker):
    """Okta does not update a DEPROVISIONED user's profile (404 E0000007): a move asked
    while the person is deactivated changes nothing in Okta, and the restore activates first
    and then writes the new role's profile (it updated first, and failed)."""
    dirs = okta_world(on_sandbox)
    identity = join(dirs).identity
    deactivate = lifecycle.OffboardingOptions(delete_after_days=None, okta_mode="deactivate")
    left = wait_for_job(lifecycle.request_offboarding(identity, deactivate, actor="system").pk)
    assert left.status == Job.Status.SUCCEEDED
    support = RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Support", groups=["Staff"], department="Support"
    )
    change = lifecycle.ChangeRequest([support])
    move = wait_for_job(lifecycle.request_change(identity, change, actor="system").pk)
    steps = list(move.steps.values_list("action", "status", "last_error"))
    assert move.status == Job.Status.SUCCEEDED, steps
    assert "update_user" not in [action for action, _, _ in steps]
    assert profile_of(dirs, identity.username)["department"] == "Sales"

    restore = wait_for_job(lifecycle.request_restore(identity, actor="system").pk)
    steps = list(restore.steps.values_list("action", "status", "last_error"))
    assert restore.status == Job.Status.SUCCEEDED, steps
    assert held(dirs, identity.username)[0] == "ACTIVE"
    assert profile_of(dirs, identity.username)["department"] == "Support"


def profile_of(dirs: Directories, login: str) -> dict:
    state = dirs.okta_state()
    return next(u for u in state["users"] if u["profile"]["login"] == login)["profile"]
