"""The Microsoft identity platform endpoints azure-identity uses for client credentials:
OpenID discovery and POST /{tenant}/oauth2/v2.0/token, with AADSTS-style errors.
"""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.entra.assertion import ASSERTION_TYPE, AssertionRejected, check_assertion
from sandbox.entra.model import AppRegistration, EntraTenant
from sandbox.state import SandboxState

GRAPH_DEFAULT_SCOPES = (
    "https://graph.microsoft.com/.default",
    "00000003-0000-0000-c000-000000000000/.default",
)


def find_tenant(state: SandboxState, key: str) -> EntraTenant | None:
    """A tenant by id or by one of its verified domains, as the authority path allows."""
    key = key.lower()
    tenant = state.entra.get(key)
    if tenant is not None:
        return tenant
    return next((t for t in state.entra.values() if t.is_verified_domain(key)), None)


def aadsts(status: int, error: str, code: int, message: str) -> JSONResponse:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return JSONResponse(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {message} Trace ID: {trace} "
            f"Correlation ID: {correlation} Timestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
        status_code=status,
    )


def unknown_tenant(key: str) -> JSONResponse:
    return aadsts(
        400,
        "invalid_request",
        90002,
        f"Tenant '{key}' not found. Check to make sure you have the correct tenant ID "
        "and are signing into the correct cloud.",
    )


def discovery(state: SandboxState):
    async def endpoint(request: Request) -> JSONResponse:
        key = request.path_params["tenant"]
        tenant = find_tenant(state, key)
        if tenant is None:
            return unknown_tenant(key)
        tenant.stats.record("GET", request.url.path.replace(key, "{tenant}", 1), 200)
        base = f"{request.url.scheme}://{request.url.netloc}/{tenant.id}"
        return JSONResponse(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
            }
        )

    return endpoint


def _check_credential(
    tenant: EntraTenant, app: AppRegistration, form: dict[str, str]
) -> JSONResponse | None:
    """A client secret or a certificate-signed client assertion; None when it proves the app."""
    assertion = form.get("client_assertion")
    if assertion:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return aadsts(400, "invalid_request", 50027, "Invalid client_assertion_type.")
        paths = {f"/{name}/oauth2/v2.0/token" for name in (tenant.id, *tenant.domains)}
        try:
            check_assertion(app, assertion, paths)
        except AssertionRejected as exc:
            return aadsts(401, "invalid_client", exc.code, exc.message)
        return None
    secret = form.get("client_secret")
    if not secret:
        return aadsts(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' "
            "or 'client_secret'.",
        )
    if not app.client_secret or not hmac.compare_digest(
        secret.encode(), app.client_secret.encode()
    ):
        return aadsts(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request "
            "is the client secret value, not the client secret ID, for a secret added "
            f"to app '{app.client_id}'.",
        )
    if app.secret_has_expired():  # a secret past its endDateTime signs nobody in
        return aadsts(
            401,
            "invalid_client",
            7000222,
            f"The provided client secret keys for app '{app.client_id}' are expired. Visit "
            "the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, "
            "or consider using certificate credentials for added security: "
            "https://aka.ms/certCreds.",
        )
    return None


def _check_request(tenant: EntraTenant, form: dict[str, str]) -> JSONResponse | str:
    """An error response, or the client id the token is for."""
    if form.get("grant_type") != "client_credentials":
        return aadsts(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{form.get('grant_type', '')}'.",
        )
    client_id = form.get("client_id", "")
    if not client_id:
        return aadsts(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    app = tenant.apps.get(client_id)
    if app is None:
        return aadsts(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{tenant.display_name}'. This can happen if the application has not been "
            "installed by the administrator of the tenant.",
        )
    rejected = _check_credential(tenant, app, form)
    if rejected is not None:
        return rejected
    scope = form.get("scope", "")
    if scope not in GRAPH_DEFAULT_SCOPES:
        return aadsts(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows "
            "must have a scope value with /.default suffixed to the resource identifier "
            "(application ID URI).",
        )
    return client_id


def token(state: SandboxState):
    async def endpoint(request: Request) -> JSONResponse:
        key = request.path_params["tenant"]
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        tenant = find_tenant(state, key)
        if tenant is None:
            return unknown_tenant(key)
        await tenant.behaviour.delay(tenant.stats)
        checked = _check_request(tenant, form)
        if isinstance(checked, JSONResponse):
            tenant.stats.record("POST", "/{tenant}/oauth2/v2.0/token", checked.status_code)
            return checked
        lifetime = tenant.token_lifetime_s
        access_token = tenant.issue_token(checked, lifetime)
        tenant.stats.record("POST", "/{tenant}/oauth2/v2.0/token", 200)
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": access_token,
            },
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    return endpoint
