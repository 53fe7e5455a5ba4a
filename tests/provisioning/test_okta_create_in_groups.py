"""An Okta joiner is created already in its groups (`groupIds`, engine/create_groups.py):
their adds are not sent, each group step is still recorded and audited, and the read-back
verifies every membership. A group deleted since the plan, or a create answered 504 after it
landed, ends with the person in every group that exists."""

from __future__ import annotations

import uuid

import httpx
import pytest

from portal.audit.models import AuditEvent
from provisioning import services
from provisioning.connectors import bridge
from provisioning.connectors.factory import connector_for
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Job, Step
from tenants.models import RoleTemplate
from tests.provisioning.conftest import drive
from tests.provisioning.directories import GROUPS, make_directories

pytestmark = pytest.mark.django_db

GROUP_PUT = "PUT /api/v1/groups/{groupId}/users/{userId}"
CREATE = "POST /api/v1/users"


@pytest.fixture
def dirs(on_sandbox):
    return make_directories(
        on_sandbox, f"oc{uuid.uuid4().hex[:10]}", kinds=("okta",), groups=GROUPS
    )


def onboard(dirs, first: str = "Ada", last: str = "Lovelace") -> Job:
    request = services.OnboardingRequest(first, last, [dirs.template])
    username = f"{first}.{last}@{dirs.tenant.primary_domain}".lower()
    return services.request_onboarding(dirs.tenant, request, username=username, actor="system")


def reset_stats(dirs) -> None:
    with dirs.control() as control:
        control.delete(f"/_sandbox/okta/{dirs.okta_id}/stats").raise_for_status()


def groups_held(dirs, user_id: str) -> set[str]:
    return {g["name"] for g in dirs.okta_state()["groups"] if user_id in g["members"]}


def okta_api(dirs) -> httpx.Client:
    return httpx.Client(
        base_url=f"{dirs.server.url}/okta/{dirs.okta_id}",
        verify=str(dirs.server.ca),
        headers={"Authorization": f"SSWS {dirs.okta_id}-token"},
    )


def test_a_joiner_is_created_in_its_groups_without_an_add_each(dirs):
    job = onboard(dirs)
    reset_stats(dirs)

    job = drive(job)

    assert job.status == Job.Status.SUCCEEDED, job.error
    calls = dirs.stats("okta")["calls"]
    assert calls.get(GROUP_PUT, 0) == 0, calls  # five before, one a group
    assert calls[CREATE] == 1
    user_id = job.identity.accounts.get().remote_id
    assert groups_held(dirs, user_id) >= set(GROUPS)
    adds = job.steps.filter(action="add_group")
    assert sorted(adds.values_list("target_name", flat=True)) == sorted(GROUPS)
    assert set(adds.values_list("status", flat=True)) == {Step.Status.SUCCEEDED}
    audited = AuditEvent.objects.filter(job_id=str(job.pk), action="directory.add_group")
    assert sorted(e.after["target"] for e in audited) == sorted(GROUPS)
    assert {e.result for e in audited} == {"success"}


def test_a_group_deleted_since_the_plan_read_it_leaves_the_others(dirs):
    connector = connector_for(dirs.tenant.connections.get(kind="okta"))
    finance = next(g.id for g in bridge.run(connector.groups()) if g.name == "Finance")
    with okta_api(dirs) as api:  # after the catalogue was read: the plan still names it
        assert api.delete(f"/api/v1/groups/{finance}").status_code == 204

    job = drive(onboard(dirs))

    user_id = job.identity.accounts.get().remote_id
    assert user_id and groups_held(dirs, user_id) == set(GROUPS) - {"Finance"} | {"Everyone"}
    created = job.steps.get(action="create_user")
    assert created.status == Step.Status.SUCCEEDED
    assert created.result["in_groups"] == []
    finance_step = job.steps.get(action="add_group", target_name="Finance")
    assert finance_step.status == Step.Status.FAILED
    assert finance_step.last_error.startswith("The group Finance is no longer in Okta")
    others = job.steps.filter(action="add_group").exclude(target_name="Finance")
    assert set(others.values_list("status", flat=True)) == {Step.Status.SUCCEEDED}


def test_a_create_answered_504_after_it_landed_finds_the_user_in_its_groups(dirs):
    job = onboard(dirs)
    dirs.behave("okta", fail_after_next=1)  # the create lands, its answer is a 504

    job = drive(job)

    assert job.status == Job.Status.SUCCEEDED, job.error
    assert dirs.stats("okta")["faults"] == {"failed_after": 1}
    logins = [u for u in dirs.okta_state()["users"] if u["profile"]["lastName"] == "Lovelace"]
    assert len(logins) == 1
    assert groups_held(dirs, logins[0]["id"]) >= set(GROUPS)
    adds = job.steps.filter(action="add_group")
    assert set(adds.values_list("status", flat=True)) == {Step.Status.SUCCEEDED}


def test_a_lone_add_to_a_group_deleted_since_the_plan_names_the_group(on_sandbox):
    """A mover's one group add, to a group deleted in Okta after the plan read the catalogue:
    Okta answers 404 E0000007 "Not found: Resource not found: <id> (UserGroup)"
    (okta/samples-js-react#60), and the step said only that, an id nobody in the portal
    knows. It says which group is gone, by the name the technician chose."""
    dirs = make_directories(
        on_sandbox, f"od{uuid.uuid4().hex[:10]}", kinds=("okta",), groups=["Staff"]
    )
    joined = drive(onboard(dirs))
    assert joined.status == Job.Status.SUCCEEDED, joined.error
    finance = RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Finance", groups=["Staff", "Finance"], apps=["Salesforce"]
    )
    connector = connector_for(dirs.tenant.connections.get(kind="okta"))
    finance_id = next(g.id for g in bridge.run(connector.groups()) if g.name == "Finance")
    with okta_api(dirs) as api:  # after the catalogue was read: the plan still names it
        assert api.delete(f"/api/v1/groups/{finance_id}").status_code == 204

    change = lifecycle.ChangeRequest([finance])
    moved = drive(lifecycle.request_change(joined.identity, change, actor="system"))

    assert moved.status in (Job.Status.FAILED, Job.Status.PARTIAL), moved.status
    step = moved.steps.get(action="add_group")
    assert (step.action, step.target_name, step.status) == ("add_group", "Finance", "failed")
    assert "The group Finance" in step.last_error, step.last_error
    assert finance_id not in step.last_error
    audited = AuditEvent.objects.get(job_id=str(moved.pk), action="directory.add_group")
    assert "The group Finance" in audited.after["error"]
