"""`$batch` as strict as Graph's JSON batching (concepts/json-batching.md): ids unique
without regard to case, Content-Type with every body, URLs relative to the version, fully
parallel or fully sequential, and independent requests run in any order (a reproducible
shuffle here); only `dependsOn` orders them."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.entra_support import EntraDir, assert_graph_error

JSON = {"Content-Type": "application/json"}


def post_batch(graph: httpx.Client, requests: list[dict]) -> httpx.Response:
    return graph.post("/$batch", json={"requests": requests})


def user_id(entra: EntraDir) -> str:
    upn = f"existing@{entra.domain}"
    return next(u["id"] for u in entra.state()["users"] if u["userPrincipalName"] == upn)


def test_ids_are_unique_without_regard_to_case(entra: EntraDir) -> None:
    requests = [
        {"id": "a", "method": "GET", "url": "/organization"},
        {"id": "A", "method": "GET", "url": "/organization"},
    ]
    with entra.graph() as graph:
        assert_graph_error(post_batch(graph, requests), 400, "BadRequest", "'A' is repeated")


def test_a_request_with_a_body_needs_a_content_type(entra: EntraDir) -> None:
    staff = entra.group_id("Staff")
    ref = {"@odata.id": f"{entra.server.url}/v1.0/directoryObjects/{user_id(entra)}"}
    bare = {"id": "1", "method": "POST", "url": f"/groups/{staff}/members/$ref", "body": ref}
    with entra.graph() as graph:
        assert_graph_error(
            post_batch(graph, [bare]), 400, "BadRequest", "does not contain Content-Type header"
        )
        assert post_batch(graph, [bare | {"headers": JSON}]).json()["responses"][0]["status"] == 204


def test_a_json_body_in_a_batch_needs_a_json_content_type(entra: EntraDir) -> None:
    """A request of a batch is read as that request alone would be: a JSON body under another
    Content-Type (text/plain) answers that request 400 "Unable to read JSON request payload
    …" (as a direct call, microsoft-graph-docs-contrib#6337), nothing written; the batch is
    200. The sandbox read the body as JSON whatever its type said."""
    url = f"/users/{user_id(entra)}"
    change = {"id": "1", "method": "PATCH", "url": url, "body": {"jobTitle": "Typed"}}
    with entra.graph() as graph:
        for content_type in ("text/plain", "application/xml"):
            answer = post_batch(graph, [change | {"headers": {"Content-Type": content_type}}])
            assert answer.status_code == 200
            refused = answer.json()["responses"][0]
            assert refused["status"] == 400, refused
            assert refused["body"]["error"]["message"].startswith("Unable to read JSON request")
        assert graph.get(url, params={"$select": "jobTitle"}).json()["jobTitle"] is None
        typed = {"Content-Type": "application/json; charset=utf-8"}
        answer = post_batch(graph, [change | {"headers": typed}])
        assert answer.json()["responses"][0]["status"] == 204
        assert graph.get(url, params={"$select": "jobTitle"}).json()["jobTitle"] == "Typed"


@pytest.mark.parametrize("url", ["https://graph.microsoft.com/v1.0/organization", "{sandbox}"])
def test_urls_are_relative_to_the_version(entra: EntraDir, url: str) -> None:
    url = url.replace("{sandbox}", f"{entra.server.url}/v1.0/organization")
    with entra.graph() as graph:
        refused = post_batch(graph, [{"id": "1", "method": "GET", "url": url}])
        assert_graph_error(refused, 400, "BadRequest", "relative to the version")
        # The version is not part of a batch URL: /v1.0/v1.0/organization does not exist.
        doubled = post_batch(graph, [{"id": "1", "method": "GET", "url": "/v1.0/organization"}])
    assert doubled.json()["responses"][0]["status"] == 400


def test_a_batch_is_fully_parallel_or_fully_sequential(entra: EntraDir) -> None:
    org = {"method": "GET", "url": "/organization"}
    mixed = [{"id": "1", **org}, {"id": "2", **org, "dependsOn": ["1"]}, {"id": "3", **org}]
    chain = [{"id": "1", **org}, {"id": "2", **org, "dependsOn": ["1"]}]
    chain.append({"id": "3", **org, "dependsOn": ["2"]})
    later = [{"id": "1", **org, "dependsOn": ["2"]}, {"id": "2", **org}]
    with entra.graph() as graph:
        assert_graph_error(post_batch(graph, mixed), 400, "BadRequest", "fully sequential")
        assert_graph_error(post_batch(graph, later), 400, "BadRequest", "does not precede")
        ran = post_batch(graph, chain).json()["responses"]
    assert [r["id"] for r in ran] == ["1", "2", "3"]  # a chain runs in its order


def test_independent_requests_run_in_a_reproducible_shuffled_order(entra: EntraDir) -> None:
    requests = [{"id": str(n), "method": "GET", "url": "/organization"} for n in range(20)]
    listed = [str(n) for n in range(20)]
    with entra.graph() as graph:
        first = [r["id"] for r in post_batch(graph, requests).json()["responses"]]
        again = [r["id"] for r in post_batch(graph, requests).json()["responses"]]
        entra.behave(batch_order_seed=7)
        other = [r["id"] for r in post_batch(graph, requests).json()["responses"]]
    assert sorted(first, key=int) == listed
    assert first != listed  # responses come in the order the requests ran
    assert again == first  # the same body and seed: the same order
    assert other != first


def add_then_remove(staff: str, member: str, *, chained: bool) -> list[dict]:
    add = {
        "id": "add",
        "method": "POST",
        "url": f"/groups/{staff}/members/$ref",
        "headers": JSON,
        "body": {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{member}"},
    }
    remove = {"id": "remove", "method": "DELETE", "url": f"/groups/{staff}/members/{member}/$ref"}
    return [add, remove | {"dependsOn": ["add"]} if chained else remove]


def test_only_depends_on_orders_requests(entra: EntraDir) -> None:
    """An add and a remove of the same member without dependsOn end either way; chained,
    the remove always comes last."""
    staff, member = entra.group_id("Staff"), user_id(entra)
    outcomes = set()
    with entra.graph() as graph:
        # The order hashes the seed with the body, which carries this run's random ids: each
        # seed is a coin toss, so seeds are tried until both ends are seen (eight all alike
        # came once in 128 runs; forty, once in 2^39).
        for seed in range(40):
            entra.behave(batch_order_seed=seed)
            post_batch(graph, add_then_remove(staff, member, chained=False)).raise_for_status()
            members = graph.get(f"/groups/{staff}/members").json()["value"]
            outcomes.add(bool(members))
            graph.delete(f"/groups/{staff}/members/{member}/$ref")
            if outcomes == {True, False}:
                break
        assert outcomes == {True, False}
        for seed in range(8):
            entra.behave(batch_order_seed=seed)
            ran = post_batch(graph, add_then_remove(staff, member, chained=True)).json()
            assert [r["status"] for r in ran["responses"]] == [204, 204]
            assert graph.get(f"/groups/{staff}/members").json()["value"] == []


def test_msgraph_cores_depends_on_spelling_orders_nothing(entra: EntraDir) -> None:
    """msgraph-core (Python) serialises `depends_on`; Graph reads `dependsOn` only, so such a
    batch is a parallel one and its requests run in any order."""
    org = {"method": "GET", "url": "/organization"}
    requests = [{"id": "1", **org}] + [
        {"id": str(n), **org, "depends_on": [str(n - 1)]} for n in range(2, 21)
    ]
    with entra.graph() as graph:
        ran = [r["id"] for r in post_batch(graph, requests).json()["responses"]]
    assert ran != [str(n) for n in range(1, 21)]
