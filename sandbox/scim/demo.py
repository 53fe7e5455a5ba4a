"""The demo SCIM apps of `--seed demo`: "Slack" for Contoso, "Zoom" for Fabrikam, "Dropbox"
for Northwind (beside its Entra ID and Okta: the tenant where one form reaches all three).

Fixed slugs and bearer tokens (demo credentials for a local sandbox, not secrets), which the
portal's demo seeding copies (it never imports the sandbox). Each app already holds a few of
its company's people (the same userName and email as in the company's directory, so a
portal that provisions them finds and links them) and a couple of accounts that exist only
in the app (a contractor, a room or webinar account), as real apps do.

Base URL of an app: SANDBOX_URL + "/scim/<slug>/v2", bearer token below, CA var/sandbox/ca.pem.
"""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.scim.model import ScimApp
from sandbox.scim.schema import ENTERPRISE_SCHEMA

CONTOSO_SLACK_SLUG = "contoso-slack"
CONTOSO_SLACK_NAME = "Slack"
CONTOSO_SLACK_TOKEN = "contoso-slack-demo-scim-token"  # noqa: S105 - demo credential
FABRIKAM_ZOOM_SLUG = "fabrikam-zoom"
FABRIKAM_ZOOM_NAME = "Zoom"
FABRIKAM_ZOOM_TOKEN = "fabrikam-zoom-demo-scim-token"  # noqa: S105 - demo credential
NORTHWIND_DROPBOX_SLUG = "northwind-dropbox"
NORTHWIND_DROPBOX_NAME = "Dropbox"
NORTHWIND_DROPBOX_TOKEN = "northwind-dropbox-demo-scim-token"  # noqa: S105 - demo credential
DEMO_PEOPLE_PER_APP = 4  # the first people of each company's directory
NAMESPACE = uuid.UUID("5c1a0de0-0000-4000-8000-000000000000")


def _id(slug: str, key: str) -> str:
    return uuid.uuid5(NAMESPACE, f"{slug}/{key}").hex


def person(
    user_name: str,
    given: str,
    family: str,
    *,
    active: bool = True,
    department: str | None = None,
    employee_number: str | None = None,
) -> dict[str, Any]:
    """A user in stored form; enterprise attributes only where the app has the extension."""
    user: dict[str, Any] = {
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "displayName": f"{given} {family}",
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": active,
    }
    enterprise = {"department": department, "employeeNumber": employee_number}
    if any(enterprise.values()):
        user[ENTERPRISE_SCHEMA] = {k: v for k, v in enterprise.items() if v}
    return user


def _app(state: Any, slug: str, name: str, flavour: str, token: str, users: list[dict]) -> ScimApp:
    app = ScimApp(slug, name, flavour, token)
    for user in users:
        app.add("User", user, _id(slug, user["userName"]))
    state.scim[slug] = app
    return app


def _group(app: ScimApp, name: str, user_names: list[str]) -> None:
    members = [{"value": _id(app.slug, n), "type": "User"} for n in user_names]
    app.add("Group", {"displayName": name, "members": members}, _id(app.slug, f"group/{name}"))


def seed_slack(state: Any, contoso_people: list[dict]) -> None:
    """`contoso_people`: the first people of Contoso's directory, as `person()` bodies."""
    slack_users = [
        *contoso_people,
        person("alex.rivera@studio-agency.example", "Alex", "Rivera", department="Design"),
        person("former.intern@contoso.example", "Former", "Intern", active=False),
    ]
    slack = _app(
        state, CONTOSO_SLACK_SLUG, CONTOSO_SLACK_NAME, "slack", CONTOSO_SLACK_TOKEN, slack_users
    )
    everyone = [u["userName"] for u in slack_users if u["active"]]
    _group(slack, "All Hands", everyone)
    _group(slack, "Engineering", [everyone[1], "alex.rivera@studio-agency.example"])
    _group(slack, "Sales", [u["userName"] for u in contoso_people[:1]])


def seed_zoom(state: Any, fabrikam_people: list[dict]) -> None:
    zoom_users = [
        *[{k: v for k, v in u.items() if k != ENTERPRISE_SCHEMA} for u in fabrikam_people],
        person("webinars@fabrikam-events.example", "Fabrikam", "Webinars"),
        person("boardroom.zoomroom@fabrikam.example", "Boardroom", "Zoom Room"),
    ]
    _app(state, FABRIKAM_ZOOM_SLUG, FABRIKAM_ZOOM_NAME, "zoom", FABRIKAM_ZOOM_TOKEN, zoom_users)


def seed_dropbox(state: Any, northwind_people: list[dict]) -> None:
    """A generic SCIM app (groups patched, filters on anything): team folders as groups."""
    users = [
        *northwind_people,
        person("auditor@kpmg-audit.example", "External", "Auditor", department="Finance"),
    ]
    dropbox = _app(
        state,
        NORTHWIND_DROPBOX_SLUG,
        NORTHWIND_DROPBOX_NAME,
        "full",
        NORTHWIND_DROPBOX_TOKEN,
        users,
    )
    everyone = [u["userName"] for u in users]
    _group(dropbox, "Everyone", everyone[:-1])
    _group(dropbox, "Office", everyone[:2])
    _group(dropbox, "Warehouse", everyone[2:-1])
    _group(dropbox, "Audit 2026", everyone[-1:])
