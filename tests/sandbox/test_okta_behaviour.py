"""Okta behaviour over raw HTTP: auth, headers on every response, rate limits, injected faults,
latency, replication lag, stats, and isolation between orgs."""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime

import httpx
import pytest

from tests.sandbox.okta_support import assert_okta_error, create, user_body


def assert_okta_headers(response: httpx.Response) -> None:
    for name in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"):
        assert len(response.headers.get_list(name)) == 1, (response.status_code, name)
    # Exactly one Date: the SDK's 429 back-off is X-Rate-Limit-Reset - Date.
    assert len(response.headers.get_list("Date")) == 1, response.status_code
    assert parsedate_to_datetime(response.headers["Date"]).timestamp() == pytest.approx(
        time.time(), abs=5
    )


def test_wrong_or_missing_token_is_401_e0000011(okta_sandbox, org):
    with okta_sandbox.api(org, token="wrong") as wrong:
        response = wrong.get("/api/v1/users")
    error = assert_okta_error(response, 401, "E0000011")
    assert error["errorSummary"] == "Invalid token provided"
    assert_okta_headers(response)
    with httpx.Client(verify=okta_sandbox.ssl_context()) as anonymous:
        response = anonymous.get(f"{org.url}/api/v1/users")
    assert_okta_error(response, 401, "E0000011")
    assert_okta_headers(response)


def test_a_read_only_token_reads_but_may_not_change(okta_sandbox):
    org = okta_sandbox.new_org(read_only_tokens=["reader-token"])
    with okta_sandbox.api(org, token="reader-token") as reader:
        assert reader.get("/api/v1/users").status_code == 200
        assert reader.get("/api/v1/org").json()["subdomain"] == org.id
        response = reader.post("/api/v1/users", json=user_body("no@example.com"))
    error = assert_okta_error(response, 403, "E0000006")
    assert error["errorSummary"] == "You do not have permission to perform the requested action"
    assert okta_sandbox.state(org.id)["users"] == []


def test_every_response_carries_date_and_rate_limit_headers(org, api):
    user = create(api, "hdr@example.com")
    responses = [
        api.get("/api/v1/users"),
        api.get("/api/v1/users/00unothere"),
        api.put(f"/api/v1/groups/{org.groups['Sales']}/users/{user['id']}"),
        api.post("/api/v1/users", content=b"{", headers={"Content-Type": "application/json"}),
        api.get("/api/v1/apps"),
    ]
    assert [r.status_code for r in responses] == [200, 404, 204, 400, 200]
    for response in responses:
        assert_okta_headers(response)


def test_burst_over_the_rate_gets_429_with_a_correct_reset(okta_sandbox, org, api):
    okta_sandbox.set_behaviour(org.id, rate_per_s=5, burst=5)
    responses = [api.get("/api/v1/users") for _ in range(50)]
    throttled = [r for r in responses if r.status_code == 429]
    assert 30 <= len(throttled) <= 46  # the bucket refills a little during the burst
    assert all(r.status_code in (200, 429) for r in responses)
    last = throttled[-1]
    assert_okta_error(last, 429, "E0000047")
    assert last.json()["errorSummary"] == "API call exceeded rate limit due to too many requests."
    assert_okta_headers(last)
    assert last.headers["X-Rate-Limit-Limit"] == "5"
    assert last.headers["X-Rate-Limit-Remaining"] == "0"
    reset = int(last.headers["X-Rate-Limit-Reset"])
    assert time.time() < reset <= time.time() + 2
    time.sleep(max(0.0, reset - time.time()))
    assert api.get("/api/v1/users").status_code == 200  # at the reset time, calls pass again
    assert okta_sandbox.stats(org.id)["throttled"] == len(throttled)


def test_calls_spaced_at_the_rate_never_see_a_429(okta_sandbox, org, api):
    okta_sandbox.set_behaviour(org.id, rate_per_s=5, burst=5)
    statuses = []
    for _ in range(8):
        statuses.append(api.get("/api/v1/users").status_code)
        time.sleep(0.2)
    assert statuses == [200] * 8


