"""A joiner's e-mail address held by another account in Entra ID (proxyAddresses are unique in
the directory; Graph refuses the create with ObjectConflict on proxyAddresses): a conflict like
a taken username, found at dry run with the holder named, linked when it is the person's own
account and linking is allowed, and resolved the same way if it only shows at the create. A
group holding it (a distribution list) is always a conflict, never linked. Real SDK, the
sandbox; the linking job through a real worker."""

from __future__ import annotations

import pytest

from provisioning import services
from provisioning.connectors import bridge
from provisioning.connectors.base import NewUser
from provisioning.connectors.errors import EMAIL, USERNAME, ConflictError
from provisioning.connectors.factory import connector_for
from provisioning.engine import accounts, planner, steps
from provisioning.engine.accounts import account_for
from provisioning.models import Job, Step
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories


def holder(slug: str, nickname: str, first: str, last: str, aliases=()) -> dict:
    """A seeded Entra user: its mail is nickname@, its aliases more addresses it holds."""
    domain = f"{slug}.example"
    return {
        "userPrincipalName": f"{nickname}@{domain}",
        "displayName": f"{first} {last}",
        "givenName": first,
        "surname": last,
        "mail": f"{nickname}@{domain}",
        "proxyAddresses": [f"smtp:{alias}@{domain}" for alias in aliases],
    }


def directories(on_sandbox, slug: str, *users: dict, link: bool = False):
    dirs = make_directories(on_sandbox, slug, entra_extra={"users": list(users)})
    dirs.tenant.link_existing_accounts = link
    dirs.tenant.save(update_fields=["link_existing_accounts"])
    return dirs


def joiner(dirs) -> services.OnboardingRequest:
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"  # her e-mail address too
    return services.OnboardingRequest("Ada", "Lovelace", [dirs.template], username=username)


def entra_plan(preview) -> planner.Plan:
    connection, plan, error = preview.plans[0]
    assert connection.kind == "entra" and plan is not None, error
    return plan


@pytest.mark.django_db
@pytest.mark.parametrize("link", [False, True])
def test_a_joiner_whose_mail_another_person_holds_is_stopped_at_dry_run(on_sandbox, link):
    slug = f"mailtaken-{link}".lower()
    adam = holder(slug, "adam.smith", "Adam", "Smith", aliases=["ada.lovelace"])
    dirs = directories(on_sandbox, slug, adam, link=link)
    plan = entra_plan(services.preview_onboarding(dirs.tenant, joiner(dirs)))
    assert plan.blocked and not plan.steps
    (problem,) = [p for p in plan.problems if p.kind == "conflict"]
    assert problem.subject == f"ada.lovelace@{slug}.example"
    assert f"Adam Smith (adam.smith@{slug}.example)" in problem.message
    assert "Choose another e-mail address" in problem.message


@pytest.mark.django_db
def test_the_persons_own_old_account_needs_linking_allowed(on_sandbox):
    old = holder("oldmail", "alovelace", "Ada", "Lovelace", aliases=["ada.lovelace"])
    dirs = directories(on_sandbox, "oldmail", old, link=False)
    plan = entra_plan(services.preview_onboarding(dirs.tenant, joiner(dirs)))
    assert plan.blocked and not plan.steps
    assert "allow linking existing accounts" in plan.problems[0].message


@pytest.mark.django_db(transaction=True)
def test_a_joiner_whose_own_old_account_holds_the_mail_links_it(on_sandbox, worker):
    old = holder("relink", "alovelace", "Ada", "Lovelace", aliases=["ada.lovelace"])
    dirs = directories(on_sandbox, "relink", old, link=True)
    old_id = dirs.graph("GET", "/users/alovelace@relink.example").json()["id"]
    plan = entra_plan(services.preview_onboarding(dirs.tenant, joiner(dirs)))
    assert not plan.blocked
    assert [s.action for s in plan.steps][0] == planner.LINK_USER

    request = joiner(dirs)
    job = services.request_onboarding(
        dirs.tenant, request, username=request.username, actor="system"
    )
    job = wait_for_job(job.pk)
    actions = list(job.steps.values_list("action", "status", "last_error"))
    assert job.status == Job.Status.SUCCEEDED, actions
    assert planner.CREATE_USER not in [a for a, _, _ in actions]
    assert job.identity.accounts.get().remote_id == old_id
    users = dirs.entra_state()["users"]
    assert [u["id"] for u in users if u["userPrincipalName"].startswith("ada")] == []
    linked = next(u for u in users if u["id"] == old_id)
    assert linked["department"] == "Sales" and linked["licenses"] == ["SPE_E3"]


def planned_create(dirs, job: Job) -> Step:
    """The create step a plan makes now, as the job would record it (not saved: apply_one
    needs only what it carries)."""
    connection = dirs.tenant.connections.get()
    desired = services.desired_for(dirs.tenant, joiner(dirs), job.identity.username)
    plan = bridge.run(planner.plan_onboarding(connector_for(connection), connection.pk, desired))
    create = plan.steps[0]
    assert create.action == planner.CREATE_USER, plan.steps
    return Step(
        job=job, connection=connection, action=create.action, params=create.params, attempts=1
    )


