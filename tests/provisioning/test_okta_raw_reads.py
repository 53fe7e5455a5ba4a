"""Okta's catalogue and access reads as JSON: each page GET through the okta SDK's own request
serializers and request executor (the same request its call sends), its items read without
building the SDK's pydantic models, which the engine reads a few fields of (a group's id,
name, type and source; an app's id and label; an app link's app instance)."""

from __future__ import annotations

import json

import pytest
from okta.api_client import ApiClient
from okta.models import Group

from provisioning.connectors import bridge, okta_groups
from provisioning.connectors.base import Resource
from provisioning.connectors.factory import connector_for
from tests.provisioning.test_engine_okta import okta_world

pytestmark = pytest.mark.django_db(transaction=True)

SOURCE = "https://example.okta.com/api/v1/apps/0oa1ad"
GROUP_BODIES = [
    {"id": "00g1", "type": "OKTA_GROUP", "profile": {"name": "Staff", "description": "All"}},
    {"id": "00g2", "type": "BUILT_IN", "profile": {"name": "Everyone"}},
    {
        "id": "00g3",
        "type": "APP_GROUP",
        "profile": {"name": "AD Engineers", "description": None},
        "_links": {"source": {"href": SOURCE}, "users": {"href": "https://x/users"}},
    },
    {"id": "00g4", "type": "APP_GROUP", "profile": {"name": "No source"}, "_links": {}},
    {"id": "00g5", "type": "APP_GROUP", "_links": {"source": {"href": ""}}},
    {"id": "00g6", "type": "APP_GROUP", "_links": {"source": {"href": SOURCE + "/"}}},
    {"id": "00g7", "type": "OKTA_GROUP", "profile": {"description": "no name"}},
    {"id": "00g8", "type": "OKTA_GROUP", "profile": {"name": ""}},
    {"id": "00g9", "profile": {"name": "No type"}},
    {"type": "OKTA_GROUP", "profile": {"name": "No id"}},
]
LABELS = {"0oa1ad": "Active Directory"}


def model_reading(group: Group, app_labels: dict[str, str]) -> Resource:
    """The Resource the connector read from a Group model before it read the JSON."""
    kind = str(getattr(group.type, "value", group.type) or "")
    detail: dict = {"builtin": kind == "BUILT_IN"}
    if kind == "APP_GROUP":
        source = getattr(getattr(group, "links", None), "source", None)
        href = getattr(source, "href", "") or ""
        source_id = href.rstrip("/").rsplit("/", 1)[-1]
        detail |= {"imported": True, "imported_from": app_labels.get(source_id, "its source app")}
    profile = getattr(group.profile, "actual_instance", group.profile)
    return Resource(group.id, getattr(profile, "name", "") or "", detail)


def deserialized(monkeypatch) -> list[str]:
    """What the SDK's response reading builds models of, from here on ("List[Group]"...)."""
    built: list[str] = []
    original = ApiClient.response_deserialize

    def counted(self, response_data, response_types_map=None):
        built.append(str((response_types_map or {}).get(str(response_data.status))))
        return original(self, response_data, response_types_map)

    monkeypatch.setattr(ApiClient, "response_deserialize", counted)
    return built


@pytest.mark.parametrize("body", GROUP_BODIES)
def test_a_groups_json_is_read_as_its_model_is(body):
    model = Group.from_dict(json.loads(json.dumps(body)))
    assert okta_groups.group_of(body, LABELS) == model_reading(model, LABELS)


def test_catalogue_reads_follow_every_page_and_build_no_sdk_model(on_sandbox, monkeypatch):
    """Groups (two pages: Okta lists 200 a page) and apps, read from the sandbox through the
    SDK's request serializers and executor, without one SDK model built."""
    teams = [f"Team {n:03}" for n in range(205)]
    dirs = okta_world(on_sandbox, extra_groups=teams)
    okta = connector_for(dirs.tenant.connections.get())
    built = deserialized(monkeypatch)

    groups = {g.name: g for g in bridge.run(okta.groups(fresh=True))}
    apps = {a.name for a in bridge.run(okta.apps(fresh=True))}

    assert set(teams) | {"Everyone", "Staff", "Sales", "AD Engineers"} <= set(groups)
    assert len({g.id for g in groups.values()}) == len(groups) > 205
    assert groups["Everyone"].detail == {"builtin": True}
    assert groups["Staff"].detail == {"builtin": False}
    assert groups["AD Engineers"].detail == {
        "builtin": False,
        "imported": True,
        "imported_from": "Active Directory",
    }
    assert apps == {a["label"] for a in dirs.okta_state()["apps"]} >= {"Salesforce", "VPN"}
    assert built == []


def test_a_users_access_is_read_every_page_without_group_or_link_models(on_sandbox, monkeypatch):
    """A user in more groups than a page holds: their group ids (every page) and app links
    read as JSON; only the user's own read builds a model. Everyone, as typed in the list of
    their groups, is named built in (the inventory's row of the account leaves it out)."""
    teams = [f"Team {n:03}" for n in range(205)]
    dirs = okta_world(on_sandbox, ["Staff", *teams], extra_groups=teams)
    login = f"ada.lovelace@{dirs.tenant.primary_domain}"
    state = dirs.okta_state()
    [ada] = [u for u in state["users"] if u["profile"]["login"] == login]
    wanted = {g["id"] for g in state["groups"] if ada["id"] in g["members"]}
    salesforce = next(a["id"] for a in state["apps"] if a["label"] == "Salesforce")
    okta = connector_for(dirs.tenant.connections.get())
    built = deserialized(monkeypatch)

    user, access = bridge.run(okta.read_state(ada["id"]))

    assert user.username == login
    assert access.groups == wanted and len(wanted) > 205
    assert salesforce in access.apps
    everyone = {g["id"] for g in state["groups"] if g["type"] == "BUILT_IN"}
    assert access.built_in_groups == everyone and len(everyone) == 1 and everyone <= wanted
    again = bridge.run(okta.access_of(ada["id"]))
    assert again == access and again.built_in_groups == everyone
    assert built == ["User"]


def test_the_groups_granting_an_app_are_read_without_assignment_models(on_sandbox, monkeypatch):
    """A leave reads which groups grant each app (Okta refuses to unassign an app a group
    grants): the group ids of each app's group assignments, as JSON."""
    dirs = okta_world(on_sandbox)
    state = dirs.okta_state()
    okta = connector_for(dirs.tenant.connections.get())
    apps = {a.name: a.id for a in bridge.run(okta.apps())}
    staff = next(g["id"] for g in state["groups"] if g["name"] == "Staff")
    built = deserialized(monkeypatch)

    granting = bridge.run(okta.groups_granting([apps["VPN"], apps["Salesforce"]]))

    assert granting == {apps["VPN"]: frozenset({staff}), apps["Salesforce"]: frozenset()}
    assert built == []
