"""The groups (the tenant's role templates, read-only) answer `attributes` and
`excludedAttributes` as the users do (RFC 7644 §3.4.2.5 and §3.9: a query of any resource
type takes them; Entra's provisioning lists groups with `excludedAttributes=members`), and
their `meta` says when each was last modified (RFC 7643 §3.1); each member says its `type`
(RFC 7643 §4.2)."""

from __future__ import annotations

import pytest

from tests.scim.test_scim_endpoint import ada, call, url

pytestmark = pytest.mark.django_db


def test_excluded_members_are_left_out_of_the_list_and_of_a_group(client, scim):
    listed = call(client, scim, "get", url(scim, "scim_groups") + "?excludedAttributes=members")
    assert listed.status_code == 200, listed.content
    resources = listed.json()["Resources"]
    assert resources and all("members" not in g for g in resources)
    assert all({"id", "displayName", "schemas"} <= g.keys() for g in resources)
    one = url(scim, "scim_group", group_id=scim.finance.pk) + "?excludedAttributes=members"
    assert "members" not in call(client, scim, "get", one).json()


def test_attributes_keep_the_ones_asked_for_and_those_always_returned(client, scim):
    listed = call(client, scim, "get", url(scim, "scim_groups") + "?attributes=members")
    for group in listed.json()["Resources"]:
        assert "displayName" not in group
        assert {"id", "schemas"} <= group.keys()
    one = url(scim, "scim_group", group_id=scim.finance.pk) + "?attributes=displayName"
    assert call(client, scim, "get", one).json()["displayName"] == "Finance"


def test_a_groups_meta_says_when_it_was_last_modified(client, scim):
    one = call(client, scim, "get", url(scim, "scim_group", group_id=scim.finance.pk)).json()
    scim.finance.refresh_from_db()
    assert one["meta"]["lastModified"].startswith(scim.finance.updated_at.strftime("%Y-%m-%dT"))
    listed = call(client, scim, "get", url(scim, "scim_groups")).json()["Resources"]
    assert all("lastModified" in g["meta"] for g in listed)


def test_each_member_says_it_is_a_user(client, scim):
    """RFC 7643 §4.2: a member's `type` is "User" or "Group"; a role template holds people
    only. /Schemas lists `type` among the members' sub-attributes, so a client that reads a
    member's type to tell users from nested groups needs it said."""
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    one = call(client, scim, "get", url(scim, "scim_group", group_id=scim.finance.pk)).json()
    assert one["members"] == [
        {
            "value": person_id,
            "$ref": one["members"][0]["$ref"],
            "display": "Ada Lovelace",
            "type": "User",
        }
    ]
    listed = call(client, scim, "get", url(scim, "scim_groups")).json()["Resources"]
    assert all(m["type"] == "User" for g in listed for m in g.get("members", []))


SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def test_groups_are_searched_by_post_as_users_are(client, scim):
    """RFC 7644 §3.4.3: "/.search" on a valid SCIM endpoint "SHALL be used to indicate that
    the HTTP POST verb is intended to be a query operation". /Users/.search was one; on
    /Groups it was read as a group id (405, `Allow: GET, HEAD`; a GET 'No group .search')."""
    search = f"/scim/v2/{scim.tenant.slug}/Groups/.search"
    body = {
        "schemas": [SEARCH],
        "filter": 'displayName eq "Finance"',
        "excludedAttributes": ["members"],
        "count": 5,
    }
    found = call(client, scim, "post", search, body)
    assert found.status_code == 200, found.content
    assert found["Content-Type"] == "application/scim+json"
    listed = found.json()
    assert listed["totalResults"] == 1 and listed["itemsPerPage"] == 1
    assert listed["Resources"][0]["id"] == str(scim.finance.pk)
    assert "members" not in listed["Resources"][0]
    same = call(client, scim, "get", url(scim, "scim_groups") + '?filter=displayName eq "Finance"')
    assert [g["id"] for g in same.json()["Resources"]] == [str(scim.finance.pk)]


def test_a_group_search_of_the_wrong_shape_or_by_get_is_refused(client, scim):
    search = f"/scim/v2/{scim.tenant.slug}/Groups/.search"
    wrong = call(client, scim, "post", search, {"schemas": [SEARCH], "count": "2"})
    assert wrong.status_code == 400 and wrong.json()["scimType"] == "invalidSyntax"
    unreadable = call(client, scim, "post", search, {"schemas": [SEARCH], "filter": "members eq"})
    assert unreadable.status_code == 400 and unreadable.json()["scimType"] == "invalidFilter"
    by_get = call(client, scim, "get", search)
    assert by_get.status_code == 405 and by_get["Allow"] == "POST"