def pending_join(dirs) -> Job:
    """An onboarding job that has not run (this test's transaction never commits)."""
    request = joiner(dirs)
    return services.request_onboarding(
        dirs.tenant, request, username=request.username, actor="system"
    )


def new_user(slug: str, username: str, email: str) -> NewUser:
    return NewUser(
        username=f"{username}@{slug}.example",
        first_name="Ada",
        last_name="Lovelace",
        display_name="Ada Lovelace",
        email=f"{email}@{slug}.example" if email else "",
        password="Sandb0x!pass-123",
        enabled=True,
        attributes={},
    )


@pytest.mark.django_db
def test_a_create_that_clashes_is_a_conflict_naming_the_holder(on_sandbox):
    adam = holder("atcreate", "adam.smith", "Adam", "Smith", aliases=["ada.lovelace"])
    dirs = directories(on_sandbox, "atcreate", adam)
    connector = connector_for(dirs.tenant.connections.get())
    with pytest.raises(ConflictError) as mail:
        bridge.run(connector.create_user(new_user("atcreate", "ada.lovelace2", "ada.lovelace")))
    assert (mail.value.field, mail.value.existing.username) == (EMAIL, adam["userPrincipalName"])
    with pytest.raises(ConflictError) as upn:
        bridge.run(connector.create_user(new_user("atcreate", "adam.smith", "")))
    assert (upn.value.field, upn.value.existing.username) == (USERNAME, adam["userPrincipalName"])


@pytest.mark.django_db
@pytest.mark.parametrize("first,last,linked", [("Ada", "Lovelace", True), ("Adam", "Smith", False)])
def test_apply_links_a_clash_found_only_at_the_create_when_it_is_hers(
    on_sandbox, first, last, linked
):
    slug = f"race-{linked}".lower()
    dirs = directories(on_sandbox, slug)
    job = pending_join(dirs)
    step = planned_create(dirs, job)
    # Between the plan and the create, an admin gives another account the address.
    other = dirs.add_entra_user(f"someone@{slug}.example", first, last)
    patched = dirs.graph("PATCH", f"/users/{other['id']}", {"mail": f"ada.lovelace@{slug}.example"})
    assert patched.status_code == 204
    account = account_for(job, dirs.tenant.connections.get())
    error, result = steps.apply_one(connector_for(dirs.tenant.connections.get()), step, account)
    account.refresh_from_db()
    assert account.remote_id == ""  # recorded with the step's outcome, by its run only
    if linked:
        assert (error, result) == (None, {"user_id": other["id"], "linked": True})
        assert accounts.applied(account, step, result) and account.remote_id == other["id"]
    else:  # someone else's: the create fails as a conflict, nothing linked
        assert isinstance(error, ConflictError) and error.field == EMAIL
        assert error.existing.id == other["id"] and account.remote_id == ""


SALES_ALL = {  # the demo's kind of distribution list, its address sales@
    "display_name": "Sales-All",
    "mail_nickname": "sales",
    "mail_enabled": True,
    "security_enabled": False,
}


@pytest.mark.django_db
@pytest.mark.parametrize("link", [False, True])
def test_a_joiner_whose_mail_a_distribution_list_holds_is_stopped_at_dry_run(on_sandbox, link):
    slug = f"dlmail-{link}".lower()
    dirs = make_directories(on_sandbox, slug, entra_extra={"groups": [SALES_ALL]})
    dirs.tenant.link_existing_accounts = link  # a group is never the person: never linked
    dirs.tenant.save(update_fields=["link_existing_accounts"])
    request = services.OnboardingRequest(
        "Sam", "Sales", [dirs.template], username=f"sales@{dirs.tenant.primary_domain}"
    )
    before = len(dirs.entra_state()["users"])
    plan = entra_plan(services.preview_onboarding(dirs.tenant, request))
    assert plan.blocked and not plan.steps
    (problem,) = [p for p in plan.problems if p.kind == "conflict"]
    assert problem.subject == f"sales@{slug}.example"
    assert problem.message.startswith(
        f"The distribution list Sales-All holds sales@{slug}.example in this directory"
    )
    assert "Choose another e-mail address" in problem.message
    assert len(dirs.entra_state()["users"]) == before  # nothing sent


@pytest.mark.django_db
def test_the_connector_names_the_group_holding_an_address(on_sandbox):
    dirs = make_directories(on_sandbox, "dlfind", entra_extra={"groups": [SALES_ALL]})
    connector = connector_for(dirs.tenant.connections.get())
    group = bridge.run(connector.group_by_mail("SALES@dlfind.example"))
    assert (group.name, group.detail["mail_enabled"], group.detail["unified"]) == (
        "Sales-All",
        True,
        False,
    )
    assert bridge.run(connector.find_by_mail("sales@dlfind.example")) is None  # not a user
    assert bridge.run(connector.group_by_mail("nobody@dlfind.example")) is None
