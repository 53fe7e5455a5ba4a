"""The demo Okta orgs: Fabrikam (Okta only) and Northwind (Okta beside its Entra directory).

The ids and API tokens are plain constants so the portal's demo seed can copy them by value.
They are demo credentials for a local sandbox, not secrets.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from typing import Any

from .provision import create_org

FABRIKAM_ORG_ID = "fabrikam"
FABRIKAM_API_TOKEN = "fabrikam-demo-token-00Okta5andb0xF4br1kam"  # noqa: S105 (demo only)
NORTHWIND_ORG_ID = "northwind"
NORTHWIND_API_TOKEN = "northwind-demo-token-00Okta5andb0xN0rthw1nd"  # noqa: S105 (demo only)

DEMO_ORGS = {
    FABRIKAM_ORG_ID: {
        "name": "Fabrikam, Inc.",
        "token": FABRIKAM_API_TOKEN,
        "domain": "fabrikam.example",
        "users": 120,
    },
    NORTHWIND_ORG_ID: {
        "name": "Northwind Traders",
        "token": NORTHWIND_API_TOKEN,
        "role": "ORG_ADMIN",  # its token's admin: an Org Administrator (Fabrikam's: Super)
        "domain": "northwind.example",
        "users": 80,
    },
}

FIRST_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Ava",
    "Elijah",
    "Sophia",
    "Lucas",
    "Mia",
    "Mateo",
    "Isabella",
    "Levi",
    "Charlotte",
    "Ethan",
    "Harper",
    "James",
    "Evelyn",
    "Aiden",
    "Priya",
    "Arjun",
    "Mei",
    "Hiroshi",
    "Fatima",
    "Omar",
    "Chloé",
    "Lars",
    "Ingrid",
    "Diego",
    "Lucía",
    "Kwame",
    "Amara",
    "Sven",
    "Anya",
    "Dmitri",
    "Zara",
    "Tomás",
    "Nadia",
    "Jonas",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Patel",
    "Nguyen",
    "Kim",
    "Tanaka",
    "Müller",
    "Schmidt",
    "Rossi",
    "Dubois",
    "Novak",
    "Kowalski",
    "Andersson",
    "Okafor",
    "Mensah",
    "O'Brien",
    "Fischer",
    "Silva",
    "Costa",
    "Haddad",
    "Ivanova",
    "Berg",
]
DEPARTMENTS = {
    "Sales": ["Account Executive", "Sales Manager", "Sales Development Rep"],
    "Engineering": ["Software Engineer", "Engineering Manager", "Site Reliability Engineer"],
    "Finance": ["Accountant", "Financial Analyst", "Controller"],
    "Human Resources": ["HR Generalist", "Recruiter", "HR Business Partner"],
    "Marketing": ["Marketing Specialist", "Content Strategist", "Marketing Manager"],
    "Support": ["Support Engineer", "Support Lead", "Customer Success Manager"],
    "Operations": ["Operations Analyst", "Office Manager", "Facilities Coordinator"],
    "Legal": ["Counsel", "Paralegal", "Compliance Officer"],
}
GROUPS = [
    ("All Staff", "Everyone employed by the company"),
    *[(dept, f"Members of the {dept} department") for dept in DEPARTMENTS],
    ("Managers", "People managers"),
    ("VPN Users", "Allowed to use the corporate VPN"),
    ("Contractors", "External contractors with limited access"),
]
APPS = [
    ("salesforce", "Salesforce"),
    ("slack", "Slack"),
    ("zoom", "Zoom"),
    ("workday", "Workday"),
]
# What Okta's own rules look like in the demo: an app every "VPN Users" member holds through
# the group (never unassigned from one of them), and a group imported from Active Directory
# (its members change in AD only).
DIRECTORY_APP = ("active_directory", "Active Directory")
VPN_APP = ("globalprotect", "GlobalProtect VPN", "VPN Users")
AD_GROUP = ("Engineering (AD)", "Imported from Active Directory: CORP\\Engineering")
# Creation and last sign-in dates are relative to the seeding, so the demo never looks stale.
NOW = dt.datetime.now(dt.UTC)
# Share of users per status; the rest are ACTIVE.
STATUS_WEIGHTS = [
    ("ACTIVE", 80),
    ("SUSPENDED", 5),
    ("DEPROVISIONED", 6),
    ("STAGED", 3),
    ("PROVISIONED", 3),
    ("PASSWORD_EXPIRED", 2),
    ("LOCKED_OUT", 1),
]


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _login(first: str, last: str, domain: str, taken: set[str]) -> str:
    # Logins are plain ASCII, as most companies make them: Chloé Müller -> chloe.muller.
    plain = unicodedata.normalize("NFKD", f"{first}.{last}".lower())
    base = "".join(c for c in plain if c.isascii() and (c.isalnum() or c == "."))
    login, n = f"{base}@{domain}", 2
    while login in taken:
        login, n = f"{base}{n}@{domain}", n + 1
    taken.add(login)
    return login


def _demo_user(rng: random.Random, number: int, domain: str, taken: set[str]) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    department = rng.choice(list(DEPARTMENTS))
    title = rng.choice(DEPARTMENTS[department])
    login = _login(first, last, domain, taken)
    statuses, weights = zip(*STATUS_WEIGHTS, strict=True)
    status = rng.choices(statuses, weights)[0]
    groups = ["All Staff", department]
    if department == "Engineering":
        groups.append(AD_GROUP[0])
    if title in ("Controller", "Support Lead"):
        groups.append("Managers")  # the other managers come in by the group rule below
    if rng.random() < 0.3:
        groups.append("VPN Users")
    if rng.random() < 0.05:
        groups.append("Contractors")
    apps = ["slack", "zoom", "workday"]
    if department in ("Sales", "Support", "Marketing"):
        apps.append("salesforce")
    days_ago = rng.randint(30, 1500)
    created = NOW - dt.timedelta(days=days_ago, minutes=rng.randint(0, 1440))
    seen = NOW - dt.timedelta(days=rng.randint(0, min(days_ago, 60)), minutes=rng.randint(0, 1440))
    return {
        "created": _iso(created),
        "lastLogin": _iso(seen) if status not in ("STAGED", "PROVISIONED") else None,
        "profile": {
            "firstName": first,
            "lastName": last,
            "displayName": f"{first} {last}",
            "email": login,
            "login": login,
            "department": department,
            "title": title,
            "employeeNumber": f"E{number:05d}",
        },
        "status": status,
        "password": status not in ("STAGED", "PROVISIONED"),
        "sessions": rng.randint(0, 3) if status == "ACTIVE" else 0,
        "groups": groups,
        "apps": apps,
    }


def demo_org_body(org_id: str) -> dict[str, Any]:
    """The control-API body of one demo org; the same every time (seeded by the org id)."""
    spec = DEMO_ORGS[org_id]
    rng = random.Random(org_id)
    taken: set[str] = set()
    users = [_demo_user(rng, n, spec["domain"], taken) for n in range(1, spec["users"] + 1)]
    return {
        "id": org_id,
        "name": spec["name"],
        "api_token": spec["token"],
        "api_token_roles": [spec.get("role", "SUPER_ADMIN")],
        "groups": [{"name": name, "description": text} for name, text in GROUPS]
        + [
            {
                "name": AD_GROUP[0],
                "description": AD_GROUP[1],
                "type": "APP_GROUP",
                "source": DIRECTORY_APP[0],
            }
        ],
        "apps": [{"name": name, "label": label} for name, label in [*APPS, DIRECTORY_APP]]
        + [{"name": VPN_APP[0], "label": VPN_APP[1], "groups": [VPN_APP[2]]}],
        "users": users,
        "rules": [
            {
                "name": "Managers by title",
                "expression": 'String.stringContains(user.title, "Manager")',
                "groups": ["Managers"],
            }
        ],
    }


def seed_demo(state: Any) -> None:
    """Create the demo orgs in `state.okta` (replacing any earlier copies of them)."""
    for org_id in DEMO_ORGS:
        state.okta.pop(org_id, None)
        create_org(state, demo_org_body(org_id))
