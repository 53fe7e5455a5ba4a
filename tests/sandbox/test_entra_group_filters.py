"""What $filter Graph takes on each group property (strict11). Sources in
docs/sandbox-fidelity.md ("strict11") and beside FILTERABLE in sandbox/entra/groups.py."""

from __future__ import annotations

import pytest

from tests.sandbox.entra_support import EntraDir, assert_graph_error

ADVANCED = {"ConsistencyLevel": "eventual"}


def unsupported(prop: str) -> str:
    return (
        f"Unsupported or invalid query filter clause specified for property '{prop}' of "
        "resource 'Group'."
    )


def _names(response) -> set[str]:
    assert response.status_code == 200, response.text
    return {g["displayName"] for g in response.json()["value"]}


def _microsoft_365_group(graph) -> None:
    made = graph.post(
        "/groups",
        json={
            "displayName": "Project X",
            "mailEnabled": True,
            "mailNickname": "projectx",
            "securityEnabled": False,
            "groupTypes": ["Unified"],
        },
    )
    assert made.status_code == 201, made.text


def test_group_types_is_a_collection_filtered_through_any(entra: EntraDir) -> None:
    """group.md: groupTypes is a String collection, "Supports $filter (eq, not)"; a collection
    is filtered through `any` (group-list.md's own example is
    `groupTypes/any(c:c+eq+'Unified')`). The sandbox refused the lambda and answered the bare
    comparison with no group, so "is there a Microsoft 365 group?" read "no"."""
    with entra.graph() as graph:
        _microsoft_365_group(graph)
        found = graph.get("/groups", params={"$filter": "groupTypes/any(c:c eq 'Unified')"})
        assert _names(found) == {"Project X"}
        dynamic = graph.get(
            "/groups", params={"$filter": "groupTypes/any(c:c eq 'DynamicMembership')"}
        )
        assert _names(dynamic) == {"Sales (dynamic)"}

        bare = graph.get("/groups", params={"$filter": "groupTypes eq 'Unified'"})
        assert_graph_error(bare, 400, "Request_UnsupportedQuery", unsupported("groupTypes"))

        # `not` over the lambda is an advanced query, as on users' collections
        plain = graph.get(
            "/groups",
            params={"$filter": "not groupTypes/any(c:c eq 'Unified')", "$count": "true"},
            headers=ADVANCED,
        )
        assert _names(plain) == {"Staff", "Finance", "Sales (dynamic)"}
        by_default = graph.get(
            "/groups", params={"$filter": "not groupTypes/any(c:c eq 'Unified')"}
        )
        assert by_default.status_code == 400
        assert by_default.json()["error"]["code"] == "Request_UnsupportedQuery"


@pytest.mark.parametrize(
    ("clause", "prop"),
    [
        ("startsWith(id,'0')", "id"),
        ("id ge '00000000-0000-0000-0000-000000000000'", "id"),
        ("mailEnabled ge true", "mailEnabled"),
        ("securityEnabled le false", "securityEnabled"),
        ("startsWith(groupTypes,'U')", "groupTypes"),
    ],
)
def test_each_group_property_takes_the_operators_group_md_gives_it(
    entra: EntraDir, clause: str, prop: str
) -> None:
    """group.md, per property: id (eq, ne, not, in), mailEnabled (eq, ne, not),
    securityEnabled (eq, ne, not, in), groupTypes (eq, not, a collection). The sandbox gave
    every group property it filtered eq, in, startsWith, ge and le, so such a filter
    answered a list where Graph answers 400."""
    with entra.graph() as graph:
        refused = graph.get("/groups", params={"$filter": clause})
        assert_graph_error(refused, 400, "Request_UnsupportedQuery", unsupported(prop))


def test_the_group_filters_group_md_documents_are_taken(entra: EntraDir) -> None:
    with entra.graph() as graph:
        _microsoft_365_group(graph)
        assert _names(graph.get("/groups", params={"$filter": "mailEnabled eq true"})) == {
            "Project X"
        }
        assert _names(graph.get("/groups", params={"$filter": "securityEnabled in (false)"})) == {
            "Project X"
        }
        # description: eq, ne, not, ge, le, startsWith (and `in`, "supported by default
        # whenever eq operator is supported by default": aad-advanced-queries.md)
        for clause in ("startsWith(description,'nothing')", "description in ('a', 'b')"):
            assert _names(graph.get("/groups", params={"$filter": clause})) == set()
        synced = graph.get("/groups", params={"$filter": "onPremisesSyncEnabled eq true"})
        assert _names(synced) == set()


@pytest.mark.parametrize(
    "clause", ["startsWith(securityEnabled,'t')", "startsWith(mailEnabled,'f')"]
)
def test_starts_with_on_a_boolean_is_an_invalid_filter(entra: EntraDir, clause: str) -> None:
    """startsWith takes strings; a Boolean property in it is a type error, which Graph answers
    as it answers `accountEnabled eq 'true'`: 400 "Invalid filter clause". The sandbox
    answered an empty list."""
    with entra.graph() as graph:
        refused = graph.get("/groups", params={"$filter": clause})
        assert_graph_error(refused, 400, "BadRequest", "Invalid filter clause")


@pytest.mark.parametrize(
    ("path", "clause"),
    [
        ("/users", "accountEnabled in ('true', 'false')"),
        ("/users", "displayName in (true)"),
        ("/groups", "securityEnabled in ('true')"),
    ],
)
def test_a_boolean_and_a_string_mixed_in_an_in_list_is_an_invalid_filter(
    entra: EntraDir, path: str, clause: str
) -> None:
    """`in (...)` is `eq` over a list, so a quoted boolean in it is the same type error as
    `accountEnabled eq 'true'` (400 "Invalid filter clause": microsoftgraph/microsoft-graph-
    docs#3044). The sandbox checked `eq` only and answered the list with nobody."""
    with entra.graph() as graph:
        refused = graph.get(path, params={"$filter": clause})
        assert_graph_error(refused, 400, "BadRequest", "Invalid filter clause")
        taken = graph.get("/users", params={"$filter": "accountEnabled in (true, false)"})
        assert taken.status_code == 200, taken.text
        assert taken.json()["value"]
