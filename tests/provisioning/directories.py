"""Fresh sandbox directories for one test, and the portal tenant that connects to them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from tenants.models import DirectoryConnection, RoleTemplate, Tenant

GROUPS = ["Staff", "Sales", "Finance", "VPN Users", "Managers"]
APPS = ["Salesforce", "Slack"]


@dataclass
class Directories:
    server: object
    tenant: Tenant
    template: RoleTemplate
    entra_id: str = ""
    okta_id: str = ""

    def control(self) -> httpx.Client:
        return self.server.control()

    def entra_state(self) -> dict:
        with self.control() as c:
            return c.get(f"/_sandbox/entra/{self.entra_id}/state").raise_for_status().json()

    def okta_state(self) -> dict:
        with self.control() as c:
            return c.get(f"/_sandbox/okta/{self.okta_id}/state").raise_for_status().json()

    def behave(self, kind: str, **settings) -> None:
        ident = self.entra_id if kind == "entra" else self.okta_id
        with self.control() as c:
            c.put(f"/_sandbox/{kind}/{ident}/behaviour", json=settings).raise_for_status()

    def stats(self, kind: str) -> dict:
        ident = self.entra_id if kind == "entra" else self.okta_id
        with self.control() as c:
            return c.get(f"/_sandbox/{kind}/{ident}/stats").raise_for_status().json()

    def graph(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        """A call to the Entra directory's Graph as an admin would make it, behind the
        portal's back (`path` below /v1.0)."""
        connection = self.tenant.connections.get(kind="entra")
        token = (
            httpx.post(
                f"{self.server.url}/{self.entra_id}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": connection.client_id,
                    "client_secret": connection.get_secret(),
                    "scope": "https://graph.microsoft.com/.default",
                },
                verify=str(self.server.ca),
            )
            .raise_for_status()
            .json()["access_token"]
        )
        return httpx.request(
            method,
            f"{self.server.url}/v1.0{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            verify=str(self.server.ca),
        )

    def add_entra_user(self, upn: str, first: str, last: str) -> dict:
        """A person already in the directory, made through Graph as an admin would."""
        body = {
            "accountEnabled": True,
            "displayName": f"{first} {last}",
            "givenName": first,
            "surname": last,
            "mailNickname": upn.split("@")[0],
            "userPrincipalName": upn,
            "passwordProfile": {"password": "Existing-Pa55word!"},
        }
        response = self.graph("POST", "/users", body)
        assert response.status_code == 201, response.text
        return response.json()

    def invite_entra_guest(self, address: str, name: str) -> dict:
        """Someone outside the client, invited as Graph invites them: a Guest with an #EXT# UPN."""
        body = {
            "invitedUserEmailAddress": address,
            "invitedUserDisplayName": name,
            "inviteRedirectUrl": "https://myapps.microsoft.com",
        }
        response = self.graph("POST", "/invitations", body)
        assert response.status_code == 201, response.text
        return response.json()["invitedUser"]

    def entra_user(self, upn: str) -> dict | None:
        return next((u for u in self.entra_state()["users"] if u["userPrincipalName"] == upn), None)

    def okta_user(self, login: str) -> dict | None:
        users = self.okta_state()["users"]
        return next((u for u in users if u["profile"]["login"] == login), None)


def user_role(dirs, app_id: str) -> str:
    """The app's role for users: Graph refuses default access on an app that has one."""
    response = dirs.graph("GET", f"/servicePrincipals/{app_id}")
    assert response.status_code == 200, response.text
    roles = response.json()["appRoles"]
    return next(r["id"] for r in roles if "User" in r["allowedMemberTypes"] and r["isEnabled"])


