"""Reading an Okta org incrementally in the sandbox: `search=lastUpdated gt "..."` with
`after` paging (the real okta SDK and raw httpx), `lastLogin` set through the control API,
and the limits Okta puts on `search`, `filter` and `q`."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from okta.client import Client
from okta.pagination import PaginationHelper

from tests.sandbox.okta_support import OktaSandbox, assert_okta_error, create


def newest(users: list[dict]) -> str:
    return max(u["lastUpdated"] for u in users)


def logins(response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(u["profile"]["login"] for u in response.json())


async def _search_all(sandbox: OktaSandbox, org, expression: str) -> tuple[list[str], int]:
    async with sandbox.sdk_session() as session:
        client = Client({"orgUrl": org.url, "token": org.token, "rateLimit": {"maxRetries": 0}})
        client.get_request_executor().set_session(session)
        users, response, error = await client.list_users(search=expression, limit=2)
        assert error is None, error
        found, pages = [u.profile.login for u in users], 1
        while after := PaginationHelper.extract_next_cursor(response.headers):
            users, response, error = await client.list_users(
                search=expression, limit=2, after=after
            )
            assert error is None, error
            found.extend(u.profile.login for u in users)
            pages += 1
        return found, pages


def test_sdk_reads_only_users_updated_since_the_last_read(okta_sandbox, org, api):
    for n in range(5):
        create(api, f"steady{n}@example.com")
    moved = create(api, "moved@example.com", department="Sales")
    leaver = create(api, "leaver@example.com")
    everyone = api.get("/api/v1/users", params={"search": "status pr", "limit": 200}).json()
    watermark = newest(everyone)
    time.sleep(0.01)  # the changes below get later milliseconds than the watermark

    api.post(f"/api/v1/users/{moved['id']}", json={"profile": {"department": "Finance"}})
    api.post(f"/api/v1/users/{leaver['id']}/lifecycle/deactivate")
    create(api, "joiner@example.com")
    api.put(f"/api/v1/groups/{org.groups['Sales']}/users/{moved['id']}")  # not a user update

    expression = f'lastUpdated gt "{watermark}"'
    found, pages = asyncio.run(_search_all(okta_sandbox, org, expression))
    # DEPROVISIONED users are in search results; unchanged ones are not.
    assert sorted(found) == ["joiner@example.com", "leaver@example.com", "moved@example.com"]
    assert pages == 2


def test_timestamps_have_milliseconds_and_compare_as_times(api):
    user = create(api, "stamp@example.com")
    stamp = dt.datetime.fromisoformat(user["lastUpdated"].replace("Z", "+00:00"))
    assert user["lastUpdated"].endswith("Z") and len(user["lastUpdated"]) == 24
    whole_second = (stamp - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = api.get("/api/v1/users", params={"search": f'lastUpdated gt "{whole_second}"'})
    assert logins(found) == ["stamp@example.com"]


def test_last_login_is_set_through_the_control_api_and_is_not_an_update(okta_sandbox, org, api):
    user = create(api, "signs.in@example.com")
    assert user["lastLogin"] is None
    url = f"/_sandbox/okta/{org.id}/sign-ins"
    body = {"sign_ins": [{"user": "signs.in@example.com", "at": "2025-02-03T04:05:06Z"}]}
    assert okta_sandbox.control.post(url, json=body).json() == {"recorded": 1}
    again = api.get(f"/api/v1/users/{user['id']}").json()
    assert again["lastLogin"] == "2025-02-03T04:05:06.000Z"
    assert again["lastUpdated"] == user["lastUpdated"]
    unknown = okta_sandbox.control.post(url, json={"user": "nobody@example.com", "at": None})
    assert unknown.status_code == 400


def test_search_refuses_what_okta_refuses(api):
    create(api, "someone@example.com")
    for expression in (
        'status ne "ACTIVE"',  # "The ne (not equal) operator isn't supported"
        'lastLogin gt "2024-01-01T00:00:00.000Z"',  # not a searchable property
    ):
        response = api.get("/api/v1/users", params={"search": expression})
        assert_okta_error(response, 400, "E0000031")
    allowed = api.get(
        "/api/v1/users", params={"search": '(status lt "STAGED" or status gt "STAGED")'}
    )
    assert logins(allowed) == ["someone@example.com"]


def test_filter_takes_eq_and_last_updated_ranges_only_case_sensitively(api):
    create(api, "Casey@example.com")
    earlier = "2000-01-01T00:00:00.000Z"
    assert logins(api.get("/api/v1/users", params={"filter": f'lastUpdated gt "{earlier}"'})) == [
        "Casey@example.com"
    ]
    exact = api.get("/api/v1/users", params={"filter": 'profile.login eq "Casey@example.com"'})
    assert logins(exact) == ["Casey@example.com"]
    other_case = api.get("/api/v1/users", params={"filter": 'profile.login eq "casey@example.com"'})
    assert logins(other_case) == []
    for expression in (
        'profile.login sw "C"',
        'not (status eq "ACTIVE")',
        'created gt "2000-01-01T00:00:00.000Z"',
    ):
        assert_okta_error(api.get("/api/v1/users", params={"filter": expression}), 400, "E0000031")


def test_q_gives_ten_users_and_no_next_page(api):
    for n in range(12):
        create(api, f"quinn{n}@example.com")
    response = api.get("/api/v1/users", params={"q": "quinn"})
    assert len(response.json()) == 10
    assert "next" not in response.links
    assert len(api.get("/api/v1/users", params={"q": "quinn", "limit": 50}).json()) == 12


def test_a_recent_update_is_missing_from_search_but_not_from_filter(okta_sandbox, org, api):
    user = create(api, "updated.late@example.com")
    okta_sandbox.set_behaviour(org.id, replication_lag_ms=400)
    time.sleep(0.45)  # the creation has settled
    api.post(f"/api/v1/users/{user['id']}", json={"profile": {"title": "Lead"}})
    recent = 'lastUpdated gt "2000-01-01T00:00:00.000Z"'
    assert logins(api.get("/api/v1/users", params={"search": recent})) == []
    assert logins(api.get("/api/v1/users", params={"filter": recent})) == [
        "updated.late@example.com"
    ]
    time.sleep(0.45)
    assert logins(api.get("/api/v1/users", params={"search": recent})) == [
        "updated.late@example.com"
    ]
