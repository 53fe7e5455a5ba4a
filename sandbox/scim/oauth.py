"""Each SCIM app's OAuth 2.0 token endpoint, `POST /scim/{slug}/oauth/token`: the client
credentials grant (RFC 6749 §4.4), so a client can sign in with a client ID and secret
instead of a fixed bearer token.

- The request is form-encoded (`application/x-www-form-urlencoded`, RFC 6749 §4.4.2, §3.2)
  with `grant_type=client_credentials`; a parameter sent twice is `invalid_request` and one
  sent without a value counts as absent (§3.1); `scope` is ignored (§3.3 lets the server
  issue another scope than asked).
- The client authenticates with HTTP Basic, its ID and secret each form-encoded first
  (§2.3.1, which the server MUST support), or with `client_id` and `client_secret` in the body
  (§2.3.1's alternative); both at once is `invalid_request` (§2.3: "MUST NOT use more than one
  authentication method in each request").
- The answer (§5.1, §4.4.3) is `{"access_token", "token_type": "Bearer", "expires_in"}` as
  `application/json` with `Cache-Control: no-store` and `Pragma: no-cache`; no refresh token
  (§4.4.3: "A refresh token SHOULD NOT be included").
- Errors (§5.2) are `{"error", "error_description"}`: `invalid_client` 401 with a
  `WWW-Authenticate: Basic` challenge, `invalid_request` and `unsupported_grant_type` 400.

An issued token is taken by the app's SCIM endpoints (as `Authorization: Bearer`, RFC 6750
§2.1) until `token_lifetime_s` has passed, then refused 401 like a wrong token.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.scim.model import ScimApp

FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1
TEMPLATE = "/oauth/token"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error response."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def response(self) -> Response:
        headers = dict(NO_STORE)
        if self.status == 401:  # §5.2: the challenge matches the scheme the client may use
            headers["WWW-Authenticate"] = 'Basic realm="scim-oauth", charset="UTF-8"'
        body = {"error": self.error, "error_description": self.description}
        return _json(self.status, body, headers)


def _json(status: int, body: dict, headers: dict[str, str]) -> Response:
    return Response(
        json.dumps(body).encode(),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def _form(raw: bytes, content_type: str) -> dict[str, str]:
    """The body's parameters (RFC 6749 §3.2: form-encoded); a repeated one is an error and
    an empty one is absent (§3.1)."""
    if content_type.split(";")[0].strip().lower() != FORM:
        raise OAuthError(400, "invalid_request", f"send the body as {FORM}")
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=False, strict_parsing=False)
    except UnicodeDecodeError:
        raise OAuthError(400, "invalid_request", "the body is not UTF-8") from None
    repeated = sorted(name for name, values in fields.items() if len(values) > 1)
    if repeated:
        raise OAuthError(400, "invalid_request", f"repeated parameter: {', '.join(repeated)}")
    return {name: values[0] for name, values in fields.items()}


def _basic(header: str) -> tuple[str, str] | None:
    """HTTP Basic credentials, each part form-decoded (RFC 6749 §2.3.1); None without
    a Basic header."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(401, "invalid_client", "the Basic credentials are malformed") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthError(401, "invalid_client", "the Basic credentials are malformed")
    return unquote_plus(client_id), unquote_plus(secret)


def _client(request: Request, form: dict[str, str]) -> tuple[str, str]:
    in_header = _basic(request.headers.get("authorization", ""))
    in_body = ("client_id" in form) or ("client_secret" in form)
    if in_header and in_body:
        raise OAuthError(400, "invalid_request", "use one client authentication method, not two")
    if in_header:
        return in_header
    if not in_body:
        raise OAuthError(401, "invalid_client", "client authentication is required")
    return form.get("client_id", ""), form.get("client_secret", "")


def _authenticated(app: ScimApp, client_id: str, secret: str) -> bool:
    same_id = secrets.compare_digest(client_id.encode(), app.client_id.encode())
    same_secret = secrets.compare_digest(secret.encode(), app.client_secret.encode())
    return same_id and same_secret


def issue(request: Request, app: ScimApp, raw: bytes) -> Response:
    """The client credentials grant (RFC 6749 §4.4.2, §4.4.3)."""
    form = _form(raw, request.headers.get("content-type", ""))
    client_id, secret = _client(request, form)
    if not _authenticated(app, client_id, secret):
        raise OAuthError(401, "invalid_client", "unknown client or wrong client secret")
    grant = form.get("grant_type")
    if not grant:
        raise OAuthError(400, "invalid_request", "grant_type is required")
    if grant != "client_credentials":
        raise OAuthError(400, "unsupported_grant_type", "only client_credentials is supported")
    token, lifetime = app.issue_token()
    body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
    return _json(200, body, dict(NO_STORE))


def routes(state: Any) -> list[BaseRoute]:
    async def token(request: Request) -> Response:
        app = state.scim.get(request.path_params["slug"])
        if app is None:
            return OAuthError(404, "invalid_request", "no such SCIM app").response()
        with app.stats.serving():
            try:
                answer = issue(request, app, await request.body())
            except OAuthError as error:
                answer = error.response()
            app.stats.record("POST", TEMPLATE, answer.status_code)
            return answer

    return [Route("/scim/{slug}/oauth/token", token, methods=["POST"])]
