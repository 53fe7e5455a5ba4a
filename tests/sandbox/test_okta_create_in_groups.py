"""Create User in Group (`groupIds`), as strict as Okta: the user is created already in the
groups, or not at all. Users API, "Create User in Group": "Creates a user that is added to
the specified groups upon creation ... The request may specify up to 20 group ids"."""

from __future__ import annotations

import pytest

from tests.sandbox.okta_support import assert_okta_error, user_body

AD_GROUP = {"name": "AD Engineers", "type": "APP_GROUP", "source": "active_directory"}
AD_APP = {"name": "active_directory", "label": "Active Directory"}


def _create_in(api, login: str, group_ids: list[str]):
    return api.post("/api/v1/users", json={**user_body(login), "groupIds": group_ids})


def _members(api, group_id: str) -> set[str]:
    return {u["profile"]["login"] for u in api.get(f"/api/v1/groups/{group_id}/users").json()}


def _absent(api, login: str) -> bool:
    return api.get(f"/api/v1/users/{login}").status_code == 404


def test_the_user_is_created_in_every_group_named(api, org):
    answer = _create_in(api, "ada@example.com", [org.groups["Sales"], org.groups["Finance"]])
    assert answer.status_code == 200, answer.text
    assert "ada@example.com" in _members(api, org.groups["Sales"])
    assert "ada@example.com" in _members(api, org.groups["Finance"])


def test_an_unknown_group_refuses_the_whole_create(api, org):
    answer = _create_in(api, "ada@example.com", [org.groups["Sales"], "00gnotagroup0000000x"])
    assert_okta_error(answer, 404, "E0000007")
    assert _absent(api, "ada@example.com")
    assert "ada@example.com" not in _members(api, org.groups["Sales"])


def test_more_than_twenty_groups_are_refused(okta_sandbox):
    groups = [{"name": f"Team {n}"} for n in range(21)]
    org = okta_sandbox.new_org(extra_groups=groups)
    ids = [org.groups[g["name"]] for g in groups]
    with okta_sandbox.api(org) as api:
        error = assert_okta_error(_create_in(api, "ada@example.com", ids), 400, "E0000001")
        assert error["errorSummary"] == "Api validation failed: groupIds"
        assert _absent(api, "ada@example.com")
        assert _create_in(api, "ada@example.com", ids[:20]).status_code == 200


def test_everyone_is_refused_as_not_implemented(api, org):
    everyone = api.get("/api/v1/groups", params={"q": "Everyone"}).json()[0]["id"]
    answer = _create_in(api, "ada@example.com", [org.groups["Sales"], everyone])
    assert_okta_error(answer, 501, "E0000060")
    assert _absent(api, "ada@example.com")


@pytest.mark.parametrize("with_okta_group", [False, True])
def test_an_imported_group_refuses_the_whole_create(okta_sandbox, with_okta_group):
    org = okta_sandbox.new_org(extra_groups=[AD_GROUP], extra_apps=[AD_APP])
    ids = [org.groups["AD Engineers"]]
    if with_okta_group:
        ids.insert(0, org.groups["Sales"])
    with okta_sandbox.api(org) as api:
        assert_okta_error(_create_in(api, "ada@example.com", ids), 403, "E0000006")
        assert _absent(api, "ada@example.com")


def test_a_deleted_group_is_gone_and_refuses_a_create_naming_it(api, org):
    sales = org.groups["Sales"]
    assert _create_in(api, "ada@example.com", [sales]).status_code == 200
    assert api.delete(f"/api/v1/groups/{sales}").status_code == 204
    assert_okta_error(api.get(f"/api/v1/groups/{sales}"), 404, "E0000007")
    assert_okta_error(_create_in(api, "bob@example.com", [sales]), 404, "E0000007")
    assert _absent(api, "bob@example.com")


def test_everyone_and_imported_groups_cannot_be_deleted(okta_sandbox):
    org = okta_sandbox.new_org(extra_groups=[AD_GROUP], extra_apps=[AD_APP])
    with okta_sandbox.api(org) as api:
        everyone = api.get("/api/v1/groups", params={"q": "Everyone"}).json()[0]["id"]
        for group_id in (everyone, org.groups["AD Engineers"]):
            assert_okta_error(api.delete(f"/api/v1/groups/{group_id}"), 403, "E0000006")
            assert api.get(f"/api/v1/groups/{group_id}").status_code == 200
