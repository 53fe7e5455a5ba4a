"""An attribute the portal set and the desired state no longer has (a mover whose department
is cleared) is cleared in the directory, the way each one documents: Graph PATCH with null,
Okta a partial update with null, a SCIM app a PATCH "remove" (RFC 7644 §3.5.2.2). The job
succeeds only on a read that shows it gone. An attribute the portal never set (a taken-over
account's own) stays. Real SDKs, the sandbox, a real worker."""

from __future__ import annotations

import uuid

import httpx
import pytest

from provisioning import services
from provisioning.lifecycle import services as lifecycle
from provisioning.models import DirectoryAccount, Identity, Job
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import Directories, make_directories
from tests.provisioning.scim_apps import ScimApp, connect, make_app

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(on_sandbox):
    """Entra, Okta and a SCIM app with the enterprise extension; a template that sets no
    department (so a person's department is their own, and can be cleared)."""
    dirs = make_directories(
        on_sandbox, f"clr{uuid.uuid4().hex[:8]}", kinds=("entra", "okta"), licenses=[], apps=[]
    )
    dirs.template.department = ""
    dirs.template.groups = ["Staff"]
    app = make_app(on_sandbox, "full")
    connection = connect(dirs.tenant, app, "Wiki")
    dirs.template.scim_apps = [{"connection": connection.pk, "groups": []}]
    dirs.template.save()
    return dirs, app


def steps_of(job: Job) -> list:
    return list(job.steps.values_list("action", "target_name", "status", "last_error"))


def onboard(dirs: Directories, **attributes) -> Job:
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template], attributes=attributes)
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    job = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    job = wait_for_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED, steps_of(job)
    return job


def change(identity: Identity, **attributes) -> Job:
    request = lifecycle.ChangeRequest([identity.role_templates.get()], attributes=attributes)
    return lifecycle.request_change(identity, request, actor="system")


def departments(dirs: Directories, app: ScimApp, username: str) -> tuple:
    """The department each holds: Entra's, Okta's, the app's (None: none)."""
    okta = dirs.okta_user(username)["profile"]
    held = app.user(username)
    return (
        dirs.entra_user(username).get("department"),
        okta.get("department"),
        (held.get(ENTERPRISE) or {}).get("department"),
    )


def test_a_cleared_department_is_removed_everywhere_and_read_back(world, worker):
    dirs, app = world
    finance = finance_rule(dirs)  # an Okta group whose members follow the department
    identity = onboard(dirs, department="Finance", job_title="Analyst").identity
    username = identity.username
    assert departments(dirs, app, username) == ("Finance", "Finance", "Finance")
    okta_id = dirs.okta_user(username)["id"]
    assert okta_id in members(dirs, finance)

    move = wait_for_job(change(identity, job_title="Analyst").pk)
    assert move.status == Job.Status.SUCCEEDED, steps_of(move)
    assert departments(dirs, app, username) == (None, None, None), steps_of(move)
    assert dirs.entra_user(username)["jobTitle"] == "Analyst"  # the rest is left as it was
    assert dirs.okta_user(username)["profile"]["title"] == "Analyst"
    assert okta_id not in members(dirs, finance)  # the mover leaves the dynamic group
    clears = [s for s in steps_of(move) if s[0] == "update_user"]
    assert len(clears) == 3 and all(s[1] == "clear department" for s in clears), clears
    # It succeeded on a read after the clears: the last round found nothing to do.
    assert move.converged_version == identity.__class__.objects.get(pk=identity.pk).desired_version
    for account in DirectoryAccount.objects.filter(identity=identity):
        assert "department" not in account.managed["attributes"]


