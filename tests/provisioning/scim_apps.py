"""A fresh sandbox SCIM app for one test, the portal's connection to it, and what it holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from django.urls import reverse

from tenants.models import DirectoryConnection, RoleTemplate, Tenant

PROFILES = {"full": "generic", "slack": "slack", "zoom": "zoom"}


@dataclass
class ScimApp:
    server: object
    slug: str
    base_url: str
    token: str
    flavour: str
    token_url: str = ""  # OAuth 2.0 client credentials (RFC 6749 §4.4), at the sandbox's
    client_id: str = ""  # token endpoint of the app
    client_secret: str = ""

    def state(self) -> dict:
        with self.server.control() as control:
            response = control.get(f"/_sandbox/scim-apps/{self.slug}")
            response.raise_for_status()
            return response.json()

    def user(self, user_name: str) -> dict | None:
        key = user_name.casefold()
        return next((u for u in self.state()["users"] if u["userName"].casefold() == key), None)

    def groups_of(self, user_id: str) -> set[str]:
        return {
            g["displayName"]
            for g in self.state()["groups"]
            if any(m["value"] == user_id for m in g.get("members") or [])
        }

    def behave(self, **settings) -> None:
        with self.server.control() as control:
            response = control.put(f"/_sandbox/scim-apps/{self.slug}/behaviour", json=settings)
            response.raise_for_status()

    def control(self, method: str, path: str, **kwargs) -> httpx.Response:
        with self.server.control() as control:
            response = control.request(method, f"/_sandbox/scim-apps/{self.slug}{path}", **kwargs)
            response.raise_for_status()
            return response

    def add_group(self, name: str) -> str:
        """A group made in the app by its own admin (the portal only changes members)."""
        response = httpx.post(
            f"{self.base_url}/Groups",
            json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name},
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/scim+json",
            },
            verify=str(self.server.ca),
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def add_user(self, user_name: str, first: str, last: str) -> str:
        """Someone the app holds already, made by its own admin."""
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "name": {"givenName": first, "familyName": last},
            "active": True,
        }
        response = httpx.post(
            f"{self.base_url}/Users",
            json=body,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/scim+json",
            },
            verify=str(self.server.ca),
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]


def make_app(server, flavour: str = "full", groups=()) -> ScimApp:
    slug = f"{flavour}-{uuid.uuid4().hex[:10]}"
    with server.control() as control:
        response = control.post(
            "/_sandbox/scim-apps", json={"slug": slug, "name": slug, "flavour": flavour}
        )
        assert response.status_code in (200, 201), response.text
        body = response.json()
    app = ScimApp(
        server,
        slug,
        body["base_url"],
        body["token"],
        flavour,
        body["token_url"],
        body["client_id"],
        body["client_secret"],
    )
    for name in groups:
        app.add_group(name)
    return app


def connect(
    tenant: Tenant, app: ScimApp, name: str = "Slack", oauth: bool = False
) -> DirectoryConnection:
    """The portal's connection to `app`, with its bearer token or (oauth) its client
    credentials."""
    connection = DirectoryConnection(
        tenant=tenant,
        kind=DirectoryConnection.Kind.SCIM,
        name=name,
        scim_base_url=app.base_url,
        scim_profile=PROFILES[app.flavour],
        rate_limit_per_s=50,
        rate_burst=50,
    )
    if oauth:
        connection.scim_auth = DirectoryConnection.ScimAuth.OAUTH
        connection.scim_token_url = app.token_url
        connection.client_id = app.client_id
    connection.set_secret(app.client_secret if oauth else app.token)
    connection.save()
    return connection


def create_url(tenant) -> str:
    """The portal's page that connects a new SCIM app."""
    return reverse("connection_create", kwargs={"tenant": tenant.slug, "kind": "scim"})


def edit_url(connection) -> str:
    kwargs = {"tenant": connection.tenant.slug, "connection_id": connection.pk}
    return reverse("connection_edit", kwargs=kwargs)


def connection_form(name="Slack", url="https://api.slack.example/scim/v2", **more) -> dict:
    """What a technician types on that page (a Slack app with a bearer token, by default;
    `secret` is among `more`)."""
    return {
        "name": name,
        "scim_base_url": url,
        "scim_auth": "bearer",
        "scim_profile": "slack",
        **more,
    }


def sales_and_support(server, dirs, support_groups: list[str]) -> tuple[ScimApp, RoleTemplate]:
    """A SCIM app ("Slack", groups sales and support) that the tenant's template gives as
    sales, and a Support template of `support_groups` that gives it as support: a move
    between the two changes every directory and the app."""
    app = make_app(server, "full", groups=["sales", "support"])
    slack = connect(dirs.tenant, app, "Slack").pk
    dirs.template.scim_apps = [{"connection": slack, "groups": ["sales"]}]
    dirs.template.save()
    support = RoleTemplate.objects.create(
        tenant=dirs.tenant,
        name="Support",
        groups=support_groups,
        scim_apps=[{"connection": slack, "groups": ["support"]}],
    )
    return app, support