def test_rate_limits_are_per_endpoint_family(okta_sandbox, org, api):
    okta_sandbox.set_behaviour(org.id, rate_per_s=1, burst=2)
    assert [api.get("/api/v1/users").status_code for _ in range(3)] == [200, 200, 429]
    assert api.get("/api/v1/groups").status_code == 200
    assert api.get("/api/v1/apps").status_code == 200


def test_error_rate_one_fails_every_call_with_5xx(okta_sandbox, org, api):
    okta_sandbox.set_behaviour(org.id, error_rate=1.0)
    responses = [api.get("/api/v1/users") for _ in range(10)]
    responses += [api.post("/api/v1/users", json={}) for _ in range(5)]
    for response in responses:
        assert response.status_code in (500, 503)
        assert_okta_error(response, response.status_code, response.json()["errorCode"])
        assert_okta_headers(response)
    assert okta_sandbox.stats(org.id)["faults"] == {"error": 15}
    assert okta_sandbox.state(org.id)["users"] == []


def test_timeout_rate_one_hangs_past_the_client_timeout(okta_sandbox, org):
    okta_sandbox.set_behaviour(org.id, timeout_rate=1.0)
    with okta_sandbox.api(org, timeout=0.3) as api, pytest.raises(httpx.ReadTimeout):
        api.get("/api/v1/users")
    assert okta_sandbox.stats(org.id)["faults"] == {"timeout": 1}


def test_latency_adds_the_delay(okta_sandbox, org, api):
    api.get("/api/v1/users")  # connection set up outside the measurement
    before = okta_sandbox.stats(org.id)
    okta_sandbox.set_behaviour(org.id, latency_ms=300)
    started = time.monotonic()
    assert api.get("/api/v1/users").status_code == 200
    assert time.monotonic() - started >= 0.3
    # What the sandbox added, not how long a loaded machine took to answer.
    after = okta_sandbox.stats(org.id)
    assert after["delayed_calls"] - before["delayed_calls"] == 1
    assert after["delayed_ms"] - before["delayed_ms"] == 300


def test_replication_lag_hides_a_new_user_from_get_by_id_and_search(okta_sandbox, org, api):
    # A lag no loaded machine outlasts while the new user is hidden, then one it has
    # outlasted: no read of the hidden user can come too late (it did at 400 ms).
    okta_sandbox.set_behaviour(org.id, replication_lag_ms=600_000)
    user = create(api, "lag@example.com")
    search = {"search": 'profile.login eq "lag@example.com"'}
    assert_okta_error(api.get(f"/api/v1/users/{user['id']}"), 404, "E0000007")
    assert api.get("/api/v1/users", params=search).json() == []
    # ... while the login is already taken: creating it again is the duplicate error.
    assert_okta_error(api.post("/api/v1/users", json=user_body("lag@example.com")), 400, "E0000001")
    okta_sandbox.set_behaviour(org.id, replication_lag_ms=200)
    time.sleep(0.25)
    assert api.get(f"/api/v1/users/{user['id']}").status_code == 200
    assert [u["id"] for u in api.get("/api/v1/users", params=search).json()] == [user["id"]]


def test_stats_count_calls_by_route_template(okta_sandbox, org, api):
    user = create(api, "stats@example.com")
    api.get(f"/api/v1/users/{user['id']}")
    api.post(f"/api/v1/users/{user['id']}/lifecycle/suspend")
    api.put(f"/api/v1/groups/{org.groups['Sales']}/users/{user['id']}")
    api.get("/api/v1/users/00unothere")
    stats = okta_sandbox.stats(org.id)
    assert stats["calls"] == {
        "POST /api/v1/users": 1,
        "GET /api/v1/users/{id}": 2,
        "POST /api/v1/users/{id}/lifecycle/suspend": 1,
        "PUT /api/v1/groups/{groupId}/users/{userId}": 1,
    }
    assert stats["statuses"] == {"200": 3, "204": 1, "404": 1}