def make_entra(server, domain: str, seats: int = 100, extra: dict | None = None) -> tuple[str, str]:
    """`extra`: more "users", "groups", "skus", "service_principals" and "domains", and the
    "federated_domains" and "unverified_domains", for the control API's body (synced users,
    distribution lists, app roles, hybrid domains: sandbox/entra/provision.py); and the app's
    "app_permissions" (all the sandbox knows when not given)."""
    tenant_id = str(uuid.uuid4())
    body = {
        "tenant_id": tenant_id,
        "display_name": f"Test {domain}",
        "domains": [domain],
        "apps": [{"client_id": str(uuid.uuid4()), "client_secret": "entra-test-secret"}],
        "skus": [
            {"sku_part_number": "SPE_E3", "seats": seats},
            {"sku_part_number": "EMS", "seats": 50},
        ],
        "groups": [{"display_name": name} for name in GROUPS]
        + [{"display_name": "Sales (dynamic)", "membership_rule": '(user.department -eq "Sales")'}],
        "service_principals": [
            {"display_name": name, "app_roles": [{"value": "User"}]} for name in APPS
        ],
    }
    body["domains"] += (extra or {}).get("domains", [])
    for key in ("federated_domains", "unverified_domains"):  # sandbox/entra/settings.py
        if key in (extra or {}):
            body[key] = extra[key]
    if "app_permissions" in (extra or {}):
        body["apps"][0]["permissions"] = extra["app_permissions"]
    body["users"] = list((extra or {}).get("users", []))
    body["groups"] += (extra or {}).get("groups", [])
    body["skus"] += (extra or {}).get("skus", [])
    body["service_principals"] += (extra or {}).get("service_principals", [])
    with server.control() as control:
        created = control.post("/_sandbox/entra/tenants", json=body)
        assert created.status_code == 201, created.text
    return tenant_id, body["apps"][0]["client_id"]


def entra_connection(
    server,
    tenant,
    directory_id: str,
    client_id: str,
    secret: str = "entra-test-secret",  # noqa: S107 (the sandbox app's)
    **fields,
) -> DirectoryConnection:
    """The tenant's saved connection to a sandbox Entra directory (`make_entra`'s ids)."""
    connection = DirectoryConnection(
        tenant=tenant,
        kind="entra",
        directory_id=directory_id,
        client_id=client_id,
        login_base_url=server.url,
        graph_base_url=server.url,
        **fields,
    )
    connection.set_secret(secret)
    connection.save()
    return connection


def make_okta(server) -> str:
    org_id = f"t-{uuid.uuid4().hex[:10]}"
    body = {
        "id": org_id,
        "name": f"Test org {org_id}",
        "api_token": f"{org_id}-token",
        "groups": [{"name": name} for name in GROUPS],
        "apps": [{"name": name.lower(), "label": name} for name in APPS],
    }
    with server.control() as control:
        created = control.post("/_sandbox/okta/orgs", json=body)
        assert created.status_code == 201, created.text
    return org_id


def make_directories(
    server,
    slug: str,
    kinds=("entra",),
    seats: int = 100,
    rate_limit_per_s: float = 50,
    entra_extra: dict | None = None,
    **template,
) -> Directories:
    domain = f"{slug}.example"
    tenant = Tenant.objects.create(
        name=slug.title(), slug=slug, primary_domain=domain, default_usage_location="GB"
    )
    dirs = Directories(server, tenant, None)
    if "entra" in kinds:
        dirs.entra_id, client_id = make_entra(server, domain, seats, entra_extra)
        entra_connection(
            server,
            tenant,
            dirs.entra_id,
            client_id,
            rate_limit_per_s=rate_limit_per_s,
            rate_burst=50,
        )
    if "okta" in kinds:
        dirs.okta_id = make_okta(server)
        connection = DirectoryConnection(
            tenant=tenant, kind="okta", org_url=f"{server.url}/okta/{dirs.okta_id}"
        )
        connection.set_secret(f"{dirs.okta_id}-token")
        connection.save()
    dirs.template = RoleTemplate.objects.create(
        tenant=tenant,
        name="Sales",
        groups=template.get("groups", ["Staff", "Sales"]),
        licenses=template.get("licenses", ["SPE_E3"] if "entra" in kinds else []),
        apps=template.get("apps", ["Salesforce"]),
        department="Sales",
        job_title="Account Executive",
    )
    return dirs
