"""Helpers for the Okta sandbox tests: a sandbox over HTTPS, orgs made through its control API,
and clients (raw httpx and the real okta SDK) configured the way the portal configures them.
"""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx


@dataclass(frozen=True)
class Org:
    id: str
    token: str
    url: str  # the org URL an Okta client is given
    groups: dict[str, str]  # name -> id
    apps: dict[str, str]  # name -> id


@dataclass
class OktaSandbox:
    url: str
    ca: Path
    control_token: str
    _control: httpx.Client | None = field(default=None, repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the sandbox CA only: what each client is given, never a process-wide setting."""
        return ssl.create_default_context(cafile=str(self.ca))

    @property
    def control(self) -> httpx.Client:
        if self._control is None:
            self._control = httpx.Client(
                base_url=self.url,
                verify=self.ssl_context(),
                headers={"Authorization": f"Bearer {self.control_token}"},
            )
        return self._control

    def new_org(
        self,
        users: list[dict] | None = None,
        read_only_tokens: list[str] = (),
        rules: list[dict] | None = None,
        extra_groups: list[dict] = (),
        extra_apps: list[dict] = (),
        activation_ms: int = 0,
        **behaviour: object,
    ) -> Org:
        """A fresh org with a unique id, so tests never see each other's objects. Besides
        Sales, Finance, Slack and Zoom: `extra_groups` (e.g. an imported APP_GROUP) and
        `extra_apps` (e.g. one assigned to groups)."""
        org_id = f"t-{uuid.uuid4().hex[:10]}"
        body = {
            "id": org_id,
            "name": f"Test org {org_id}",
            "api_token": f"{org_id}-token-{uuid.uuid4().hex}",
            "groups": [{"name": n, "description": f"{n} people"} for n in ("Sales", "Finance")]
            + list(extra_groups),
            "apps": [{"name": "slack", "label": "Slack"}, {"name": "zoom", "label": "Zoom"}]
            + list(extra_apps),
            "users": users or [],
            "read_only_tokens": list(read_only_tokens),
            "rules": rules or [],
            "activation_ms": activation_ms,
        }
        response = self.control.post("/_sandbox/okta/orgs", json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        if behaviour:
            self.set_behaviour(org_id, **behaviour)
        return Org(
            org_id,
            body["api_token"],
            f"{self.url}/okta/{org_id}",
            {g["name"]: g["id"] for g in created["groups"]},
            {a["name"]: a["id"] for a in created["apps"]},
        )

    def set_behaviour(self, org_id: str, **settings: object) -> None:
        response = self.control.put(f"/_sandbox/okta/{org_id}/behaviour", json=settings)
        assert response.status_code == 200, response.text

    def set_activation(self, org_id: str, ms: int) -> None:
        """How long an activation takes, those under way included (counted from their start):
        a test holds one with a time no machine outlasts, then lets it end with 0."""
        answer = self.control.put(f"/_sandbox/okta/{org_id}/settings", json={"activation_ms": ms})
        assert answer.status_code == 200 and answer.json() == {"activation_ms": ms}, answer.text

    def state(self, org_id: str) -> dict:
        response = self.control.get(f"/_sandbox/okta/{org_id}/state")
        assert response.status_code == 200, response.text
        return response.json()

    def stats(self, org_id: str) -> dict:
        return self.control.get(f"/_sandbox/okta/{org_id}/stats").json()

    def api(self, org: Org, token: str | None = None, timeout: float = 10.0) -> httpx.Client:
        """A raw Okta API client for `org`: base URL = org URL, SSWS token, the sandbox CA."""
        return httpx.Client(
            base_url=org.url,
            verify=self.ssl_context(),
            timeout=timeout,
            headers={"Authorization": f"SSWS {org.token if token is None else token}"},
        )

    def sdk_session(self) -> aiohttp.ClientSession:
        """The aiohttp session an okta SDK client needs: it trusts the sandbox CA, nothing more."""
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.ssl_context()))

    def close(self) -> None:
        if self._control is not None:
            self._control.close()


def user_body(login: str, password: bool = True, **profile: str) -> dict:
    first, _, rest = login.partition("@")
    body: dict = {
        "profile": {
            "firstName": first.title(),
            "lastName": "Tester",
            "email": login,
            "login": login,
            **profile,
        }
    }
    if password:
        body["credentials"] = {"password": {"value": "Correct-Horse-9"}}
    return body


def create(api: httpx.Client, login: str, activate: bool = True, **kwargs) -> dict:
    response = api.post(
        "/api/v1/users", params={"activate": str(activate).lower()}, json=user_body(login, **kwargs)
    )
    assert response.status_code == 200, response.text
    return response.json()


def assert_okta_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}
    assert body["errorCode"] == code
    assert body["errorId"].startswith("oae")
    return body