def test_orgs_are_isolated(okta_sandbox):
    first, second = okta_sandbox.new_org(), okta_sandbox.new_org()
    with okta_sandbox.api(first) as api_a, okta_sandbox.api(second) as api_b:
        user = create(api_a, "only.in.a@example.com")
        assert_okta_error(api_b.get(f"/api/v1/users/{user['id']}"), 404, "E0000007")
        assert_okta_error(api_b.get("/api/v1/users/only.in.a@example.com"), 404, "E0000007")
        assert api_b.get("/api/v1/users").json() == []
        create(api_b, "only.in.a@example.com")  # the same login is free in another org
    with okta_sandbox.api(second, token=first.token) as a_token_on_b:
        assert_okta_error(a_token_on_b.get("/api/v1/users"), 401, "E0000011")
    assert okta_sandbox.stats(second.id)["statuses"].get("401") == 1


def test_unknown_org_is_404(okta_sandbox, org):
    with httpx.Client(verify=okta_sandbox.ssl_context()) as client:
        response = client.get(
            f"{okta_sandbox.url}/okta/no-such-org/api/v1/users",
            headers={"Authorization": f"SSWS {org.token}"},
        )
    assert_okta_error(response, 404, "E0000007")


def test_unknown_paths_and_methods_answer_in_okta_shape(api):
    response = api.get("/api/v1/nothing-here")
    assert_okta_error(response, 404, "E0000007")
    assert_okta_headers(response)
    error = assert_okta_error(api.patch("/api/v1/users", json={}), 405, "E0000022")
    assert error["errorSummary"] == "The endpoint does not support the provided HTTP method"


def test_concurrent_creates_of_one_login_make_exactly_one_user(okta_sandbox, org):
    async def race() -> list[int]:
        async with httpx.AsyncClient(
            base_url=org.url,
            verify=okta_sandbox.ssl_context(),
            headers={"Authorization": f"SSWS {org.token}"},
        ) as client:
            body = user_body("race@example.com")
            calls = [client.post("/api/v1/users", json=body) for _ in range(20)]
            return sorted(r.status_code for r in await asyncio.gather(*calls))

    assert asyncio.run(race()) == [200] + [400] * 19
    assert [u["profile"]["login"] for u in okta_sandbox.state(org.id)["users"]] == [
        "race@example.com"
    ]


def _at_once(okta_sandbox, org, count: int) -> list[httpx.Response]:
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=org.url,
            verify=okta_sandbox.ssl_context(),
            headers={"Authorization": f"SSWS {org.token}"},
            limits=httpx.Limits(max_connections=count),
            timeout=30,
        ) as client:
            return list(await asyncio.gather(*(client.get("/api/v1/groups") for _ in range(count))))

    return asyncio.run(burst())


def test_requests_over_the_concurrency_limit_are_429(okta_sandbox):
    """Okta serves at most 75 requests of an org at once (developer.okta.com rl2-concurrency;
    here `concurrent_limit` lowers it); one more is 429 E0000047 with the limit in
    X-Rate-Limit-Limit and none remaining, whatever the per-minute bucket holds. Requests
    one after the other never meet it. The sandbox served any number at once."""
    org = okta_sandbox.new_org(latency_ms=400, concurrent_limit=3)
    answers = _at_once(okta_sandbox, org, 6)
    refused = [r for r in answers if r.status_code == 429]
    assert len(refused) == 3, [r.status_code for r in answers]
    assert sorted(r.status_code for r in answers) == [200] * 3 + [429] * 3
    for response in refused:
        assert_okta_error(response, 429, "E0000047")
        assert response.headers["X-Rate-Limit-Limit"] == "3"
        assert response.headers["X-Rate-Limit-Remaining"] == "0"
        assert_okta_headers(response)
    assert okta_sandbox.stats(org.id)["throttled"] == 3
    with okta_sandbox.api(org) as api:
        assert all(api.get("/api/v1/groups").status_code == 200 for _ in range(5))


def test_seventy_five_at_once_is_okta_s_default(okta_sandbox):
    org = okta_sandbox.new_org(latency_ms=1500)
    answers = _at_once(okta_sandbox, org, 80)
    assert sorted(r.status_code for r in answers) == [200] * 75 + [429] * 5
