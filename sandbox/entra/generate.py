"""A big directory made in seconds, for benches: `POST /_sandbox/entra/{id}/generate`.

Body (all optional but `users`):

    {"users": 50000, "groups": 20, "seed": 1, "prefix": "gen", "domain": "<a verified one>",
     "licensed_share": 0.85, "disabled_share": 0.04, "signed_in_share": 0.9,
     "stale_share": 0.15, "app_share": 0.3, "apps": 0}

Adds to an existing tenant: users with names, departments, job titles, cities and usage
locations; an "All <prefix>" group holding everyone, one group per department, and `groups`
project groups of 1 to 5 % of the users each; the tenant's first SKU for `licensed_share` of
the users (for a fifth of those also the next SKU whose service plans stack with it), seats
raised to cover them with 5 % spare; `disabled_share` blocked accounts (a third of them still
licensed: licence waste); sign-ins for `signed_in_share` of the users, `stale_share` of those
90 to 400 days ago and the rest in the last 30 days; `apps` more service principals
("<prefix> app N", app roles of every shape: for users, for applications only, for both,
disabled, none); the first role for users of a random service principal (default access when
it has none) for `app_share`.

Everything goes through the tenant's own methods, so delta rounds report the new objects
like any other change. The result counts what was made and how long it took.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from typing import Any

from sandbox import generating
from sandbox.entra.apps import user_roles
from sandbox.entra.model import (
    DEFAULT_ACCESS_ROLE,
    AppRoleAssignment,
    EntraTenant,
    Group,
    ServicePrincipal,
)
from sandbox.entra.service_plans import stack
from sandbox.entra.signins import record as record_sign_in
from sandbox.seed import DEPARTMENTS, FIRST, LAST, LOCATIONS

MAX_USERS = 200_000
PASSWORD = "Generated-Passw0rd!"  # noqa: S105 - a sandbox user's password


def _group(tenant: EntraTenant, name: str, description: str) -> Group:
    nickname = "".join(ch for ch in name if ch.isalnum()) or "group"
    group = Group(
        {
            "id": str(uuid.uuid4()),
            "displayName": name,
            "description": description,
            "mail": None,
            "proxyAddresses": [],
            "mailEnabled": False,
            "mailNickname": nickname,
            "securityEnabled": True,
            "groupTypes": [],
            "membershipRule": None,
            "membershipRuleProcessingState": None,
            "visibility": None,
            "createdDateTime": _iso(dt.datetime.now(dt.UTC)),
        },
        created_mono=0.0,
    )
    tenant.add_group(group)
    return group


# What real tenants hold: roles for users, roles for applications only (app permissions),
# roles for both, disabled roles (being retired), and apps with no roles at all.
ROLE_SHAPES: tuple[tuple[tuple[list[str], bool], ...], ...] = (
    ((["User"], True),),
    ((["Application"], True), (["Application"], True)),
    ((["Application"], True), (["User"], False), (["User"], True)),
    ((["User", "Application"], True),),
    (),
    ((["User"], True), (["User"], True)),
)


def _service_principals(tenant: EntraTenant, prefix: str, count: int) -> int:
    """`count` enterprise apps named "<prefix> app N", their app roles in the shapes above."""
    for number in range(count):
        shape = ROLE_SHAPES[number % len(ROLE_SHAPES)]
        roles = [
            {
                "id": str(uuid.uuid4()),
                "value": f"Role{index}",
                "displayName": f"Role {index}",
                "description": f"Role {index}",
                "allowedMemberTypes": types,
                "isEnabled": enabled,
                "origin": "Application",
            }
            for index, (types, enabled) in enumerate(shape)
        ]
        sp = ServicePrincipal(
            str(uuid.uuid4()), str(uuid.uuid4()), f"{prefix} app {number + 1}", roles
        )
        tenant.service_principals[sp.id] = sp
    return count


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(tenant: EntraTenant, body: dict) -> dict[str, Any]:
    started = time.perf_counter()
    count = generating.count(body, "users", 1000, MAX_USERS)
    extra_groups = generating.count(body, "groups", 20, 1000)
    shares = {
        key: generating.share(body, key, default)
        for key, default in (
            ("licensed_share", 0.85),
            ("disabled_share", 0.04),
            ("signed_in_share", 0.9),
            ("stale_share", 0.15),
            ("app_share", 0.3),
        )
    }
    prefix = str(body.get("prefix") or "gen")
    if not prefix.isalnum():
        raise ValueError("prefix must be letters and digits")
    domain = str(body.get("domain") or tenant.domains[0])
    if not tenant.is_verified_domain(domain):
        raise ValueError(f"domain {domain!r} is not verified in this tenant")
    rng = random.Random(body.get("seed", 1))
    now = dt.datetime.now(dt.UTC)
    skus = list(tenant.skus.values())
    # The SKU some users hold beside the first: one whose service plans do not exclude it.
    first_part = skus[0].sku_part_number if skus else ""
    second = next((s for s in skus[1:] if stack([first_part, s.sku_part_number])), None)
    apps_made = _service_principals(tenant, prefix, generating.count(body, "apps", 0, 5000))
    sps = list(tenant.service_principals.values())

    everyone = _group(tenant, f"All {prefix}", f"Every generated user ({prefix})")
    departments = {
        name: _group(tenant, f"{prefix} {name}", f"The {name} department") for name in DEPARTMENTS
    }
    projects = [
        _group(tenant, f"{prefix} project {n + 1}", "A project team") for n in range(extra_groups)
    ]

    made = licensed = assigned = 0
    users = []
    for number in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        nickname = f"{generating.plain(first)}.{generating.plain(last)}.{prefix}{number}"
        upn = f"{nickname}@{domain}"
        if upn.lower() in tenant.upn_index:
            raise ValueError(f"{upn} exists already; generate with another prefix")
        department = rng.choice(list(DEPARTMENTS))
        country, city = rng.choice(LOCATIONS)
        enabled = rng.random() >= shares["disabled_share"]
        licences = []
        if skus and rng.random() < shares["licensed_share"] and (enabled or rng.random() < 1 / 3):
            licences.append({"skuId": skus[0].sku_id, "disabledPlans": []})
            if second is not None and rng.random() < 0.2:
                licences.append({"skuId": second.sku_id, "disabledPlans": []})
        created = now - dt.timedelta(days=rng.randint(1, 1500), seconds=rng.randint(0, 86399))
        props = {
            "id": str(uuid.uuid4()),
            "accountEnabled": enabled,
            "displayName": f"{first} {last}",
            "givenName": first,
            "surname": last,
            "mailNickname": nickname,
            "userPrincipalName": upn,
            "mail": upn,
            "proxyAddresses": [f"SMTP:{upn}"],  # mail is always one (addresses.py)
            "businessPhones": [],
            "mobilePhone": None,
            "jobTitle": rng.choice(DEPARTMENTS[department]),
            "department": department,
            "officeLocation": city,
            "city": city,
            "country": country,
            "usageLocation": country,
            "preferredLanguage": None,
            "employeeId": f"{prefix.upper()}{number:06d}",
            "companyName": tenant.display_name,
            "userType": "Member",
            "createdDateTime": _iso(created),
            "lastPasswordChangeDateTime": _iso(created),
            "signInSessionsValidFromDateTime": _iso(created),
            "assignedLicenses": licences,
        }
        user = tenant.add_user(props, PASSWORD)
        user.created_mono = 0.0  # an existing directory: long replicated
        made += 1
        licensed += bool(licences)
        users.append(user)
        if rng.random() < shares["signed_in_share"]:
            stale = rng.random() < shares["stale_share"]
            days = rng.randint(90, 400) if stale else rng.randint(0, 30)
            record_sign_in(user, now - dt.timedelta(days=days, seconds=rng.randint(0, 86399)))
        if sps and rng.random() < shares["app_share"]:
            sp = rng.choice(sps)
            roles = user_roles(sp)
            role = roles[0]["id"] if roles else DEFAULT_ACCESS_ROLE
            stamp = props["createdDateTime"]
            assignment = AppRoleAssignment(str(uuid.uuid4()), role, user.id, sp.id, stamp)
            tenant.assignments[assignment.id] = assignment
            assigned += 1

    memberships = 0
    for user in users:
        tenant.add_member(everyone, user)
        tenant.add_member(departments[user.props["department"]], user)
        memberships += 2
    for project in projects if users else []:
        for user in rng.sample(users, k=max(1, int(len(users) * rng.uniform(0.01, 0.05)))):
            tenant.add_member(project, user)
            memberships += 1
    for sku in [*skus[:1], *([second] if second else [])]:
        consumed = tenant.consumed(sku.sku_id)
        if consumed > sku.enabled:
            sku.enabled = consumed + max(1, consumed // 20)
    tenant.seq_clock, tenant.seq_clock_base = [], tenant.seq  # an existing directory
    return {
        "users": made,
        "groups": 1 + len(departments) + len(projects),
        "memberships": memberships,
        "licensed_users": licensed,
        "app_role_assignments": assigned,
        "service_principals": apps_made,
        "seconds": round(time.perf_counter() - started, 3),
    }
