"""Usernames of a big upload are checked with one listing per directory (paged), a small
upload's with one lookup per name; both against real sandbox directories."""

import uuid

import pytest

from provisioning.bulk.directory import DirectoryNames
from tenants.models import DirectoryConnection, Tenant

pytestmark = pytest.mark.django_db


def entra_with_users(server, domain: str, count: int) -> tuple[str, str]:
    tenant_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    users = [
        {
            "userPrincipalName": f"user{n:04d}@{domain}",
            "displayName": f"User {n}",
            "mailNickname": f"user{n:04d}",
            "accountEnabled": True,
        }
        for n in range(count)
    ]
    body = {
        "tenant_id": tenant_id,
        "display_name": domain,
        "domains": [domain],
        "apps": [{"client_id": client_id, "client_secret": "s3cret"}],
        "users": users,
    }
    with server.control() as control:
        control.post("/_sandbox/entra/tenants", json=body).raise_for_status()
    return tenant_id, client_id


def okta_with_users(server, domain: str, count: int) -> str:
    org_id = f"t-{uuid.uuid4().hex[:10]}"
    users = [
        {"profile": {"firstName": "U", "lastName": str(n), "email": f"okta{n:04d}@{domain}",
                     "login": f"okta{n:04d}@{domain}"}}
        for n in range(count)
    ]  # fmt: skip
    body = {"id": org_id, "name": org_id, "api_token": f"{org_id}-token", "users": users}
    with server.control() as control:
        control.post("/_sandbox/okta/orgs", json=body).raise_for_status()
    return org_id


@pytest.fixture
def big(on_sandbox):
    domain = f"big-{uuid.uuid4().hex[:6]}.example"
    tenant = Tenant.objects.create(name=domain, slug=domain.split(".")[0], primary_domain=domain)
    entra_id, client_id = entra_with_users(on_sandbox, domain, 1_050)
    entra = DirectoryConnection(
        tenant=tenant, kind="entra", directory_id=entra_id, client_id=client_id,
        login_base_url=on_sandbox.url, graph_base_url=on_sandbox.url,
    )  # fmt: skip
    entra.set_secret("s3cret")
    entra.save()
    org_id = okta_with_users(on_sandbox, domain, 250)
    org_url = f"{on_sandbox.url}/okta/{org_id}"
    okta = DirectoryConnection(tenant=tenant, kind="okta", org_url=org_url)
    okta.set_secret(f"{org_id}-token")
    okta.save()
    tenant.entra_id, tenant.okta_id = entra_id, org_id
    return tenant


def calls(server, kind: str, ident: str) -> dict:
    with server.control() as control:
        return control.get(f"/_sandbox/{kind}/{ident}/stats").raise_for_status().json()["calls"]


def test_a_big_upload_reads_each_directory_list_once(on_sandbox, big):
    domain = big.primary_domain
    names = DirectoryNames(big)
    wanted = [f"new{n}@{domain}" for n in range(500)] + [f"user1049@{domain}"]
    names.prefetch(wanted)
    assert names.holder(f"user1049@{domain}") == "Microsoft Entra ID"  # on the second page
    assert names.holder(f"USER0000@{domain}") == "Microsoft Entra ID"
    assert names.holder(f"okta0249@{domain}") == "Okta"  # on the second page
    assert names.holder(f"new7@{domain}") == ""
    assert names.problems == []
    routes = calls(on_sandbox, "entra", big.entra_id)
    entra_calls = {r: n for r, n in routes.items() if "/users" in r}
    assert entra_calls == {"GET /v1.0/users": 2}
    okta_calls = calls(on_sandbox, "okta", big.okta_id)
    assert sum(n for r, n in okta_calls.items() if "/users" in r) == 2


def test_a_small_upload_looks_each_name_up(on_sandbox, big):
    domain = big.primary_domain
    names = DirectoryNames(big)
    names.prefetch([f"user0001@{domain}", f"nobody@{domain}"])
    assert names.holder(f"user0001@{domain}") == "Microsoft Entra ID"
    assert names.holder(f"nobody@{domain}") == ""
    routes = calls(on_sandbox, "entra", big.entra_id)
    assert "GET /v1.0/users" not in routes
    assert sum(n for r, n in routes.items() if r.startswith("GET /v1.0/users/")) == 2


def test_an_unreadable_directory_is_named_not_fatal(on_sandbox, big):
    connection = big.connections.get(kind="entra")
    connection.set_secret("wrong-secret")
    connection.save()
    names = DirectoryNames(big)
    names.prefetch([f"user{n:04d}@{big.primary_domain}" for n in range(100)])
    assert names.holder(f"user0001@{big.primary_domain}") == ""
    (problem,) = names.problems
    assert problem.startswith("Microsoft Entra ID could not be read (")
    assert "each job checks again" in problem
