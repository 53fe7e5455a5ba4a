"""The emulated Graph's app registrations: `GET /applications(appId='…')` with the app's
passwordCredentials (when each client secret ends), the permission it needs, and the control
API that moves the end of the secret in use or adds another secret."""

from __future__ import annotations

import datetime as dt

import httpx
from msgraph import GraphServiceClient

from sandbox import demo_directories as demo
from tests.sandbox.entra_support import EntraDir, assert_graph_error, make_entra, run_sdk
from tests.sandbox.server import SandboxServer


def passwords_url(d: EntraDir) -> str:
    return f"/_sandbox/entra/{d.tenant_id}/apps/{d.client_id}/password-credentials"


def test_the_application_lists_its_secrets_without_their_text(entra: EntraDir) -> None:
    with entra.graph() as graph:
        response = graph.get(
            f"/applications(appId='{entra.client_id}')",
            params={"$select": "id,appId,displayName,passwordCredentials"},
        )
    assert response.status_code == 200, response.text
    app = response.json()
    assert app["appId"] == entra.client_id and set(app) == {
        "id",
        "appId",
        "displayName",
        "passwordCredentials",
    }
    [secret] = app["passwordCredentials"]
    assert secret["hint"] == "rig"  # the first three characters of "right-secret"
    assert secret["secretText"] is None
    assert secret["keyId"] and secret["endDateTime"].endswith("Z")
    with entra.graph() as graph:
        by_object_id = graph.get(f"/applications/{app['id']}").json()
    assert by_object_id["passwordCredentials"] == app["passwordCredentials"]


def test_an_unknown_app_id_is_404(entra: EntraDir) -> None:
    with entra.graph() as graph:
        response = graph.get("/applications(appId='00000000-0000-4000-8000-0000000000ff')")
    assert_graph_error(response, 404, "Request_ResourceNotFound")


def test_reading_applications_needs_an_application_permission(sandbox_server: SandboxServer):
    reader = make_entra(
        sandbox_server,
        apps=[
            {
                "client_id": "5e1ec7ed-0000-4000-8000-0000000000a1",
                "client_secret": "right-secret",
                "permissions": ["User.Read.All"],
            }
        ],
    )
    reader.client_id = "5e1ec7ed-0000-4000-8000-0000000000a1"
    with reader.graph() as graph:
        response = graph.get(f"/applications(appId='{reader.client_id}')")
    assert_graph_error(response, 403, "Authorization_RequestDenied")


def test_the_control_api_moves_the_end_and_adds_a_secret(entra: EntraDir) -> None:
    with entra.server.control() as control:
        moved = control.put(passwords_url(entra), json={"endDateTime": "2027-03-01T12:00:00+01:00"})
        added = control.post(
            passwords_url(entra),
            json={"displayName": "Old", "hint": "old", "endDateTime": "2026-12-31T00:00:00Z"},
        )
        bad_date = control.put(passwords_url(entra), json={"endDateTime": "soon"})
        same_hint = control.post(
            passwords_url(entra), json={"hint": "rig", "endDateTime": "2027-01-01T00:00:00Z"}
        )
        unknown = control.get(
            f"/_sandbox/entra/{entra.tenant_id}/apps/00000000-0000-4000-8000-000000000000"
            "/password-credentials"
        )
    assert moved.status_code == 200 and moved.json()[0]["endDateTime"] == "2027-03-01T11:00:00Z"
    assert added.status_code == 201
    assert [c["hint"] for c in added.json()] == ["rig", "old"]
    assert bad_date.status_code == 400 and same_hint.status_code == 400
    assert unknown.status_code == 404


def test_the_sdk_reads_the_end_dates(entra: EntraDir) -> None:
    async def read(client: GraphServiceClient):
        return await client.applications_with_app_id(entra.client_id).get()

    app = run_sdk(entra, read)
    [secret] = app.password_credentials
    assert secret.hint == "rig" and secret.end_date_time.tzinfo is not None


def test_the_demo_s_northwind_secret_ends_within_30_days(sandbox_server: SandboxServer) -> None:
    northwind = EntraDir(
        sandbox_server,
        demo.NORTHWIND_TENANT_ID,
        demo.NORTHWIND_DOMAIN,
        demo.NORTHWIND_CLIENT_ID,
        demo.NORTHWIND_CLIENT_SECRET,
    )
    with northwind.graph() as graph:
        app = graph.get(f"/applications(appId='{demo.NORTHWIND_CLIENT_ID}')").json()
    [secret] = app["passwordCredentials"]
    ends = dt.datetime.fromisoformat(secret["endDateTime"].replace("Z", "+00:00"))
    assert dt.timedelta(days=1) < ends - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
    assert secret["hint"] == demo.NORTHWIND_CLIENT_SECRET[:3]


def test_a_secret_past_its_end_signs_nobody_in(entra: EntraDir) -> None:
    """AADSTS7000222: Entra refuses a client secret whose passwordCredential has ended, so
    the portal meets the expiry it was warned of as the refused sign-in a client meets."""
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with entra.server.control() as control:
        control.put(
            passwords_url(entra), json={"endDateTime": yesterday.isoformat()}
        ).raise_for_status()
    form = {
        "grant_type": "client_credentials",
        "client_id": entra.client_id,
        "client_secret": entra.client_secret,
        "scope": "https://graph.microsoft.com/.default",
    }
    refused = httpx.post(
        f"{entra.server.url}/{entra.tenant_id}/oauth2/v2.0/token",
        data=form,
        verify=str(entra.server.ca),
    )
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert refused.json()["error_codes"] == [7000222]
    assert "are expired" in refused.json()["error_description"]

    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with entra.server.control() as control:
        control.put(passwords_url(entra), json={"endDateTime": tomorrow.isoformat()})
    assert entra.token()
