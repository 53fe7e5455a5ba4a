"""Helpers for the sandbox's SCIM app tests: apps made through the control API, and clients
as the portal's SCIM connector makes them (scim2-client over httpx2, the sandbox CA only)."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass

import httpx
import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import EnterpriseUser, Group, ScimProvider, User

from tests.sandbox.server import SandboxServer

MEDIA = {"Content-Type": "application/scim+json"}


@dataclass(frozen=True)
class App:
    slug: str
    base_url: str
    token: str
    server: SandboxServer

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.server.ca))

    def http(self, token: str | None = None) -> httpx2.Client:
        return httpx2.Client(
            base_url=self.base_url,
            verify=self.ssl_context(),
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=10.0,
        )

    def client(self, discover: bool = True) -> SyncSCIMClient:
        """A scim2-client that learnt the app's schemas and resource types from the app
        (discover) or knows the standard User and Group (not discover)."""
        if not discover:
            return SyncSCIMClient(self.http(), provider=ScimProvider(models=(User, Group)))
        client = SyncSCIMClient(self.http())
        client.discover()
        return client

    def raw(self, token: str | None = None) -> httpx.Client:
        """Plain HTTP, for what a SCIM client would refuse to send."""
        return httpx.Client(
            base_url=self.base_url,
            verify=self.ssl_context(),
            headers={"Authorization": f"Bearer {token or self.token}", **MEDIA},
            timeout=10.0,
        )

    def state(self) -> dict:
        with self.server.control() as control:
            response = control.get(f"/_sandbox/scim-apps/{self.slug}")
            response.raise_for_status()
            return response.json()

    def behave(self, **settings) -> None:
        with self.server.control() as control:
            response = control.put(f"/_sandbox/scim-apps/{self.slug}/behaviour", json=settings)
            response.raise_for_status()


def make_app(server: SandboxServer, flavour: str = "full") -> App:
    slug = f"{flavour}-{uuid.uuid4().hex[:10]}"
    with server.control() as control:
        response = control.post(
            "/_sandbox/scim-apps", json={"slug": slug, "name": slug, "flavour": flavour}
        )
        response.raise_for_status()
        body = response.json()
    return App(slug, body["base_url"], body["token"], server)


def new_user(user_name: str, **fields) -> User:
    return User(user_name=user_name, **fields)


def enterprise_user(user_name: str, department: str) -> User[EnterpriseUser]:
    user = User[EnterpriseUser](user_name=user_name)
    user[EnterpriseUser] = EnterpriseUser(department=department)
    return user


def new_group(name: str) -> Group:
    return Group(display_name=name)
