"""Each sandbox SCIM app's OAuth 2.0 token endpoint (RFC 6749 §4.4 client credentials): the
client authenticated by HTTP Basic or in the body (§2.3.1), the §5.1 answer, the §5.2 errors,
and the issued token taken by the app's SCIM endpoints until it expires."""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote_plus

import httpx
import pytest

from tests.sandbox.server import SandboxServer

SECRET = "s3cret+with/odd:chars"  # noqa: S105 - a test value; `+`, `/`, `:` need encoding


def basic(client_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic as RFC 6749 §2.3.1 says: the ID and secret form-encoded first."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


CLIENT = basic("portal client", SECRET)


@dataclass(frozen=True)
class OAuthApp:
    slug: str
    base_url: str
    token_url: str
    client_id: str
    client_secret: str
    server: SandboxServer

    def post(self, **kwargs) -> httpx.Response:
        with httpx.Client(verify=str(self.server.ca), timeout=10.0) as http:
            return http.post(self.token_url, **kwargs)

    def users(self, access_token: str) -> httpx.Response:
        with httpx.Client(verify=str(self.server.ca), timeout=10.0) as http:
            return http.get(
                f"{self.base_url}/Users", headers={"Authorization": f"Bearer {access_token}"}
            )

    def control(self, method: str, path: str, **kwargs) -> httpx.Response:
        with self.server.control() as control:
            return control.request(method, f"/_sandbox/scim-apps/{self.slug}{path}", **kwargs)


@pytest.fixture
def oauth_app(sandbox_server: SandboxServer) -> OAuthApp:
    slug = f"oauth-{uuid.uuid4().hex[:10]}"
    body = {"slug": slug, "name": slug, "client_id": "portal client", "client_secret": SECRET}
    with sandbox_server.control() as control:
        response = control.post("/_sandbox/scim-apps", json=body)
    assert response.status_code == 201, response.text
    made = response.json()
    assert (made["client_id"], made["client_secret"]) == ("portal client", SECRET)
    assert made["token_url"] == made["base_url"].removesuffix("/v2") + "/oauth/token"
    return OAuthApp(
        slug, made["base_url"], made["token_url"], "portal client", SECRET, sandbox_server
    )


GRANT = {"grant_type": "client_credentials"}


def test_basic_client_authentication_gets_a_bearer_token_the_app_takes(oauth_app) -> None:
    answer = oauth_app.post(data=GRANT, headers=CLIENT)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    listed = oauth_app.users(body["access_token"])
    assert listed.status_code == 200 and listed.json()["totalResults"] == 0


def test_httpx_basic_without_form_encoding_is_refused_for_a_secret_that_needs_it(
    oauth_app,
) -> None:
    """§2.3.1: the ID and secret are form-encoded before Basic; `+` decodes to a space."""
    assert oauth_app.post(data=GRANT, headers=CLIENT).status_code == 200
    unencoded = oauth_app.post(data=GRANT, auth=(oauth_app.client_id, SECRET)).status_code
    assert unencoded == 401  # `+` in the raw secret became a space


def test_client_credentials_in_the_body_are_accepted(oauth_app) -> None:
    body = {**GRANT, "client_id": oauth_app.client_id, "client_secret": SECRET}
    answer = oauth_app.post(data=body)
    assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"


@pytest.mark.parametrize(
    "credentials",
    [("portal client", "wrong-secret"), ("someone else", SECRET)],
    ids=["wrong secret", "unknown client"],
)
def test_a_wrong_client_is_401_invalid_client_with_a_challenge(oauth_app, credentials) -> None:
    answer = oauth_app.post(data=GRANT, headers=basic(*credentials))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json()["error"] == "invalid_client"
    assert SECRET not in answer.text


def test_no_client_authentication_is_invalid_client(oauth_app) -> None:
    answer = oauth_app.post(data=GRANT)
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client")


def test_another_grant_type_is_unsupported_grant_type(oauth_app) -> None:
    answer = oauth_app.post(data={"grant_type": "password"}, headers=CLIENT)
    assert (answer.status_code, answer.json()["error"]) == (400, "unsupported_grant_type")


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"data": {}},  # no grant_type
        {"json": GRANT},  # not form-encoded (§3.2)
        {"content": "grant_type=client_credentials&grant_type=client_credentials"},  # §3.1
        {"data": {**GRANT, "client_id": "portal client", "client_secret": SECRET}},  # two methods
    ],
    ids=["no grant_type", "json body", "repeated parameter", "two authentication methods"],
)
def test_a_malformed_request_is_400_invalid_request(oauth_app, request_kwargs) -> None:
    headers = dict(CLIENT)
    if "content" in request_kwargs:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    answer = oauth_app.post(headers=headers, **request_kwargs)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")
    assert answer.json()["error_description"]


def test_an_expired_access_token_is_refused(oauth_app) -> None:
    token = oauth_app.post(data=GRANT, headers=CLIENT).json()["access_token"]
    assert oauth_app.users(token).status_code == 200
    assert oauth_app.control("POST", "/tokens/expire").json() == {"expired": 1}
    refused = oauth_app.users(token)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    again = oauth_app.post(data=GRANT, headers=CLIENT).json()["access_token"]
    assert again != token and oauth_app.users(again).status_code == 200


def test_a_token_lives_as_long_as_the_app_says(oauth_app) -> None:
    settings = oauth_app.control("PUT", "/settings", json={"token_lifetime_s": 1})
    assert settings.json()["token_lifetime_s"] == 1
    answer = oauth_app.post(data=GRANT, headers=CLIENT).json()
    assert answer["expires_in"] == 1
    time.sleep(1.2)  # the lifetime passes
    assert oauth_app.users(answer["access_token"]).status_code == 401
    bad = oauth_app.control("PUT", "/settings", json={"token_lifetime_s": 0})
    assert bad.status_code == 400


def test_the_fixed_bearer_token_still_works(sandbox_server: SandboxServer, oauth_app) -> None:
    with sandbox_server.control() as control:
        made = control.post(
            "/_sandbox/scim-apps", json={"slug": f"b-{uuid.uuid4().hex[:8]}", "name": "B"}
        ).json()
    assert made["client_id"] and len(made["client_secret"]) >= 24  # made up when not given
    other_app_token = oauth_app.post(data=GRANT, headers=CLIENT).json()
    with httpx.Client(verify=str(sandbox_server.ca)) as http:
        own = http.get(
            f"{made['base_url']}/Users", headers={"Authorization": f"Bearer {made['token']}"}
        )
        foreign = http.get(
            f"{made['base_url']}/Users",
            headers={"Authorization": f"Bearer {other_app_token['access_token']}"},
        )
    assert own.status_code == 200 and foreign.status_code == 401  # a token is one app's
