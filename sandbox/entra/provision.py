"""Creating an Entra directory from a control-API body (also used by the demo seed).

Body (snake_case keys; user entries use Graph property names):

    {"tenant_id": "<uuid, optional>", "display_name": "Contoso",
     "domains": ["contoso.example"],
     "apps": [{"client_id": "<uuid>", "client_secret": "...", "display_name": "...",
               "secret_end_date_time": "<ISO, optional: when the secret ends>",
               "permissions": ["User.ReadWrite.All", ...], "certificates": ["<PEM>"]}],
     "skus": [{"sku_part_number": "SPE_E3", "seats": 25, "sku_id": "<uuid, optional>"}],
     "groups": [{"display_name": "Sales", "description": "...", "members": ["<upn or id>"],
                 "assignable_to_role": false},
                {"display_name": "Sales-All", "mail_enabled": true, "security_enabled": false,
                 "synced": false},
                {"display_name": "All Sales",
                 "membership_rule": "(user.department -eq \\"Sales\\")"}],
     "service_principals": [{"display_name": "Salesforce", "app_id": "<uuid, optional>",
                             "app_roles": [{"value": "User", "display_name": "User",
                                            "allowed_member_types": ["User"],
                                            "is_enabled": true}]}],
     "users": [{"userPrincipalName": "...", "displayName": "...", "licenses": ["SPE_E3"],
                "onPremisesSyncEnabled": true, "manager": "<upn or id>",
                "apps": ["<service principal display name or id>"],
                "last_sign_in": "<ISO date and time, optional>", ...}],
     "token_lifetime_s": 3600, "behaviour": {...},
     "premium": null, "delta_token_lifetime_s": 604800,   # see sandbox/entra/settings.py
     "federated_domains": ["corp.contoso.example"], "unverified_domains": ["new.example"]}
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.entra.addresses import addresses, with_mail
from sandbox.entra.applications import end_date_time
from sandbox.entra.apps import user_roles
from sandbox.entra.errors import GraphError
from sandbox.entra.groups import give_mail, new_group_props
from sandbox.entra.model import (
    ALL_PERMISSIONS,
    DEFAULT_ACCESS_ROLE,
    AppRegistration,
    AppRoleAssignment,
    EntraTenant,
    Group,
    ServicePrincipal,
    Sku,
    in_use_credential,
    new_id,
    now_iso,
    unset_properties,
)
from sandbox.entra.roles import seed_roles
from sandbox.entra.settings import update_settings
from sandbox.entra.signins import parse_time
from sandbox.entra.signins import record as record_sign_in
from sandbox.state import SandboxState

# Real, public SKU ids, so code that recognises well-known SKUs works against the sandbox.
KNOWN_SKUS = {
    "O365_BUSINESS_PREMIUM": "f245ecc8-75af-4f8e-b61f-27d8114de5f3",
    "O365_BUSINESS_ESSENTIALS": "3b555118-da6a-4418-894f-7df1e2096870",
    "SPE_E3": "05e9a617-0261-4cee-bb44-138d3ef5d965",
    "SPE_E5": "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
    "ENTERPRISEPACK": "6fd2c87f-b296-42f0-b197-1e91e994b900",
    "EMS": "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
    "EXCHANGESTANDARD": "4b9405b0-7788-4568-add1-99614e613b69",
}
_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


def _uuid(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"{what} must be a UUID, got {value!r}") from None


def _list(body: dict, key: str) -> list:
    value = body.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


def _is_certificate(pem: object) -> bool:
    if not isinstance(pem, str):
        return False
    try:
        key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    except ValueError:
        return False
    return isinstance(key, rsa.RSAPublicKey)


def _dicts(body: dict, key: str) -> list[dict]:
    items = _list(body, key)
    if not all(isinstance(item, dict) for item in items):
        raise ValueError(f"{key} must be a list of objects")
    return items


def _apps(body: dict) -> list[AppRegistration]:
    items = _dicts(body, "apps") or ([body["app"]] if isinstance(body.get("app"), dict) else [])
    if not items:
        raise ValueError("an app registration is required: apps: [{client_id, client_secret}]")
    apps = []
    for item in items:
        certificates = item.get("certificates") or []
        if not item.get("client_secret") and not certificates:
            raise ValueError("each app needs client_id and a client_secret or certificates")
        if not isinstance(certificates, list) or not all(map(_is_certificate, certificates)):
            raise ValueError("app certificates must be a list of PEM certificates (RSA keys)")
        permissions = item.get("permissions", ALL_PERMISSIONS)
        if not isinstance(permissions, list):
            raise ValueError("app permissions must be a list of Graph permission names")
        apps.append(
            AppRegistration(
                client_id=_uuid(item.get("client_id"), "app client_id"),
                client_secret=str(item.get("client_secret") or ""),
                display_name=str(item.get("display_name", "MSP provisioning portal")),
                permissions=[str(p) for p in permissions],
                certificates=certificates,
            )
        )
        if "secret_end_date_time" in item:  # when the secret the app signs in with ends
            app = apps[-1]
            app.password_credentials = [in_use_credential(app.client_secret)]
            app.password_credentials[0]["endDateTime"] = end_date_time(item, "secret_end_date_time")
    return apps


def _skus(body: dict) -> list[Sku]:
    skus = []
    for item in _dicts(body, "skus"):
        part = item.get("sku_part_number") if isinstance(item, dict) else None
        if not part:
            raise ValueError("each SKU needs sku_part_number")
        sku_id = (
            item.get("sku_id") or KNOWN_SKUS.get(part) or str(uuid.uuid5(uuid.NAMESPACE_DNS, part))
        )
        seats = item.get("seats", 25)
        if not isinstance(seats, int) or seats < 0:
            raise ValueError(f"seats for {part} must be a non-negative integer")
        skus.append(Sku(_uuid(sku_id, "sku_id"), part, seats))
    return skus


def _service_principals(body: dict) -> list[ServicePrincipal]:
    sps = []
    for item in _dicts(body, "service_principals"):
        if not isinstance(item, dict) or not item.get("display_name"):
            raise ValueError("each service principal needs display_name")
        roles = []
        for role in _dicts(item, "app_roles"):
            if not role.get("value"):
                raise ValueError("each app role needs a value")
            roles.append(
                {
                    "id": _uuid(role.get("id") or uuid.uuid4(), "app role id"),
                    "value": role["value"],
                    "displayName": role.get("display_name", role["value"]),
                    "description": role.get("description", role.get("display_name", role["value"])),
                    "allowedMemberTypes": _member_types(role),
                    "isEnabled": bool(role.get("is_enabled", True)),
                    "origin": "Application",
                }
            )
        sps.append(
            ServicePrincipal(
                id=_uuid(item.get("id") or uuid.uuid4(), "service principal id"),
                app_id=_uuid(item.get("app_id") or uuid.uuid4(), "service principal app_id"),
                display_name=item["display_name"],
                app_roles=roles,
            )
        )
    return sps


def _member_types(role: dict) -> list[str]:
    types = role.get("allowed_member_types", ["User"])
    if not isinstance(types, list) or not types or set(types) - {"User", "Application"}:
        raise ValueError('allowed_member_types is a non-empty list of "User" and "Application"')
    return list(types)


def _add_users(tenant: EntraTenant, body: dict) -> None:
    by_part = {s.sku_part_number: s.sku_id for s in tenant.skus.values()}
    taken: set[str] = set()  # addresses held so far
    for item in _dicts(body, "users"):
        props = dict(item)
        upn = props.get("userPrincipalName", "")
        if "@" not in upn or not tenant.is_verified_domain(upn.rsplit("@", 1)[1]):
            raise ValueError(f"user {upn!r} needs a userPrincipalName on a verified domain")
        if upn.lower() in tenant.upn_index:
            raise ValueError(f"user {upn!r} is listed twice")
        password = props.pop("password", "Sandbox-Passw0rd!")
        props.pop("manager", None)  # _add_managers, once every user exists
        licences = props.pop("licenses", [])
        last_sign_in = props.pop("last_sign_in", None)
        signed_in = None if last_sign_in is None else parse_time(last_sign_in, f"user {upn!r}")
        apps = [_service_principal(tenant, upn, app) for app in props.pop("apps", [])]
        unknown = [p for p in licences if p not in by_part]
        if unknown:
            raise ValueError(f"user {upn!r} has unknown licenses {unknown}")
        props["proxyAddresses"] = _proxy_addresses(upn, props, taken)
        now = now_iso()
        record = {
            "id": _uuid(props.pop("id", None) or uuid.uuid4(), "user id"),
            "accountEnabled": True,
            "displayName": upn.split("@")[0],
            "mailNickname": upn.split("@")[0],
            **unset_properties(),
            **props,
            "userType": "Member",
            "createdDateTime": now,
            "lastPasswordChangeDateTime": now,
            "signInSessionsValidFromDateTime": now,
            "assignedLicenses": [{"skuId": by_part[p], "disabledPlans": []} for p in licences],
        }
        user = tenant.add_user(record, password)
        user.created_mono = 0.0  # seeded users are long replicated
        if signed_in is not None:
            record_sign_in(user, signed_in)
        for sp in apps:
            roles = user_roles(sp)
            role = roles[0]["id"] if roles else DEFAULT_ACCESS_ROLE
            assignment = AppRoleAssignment(new_id(), role, user.id, sp.id, now)
            tenant.assignments[assignment.id] = assignment


def _proxy_addresses(upn: str, props: dict, taken: set[str]) -> list[str]:
    """A seeded user's proxyAddresses ("smtp:alias@..." entries may be listed; mail is the
    primary one), unique in the directory as Graph keeps them (sandbox/entra/addresses.py):
    `taken` holds the addresses of the users seeded before."""
    given = props.get("proxyAddresses") or []
    if not isinstance(given, list) or not all(isinstance(p, str) and ":" in p for p in given):
        raise ValueError(f"user {upn!r}: proxyAddresses must be a list like ['smtp:a@b']")
    proxies = with_mail(given, props.get("mail")) if props.get("mail") else list(given)
    held = addresses({"proxyAddresses": proxies})
    if held & taken:
        raise ValueError(f"user {upn!r}: another user holds the address {min(held & taken)}")
    taken |= held
    return proxies


def _add_managers(tenant: EntraTenant, body: dict) -> None:
    """Seeded users' managers ("manager": a UPN or id among the seeded users)."""
    for item in _dicts(body, "users"):
        if not item.get("manager"):
            continue
        user = tenant.live_user(item["userPrincipalName"])
        boss = tenant.live_user(str(item["manager"]))
        if boss is None or boss is user:
            raise ValueError(f"user {item['userPrincipalName']!r}: unknown manager")
        user.manager_id = boss.id


