"""Graph's query strictness on directory objects (concepts/aad-advanced-queries.md,
concepts/search-query-parameter.md, includes/filter-directory-objects.md): `$search` only with
ConsistencyLevel: eventual, `$count` ignored without it, advanced `$filter` operators and
properties refused without the advanced query parameters, and delta always returning `id`.
Each test fails against a sandbox that answers the kind way (everyone, or a count anyway)."""

from __future__ import annotations

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from tests.sandbox.entra_support import (
    EntraDir,
    assert_graph_error,
    make_entra,
    new_user_body,
    run_sdk,
)
from tests.sandbox.server import SandboxServer

EVENTUAL = {"ConsistencyLevel": "eventual"}
SEARCH_NEEDS_HEADER = (
    "Request with $search query parameter only works through MSGraph with a special request "
    "header: 'ConsistencyLevel: eventual'"
)


@pytest.fixture(scope="module")
def people(sandbox_server: SandboxServer) -> EntraDir:
    """One directory for the read-only tests: three people besides the seeded one."""
    d = make_entra(sandbox_server)
    with d.graph() as graph:
        for nickname, name, extra in (
            ("ada", "Ada Lovelace", {"companyName": "Analytical", "jobTitle": "Engineer"}),
            ("adam", "Adam Smith", {"companyName": "Wealth", "jobTitle": "Economist"}),
            ("grace", "GraceHopper", {"mail": f"grace.hopper@{d.domain}"}),
        ):
            body = new_user_body(d.domain, nickname, displayName=name, **extra)
            assert graph.post("/users", json=body).status_code == 201
    return d


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(u["displayName"] for u in response.json()["value"])


def test_search_needs_consistency_level_and_matches_tokens(people: EntraDir) -> None:
    with people.graph() as graph:
        assert_graph_error(
            graph.get("/users", params={"$search": '"displayName:ada"'}),
            400,
            "Request_UnsupportedQuery",
            SEARCH_NEEDS_HEADER,
        )
        search = {"$search": '"displayName:ada"'}  # $count is not needed for $search
        assert names(graph.get("/users", params=search, headers=EVENTUAL)) == [
            "Ada Lovelace",
            "Adam Smith",
        ]
        lovelace = {"$search": '"displayName:lovelace"'}
        assert names(graph.get("/users", params=lovelace, headers=EVENTUAL)) == ["Ada Lovelace"]
        # Tokens split at a lower-to-upper case change, matched in any order.
        hopper = {"$search": '"displayName:hopper grace"'}
        assert names(graph.get("/users", params=hopper, headers=EVENTUAL)) == ["GraceHopper"]
        either = {"$search": '"displayName:lovelace" OR "mail:grace.h"'}
        assert names(graph.get("/users", params=either, headers=EVENTUAL)) == [
            "Ada Lovelace",
            "GraceHopper",
        ]
        both = {"$search": '"displayName:ada"', "$filter": "startswith(displayName,'adam')"}
        assert names(graph.get("/users", params=both, headers=EVENTUAL)) == ["Adam Smith"]
        for bad in ("ada", '"ada"', '"displayName:ada" and "mail:x"', '"displayName:ada'):
            response = graph.get("/users", params={"$search": bad}, headers=EVENTUAL)
            assert_graph_error(response, 400, "Request_UnsupportedQuery")


def test_search_through_the_sdk_needs_the_header(people: EntraDir) -> None:
    async def work(client):
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            search='"displayName:lovelace"', select=["displayName"]
        )
        with pytest.raises(ODataError) as refused:
            await client.users.get(RequestConfiguration(query_parameters=query))
        config = RequestConfiguration(query_parameters=query)
        config.headers.add("ConsistencyLevel", "eventual")
        found = await client.users.get(config)
        return refused.value, found

    refused, found = run_sdk(people, work)
    assert refused.response_status_code == 400
    assert refused.error.code == "Request_UnsupportedQuery"
    assert [u.display_name for u in found.value] == ["Ada Lovelace"]


def test_search_on_groups(people: EntraDir) -> None:
    with people.graph() as graph:
        query = {"$search": '"displayName:fin"'}
        assert_graph_error(graph.get("/groups", params=query), 400, "Request_UnsupportedQuery")
        assert names(graph.get("/groups", params=query, headers=EVENTUAL)) == ["Finance"]


def test_count_is_ignored_without_consistency_level(people: EntraDir) -> None:
    with people.graph() as graph:
        plain = graph.get("/users", params={"$count": "true", "$top": "1"}).json()
        assert "@odata.count" not in plain
        counted = graph.get("/users", params={"$count": "true", "$top": "1"}, headers=EVENTUAL)
        assert counted.json()["@odata.count"] == 4

    async def work(client):
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(count=True, top=1)
        plain = await client.users.get(RequestConfiguration(query_parameters=query))
        config = RequestConfiguration(query_parameters=query)
        config.headers.add("ConsistencyLevel", "eventual")
        return plain, await client.users.get(config)

    plain, counted = run_sdk(people, work)
    assert (plain.odata_count, counted.odata_count) == (None, 4)


def test_properties_filtered_only_in_advanced_queries(people: EntraDir) -> None:
    advanced = {"$count": "true"}
    with people.graph() as graph:
        company = {"$filter": "companyName eq 'analytical'"}
        assert_graph_error(
            graph.get("/users", params=company),
            400,
            "Request_UnsupportedQuery",
            "Unsupported or invalid query filter clause specified for property 'companyName' "
            "of resource 'User'.",
        )
        # The header alone is not enough: $count=true too.
        assert_graph_error(
            graph.get("/users", params=company, headers=EVENTUAL), 400, "Request_UnsupportedQuery"
        )
        found = graph.get("/users", params={**company, **advanced}, headers=EVENTUAL)
        assert names(found) == ["Ada Lovelace"]


