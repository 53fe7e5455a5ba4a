"""Users' signInActivity in the sandbox: set through the control API, read through Graph only
with AuditLog.Read.All and a premium tenant, as Graph does."""

from __future__ import annotations

import uuid

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from tests.sandbox.entra_support import (
    EntraDir,
    assert_graph_error,
    make_entra,
    new_user_body,
    run_sdk,
)
from tests.sandbox.server import SandboxServer

SIGN_IN = "/users?$select=id,displayName,signInActivity"


def sign_in(d: EntraDir, user: str, at: str | None, **extra: object) -> None:
    with d.server.control() as control:
        body = {"sign_ins": [{"user": user, "at": at, **extra}]}
        response = control.post(f"/_sandbox/entra/{d.tenant_id}/sign-ins", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"recorded": 1}


def settings(d: EntraDir, **values: object) -> dict:
    with d.server.control() as control:
        response = control.put(f"/_sandbox/entra/{d.tenant_id}/settings", json=values)
    assert response.status_code == 200, response.text
    return response.json()


def test_last_sign_in_is_read_by_id_through_the_sdk(entra: EntraDir) -> None:
    existing = f"existing@{entra.domain}"
    sign_in(entra, existing, "2025-03-01T08:30:00Z")
    sign_in(entra, existing, "2025-03-04T09:00:00Z", interactive=False)
    user_id = entra.state()["users"][0]["id"]

    async def read(client):
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["displayName", "signInActivity"]
        )
        return await client.users.by_user_id(user_id).get(
            request_configuration=RequestConfiguration(query_parameters=query)
        )

    user = run_sdk(entra, read)
    activity = user.sign_in_activity
    assert activity.last_sign_in_date_time.isoformat() == "2025-03-01T08:30:00+00:00"
    assert (
        activity.last_non_interactive_sign_in_date_time.isoformat() == "2025-03-04T09:00:00+00:00"
    )
    assert activity.last_successful_sign_in_date_time.isoformat() == "2025-03-04T09:00:00+00:00"


def test_list_shows_activity_only_for_users_who_signed_in(entra: EntraDir) -> None:
    with entra.graph() as graph:
        graph.post("/users", json=new_user_body(entra.domain, "never"))
        sign_in(entra, f"existing@{entra.domain}", "2025-01-02T03:04:05Z", success=False)
        users = {u["displayName"]: u for u in graph.get(SIGN_IN).json()["value"]}
        # Without $select there is no signInActivity, and no check either.
        plain = graph.get("/users").json()["value"]
    assert (
        users["Existing Person"]["signInActivity"]["lastSignInDateTime"] == "2025-01-02T03:04:05Z"
    )
    assert users["Existing Person"]["signInActivity"]["lastSuccessfulSignInDateTime"] is None
    assert "signInActivity" not in users["Never"]  # Graph leaves it out for the never signed in
    assert all("signInActivity" not in u for u in plain)


def test_a_tenant_without_premium_is_refused(entra: EntraDir) -> None:
    assert settings(entra)["has_premium"] is True  # SPE_E3 and EMS include Entra ID P1
    settings(entra, premium=False)
    with entra.graph() as graph:
        response = graph.get(SIGN_IN)
        assert_graph_error(
            response,
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "doesn't have premium license",
        )
        assert graph.get("/users?$select=id,displayName").status_code == 200
    settings(entra, premium=None)
    with entra.graph() as graph:
        assert graph.get(SIGN_IN).status_code == 200


def test_premium_follows_the_subscribed_skus_by_default(sandbox_server: SandboxServer) -> None:
    standard = make_entra(sandbox_server, skus=[{"sku_part_number": "O365_BUSINESS_PREMIUM"}])
    with standard.graph() as graph:
        response = graph.get(SIGN_IN)
    # Microsoft 365 Business Standard (O365_BUSINESS_PREMIUM) has no Entra ID P1.
    assert_graph_error(response, 403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant")


def test_an_app_without_audit_log_permission_is_refused(sandbox_server: SandboxServer) -> None:
    d = make_entra(
        sandbox_server,
        apps=[
            {
                "client_id": str(uuid.uuid4()),
                "client_secret": "right-secret",
                "permissions": ["User.Read.All", "Directory.Read.All"],
            }
        ],
    )
    d.client_id = d.created["apps"][0]["client_id"]
    with d.graph() as graph:
        response = graph.get(SIGN_IN)
        assert_graph_error(
            response, 403, "Authentication_MSGraphPermissionMissing", "AuditLog.Read.All"
        )
        batch = {"requests": [{"id": "1", "method": "GET", "url": SIGN_IN}]}
        inner = graph.post("/$batch", json=batch).json()["responses"][0]
        assert inner["status"] == 403
        assert graph.get("/users").status_code == 200


def test_sign_in_activity_by_user_principal_name_is_400(entra: EntraDir) -> None:
    with entra.graph() as graph:
        by_upn = graph.get(f"/users/existing@{entra.domain}?$select=signInActivity")
        assert_graph_error(by_upn, 400, "400", "Get By Key only supports UserId")
        user_id = graph.get(f"/users/existing@{entra.domain}").json()["id"]
        assert graph.get(f"/users/{user_id}?$select=signInActivity").status_code == 200


def test_pages_hold_at_most_120_users_with_sign_in_activity(entra: EntraDir) -> None:
    with entra.server.control() as control:
        body = {"users": 130, "groups": 0, "app_share": 0}
        assert control.post(f"/_sandbox/entra/{entra.tenant_id}/generate", json=body).is_success
    with entra.graph() as graph:
        first = graph.get(SIGN_IN + "&$top=999").json()
        assert len(first["value"]) == 120
        rest = graph.get(first["@odata.nextLink"]).json()
        plain = graph.get("/users?$select=id&$top=999").json()
    assert len(rest["value"]) == 11 and "@odata.nextLink" not in rest
    assert len(plain["value"]) == 131


def test_control_api_refuses_unknown_users_and_bad_times(entra: EntraDir) -> None:
    with entra.server.control() as control:
        url = f"/_sandbox/entra/{entra.tenant_id}/sign-ins"
        unknown = control.post(url, json={"user": "nobody@x.example", "at": "2025-01-01T00:00:00Z"})
        bad_time = control.post(url, json={"user": f"existing@{entra.domain}", "at": "yesterday"})
        cleared = control.post(url, json={"user": f"existing@{entra.domain}", "at": None})
    assert unknown.status_code == 400 and "nobody" in unknown.json()["error"]
    assert bad_time.status_code == 400
    assert cleared.json() == {"recorded": 1}