def _service_principal(tenant: EntraTenant, upn: str, key: object) -> ServicePrincipal:
    """A user's seeded app, named by display name or id."""
    found = next(
        (sp for sp in tenant.service_principals.values() if key in (sp.id, sp.display_name)),
        None,
    )
    if found is None:
        raise ValueError(f"user {upn!r} has an unknown app {key!r}")
    return found


def _add_groups(tenant: EntraTenant, body: dict) -> None:
    for item in _dicts(body, "groups"):
        if not isinstance(item, dict) or not item.get("display_name"):
            raise ValueError("each group needs display_name")
        name = item["display_name"]
        rule = item.get("membership_rule")
        mail_enabled = item.get("mail_enabled") is True  # with security_enabled false: a DL
        data = {
            "displayName": name,
            "description": item.get("description"),
            "mailNickname": item.get("mail_nickname") or re.sub(r"[^A-Za-z0-9]", "", name) or "g",
            "mailEnabled": mail_enabled,
            "securityEnabled": item.get("security_enabled", True) is not False,
            "groupTypes": ["DynamicMembership"] if rule else [],
            "membershipRule": rule,
        }
        try:
            props = new_group_props(data)
            if mail_enabled:  # its address is unique among users' and groups' (addresses.py)
                give_mail(tenant, props, f"{data['mailNickname']}@{tenant.domains[0]}")
        except GraphError as exc:
            raise ValueError(f"group {name!r}: {exc.message}") from None
        if item.get("synced") is True:  # from on-premises AD (sandbox/entra/onprem.py)
            props["onPremisesSyncEnabled"] = True
        if item.get("assignable_to_role") is True:
            # group.md (isAssignableToRole): set at creation only; "securityEnabled must also
            # be set to true ... and the group can't be a dynamic group".
            if rule or not props["securityEnabled"]:
                raise ValueError(
                    f"group {name!r}: a role-assignable group is a static security group"
                )
            props["isAssignableToRole"] = True
            props["visibility"] = (
                "Private"  # group.md: "Groups assignable to roles are always Private"
            )
        if item.get("id"):
            props["id"] = _uuid(item["id"], "group id")
        members = []
        for member in item.get("members") or []:
            user = tenant.live_user(str(member))
            if user is None:
                raise ValueError(f"group {name!r}: unknown member {member!r}")
            if rule:
                raise ValueError(f"group {name!r} is dynamic; it cannot list members")
            members.append(user)
        group = Group(props, created_mono=0.0)
        tenant.add_group(group)
        for user in members:
            tenant.add_member(group, user)