def test_negation_and_ends_with_need_advanced_queries(people: EntraDir) -> None:
    advanced = {"$count": "true"}
    with people.graph() as graph:
        negated = {"$filter": "not(startswith(displayName,'ada'))"}
        assert_graph_error(
            graph.get("/users", params=negated), 400, "Request_UnsupportedQuery", "'not'"
        )
        found = graph.get("/users", params={**negated, **advanced}, headers=EVENTUAL)
        assert names(found) == ["Existing Person", "GraceHopper"]
        # endsWith: only mail, otherMails, proxyAddresses and userPrincipalName, and only
        # in advanced queries.
        ends = {"$filter": "endswith(displayName,'smith')"}
        assert_graph_error(
            graph.get("/users", params={**ends, **advanced}, headers=EVENTUAL),
            400,
            "Request_UnsupportedQuery",
            "property 'displayName'",
        )
        # jobTitle takes eq, not startsWith (a blank cell in Graph's table), advanced or not.
        starts = {"$filter": "startswith(jobTitle,'eng')"}
        assert_graph_error(
            graph.get("/users", params={**starts, **advanced}, headers=EVENTUAL),
            400,
            "Request_UnsupportedQuery",
            "property 'jobTitle'",
        )


def test_proxy_addresses_through_any(people: EntraDir) -> None:
    address = f"grace.hopper@{people.domain}"
    with people.graph() as graph:
        held = {"$filter": f"proxyAddresses/any(p:p eq 'smtp:{address.upper()}')"}
        assert names(graph.get("/users", params=held)) == ["GraceHopper"]
        assert_graph_error(
            graph.get("/users", params={"$filter": f"proxyAddresses eq 'SMTP:{address}'"}),
            400,
            "Request_UnsupportedQuery",
            "proxyAddresses",
        )
        ends = {"$filter": "proxyAddresses/any(p:endswith(p,'.hopper@" + people.domain + "'))"}
        assert_graph_error(graph.get("/users", params=ends), 400, "Request_UnsupportedQuery")
        found = graph.get("/users", params={**ends, "$count": "true"}, headers=EVENTUAL)
        assert names(found) == ["GraceHopper"]


def test_delta_returns_id_under_select(entra: EntraDir) -> None:
    with entra.graph() as graph:
        users = graph.get("/users/delta", params={"$select": "displayName"}).json()["value"]
        groups = graph.get("/groups/delta", params={"$select": "displayName"}).json()["value"]
    assert users and all(set(u) == {"id", "displayName"} for u in users)
    assert groups and all("id" in g for g in groups)


def test_orderby_alone_by_default_with_filter_only_in_advanced_queries(people: EntraDir) -> None:
    advanced = {"$count": "true"}
    with people.graph() as graph:
        by_name = graph.get("/users", params={"$orderby": "displayName desc"})
        assert [u["displayName"] for u in by_name.json()["value"]] == [
            "GraceHopper",
            "Existing Person",
            "Adam Smith",
            "Ada Lovelace",
        ]
        both = {"$filter": "startswith(displayName,'ada')", "$orderby": "displayName"}
        assert_graph_error(
            graph.get("/users", params=both),
            400,
            "Request_UnsupportedQuery",
            "Sorting not supported for current query.",
        )
        found = graph.get("/users", params={**both, **advanced}, headers=EVENTUAL).json()
        assert [u["displayName"] for u in found["value"]] == ["Ada Lovelace", "Adam Smith"]
        by_date = {"$orderby": "createdDateTime"}
        assert_graph_error(
            graph.get("/users", params=by_date),
            400,
            "Request_UnsupportedQuery",
            "Unsupported sort property 'createdDateTime' for 'User'.",
        )
        dated = graph.get("/users", params={**by_date, **advanced}, headers=EVENTUAL)
        assert dated.status_code == 200, dated.text

    async def work(client):
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter="startswith(displayName,'ada')", orderby=["displayName"]
        )
        with pytest.raises(ODataError) as refused:
            await client.users.get(RequestConfiguration(query_parameters=query))
        return refused.value

    assert run_sdk(people, work).error.message == "Sorting not supported for current query."


@pytest.mark.parametrize(
    "url, clause",
    [
        ("/users", "accountEnabled eq 'true'"),
        ("/users", "accountEnabled eq 'false' or displayName eq 'x'"),
        ("/users", "onPremisesSyncEnabled eq 'true'"),
        ("/groups", "securityEnabled eq 'true'"),
        ("/users", "displayName eq true"),
    ],
)
def test_a_boolean_compared_with_a_string_is_an_invalid_filter(
    entra: EntraDir, url: str, clause: str
) -> None:
    """A quoted boolean (or a boolean for a string) is 400 "Invalid filter clause" on Graph
    (microsoft-graph-docs#3044, msgraph-sdk-powershell#515: `accountEnabled eq 'true'`); the
    sandbox answered it with nobody, so a connector quoting a boolean read "no such user"."""
    with entra.graph() as graph:
        assert_graph_error(
            graph.get(url, params={"$filter": clause}), 400, "BadRequest", "Invalid filter clause"
        )
        enabled = graph.get("/users", params={"$filter": "accountEnabled eq true"})
    assert enabled.status_code == 200 and enabled.json()["value"]
