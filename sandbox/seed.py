"""`--seed demo`: Contoso (Entra, and its Slack over SCIM), Fabrikam (Okta, and its Zoom over
SCIM), Northwind (Entra, Okta, and its Dropbox over SCIM).

Content is deterministic (seeded by the directory name): the same people, groups, licences
and apps on every run, so demos and screenshots are repeatable. Last sign-ins are the same
number of days before the seeding on every run.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
import uuid
from typing import Any

from sandbox import demo_directories as demo
from sandbox.entra.provision import create_tenant
from sandbox.okta import seed_demo as seed_okta_demo
from sandbox.scim import demo as scim_demo
from sandbox.state import SandboxState
from sandbox.webhook_receivers import Receiver

NAMESPACE = uuid.UUID("5a4db0c5-0000-4000-8000-000000000000")
FIRST = [
    "Adele",
    "Alex",
    "Bianca",
    "Carlos",
    "Dana",
    "Diego",
    "Elif",
    "Emma",
    "Farah",
    "Felix",
    "Grace",
    "Hannah",
    "Hugo",
    "Ines",
    "Isaac",
    "Jana",
    "Jonas",
    "Kai",
    "Lena",
    "Lucas",
    "Maya",
    "Mateo",
    "Nadia",
    "Noah",
    "Olga",
    "Omar",
    "Priya",
    "Rafael",
    "Sara",
    "Sven",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Zoë",
    "Amélie",
    "Björn",
    "Chloé",
    "Søren",
]
LAST = [
    "Adams",
    "Baker",
    "Chen",
    "Dubois",
    "Evans",
    "Fischer",
    "García",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Martin",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Weber",
    "Xu",
    "Young",
    "Zimmermann",
    "Öztürk",
    "Núñez",
]
DEPARTMENTS = {
    "Sales": ["Account Executive", "Sales Manager", "Sales Development Rep"],
    "Marketing": ["Marketing Specialist", "Content Strategist"],
    "Engineering": ["Software Engineer", "Engineering Manager", "QA Engineer"],
    "Finance": ["Accountant", "Financial Analyst"],
    "Human Resources": ["HR Generalist", "Recruiter"],
    "Support": ["Support Engineer", "Support Lead"],
    "Operations": ["Operations Analyst", "Office Manager"],
}
LOCATIONS = [("US", "Seattle"), ("GB", "London"), ("DE", "Berlin"), ("NL", "Amsterdam")]
APPS = {
    "Salesforce": ["User", "Admin"],
    "ServiceNow": ["Requester", "Agent"],
    "Zoom": ["Member"],
    "Slack": ["Member", "Workspace Admin"],
}
# Roles given to applications (app permissions), not to people: a user never gets these.
APP_ONLY_ROLES = {"Agent"}


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _users(name: str, domain: str, count: int) -> list[dict[str, Any]]:
    rng = random.Random(name)
    users, taken = [], set()
    for number in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        nickname = f"{_ascii(first)}.{_ascii(last)}"
        while nickname in taken:
            nickname = f"{_ascii(first)}.{_ascii(last)}{rng.randint(2, 99)}"
        taken.add(nickname)
        department = rng.choice(list(DEPARTMENTS))
        country, city = rng.choice(LOCATIONS)
        upn = f"{nickname}@{domain}"
        users.append(
            {
                "id": _id(name, "user", upn),
                "userPrincipalName": upn,
                "mail": upn,
                "mailNickname": nickname,
                "displayName": f"{first} {last}",
                "givenName": first,
                "surname": last,
                "department": department,
                "jobTitle": rng.choice(DEPARTMENTS[department]),
                "officeLocation": city,
                "city": city,
                "country": country,
                # A few people were created without a usage location, as happens in real tenants.
                "usageLocation": None if number % 17 == 5 else country,
                "employeeId": f"{name[:2].upper()}{1000 + number}",
                "companyName": name.title(),
                "accountEnabled": number % 23 != 7,  # some leavers are blocked, not yet deleted
                **(_synced(upn) if number % 10 == 3 else {}),
            }
        )
    return users


def _synced(upn: str) -> dict[str, Any]:
    """One person in ten comes from the client's on-premises AD (Entra Connect): Graph
    refuses to change what AD masters (sandbox/entra/onprem.py)."""
    return {
        "onPremisesSyncEnabled": True,
        "onPremisesImmutableId": _id("immutable", upn)[:24],
        "onPremisesLastSyncDateTime": "2026-01-05T06:30:00Z",
    }


def _sign_ins(name: str, users: list[dict]) -> None:
    """Most people signed in during the last two weeks, about one in ten 95 to 300 days ago
    (stale accounts for the report), one in twenty never. A random stream of its own, so the
    people themselves stay as they were."""
    rng = random.Random(f"{name}/sign-ins")
    now = dt.datetime.now(dt.UTC)
    for user in users:
        roll = rng.random()
        if roll < 0.05:
            continue
        days = rng.randint(95, 300) if roll < 0.15 else rng.randint(0, 14)
        moment = now - dt.timedelta(days=days, minutes=rng.randint(0, 1439))
        user["last_sign_in"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _licence(users: list[dict], skus: list[dict]) -> None:
    """Hand out seats in order, leaving the first SKU one seat short of full."""
    for sku in skus:
        budget = sku["seats"] - sku.pop("_free")
        for user in users:
            if budget == 0:
                break
            if user["usageLocation"] and user["accountEnabled"] and sku["_who"](user):
                user.setdefault("licenses", []).append(sku["sku_part_number"])
                budget -= 1
        sku.pop("_who")


def entra_demo_body(key: str, user_count: int) -> dict[str, Any]:
    spec = demo.ENTRA_DEMO[key]
    users = _users(key, spec["domain"], user_count)
    _sign_ins(key, users)
    skus = [
        {
            "sku_part_number": "O365_BUSINESS_PREMIUM",
            "seats": 40,
            "_free": 1,
            "_who": lambda u: u["department"] != "Engineering",
        },
        {
            "sku_part_number": "SPE_E3",
            "seats": user_count,
            "_free": user_count // 3,
            "_who": lambda u: u["department"] == "Engineering",
        },
        {"sku_part_number": "EMS", "seats": user_count + 25, "_free": 30, "_who": lambda u: True},
    ]
    _licence(users, skus)
    by_dept: dict[str, list[str]] = {}
    for user in users:
        by_dept.setdefault(user["department"], []).append(user["userPrincipalName"])
    managers = [u["userPrincipalName"] for u in users if "Manager" in (u["jobTitle"] or "")]
    groups: list[dict[str, Any]] = [
        {
            "display_name": "All Staff",
            "description": "Everyone",
            "members": [u["userPrincipalName"] for u in users],
        },
        *[
            {
                "display_name": f"{dept} Team",
                "description": f"The {dept} department",
                "members": members,
            }
            for dept, members in sorted(by_dept.items())
        ],
        {"display_name": "Managers", "description": "People managers", "members": managers},
        {
            "display_name": "VPN Users",
            "description": "Allowed on the corporate VPN",
            "members": [u["userPrincipalName"] for u in users[::3]],
        },
        {
            "display_name": "Sales-All",
            "description": "Distribution list of the Sales department (Exchange)",
            "mail_enabled": True,
            "security_enabled": False,
            "members": by_dept.get("Sales", []),
        },
        {
            "display_name": "Finance Approvers",
            "description": "Mail-enabled security group (Exchange)",
            "mail_enabled": True,
            "security_enabled": True,
            "members": by_dept.get("Finance", [])[:5],
        },
        {
            "display_name": "Sales (dynamic)",
            "description": "Everyone in Sales, by rule",
            "membership_rule": '(user.department -eq "Sales")',
        },
        {
            "display_name": "UK Staff (dynamic)",
            "description": "Everyone located in the UK",
            "membership_rule": '(user.usageLocation -eq "GB")',
        },
    ]
    for group in groups:
        group["id"] = _id(key, "group", group["display_name"])
    service_principals = [
        {
            "display_name": app,
            "id": _id(key, "sp", app),
            "app_id": _id("app", app),  # one multi-tenant app, the same appId everywhere
            "app_roles": [
                {
                    "value": r.replace(" ", ""),
                    "display_name": r,
                    "id": _id("app", app, "role", r),
                    "allowed_member_types": ["Application" if r in APP_ONLY_ROLES else "User"],
                }
                for r in roles
            ],
        }
        for app, roles in APPS.items()
    ]
    return {
        "tenant_id": spec["tenant_id"],
        "display_name": spec["display_name"],
        "domains": [spec["domain"], *spec["other_domains"]],
        "apps": [
            {
                "client_id": spec["client_id"],
                "client_secret": spec["client_secret"],
                "display_name": "MSP provisioning portal",
                **_secret_end(spec),
            }
        ],
        "skus": skus,
        "users": users,
        "groups": groups,
        "service_principals": service_principals,
        **_admins(users, managers),
    }


def _secret_end(spec: dict) -> dict[str, str]:
    if "secret_days_left" not in spec:
        return {}
    end = dt.datetime.now(dt.UTC) + dt.timedelta(days=spec["secret_days_left"])
    return {"secret_end_date_time": end.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _admins(users: list[dict], managers: list[str]) -> dict[str, Any]:
    """A few people hold admin roles (one only eligible, through PIM) and the London office
    is an administrative unit, so a leaver's roles and units show in dry runs and jobs. The
    portal's own app holds User Administrator (the control API's default)."""
    london = [u["userPrincipalName"] for u in users if u["city"] == "London"]
    return {
        "directory_roles": [
            {"role": "User Administrator", "members": managers[:1]},
            {"role": "Helpdesk Administrator", "members": managers[1:2]},
        ],
        "eligible_roles": [{"role": "Global Administrator", "members": managers[:1]}],
        "administrative_units": [{"display_name": "London office", "members": london}],
    }


DEMO_RECEIVER = "psa"


def seed_state(state: SandboxState, seed: str) -> None:
    if seed != "demo":
        raise ValueError(f"unknown seed {seed!r}; the only one is 'demo'")
    for key, count in (("contoso", 120), ("northwind", 60)):
        state.entra.pop(demo.ENTRA_DEMO[key]["tenant_id"], None)
        create_tenant(state, entra_demo_body(key, count))
    seed_okta_demo(state)
    _seed_scim_apps(state)
    seed_receivers(state, seed)


def seed_receivers(state: SandboxState, seed: str) -> None:
    """The demo MSP's PSA: the portal's demo webhook endpoint posts here (/hooks/psa).
    Receivers are not in the state file, so a demo started again (its state loaded) needs
    this too, else every delivery is answered 404."""
    if seed == "demo":
        state.webhook_receivers.setdefault(DEMO_RECEIVER, Receiver(DEMO_RECEIVER))


def _seed_scim_apps(state: SandboxState) -> None:
    for slug in SCIM_APPS:
        state.scim.pop(slug, None)
    seed_missing_scim_apps(state)


def seed_missing_scim_apps(state: SandboxState) -> None:
    """The demo SCIM apps the state lacks, each holding a few of its company's own people. A
    state kept from before an app was added to the demo gets it at its next start."""
    for slug, (seed_app, people) in SCIM_APPS.items():
        if slug not in state.scim:
            seed_app(state, people(state)[: scim_demo.DEMO_PEOPLE_PER_APP])


def _entra_people(tenant_id: str):
    def people(state: SandboxState) -> list[dict]:
        return [
            scim_demo.person(
                u.props["userPrincipalName"],
                u.props["givenName"],
                u.props["surname"],
                department=u.props.get("department"),
                employee_number=u.props.get("employeeId"),
            )
            for u in state.entra[tenant_id].users.values()
        ]

    return people


def _fabrikam_people(state: SandboxState) -> list[dict]:
    return [
        scim_demo.person(u.profile["login"], u.profile["firstName"], u.profile["lastName"])
        for u in state.okta[demo.FABRIKAM_OKTA_ORG_ID].users.values()
    ]


SCIM_APPS = {
    scim_demo.CONTOSO_SLACK_SLUG: (scim_demo.seed_slack, _entra_people(demo.CONTOSO_TENANT_ID)),
    scim_demo.FABRIKAM_ZOOM_SLUG: (scim_demo.seed_zoom, _fabrikam_people),
    scim_demo.NORTHWIND_DROPBOX_SLUG: (
        scim_demo.seed_dropbox,
        _entra_people(demo.NORTHWIND_TENANT_ID),
    ),
}
