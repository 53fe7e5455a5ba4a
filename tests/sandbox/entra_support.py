"""Helpers for the Entra sandbox tests: a fresh directory per test, raw Graph clients, and the
real msgraph-sdk + azure-identity configured the way the portal's connector configures them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from azure.identity.aio import ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphServiceClient
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from tests.sandbox.server import SandboxServer

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
T = TypeVar("T")


@dataclass
class EntraDir:
    server: SandboxServer
    tenant_id: str
    domain: str
    client_id: str
    client_secret: str
    created: dict = field(default_factory=dict)

    def group_id(self, name: str) -> str:
        return next(g["id"] for g in self.created["groups"] if g["displayName"] == name)

    def sp(self, name: str) -> dict:
        return next(s for s in self.created["service_principals"] if s["displayName"] == name)

    def token(self) -> str:
        response = httpx.post(
            f"{self.server.url}/{self.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": GRAPH_SCOPE,
            },
            verify=str(self.server.ca),
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def graph(self, timeout: float = 10.0) -> httpx.Client:
        """A raw Graph client with a fresh token."""
        return httpx.Client(
            base_url=f"{self.server.url}/v1.0",
            verify=str(self.server.ca),
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=timeout,
        )

    def state(self) -> dict:
        with self.server.control() as control:
            response = control.get(f"/_sandbox/entra/{self.tenant_id}/state")
            response.raise_for_status()
            return response.json()

    def behave(self, **settings: Any) -> None:
        with self.server.control() as control:
            control.put(
                f"/_sandbox/entra/{self.tenant_id}/behaviour", json=settings
            ).raise_for_status()

    def stats(self) -> dict:
        with self.server.control() as control:
            return control.get(f"/_sandbox/entra/{self.tenant_id}/stats").json()


def tenant_body(tenant_id: str, domain: str, client_id: str, **extra: Any) -> dict:
    body = {
        "tenant_id": tenant_id,
        "display_name": f"Test {domain}",
        "domains": [domain],
        "apps": [{"client_id": client_id, "client_secret": "right-secret"}],
        "skus": [
            {"sku_part_number": "SPE_E3", "seats": 10},
            {"sku_part_number": "EMS", "seats": 1},
        ],
        "groups": [
            {"display_name": "Staff"},
            {"display_name": "Finance"},
            {"display_name": "Sales (dynamic)", "membership_rule": '(user.department -eq "Sales")'},
        ],
        "service_principals": [
            {"display_name": "Salesforce", "app_roles": [{"value": "User"}, {"value": "Admin"}]},
        ],
        "users": [
            {
                "userPrincipalName": f"existing@{domain}",
                "displayName": "Existing Person",
                "department": "Sales",
                "usageLocation": "GB",
                "mail": f"existing@{domain}",
            },
        ],
    }
    body.update(extra)
    return body


def make_entra(server: SandboxServer, **extra: Any) -> EntraDir:
    tenant_id = str(uuid.uuid4())
    domain = f"t{tenant_id[:8]}.example"
    client_id = str(uuid.uuid4())
    with server.control() as control:
        response = control.post(
            "/_sandbox/entra/tenants", json=tenant_body(tenant_id, domain, client_id, **extra)
        )
        assert response.status_code == 201, response.text
    return EntraDir(server, tenant_id, domain, client_id, "right-secret", response.json())


@asynccontextmanager
async def graph_sdk(d: EntraDir) -> AsyncIterator[GraphServiceClient]:
    """The real SDK, configured only with base URL, credentials and the sandbox CA."""
    ca = str(d.server.ca)
    credential = ClientSecretCredential(
        d.tenant_id,
        d.client_id,
        d.client_secret,
        authority=d.server.url,
        disable_instance_discovery=True,
        connection_verify=ca,
    )
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[GRAPH_SCOPE], allowed_hosts=["127.0.0.1"]
    )
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=ca),
        options={RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0)},
    )
    adapter = GraphRequestAdapter(auth, http)
    adapter.base_url = f"{d.server.url}/v1.0"
    try:
        yield GraphServiceClient(request_adapter=adapter)
    finally:
        await http.aclose()
        await credential.close()


def run_sdk(d: EntraDir, work: Callable[[GraphServiceClient], Coroutine[Any, Any, T]]) -> T:
    async def main() -> T:
        async with graph_sdk(d) as client:
            return await work(client)

    return asyncio.run(main())


def assert_graph_error(response: httpx.Response, status: int, code: str, message: str = "") -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert message in error["message"]
    assert error["innerError"]["request-id"]
    assert error["innerError"]["date"]


def new_user_body(domain: str, nickname: str, **extra: Any) -> dict:
    return {
        "accountEnabled": True,
        "displayName": nickname.title(),
        "mailNickname": nickname,
        "userPrincipalName": f"{nickname}@{domain}",
        "passwordProfile": {"password": "Sandb0x!pass", "forceChangePasswordNextSignIn": True},
        **extra,
    }
