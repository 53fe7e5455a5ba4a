"""Graph app registrations: `GET /applications(appId='{appId}')` and `/applications/{id}`,
with their `passwordCredentials` (when each client secret ends), and the control API that
moves a secret's end or adds another secret:

    GET  /_sandbox/entra/{id}/apps/{client_id}/password-credentials
    PUT  /_sandbox/entra/{id}/apps/{client_id}/password-credentials  {"endDateTime": "..."}
         (the secret the app signs in with ends then)
    POST /_sandbox/entra/{id}/apps/{client_id}/password-credentials
         {"displayName": "...", "endDateTime": "...", "hint": "abc"}  (another secret)
"""

from __future__ import annotations

import datetime as dt

from sandbox.entra.errors import not_found
from sandbox.entra.model import AppRegistration, EntraTenant, new_id, now_iso
from sandbox.entra.odata import select
from sandbox.entra.router import APP_READ, GraphRequest, GraphResponse, router

# "Application.Read.All" is the least privileged; Application.ReadWrite.OwnedBy also reads
# (Graph, application-get, Permissions).
APPLICATION_READ = (*APP_READ, "Application.ReadWrite.OwnedBy")
APPLICATION_SELECT = ("id", "appId", "displayName", "passwordCredentials", "keyCredentials")


def application_view(app: AppRegistration) -> dict:
    return {
        "id": app.object_id,
        "appId": app.client_id,
        "displayName": app.display_name,
        "signInAudience": "AzureADMyOrg",
        "passwordCredentials": [dict(c) for c in app.password_credentials],
        "keyCredentials": [],
    }


def _by_app_id(tenant: EntraTenant, app_id: str) -> AppRegistration:
    app = tenant.apps.get(app_id.lower()) or tenant.apps.get(app_id)
    if app is None:
        raise not_found(app_id)
    return app


@router.add("GET", "/applications(appId='{app_id}')", APPLICATION_READ)
def get_by_app_id(req: GraphRequest) -> GraphResponse:
    app = _by_app_id(req.tenant, req.params["app_id"])
    return GraphResponse(200, select(application_view(app), req.query, APPLICATION_SELECT))


@router.add("GET", "/applications/{id}", APPLICATION_READ)
def get_by_object_id(req: GraphRequest) -> GraphResponse:
    found = [a for a in req.tenant.apps.values() if a.object_id == req.params["id"].lower()]
    if not found:
        raise not_found(req.params["id"])
    return GraphResponse(200, select(application_view(found[0]), req.query, APPLICATION_SELECT))


# -- the control API ------------------------------------------------------------------------


def end_date_time(body: dict, key: str = "endDateTime") -> str:
    raw = body.get(key)
    if not isinstance(raw, str):
        raise ValueError(f"{key} must be an ISO 8601 date and time, e.g. 2027-01-01T00:00:00Z")
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{key} is not an ISO 8601 date and time: {raw!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _app(tenant: EntraTenant, client_id: str) -> AppRegistration:
    app = tenant.apps.get(client_id.lower()) or tenant.apps.get(client_id)
    if app is None:
        raise LookupError(client_id)
    return app


def credentials_of(tenant: EntraTenant, client_id: str) -> list[dict]:
    return application_view(_app(tenant, client_id))["passwordCredentials"]


def set_in_use_end(tenant: EntraTenant, client_id: str, body: dict) -> list[dict]:
    """The secret the app signs in with (its hint) now ends at body's endDateTime."""
    app = _app(tenant, client_id)
    end = end_date_time(body)
    hint = app.client_secret[:3]
    in_use = [c for c in app.password_credentials if c["hint"] == hint]
    if not in_use:
        raise ValueError("this app signs in with no client secret")
    in_use[0]["endDateTime"] = end
    return credentials_of(tenant, client_id)


def add_password(tenant: EntraTenant, client_id: str, body: dict) -> list[dict]:
    """Another secret on the app (not the one it signs in with), as addPassword makes one."""
    app = _app(tenant, client_id)
    hint = body.get("hint", "zzz")
    if not isinstance(hint, str) or len(hint) != 3:
        raise ValueError("hint must be three characters")
    if hint == app.client_secret[:3]:
        raise ValueError("hint must differ from the secret the app signs in with")
    app.password_credentials.append(
        {
            "customKeyIdentifier": None,
            "displayName": str(body.get("displayName", "Another secret"))[:100],
            "endDateTime": end_date_time(body),
            "hint": hint,
            "keyId": new_id(),
            "secretText": None,
            "startDateTime": now_iso(),
        }
    )
    return credentials_of(tenant, client_id)
