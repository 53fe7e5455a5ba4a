"""A big org made in seconds, for benches: `POST /_sandbox/okta/{id}/generate`.

Body (all optional but `users`):

    {"users": 50000, "groups": 20, "seed": 1, "prefix": "gen", "domain": "example.com",
     "signed_in_share": 0.9, "stale_share": 0.15, "app_share": 0.5}

Adds users (about 80 % ACTIVE, the rest SUSPENDED, DEPROVISIONED, STAGED, PROVISIONED,
PASSWORD_EXPIRED or LOCKED_OUT, as in the demo orgs), an "All <prefix>" group with every
user, a group per department, `groups` project groups of 1 to 5 % of the users each, app
assignments for `app_share` of the users (not deprovisioned ones), and `lastLogin` for
`signed_in_share` of those who could sign in (`stale_share` of them 90 to 400 days ago, the
rest in the last 30 days). Active group rules apply to the new users as to any other.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

from sandbox import generating

from .demo import DEPARTMENTS, FIRST_NAMES, LAST_NAMES, STATUS_WEIGHTS
from .org import OktaOrg

MAX_USERS = 200_000


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def generate(org: OktaOrg, body: dict) -> dict[str, Any]:
    started = time.perf_counter()
    count = generating.count(body, "users", 1000, MAX_USERS)
    extra_groups = generating.count(body, "groups", 20, 1000)
    signed_in = generating.share(body, "signed_in_share", 0.9)
    stale = generating.share(body, "stale_share", 0.15)
    app_share = generating.share(body, "app_share", 0.5)
    prefix = str(body.get("prefix") or "gen")
    if not prefix.isalnum():
        raise ValueError("prefix must be letters and digits")
    domain = str(body.get("domain") or "example.com")
    rng = random.Random(body.get("seed", 1))
    now = dt.datetime.now(dt.UTC)
    statuses, weights = zip(*STATUS_WEIGHTS, strict=True)
    apps = list(org.apps.values())

    everyone = org.create_group(f"All {prefix}", f"Every generated user ({prefix})")
    departments = {
        name: org.create_group(f"{prefix} {name}", f"The {name} department") for name in DEPARTMENTS
    }
    projects = [
        org.create_group(f"{prefix} project {n + 1}", "A project team") for n in range(extra_groups)
    ]

    users, assigned = [], 0
    for number in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        login = f"{generating.plain(first)}.{generating.plain(last)}.{prefix}{number}@{domain}"
        department = rng.choice(list(DEPARTMENTS))
        status = rng.choices(statuses, weights)[0]
        profile = {
            "firstName": first,
            "lastName": last,
            "displayName": f"{first} {last}",
            "email": login,
            "login": login,
            "department": department,
            "title": rng.choice(DEPARTMENTS[department]),
            "employeeNumber": f"{prefix.upper()}{number:06d}",
        }
        has_password = status not in ("STAGED", "PROVISIONED")
        user = org.create_user(profile, has_password, activate=False)
        if status != "STAGED":
            user.set_status(status)
        created = _iso(now - dt.timedelta(days=rng.randint(1, 1500), seconds=rng.randint(0, 86399)))
        user.created = user.last_updated = created
        user.born = 0.0  # an existing org: long replicated
        if has_password and rng.random() < signed_in:
            days = rng.randint(90, 400) if rng.random() < stale else rng.randint(0, 30)
            user.last_login = _iso(now - dt.timedelta(days=days, seconds=rng.randint(0, 86399)))
        if apps and status != "DEPROVISIONED" and rng.random() < app_share:
            org.assign(rng.choice(apps), user, "USER", None)
            assigned += 1
        users.append(user)

    memberships = 0
    for user in users:
        org.add_member(everyone, user)
        org.add_member(departments[user.profile["department"]], user)
        memberships += 2
    for project in projects if users else []:
        for user in rng.sample(users, k=max(1, int(len(users) * rng.uniform(0.01, 0.05)))):
            org.add_member(project, user)
            memberships += 1
    return {
        "users": len(users),
        "groups": 1 + len(departments) + len(projects),
        "memberships": memberships,
        "app_assignments": assigned,
        "seconds": round(time.perf_counter() - started, 3),
    }
