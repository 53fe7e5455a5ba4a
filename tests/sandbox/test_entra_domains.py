"""A tenant's domains as Graph lists them (domain.md: authenticationType "Managed" or
"Federated", isVerified) and what they mean for a new user: a userPrincipalName on a
federated domain needs onPremisesImmutableId (user-post-users.md), one on a domain that is
not verified is refused. The control API marks domains federated or added-but-unverified."""

from __future__ import annotations

import uuid

import pytest

from tests.sandbox.entra_support import EntraDir, assert_graph_error, new_user_body, tenant_body
from tests.sandbox.server import SandboxServer

SOURCE_ANCHOR = "SourceAnchor is a required property for creation of a federated user."
NOT_VERIFIED = (
    "The domain portion of the userPrincipalName property is invalid. You must use one of the "
    "verified domain names in your organization."
)


def make_hybrid(server: SandboxServer, **extra) -> tuple[EntraDir, str, str]:
    """A tenant with a managed default domain, a federated one, its initial
    .onmicrosoft domain and a domain added but not verified."""
    tenant_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    domain = f"t{tenant_id[:8]}.example"
    federated, unverified = f"corp.{domain}", f"new.{domain}"
    body = tenant_body(
        tenant_id,
        domain,
        client_id,
        domains=[domain, federated, f"t{tenant_id[:8]}.onmicrosoft.example"],
        federated_domains=[federated],
        unverified_domains=[unverified],
        **extra,
    )
    with server.control() as control:
        created = control.post("/_sandbox/entra/tenants", json=body)
    assert created.status_code == 201, created.text
    d = EntraDir(server, tenant_id, domain, client_id, "right-secret", created.json())
    return d, federated, unverified


def test_domains_list_their_authentication_type_and_verification(sandbox_server):
    d, federated, unverified = make_hybrid(sandbox_server)
    with d.graph() as graph:
        answer = graph.get("/domains")
    assert answer.status_code == 200, answer.text
    assert answer.json()["@odata.context"].endswith("/$metadata#domains")
    found = {item["id"]: item for item in answer.json()["value"]}
    kinds = {name: (i["authenticationType"], i["isVerified"]) for name, i in found.items()}
    assert kinds == {
        d.domain: ("Managed", True),
        federated: ("Federated", True),
        f"t{d.tenant_id[:8]}.onmicrosoft.example": ("Managed", True),
        unverified: ("Managed", False),
    }
    assert found[d.domain]["isDefault"] and not found[federated]["isDefault"]
    assert {"isInitial", "isRoot", "isAdminManaged", "supportedServices"} <= set(found[federated])
    with d.graph() as graph:
        organization = graph.get("/organization").json()["value"][0]
        one = graph.get(f"/domains/{federated}")
    types = {v["name"]: v["type"] for v in organization["verifiedDomains"]}
    assert types[federated] == "Federated" and unverified not in types
    assert one.status_code == 200 and one.json()["authenticationType"] == "Federated"


def test_the_control_api_marks_a_domain_federated_and_refuses_a_foreign_one(sandbox_server):
    d, federated, _ = make_hybrid(sandbox_server)
    url = f"/_sandbox/entra/{d.tenant_id}/settings"
    with sandbox_server.control() as control:
        assert control.get(url).json()["federated_domains"] == [federated]
        both = control.put(url, json={"federated_domains": [d.domain, federated]})
        foreign = control.put(url, json={"federated_domains": ["elsewhere.example"]})
    assert both.status_code == 200 and both.json()["federated_domains"] == [d.domain, federated]
    assert foreign.status_code == 400 and "verified domains" in foreign.json()["error"]
    with d.graph() as graph:
        types = {i["id"]: i["authenticationType"] for i in graph.get("/domains").json()["value"]}
    assert types[d.domain] == "Federated"


def test_a_user_on_a_federated_domain_needs_an_immutable_id(sandbox_server):
    d, federated, _ = make_hybrid(sandbox_server)
    with d.graph() as graph:
        refused = graph.post("/users", json=new_user_body(federated, "fed.joiner"))
        managed = graph.post("/users", json=new_user_body(d.domain, "cloud.joiner"))
        anchored = graph.post(
            "/users", json=new_user_body(federated, "anchored", onPremisesImmutableId="aGVsbG8=")
        )
        read = graph.get(f"/users/anchored@{federated}?$select=id,onPremisesImmutableId")
    assert_graph_error(refused, 400, "Request_BadRequest", SOURCE_ANCHOR)
    assert managed.status_code == 201, managed.text
    assert anchored.status_code == 201, anchored.text
    assert read.json()["onPremisesImmutableId"] == "aGVsbG8="
    upns = [u["userPrincipalName"] for u in d.state()["users"]]
    assert f"fed.joiner@{federated}" not in upns


@pytest.mark.parametrize("anchor", ["aGVs$bG8=", "on_prem_42"])
def test_an_immutable_id_takes_no_dollar_or_underscore(sandbox_server, anchor: str):
    """user.md, onPremisesImmutableId: "NOTE: The $ and _ characters can't be used when
    specifying this property." The sandbox took them. Graph's text is not published: its
    invalid-value 400."""
    d, federated, _ = make_hybrid(sandbox_server)
    invalid = "Invalid value specified for property 'onPremisesImmutableId' of resource 'User'."
    body = new_user_body(federated, "dollar", onPremisesImmutableId=anchor)
    with d.graph() as graph:
        refused = graph.post("/users", json=body)
    assert_graph_error(refused, 400, "Request_BadRequest", invalid)
    upns = [u["userPrincipalName"] for u in d.state()["users"]]
    assert f"dollar@{federated}" not in upns


def test_a_user_on_a_domain_not_verified_is_refused(sandbox_server):
    d, _, unverified = make_hybrid(sandbox_server)
    with d.graph() as graph:
        refused = graph.post("/users", json=new_user_body(unverified, "early"))
        elsewhere = graph.post("/users", json=new_user_body("nobody.example", "stray"))
    assert_graph_error(refused, 400, "Request_BadRequest", NOT_VERIFIED)
    assert_graph_error(elsewhere, 400, "Request_BadRequest", NOT_VERIFIED)


@pytest.mark.parametrize(
    "permissions,status",
    [(["Domain.Read.All"], 200), (["Directory.Read.All"], 200), (["User.Read.All"], 403)],
)
def test_listing_domains_takes_domain_read_all_or_directory_read_all(
    sandbox_server, permissions, status
):
    apps = [{"client_id": str(uuid.uuid4()), "client_secret": "s", "permissions": permissions}]
    d, _, _ = make_hybrid(sandbox_server, apps=apps)
    d.client_id, d.client_secret = apps[0]["client_id"], "s"
    with d.graph() as graph:
        assert graph.get("/domains").status_code == status
