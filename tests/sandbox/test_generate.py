"""Big directories made by the control API in seconds (for benches), Entra and Okta; the time
each took is printed (run with -s to see it), never asserted."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.sandbox.entra_support import EntraDir

USERS = 50_000


@pytest.fixture
def big_entra(entra: EntraDir) -> Iterator[EntraDir]:
    """The test's directory, deleted afterwards: the session's sandbox serves later tests."""
    yield entra
    with entra.server.control() as control:
        control.delete(f"/_sandbox/entra/{entra.tenant_id}")


@pytest.fixture
def big_org(okta_sandbox, org):
    yield org
    okta_sandbox.control.delete(f"/_sandbox/okta/{org.id}")


def test_entra_directory_of_50000_users(big_entra: EntraDir) -> None:
    entra = big_entra
    started = time.perf_counter()
    with entra.server.control() as control:
        response = control.post(
            f"/_sandbox/entra/{entra.tenant_id}/generate",
            json={"users": USERS, "groups": 20, "seed": 7},
            timeout=120,
        )
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text
    made = response.json()
    print(
        f"\nentra generate: {made['users']} users, {made['groups']} groups, "
        f"{made['memberships']} memberships in {made['seconds']} s ({elapsed:.2f} s over HTTP)"
    )
    assert made["users"] == USERS and made["groups"] == 1 + 7 + 20
    assert made["memberships"] > 2 * USERS
    assert 0.8 * USERS < made["licensed_users"] < 0.9 * USERS

    with entra.graph(timeout=60) as graph:
        counted = graph.get(
            "/users",
            params={"$count": "true", "$top": "1", "$filter": "accountEnabled eq false"},
            headers={"ConsistencyLevel": "eventual"},
        ).json()
        assert 0.02 * USERS < counted["@odata.count"] < 0.06 * USERS
        started = time.perf_counter()
        seen, pages = 0, 0
        url, params = "/users/delta", {"$select": "displayName,accountEnabled", "$top": "999"}
        while url:
            body = graph.get(url, params=params).json()
            seen, pages, params = seen + len(body["value"]), pages + 1, None
            url = body.get("@odata.nextLink")
        took = time.perf_counter() - started
        print(f"entra full users/delta: {seen} users in {pages} pages, {took:.2f} s")
        skus = {s["skuPartNumber"]: s for s in graph.get("/subscribedSkus").json()["value"]}
    assert seen == USERS + 1  # and the tenant's own user
    e3 = skus["SPE_E3"]
    assert e3["prepaidUnits"]["enabled"] >= e3["consumedUnits"] > 0.8 * USERS  # seats raised


def test_okta_org_of_50000_users(okta_sandbox, big_org, api) -> None:
    org = big_org
    started = time.perf_counter()
    response = okta_sandbox.control.post(
        f"/_sandbox/okta/{org.id}/generate", json={"users": USERS, "seed": 7}, timeout=120
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text
    made = response.json()
    print(
        f"\nokta generate: {made['users']} users, {made['groups']} groups, "
        f"{made['memberships']} memberships in {made['seconds']} s ({elapsed:.2f} s over HTTP)"
    )
    assert made["users"] == USERS and made["memberships"] > 2 * USERS
    last = api.get("/api/v1/users", params={"search": 'profile.employeeNumber eq "GEN049999"'})
    assert [u["profile"]["department"] is not None for u in last.json()] == [True]
    page = api.get("/api/v1/users", params={"limit": 200}).json()
    assert len(page) == 200
    signed_in = [u for u in page if u["lastLogin"]]
    assert 0.5 * len(page) < len(signed_in) < len(page)
