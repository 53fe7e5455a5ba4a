"""GET sub-requests inside `$batch` answer as the same GETs sent on their own: per
sub-request status, headers and body, paging links, 404s, replication lag and throttling;
the stats tell the HTTP requests from the sub-requests they carried."""

from __future__ import annotations

import dataclasses
import uuid
from urllib.parse import quote

from tests.sandbox.entra_support import EntraDir, assert_graph_error, make_entra, new_user_body
from tests.sandbox.server import SandboxServer

USER_SELECT = "id,userPrincipalName,accountEnabled,givenName,surname,department,usageLocation"


def reads(user: str) -> list[str]:
    """What a connector reads to know a user and its access."""
    return [
        f"/users/{user}?$select={USER_SELECT}",
        f"/users/{user}/memberOf?$select=id",
        f"/users/{user}/licenseDetails",
        f"/users/{user}/appRoleAssignments",
    ]


def batch_get(graph, urls: list[str]) -> list[dict]:
    """The sub-responses of one `$batch` of GETs, in request order."""
    body = {"requests": [{"id": str(n), "method": "GET", "url": u} for n, u in enumerate(urls)]}
    response = graph.post("/$batch", json=body)
    assert response.status_code == 200, response.text
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert len(by_id) == len(urls)
    return [by_id[str(n)] for n in range(len(urls))]


def id_of(entra: EntraDir, upn: str) -> str:
    return next(u["id"] for u in entra.state()["users"] if u["userPrincipalName"] == upn)


def holder_directory(server: SandboxServer) -> tuple[EntraDir, str]:
    """A directory whose one user holds a licence, two of three groups and an app; its UPN."""
    domain = f"r{uuid.uuid4().hex[:10]}.example"
    upn = f"holder@{domain}"
    entra = make_entra(
        server,
        domains=[domain],
        users=[
            {
                "userPrincipalName": upn,
                "department": "Sales",
                "usageLocation": "GB",
                "licenses": ["SPE_E3"],
                "apps": ["Salesforce"],
            }
        ],
        groups=[
            {"display_name": "Staff", "members": [upn]},
            {"display_name": "Finance", "members": [upn]},
            {"display_name": "Board"},
        ],
    )
    return dataclasses.replace(entra, domain=domain), upn


def test_batched_reads_answer_as_the_same_gets_sent_alone(sandbox_server) -> None:
    entra, upn = holder_directory(sandbox_server)
    user_id = id_of(entra, upn)
    with entra.graph() as graph:
        alone = [graph.get(url) for url in reads(user_id)]
        batched = batch_get(graph, reads(user_id))
        # A UPN percent-encoded in a sub-request URL is decoded as in a URL of its own.
        by_upn = batch_get(graph, [f"/users/{quote(upn, safe='')}?$select=id"])[0]
    for single, sub in zip(alone, batched, strict=True):
        assert (sub["status"], sub["body"]) == (single.status_code, single.json())
        assert sub["headers"]["Content-Type"] == "application/json"
    user, member_of, licences, assignments = (sub["body"] for sub in batched)
    assert (user["userPrincipalName"], user["department"]) == (upn, "Sales")
    assert sorted(g["id"] for g in member_of["value"]) == sorted(
        g["id"] for g in entra.created["groups"] if g["displayName"] in ("Staff", "Finance")
    )
    assert all(g["@odata.type"] == "#microsoft.graph.group" for g in member_of["value"])
    assert [lic["skuPartNumber"] for lic in licences["value"]] == ["SPE_E3"]
    assert [a["resourceId"] for a in assignments["value"]] == [entra.sp("Salesforce")["id"]]
    assert (by_upn["status"], by_upn["body"]["id"]) == (200, user_id)


def test_a_full_page_links_to_the_next_and_the_link_works_inside_a_batch(sandbox_server) -> None:
    entra, upn = holder_directory(sandbox_server)
    user_id = id_of(entra, upn)
    with entra.graph() as graph:
        first = batch_get(graph, [f"/users/{user_id}/memberOf?$select=id&$top=1"])[0]["body"]
        link = first["@odata.nextLink"]
        assert link.startswith(f"{entra.server.url}/v1.0/users/{user_id}/memberOf?")
        relative = link[len(f"{entra.server.url}/v1.0") :]
        second = batch_get(graph, [relative])[0]["body"]
    assert "@odata.nextLink" not in second
    assert len(first["value"]) == len(second["value"]) == 1
    assert first["value"][0]["id"] != second["value"][0]["id"]


def test_an_unknown_user_is_404_in_each_sub_request(entra: EntraDir) -> None:
    nobody = str(uuid.uuid4())
    with entra.graph() as graph:
        alone = graph.get(f"/users/{nobody}")
        batched = batch_get(graph, reads(nobody))
    assert_graph_error(alone, 404, "Request_ResourceNotFound", nobody)
    for sub in batched:
        assert sub["status"] == 404
        assert sub["body"]["error"]["code"] == "Request_ResourceNotFound"
        assert sub["body"]["error"]["innerError"]["request-id"]


def test_a_user_still_replicating_is_404_in_each_sub_request(entra: EntraDir) -> None:
    entra.behave(replication_lag_ms=120_000)
    with entra.graph() as graph:
        created = graph.post("/users", json=new_user_body(entra.domain, "fresh"))
        assert created.status_code == 201, created.text
        batched = batch_get(graph, reads(created.json()["id"]))
    assert [sub["status"] for sub in batched] == [404] * 4


def test_each_sub_request_is_throttled_on_its_own_with_retry_after(entra: EntraDir) -> None:
    user_id = id_of(entra, f"existing@{entra.domain}")
    entra.behave(rate_per_s=0.1, burst=2)
    with entra.graph() as graph:
        batched = batch_get(graph, reads(user_id))
    # Graph runs independent requests in any order: which two are throttled is not known.
    assert sorted(sub["status"] for sub in batched) == [200, 200, 429, 429]
    for sub in (sub for sub in batched if sub["status"] == 429):
        assert sub["body"]["error"]["code"] == "TooManyRequests"
        assert int(sub["headers"]["Retry-After"]) >= 1
    assert entra.stats()["throttled"] == 2


def test_stats_tell_http_requests_from_the_sub_requests_they_carried(entra: EntraDir) -> None:
    user_id = id_of(entra, f"existing@{entra.domain}")
    with entra.graph() as graph:
        with entra.server.control() as control:
            control.delete(f"/_sandbox/entra/{entra.tenant_id}/stats").raise_for_status()
        graph.get(f"/users/{user_id}")
        batch_get(graph, reads(user_id))
    stats = entra.stats()
    assert stats["calls"]["GET /v1.0/users/{id}"] == 2
    assert stats["calls"]["POST /v1.0/$batch"] == 1
    assert stats["batched_calls"] == {
        "GET /v1.0/users/{id}": 1,
        "GET /v1.0/users/{id}/memberOf": 1,
        "GET /v1.0/users/{id}/licenseDetails": 1,
        "GET /v1.0/users/{id}/appRoleAssignments": 1,
    }
    assert (stats["total_calls"], stats["http_requests"]) == (6, 2)
    assert stats["peak_in_flight"] == 1  # one after the other
