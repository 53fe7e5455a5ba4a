"""Okta's group and app steps of a round in one bridge call (`OktaConnector.apply_many`):
Okta has no batch endpoint, so the requests go at once, each with its own outcome (a refused
add fails only its step), in order where two touch the same group."""

from __future__ import annotations

import uuid

import httpx
import pytest

from provisioning import services
from provisioning.connectors import bridge
from provisioning.connectors import okta as okta_connector
from provisioning.connectors.base import NewUser
from provisioning.connectors.errors import ConnectorError
from provisioning.connectors.factory import connector_for
from provisioning.models import Job, Step
from tests.provisioning.conftest import drive
from tests.provisioning.directories import GROUPS, make_directories

pytestmark = pytest.mark.django_db

LATENCY_MS = 300  # long enough that requests sent one after the other never overlap


@pytest.fixture
def dirs(on_sandbox):
    return make_directories(
        on_sandbox, f"om{uuid.uuid4().hex[:10]}", kinds=("okta",), groups=GROUPS
    )


def okta(dirs):
    return connector_for(dirs.tenant.connections.get(kind="okta"))


def new_user(dirs, name: str):
    login = f"{name}@{dirs.tenant.primary_domain}"
    user = NewUser(
        username=login,
        first_name=name.title(),
        last_name="Many",
        display_name=f"{name.title()} Many",
        email=login,
        password="Okta-Many-Pa55!",
        attributes={},
    )
    return bridge.run(okta(dirs).create_user(user))


def group_ids(dirs) -> dict[str, str]:
    return {g.name: g.id for g in bridge.run(okta(dirs).groups())}


def groups_held(dirs, user_id: str) -> set[str]:
    state = dirs.okta_state()
    return {g["name"] for g in state["groups"] if user_id in g["members"]}


def reset_stats(dirs) -> None:
    with dirs.control() as control:
        control.delete(f"/_sandbox/okta/{dirs.okta_id}/stats").raise_for_status()


def test_an_adopted_okta_accounts_group_and_app_steps_are_sent_at_once(dirs):
    """A joiner's own account found in Okta is linked, not created: its groups cannot ride
    in a create (engine/create_groups.py), so they go as adds, all at once."""
    dirs.tenant.link_existing_accounts = True
    dirs.tenant.save(update_fields=["link_existing_accounts"])
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    existing = NewUser(username, "Ada", "Lovelace", "Ada Lovelace", username, "Okta-Many-Pa55!")
    bridge.run(okta(dirs).create_user(existing))
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    job = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    reset_stats(dirs)
    dirs.behave("okta", latency_ms=LATENCY_MS)

    job = drive(job)

    assert job.status == Job.Status.SUCCEEDED
    assert job.steps.filter(action="link_user").exists()
    adds = job.steps.filter(action__in=["add_group", "assign_app"])
    assert adds.count() == len(GROUPS) + 1
    assert set(adds.values_list("status", flat=True)) == {Step.Status.SUCCEEDED}
    # Five group adds and the app at once; before, one after the other (the read-back's
    # three requests at once were the most).
    assert dirs.stats("okta")["peak_in_flight"] == len(GROUPS) + 1
    user_id = job.identity.accounts.get().remote_id
    assert groups_held(dirs, user_id) >= set(GROUPS)


def test_one_refused_add_fails_its_step_only(dirs):
    user = new_user(dirs, "grace")
    ids = group_ids(dirs)
    ops = [
        ("add_group", {"group_id": ids["Staff"]}),
        ("add_group", {"group_id": "00g" + uuid.uuid4().hex[:17]}),  # no such group
        ("add_group", {"group_id": ids["Sales"]}),
    ]

    outcomes = bridge.run(okta(dirs).apply_many(user.id, ops))

    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], ConnectorError)
    assert groups_held(dirs, user.id) >= {"Staff", "Sales"}


def test_steps_on_the_same_group_go_in_their_order(dirs):
    user = new_user(dirs, "hopper")
    staff = group_ids(dirs)["Staff"]
    ops = [("add_group", {"group_id": staff}), ("remove_group", {"group_id": staff})]
    reset_stats(dirs)
    dirs.behave("okta", latency_ms=LATENCY_MS)

    outcomes = bridge.run(okta(dirs).apply_many(user.id, ops))

    assert outcomes == [None, None]
    assert dirs.stats("okta")["peak_in_flight"] == 1
    assert "Staff" not in groups_held(dirs, user.id)


def make_okta_groups(dirs, count: int) -> list[str]:
    org_url = f"{dirs.server.url}/okta/{dirs.okta_id}"
    headers = {"Authorization": f"SSWS {dirs.okta_id}-token"}
    with httpx.Client(base_url=org_url, verify=str(dirs.server.ca), headers=headers) as api:
        made = [
            api.post("/api/v1/groups", json={"profile": {"name": f"Team {n:03}"}})
            for n in range(count)
        ]
    assert {r.status_code for r in made} == {200}
    return [r.json()["id"] for r in made]


def test_more_steps_than_okta_serves_at_once_meet_no_429(dirs):
    """Okta serves 75 requests of an org at once and answers the next 429 (developer.okta.com
    rl2-concurrency); a leaver or joiner with more group steps than that sent them all at
    once, so some were refused and paced again. The connector keeps its requests in flight
    well under the limit: every step lands first time."""
    user = new_user(dirs, "lamarr")
    groups = make_okta_groups(dirs, 80)
    reset_stats(dirs)
    # Long enough that the 80 overlap even when their connections open slowly.
    dirs.behave("okta", latency_ms=4 * LATENCY_MS)

    outcomes = bridge.run(
        okta(dirs).apply_many(user.id, [("add_group", {"group_id": g}) for g in groups])
    )

    assert outcomes == [None] * len(groups)
    stats = dirs.stats("okta")
    assert stats["throttled"] == 0
    assert stats["peak_in_flight"] <= okta_connector.SIMULTANEOUS
    assert groups_held(dirs, user.id) >= {f"Team {n:03}" for n in range(80)}
