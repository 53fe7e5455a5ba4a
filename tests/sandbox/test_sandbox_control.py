"""The control API, persistence across a restart, and the demo seed."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from sandbox.demo_directories import CONTOSO_TENANT_ID, ENTRA_DEMO
from sandbox.entra.provision import build_tenant
from sandbox.seed import entra_demo_body
from tests.sandbox.entra_support import make_entra, tenant_body
from tests.sandbox.server import SandboxServer, running_sandbox


def test_health_is_open_and_everything_else_needs_the_control_token(
    sandbox_server: SandboxServer,
) -> None:
    with httpx.Client(base_url=sandbox_server.url, verify=str(sandbox_server.ca)) as client:
        assert client.get("/_sandbox/health").json()["status"] == "ok"
        assert client.post("/_sandbox/reset").status_code == 401
        assert client.post("/_sandbox/entra/tenants", json={}).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert client.get("/_sandbox/directories", headers=wrong).status_code == 401


def test_create_tenant_validates_and_refuses_duplicates(sandbox_server: SandboxServer) -> None:
    with sandbox_server.control() as control:
        assert control.post("/_sandbox/entra/tenants", content=b"[1,").status_code == 400
        no_app = {"domains": ["noapp.example"]}
        response = control.post("/_sandbox/entra/tenants", json=no_app)
        assert response.status_code == 400
        assert "app registration" in response.json()["error"]
        tenant_id, domain = str(uuid.uuid4()), "dupe.example"
        body = tenant_body(tenant_id, domain, str(uuid.uuid4()))
        assert control.post("/_sandbox/entra/tenants", json=body).status_code == 201
        again = control.post("/_sandbox/entra/tenants", json=body)
        assert again.status_code == 400
        assert "already exists" in again.json()["error"]
        assert tenant_id in control.get("/_sandbox/directories").json()["entra"]


def test_state_shows_the_whole_directory(sandbox_server: SandboxServer) -> None:
    d = make_entra(sandbox_server)
    state = d.state()
    assert state["id"] == d.tenant_id
    assert [u["userPrincipalName"] for u in state["users"]] == [f"existing@{d.domain}"]
    groups = {g["displayName"]: g["members"] for g in state["groups"]}
    assert groups["Sales (dynamic)"] == [f"existing@{d.domain}"]
    assert {s["skuPartNumber"] for s in state["subscribedSkus"]} == {"SPE_E3", "EMS"}


def test_demo_seed_is_realistic_and_deterministic() -> None:
    contoso = build_tenant(entra_demo_body("contoso", 120))
    assert contoso.id == CONTOSO_TENANT_ID
    assert len(contoso.users) == 120
    assert len(contoso.groups) == 14
    assert sum(bool(g.props["mailEnabled"]) for g in contoso.groups.values()) == 2  # Exchange's
    assert sum(bool(u.props.get("onPremisesSyncEnabled")) for u in contoso.users.values()) > 5
    assert any(g.rule for g in contoso.groups.values())
    assert len(contoso.skus) == 3
    nearly_full = [s for s in contoso.skus.values() if s.enabled - contoso.consumed(s.sku_id) == 1]
    assert nearly_full
    app = contoso.apps[ENTRA_DEMO["contoso"]["client_id"]]
    assert app.client_secret == "contoso-demo-secret"
    again = build_tenant(entra_demo_body("contoso", 120))
    assert sorted(contoso.upn_index) == sorted(again.upn_index)


def test_state_file_survives_a_restart_and_reset_empties_it(tmp_path: Path) -> None:
    state_file = str(tmp_path / "state.json")
    with running_sandbox(tmp_path, "--state-file", state_file, "--seed", "demo") as server:
        with server.control() as control:
            directories = control.get("/_sandbox/directories").json()
            assert CONTOSO_TENANT_ID in directories["entra"]
            assert "fabrikam" in directories["okta"]
        made = make_entra(server)
    with running_sandbox(tmp_path, "--state-file", state_file) as server:
        made.server = server  # same directory, new port
        assert made.state()["users"][0]["userPrincipalName"] == f"existing@{made.domain}"
        with made.graph() as graph:
            assert graph.get("/users").status_code == 200
        with server.control() as control:
            assert control.post("/_sandbox/reset").status_code == 200
            assert control.get("/_sandbox/directories").json() == {"entra": [], "okta": []}


def test_a_directory_can_be_removed(sandbox_server: SandboxServer) -> None:
    d = make_entra(sandbox_server)
    with sandbox_server.control() as control:
        assert control.delete(f"/_sandbox/entra/{d.tenant_id}").status_code == 204
        assert control.get(f"/_sandbox/entra/{d.tenant_id}/state").status_code == 404
        assert control.delete(f"/_sandbox/entra/{d.tenant_id}").status_code == 404