def build_tenant(body: dict) -> EntraTenant:
    """A new directory from a control-API body; raises ValueError with a clear message."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    tenant_id = _uuid(body.get("tenant_id") or uuid.uuid4(), "tenant_id")
    domains = [str(d).lower() for d in _list(body, "domains")]
    if not domains or not all(_DOMAIN.match(d) for d in domains):
        raise ValueError("domains must list at least one domain name, e.g. contoso.example")
    tenant = EntraTenant(tenant_id, str(body.get("display_name") or domains[0]), domains)
    tenant.apps = {a.client_id: a for a in _apps(body)}
    tenant.skus = {s.sku_id: s for s in _skus(body)}
    tenant.service_principals = {sp.id: sp for sp in _service_principals(body)}
    _add_users(tenant, body)
    _add_managers(tenant, body)
    _add_groups(tenant, body)
    seed_roles(tenant, body)  # directory roles, PIM, administrative units (roles.py)
    update_settings(
        tenant,
        {
            k: body[k]
            for k in (
                "token_lifetime_s",
                "premium",
                "delta_token_lifetime_s",
                "federated_domains",
                "unverified_domains",
            )
            if k in body
        },
    )
    if body.get("behaviour"):
        tenant.behaviour.update(body["behaviour"])
    tenant.seq_clock, tenant.seq_clock_base = [], tenant.seq  # what is seeded is replicated
    return tenant


def create_tenant(state: SandboxState, body: dict) -> EntraTenant:
    tenant = build_tenant(body)
    if tenant.id in state.entra:
        raise ValueError(f"an Entra tenant with id {tenant.id} already exists")
    taken = {d for t in state.entra.values() for d in t.domains}
    clash = taken.intersection(tenant.domains)
    if clash:
        raise ValueError(f"domain(s) already verified by another tenant: {sorted(clash)}")
    state.entra[tenant.id] = tenant
    return tenant


def created_summary(tenant: EntraTenant) -> dict:
    return {
        "kind": "entra",
        "tenant_id": tenant.id,
        "display_name": tenant.display_name,
        "domains": tenant.domains,
        "apps": [
            {"client_id": a.client_id, "display_name": a.display_name, "permissions": a.permissions}
            for a in tenant.apps.values()
        ],
        "skus": [s.to_json() for s in tenant.skus.values()],
        "groups": [
            {
                "id": g.id,
                "displayName": g.props["displayName"],
                "membershipRule": g.props["membershipRule"],
            }
            for g in tenant.groups.values()
        ],
        "service_principals": [sp.to_graph() for sp in tenant.service_principals.values()],
        "users": len(tenant.users),
        "created_at": time.time(),
    }
