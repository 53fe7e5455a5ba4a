"""Throttling, latency, injected faults and replication lag of the Entra sandbox."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.sandbox.entra_support import (
    EntraDir,
    assert_graph_error,
    new_user_body,
)


async def burst(d: EntraDir, token: str, calls: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=f"{d.server.url}/v1.0",
        verify=str(d.server.ca),
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        return await asyncio.gather(*(client.get("/users") for _ in range(calls)))


def test_burst_over_the_rate_is_throttled_with_retry_after(entra: EntraDir) -> None:
    entra.behave(rate_per_s=5)
    started = time.monotonic()
    responses = asyncio.run(burst(entra, entra.token(), 50))
    took = time.monotonic() - started
    statuses = [r.status_code for r in responses]
    # A token bucket lets through its burst (5) and what refills while the burst lasts, however
    # slowly a loaded machine sends it; the rest is throttled.
    allowed = 5 + int(5 * took) + 1
    assert statuses.count(200) <= allowed, (statuses.count(200), took)
    throttled = [r for r in responses if r.status_code == 429]
    assert len(throttled) >= 50 - allowed
    for response in throttled:
        assert_graph_error(response, 429, "TooManyRequests")
        assert int(response.headers["Retry-After"]) >= 1
    assert entra.stats()["throttled"] == len(throttled)


def test_calls_spaced_at_the_rate_are_never_throttled(entra: EntraDir) -> None:
    entra.behave(rate_per_s=5)
    with entra.graph() as graph:
        for _ in range(10):
            started = time.monotonic()
            assert graph.get("/users").status_code == 200
            time.sleep(max(0.0, 0.2 - (time.monotonic() - started)))


def test_retry_after_is_honest(entra: EntraDir) -> None:
    entra.behave(rate_per_s=1, burst=1)
    with entra.graph() as graph:
        assert graph.get("/users").status_code == 200
        throttled = graph.get("/users")
        assert throttled.status_code == 429
        time.sleep(int(throttled.headers["Retry-After"]))
        assert graph.get("/users").status_code == 200


def test_error_rate_one_fails_every_call_with_5xx(entra: EntraDir) -> None:
    with entra.graph() as graph:
        entra.behave(error_rate=1.0)
        for _ in range(10):
            response = graph.get("/users")
            assert response.status_code in (500, 503)
            assert response.json()["error"]["innerError"]["request-id"]
        entra.behave(error_rate=0.0)
        assert graph.get("/users").status_code == 200
    assert entra.stats()["faults"]["error"] == 10


def test_latency_adds_the_delay(entra: EntraDir) -> None:
    with entra.graph() as graph:
        graph.get("/users")
        before = entra.stats()
        entra.behave(latency_ms=300)
        started = time.monotonic()
        assert graph.get("/users").status_code == 200
        assert time.monotonic() - started >= 0.3
        after = entra.stats()
        assert after["delayed_calls"] - before["delayed_calls"] == 1
        assert after["delayed_ms"] - before["delayed_ms"] == 300


def test_timeout_rate_hangs_past_the_client_timeout(entra: EntraDir) -> None:
    with entra.graph(timeout=0.5) as graph:
        entra.behave(timeout_rate=1.0)
        with pytest.raises(httpx.ReadTimeout):
            graph.get("/users")
        entra.behave(timeout_rate=0.0)


def test_a_lost_answer_is_a_write_carried_out_whose_answer_never_comes(entra: EntraDir) -> None:
    """`lose_answer_next`: the write lands, then the client waits in vain (RFC 9110 §9.2.2);
    a read after it shows the write, and the next write is answered."""
    staff = entra.group_id("Staff")
    with entra.graph(timeout=0.5) as graph:
        created = graph.post("/users", json=new_user_body(entra.domain, "lost")).json()
        ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{created['id']}"}
        entra.behave(lose_answer_next=1)
        with pytest.raises(httpx.ReadTimeout):
            graph.post(f"/groups/{staff}/members/$ref", json=ref)
        members = graph.get(f"/groups/{staff}/members").json()["value"]
        assert created["id"] in [m["id"] for m in members]
        assert graph.patch(f"/users/{created['id']}", json={"jobTitle": "x"}).status_code == 204
    assert entra.stats()["faults"] == {"lost": 1}


def test_a_write_failed_after_is_carried_out_and_answered_504(entra: EntraDir) -> None:
    """`fail_after_next`: the create lands, its answer is a 504; a retry clashes with it."""
    body = new_user_body(entra.domain, "gateway")
    with entra.graph() as graph:
        entra.behave(fail_after_next=1)
        assert_graph_error(graph.post("/users", json=body), 504, "UnknownError")
        upn = body["userPrincipalName"]
        assert graph.get(f"/users/{upn}").status_code == 200
        assert graph.post("/users", json=body).status_code == 400
    assert entra.stats()["faults"] == {"failed_after": 1}


def test_replication_lag_hides_new_objects_for_a_while(entra: EntraDir) -> None:
    # A lag no loaded machine outlasts while the new user is hidden, then one it has
    # outlasted: no read of the hidden user can come too late (it did at 500 ms).
    entra.behave(replication_lag_ms=600_000)
    staff = entra.group_id("Staff")
    with entra.graph() as graph:
        created = graph.post("/users", json=new_user_body(entra.domain, "fresh")).json()
        assert_graph_error(graph.get(f"/users/{created['id']}"), 404, "Request_ResourceNotFound")
        ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{created['id']}"}
        assert_graph_error(
            graph.post(f"/groups/{staff}/members/$ref", json=ref), 404, "Request_ResourceNotFound"
        )
        entra.behave(replication_lag_ms=200)
        time.sleep(0.25)
        assert graph.get(f"/users/{created['id']}").status_code == 200
        assert graph.post(f"/groups/{staff}/members/$ref", json=ref).status_code == 204


def test_read_lag_shows_memberships_as_they_were_for_a_while(entra: EntraDir) -> None:
    """An accepted membership write is not in memberOf until the replica catches up, and a
    second write within the lag (a removal) reads as before both."""
    staff, finance = entra.group_id("Staff"), entra.group_id("Finance")
    with entra.graph() as graph:
        user = graph.post("/users", json=new_user_body(entra.domain, "lagged")).json()
        ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"}
        assert graph.post(f"/groups/{staff}/members/$ref", json=ref).status_code == 204
        entra.behave(read_lag_ms=600_000)  # as above: no read comes too late (at 400 ms)
        assert graph.post(f"/groups/{finance}/members/$ref", json=ref).status_code == 204
        assert graph.delete(f"/groups/{staff}/members/{user['id']}/$ref").status_code == 204

        def member_of() -> set[str]:
            body = graph.get(f"/users/{user['id']}/memberOf?$select=id").json()
            return {g["id"] for g in body["value"]}

        assert member_of() == {staff}  # as before the add and the removal
        entra.behave(read_lag_ms=200)
        time.sleep(0.25)
        assert member_of() == {finance}
        entra.behave(read_lag_ms=0)


def test_bad_behaviour_input_is_400_and_changes_nothing(entra: EntraDir) -> None:
    with entra.server.control() as control:
        url = f"/_sandbox/entra/{entra.tenant_id}/behaviour"
        for bad in ({"error_rate": 2}, {"latency_ms": "slow"}, {"rate_per_s": 0}, {"nonsense": 1}):
            response = control.put(url, json=bad)
            assert response.status_code == 400, bad
            assert response.json()["error"]
        assert control.put(url, content=b"{oops").status_code == 400
        assert control.put(url, json={"latency_ms": 5}).json()["latency_ms"] == 5
        assert control.put("/_sandbox/entra/nope/behaviour", json={}).status_code == 404


def test_stats_count_calls_by_route_template_and_reset(entra: EntraDir) -> None:
    with entra.graph() as graph:
        user = graph.post("/users", json=new_user_body(entra.domain, "counted")).json()
        graph.get(f"/users/{user['id']}")
        graph.get(f"/users/{user['id']}")
    stats = entra.stats()
    assert stats["calls"]["GET /v1.0/users/{id}"] == 2
    assert stats["calls"]["POST /v1.0/users"] == 1
    with entra.server.control() as control:
        assert control.delete(f"/_sandbox/entra/{entra.tenant_id}/stats").status_code == 200
    assert entra.stats()["total_calls"] == 0
