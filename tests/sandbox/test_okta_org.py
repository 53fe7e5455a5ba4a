"""Creating orgs, the demo seed and persistence, without a server."""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace

import pytest

from sandbox.okta import OktaOrg, create_org, seed_demo
from sandbox.okta.demo import (
    FABRIKAM_API_TOKEN,
    FABRIKAM_ORG_ID,
    NORTHWIND_API_TOKEN,
    NORTHWIND_ORG_ID,
    demo_org_body,
)


def empty_state() -> SimpleNamespace:
    return SimpleNamespace(okta={})


def minimal_body(**overrides) -> dict:
    return {"id": "acme", "name": "Acme", "api_token": "acme-token", **overrides}


def test_create_org_stores_it_and_refuses_the_same_id_twice():
    state = empty_state()
    org = create_org(state, minimal_body(groups=[{"name": "Sales"}], apps=[{"label": "Zoom"}]))
    assert state.okta == {"acme": org}
    assert [a.name for a in org.apps.values()] == ["zoom"]  # name derived from the label
    with pytest.raises(ValueError, match="already exists"):
        create_org(state, minimal_body())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "Acme", "api_token": "t"}, "'id' is required"),
        (minimal_body(id="Not A Slug"), "slug"),
        (minimal_body(api_token=""), "'api_token' is required"),
        (minimal_body(groups="Sales"), "'groups' must be a list"),
        (minimal_body(groups=[{"description": "no name"}]), "'name' is required"),
        (minimal_body(groups=[{"name": "A"}, {"name": "a"}]), "already exists"),
        (minimal_body(users=[{"profile": {"login": "x@y.com"}}]), "firstName"),
        (minimal_body(behaviour={"error_rate": 2}), "error_rate"),
    ],
)
def test_create_org_explains_bad_input(body, message):
    state = empty_state()
    with pytest.raises(ValueError, match=message):
        create_org(state, body)
    assert state.okta == {}


def test_demo_orgs_are_realistic_and_deterministic():
    state = empty_state()
    seed_demo(state)
    assert set(state.okta) == {FABRIKAM_ORG_ID, NORTHWIND_ORG_ID}
    assert state.okta[FABRIKAM_ORG_ID].api_token == FABRIKAM_API_TOKEN
    assert state.okta[NORTHWIND_ORG_ID].api_token == NORTHWIND_API_TOKEN
    for org in state.okta.values():
        assert 40 <= len(org.users) <= 200
        assert len(org.groups) == 14  # Everyone (built in), 12 of Okta's, 1 imported from AD
        [imported] = [g for g in org.groups.values() if g.type == "APP_GROUP"]
        assert imported.members and imported.source_app_id in org.apps
        [vpn] = [a for a in org.apps.values() if a.label == "GlobalProtect VPN"]
        assert {a.scope for a in vpn.assignments.values()} == {"GROUP"}
        assert {a.label for a in org.apps.values()} >= {"Salesforce", "Slack", "Zoom", "Workday"}
        statuses = Counter(u.status for u in org.users.values())
        assert statuses["ACTIVE"] > len(org.users) / 2
        assert statuses["SUSPENDED"] and statuses["DEPROVISIONED"]
        logins = [u.login for u in org.users.values()]
        assert len(set(logins)) == len(logins)
        [managers] = [g for g in org.groups.values() if g.name == "Managers"]
        assert managers.by_rule and managers.by_rule < set(managers.members)
        assert [r.status for r in org.rules.values()] == ["ACTIVE"]
    again = demo_org_body(FABRIKAM_ORG_ID)
    assert [u["profile"]["login"] for u in again["users"]] == [
        u.login for u in state.okta[FABRIKAM_ORG_ID].users.values()
    ]
    seed_demo(state)  # seeding twice replaces the demo orgs instead of failing
    assert len(state.okta) == 2


def test_persistence_round_trip_keeps_everything():
    state = empty_state()
    seed_demo(state)
    org = state.okta[FABRIKAM_ORG_ID]
    org.behaviour.update({"rate_per_s": 10})
    restored = OktaOrg.from_json(json.loads(json.dumps(org.to_json())))
    assert restored.to_state() == org.to_state()
    some = next(iter(org.users.values()))
    assert restored.find_user(some.login.upper()).id == some.id
