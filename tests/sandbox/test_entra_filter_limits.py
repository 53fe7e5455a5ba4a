"""Graph's cap on the expressions of one `$filter`: by default at most 15 (the values of an
`in` list, or clauses joined by `or`) on users, groups and service principals; a 16th is 400
Request_UnsupportedQuery. With the advanced query parameters the cap is the URL's length
instead, so 16 pass. Each test fails against a sandbox that takes any number."""

from __future__ import annotations

import uuid

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from tests.sandbox.entra_support import EntraDir, assert_graph_error, run_sdk

ADVANCED = ({"ConsistencyLevel": "eventual"}, {"$count": "true"})
TOO_MANY = "Too many child clauses specified in search filter expression containing 'OR' operators"


def _ids(count: int) -> str:
    return ",".join(f"'{uuid.uuid4()}'" for _ in range(count))


def _eq_or(prop: str, count: int) -> str:
    return " or ".join(f"{prop} eq 'name{i}'" for i in range(count))


def test_fifteen_expressions_pass_and_a_sixteenth_is_refused_by_default(entra: EntraDir) -> None:
    with entra.graph() as graph:
        fifteen = graph.get("/users", params={"$filter": f"id in ({_ids(15)})"})
        sixteen = graph.get("/users", params={"$filter": f"id in ({_ids(16)})"})
        groups = graph.get("/groups", params={"$filter": _eq_or("displayName", 16)})
        apps = graph.get("/servicePrincipals", params={"$filter": f"appId in ({_ids(16)})"})
        mixed = graph.get(
            "/groups", params={"$filter": f"id in ({_ids(10)}) or {_eq_or('displayName', 6)}"}
        )
        either = f"id in ({_ids(8)}) or id in ({_ids(8)})"
        nested = graph.get("/users", params={"$filter": f"accountEnabled eq true and ({either})"})
    assert fifteen.status_code == 200, fifteen.text
    message = f"{TOO_MANY}: 16. Max allowed: 15."
    assert_graph_error(sixteen, 400, "Request_UnsupportedQuery", message)
    for refused in (groups, apps, mixed, nested):
        assert_graph_error(refused, 400, "Request_UnsupportedQuery", TOO_MANY)


def test_separate_lists_of_fifteen_joined_by_and_pass(entra: EntraDir) -> None:
    both = f"id in ({_ids(15)}) and displayName in ('a','b')"
    with entra.graph() as graph:
        assert graph.get("/users", params={"$filter": both}).status_code == 200


def test_advanced_queries_take_more_than_fifteen(entra: EntraDir) -> None:
    headers, params = ADVANCED
    with entra.graph() as graph:
        made = graph.get("/users", params={"$top": "1"}).json()["value"][0]["id"]
        found = graph.get(
            "/users", params={"$filter": f"id in ({_ids(39)},'{made}')", **params}, headers=headers
        )
        groups = graph.get(
            "/groups", params={"$filter": _eq_or("displayName", 20), **params}, headers=headers
        )
    assert found.status_code == 200, found.text
    assert [u["id"] for u in found.json()["value"]] == [made]
    assert groups.status_code == 200, groups.text


def test_the_sdk_sees_the_refusal(entra: EntraDir) -> None:
    async def work(client):
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"id in ({_ids(16)})"
        )
        with pytest.raises(ODataError) as refused:
            await client.users.get(RequestConfiguration(query_parameters=query))
        return refused.value

    refused = run_sdk(entra, work)
    assert refused.response_status_code == 400
    assert refused.error.code == "Request_UnsupportedQuery"
    assert refused.error.message.startswith(TOO_MANY)
