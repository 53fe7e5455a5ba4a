"""A system query option given twice is refused (strict11). Sources in
docs/sandbox-fidelity.md ("strict11") and beside GraphRequest.check_query_options in
sandbox/entra/router.py."""

from __future__ import annotations

import pytest

from tests.sandbox.entra_support import EntraDir, assert_graph_error


def twice(option: str) -> str:
    return (
        f"Query option '{option}' was specified more than once, but it must be specified at "
        "most once."
    )


@pytest.mark.parametrize(
    "query",
    ["$top=1&$top=2", "$select=id&$select=displayName", "$select=id&$SELECT=displayName"],
)
def test_a_query_option_given_twice_is_400(entra: EntraDir, query: str) -> None:
    """OData 4.01 URL Conventions §5: "The same system query option, irrespective of casing or
    whether or not it is prefixed with a $, MUST NOT be specified more than once for any
    resource"; OData's libraries answer 400 "Query option '$top' was specified more than
    once, but it must be specified at most once." (Graph's own text is not published). The
    sandbox kept the last one, so a URL built by two hands read the other's $select."""
    option = query.split("=")[0].lower()
    with entra.graph() as graph:
        refused = graph.get(f"/users?{query}")
        assert_graph_error(refused, 400, "BadRequest", twice(option))


def test_a_query_option_given_twice_in_a_batch_is_400_for_that_request(entra: EntraDir) -> None:
    with entra.graph() as graph:
        answer = graph.post(
            "/$batch",
            json={
                "requests": [
                    {"id": "1", "method": "GET", "url": "/users?$top=1&$top=5"},
                    {"id": "2", "method": "GET", "url": "/users?$top=1&$select=id"},
                ]
            },
        )
        assert answer.status_code == 200, answer.text
        by_id = {r["id"]: r for r in answer.json()["responses"]}
        assert by_id["1"]["status"] == 400
        assert by_id["1"]["body"]["error"]["message"] == twice("$top")
        assert by_id["2"]["status"] == 200


def test_following_next_links_never_repeats_an_option(entra: EntraDir) -> None:
    """The sandbox's own next links carry each option once (a second $skiptoken would now be
    refused)."""
    with entra.graph() as graph:
        for n in range(3):
            made = graph.post(
                "/users",
                json={
                    "accountEnabled": True,
                    "displayName": f"Pager {n}",
                    "mailNickname": f"pager{n}",
                    "userPrincipalName": f"pager{n}@{entra.domain}",
                    "passwordProfile": {"password": "Correct-Horse-9!"},
                },
            )
            assert made.status_code == 201, made.text
        url, seen = "/users?$top=1&$select=id", 0
        while url:
            page = graph.get(url)
            assert page.status_code == 200, page.text
            seen += len(page.json()["value"])
            url = page.json().get("@odata.nextLink")
        assert seen == 4