def test_a_department_the_portal_never_set_stays(world, worker):
    """A taken-over account: its own department is not the portal's to clear."""
    dirs, app = world
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    entra = dirs.add_entra_user(username, "Ada", "Lovelace")
    dirs.graph("PATCH", f"/users/{entra['id']}", {"department": "Legal"}).raise_for_status()
    okta_api(dirs, "POST", "/users?activate=true", new_okta_user(username, department="Legal"))
    identity = onboard(dirs, job_title="Analyst").identity
    entra_user, okta_user = dirs.entra_user(username), dirs.okta_user(username)
    assert (entra_user["id"], okta_user["profile"]["department"]) == (entra["id"], "Legal")

    move = wait_for_job(change(identity, job_title="Lead").pk)
    assert move.status == Job.Status.SUCCEEDED, steps_of(move)
    assert dirs.entra_user(username)["department"] == "Legal"
    assert dirs.okta_user(username)["profile"]["department"] == "Legal"
    assert dirs.okta_user(username)["profile"]["title"] == "Lead"


def test_an_okta_clear_leaves_the_profile_it_does_not_name(world, worker):
    """The clear is a partial update: the city an Okta admin set, which the portal does not
    manage, stays; the title changed in the same update is written."""
    dirs, app = world
    identity = onboard(dirs, department="Finance", job_title="Analyst").identity
    user = dirs.okta_user(identity.username)
    okta_api(dirs, "POST", f"/users/{user['id']}", {"profile": {"city": "Leeds"}})
    move = wait_for_job(change(identity, job_title="Lead").pk)
    assert move.status == Job.Status.SUCCEEDED, steps_of(move)
    profile = dirs.okta_user(identity.username)["profile"]
    assert (profile.get("department"), profile["title"], profile["city"]) == (
        None,
        "Lead",
        "Leeds",
    )
    updates = [s[1] for s in steps_of(move) if s[0] == "update_user"]
    assert updates == ["job_title, clear department"] * 3, updates  # one round, read back


@pytest.mark.parametrize("last", ["", "Ops"])
def test_a_clear_and_a_change_in_flight_end_in_the_last_state_asked(world, worker, last):
    dirs, app = world
    identity = onboard(dirs, department="Finance").identity
    first = "Ops" if not last else ""
    jobs = [change(identity, department=first), change(identity, department=last)]
    for job in jobs:
        job = wait_for_job(job.pk)
        assert job.status in (Job.Status.SUCCEEDED, Job.Status.CANCELLED), steps_of(job)
    assert departments(dirs, app, identity.username) == (last or None,) * 3


def finance_rule(dirs: Directories) -> str:
    """An active Okta group rule putting people of the department Finance in a group."""
    group = okta_api(dirs, "POST", "/groups", {"profile": {"name": "Finance people"}})
    rule = okta_api(
        dirs,
        "POST",
        "/groups/rules",
        {
            "type": "group_rule",
            "name": "Finance people",
            "conditions": {
                "people": {"users": {"exclude": []}, "groups": {"exclude": []}},
                "expression": {
                    "value": 'user.department=="Finance"',
                    "type": "urn:okta:expression:1.0",
                },
            },
            "actions": {"assignUserToGroups": {"groupIds": [group["id"]]}},
        },
    )
    okta_api(dirs, "POST", f"/groups/rules/{rule['id']}/lifecycle/activate")
    return group["id"]


def members(dirs: Directories, group_id: str) -> set[str]:
    return {u["id"] for u in okta_api(dirs, "GET", f"/groups/{group_id}/users")}


def new_okta_user(login: str, **profile) -> dict:
    return {
        "profile": {
            "login": login,
            "email": login,
            "firstName": "Ada",
            "lastName": "Lovelace",
            **profile,
        }
    }


def okta_api(dirs: Directories, method: str, path: str, body: dict | None = None) -> dict:
    response = httpx.request(
        method,
        f"{dirs.server.url}/okta/{dirs.okta_id}/api/v1{path}",
        json=body,
        headers={"Authorization": f"SSWS {dirs.okta_id}-token", "Accept": "application/json"},
        verify=str(dirs.server.ca),
    )
    assert response.status_code in (200, 204), response.text
    return response.json() if response.content else {}
