"""The tenant's Temporary Access Pass policy
(`policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass`),
as temporaryaccesspassauthenticationmethodconfiguration.md documents it: enabled or not,
lifetimes and length, one-time passes only or not, the groups it includes and the users or
groups it excludes ("excludeTargets: Groups of users that are excluded from the policy";
excludetarget.md: `targetType` user or group). Its properties are the resource's only (not an
open type): any other name is OData's 400, as on the pass itself.

The defaults are Microsoft's (one hour, between one and eight hours, eight characters),
enabled for all users so the demo works; a real tenant starts with the method disabled.
Reading needs Policy.Read.All (or the write permission); changing needs
Policy.ReadWrite.AuthenticationMethod.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from sandbox.entra.errors import GraphError, bad_request, not_found, undeclared_property
from sandbox.entra.model import EntraTenant, User
from sandbox.entra.router import GraphRequest, GraphResponse, router

POLICY_READ = ("Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod")
POLICY_WRITE = ("Policy.ReadWrite.AuthenticationMethod",)
POLICY_PATH = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations"
CONFIG_TYPE = "microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
LIFETIME_BOUNDS = (10, 43200)
ALL_USERS = "all_users"
EXCLUDABLE = ("group", "user")  # excludetarget.md, targetType (unknownFutureValue aside)
# temporaryaccesspassauthenticationmethodconfiguration.md: properties and relationships.
POLICY_PROPERTIES = frozenset(
    {
        "id",
        "state",
        "defaultLength",
        "defaultLifetimeInMinutes",
        "minimumLifetimeInMinutes",
        "maximumLifetimeInMinutes",
        "isUsableOnce",
        "includeTargets",
        "excludeTargets",
    }
)
_LIFETIMES = (
    ("defaultLifetimeInMinutes", "default_lifetime"),
    ("minimumLifetimeInMinutes", "minimum_lifetime"),
    ("maximumLifetimeInMinutes", "maximum_lifetime"),
    ("defaultLength", "default_length"),
)


@dataclass
class TapPolicy:
    state: str = "enabled"
    default_lifetime: int = 60
    minimum_lifetime: int = 60
    maximum_lifetime: int = 480
    default_length: int = 8
    usable_once: bool = False  # True: every pass of the tenant is one-time
    include_targets: list[str] = field(default_factory=lambda: [ALL_USERS])  # group ids
    exclude_targets: list[tuple[str, str]] = field(default_factory=list)  # (id, targetType)

    def view(self) -> dict[str, Any]:
        return {
            "@odata.type": f"#{CONFIG_TYPE}",
            "id": "TemporaryAccessPass",
            "state": self.state,
            "defaultLifetimeInMinutes": self.default_lifetime,
            "defaultLength": self.default_length,
            "minimumLifetimeInMinutes": self.minimum_lifetime,
            "maximumLifetimeInMinutes": self.maximum_lifetime,
            "isUsableOnce": self.usable_once,
            "includeTargets": [
                {"targetType": "group", "id": target, "isRegistrationRequired": False}
                for target in self.include_targets
            ],
            "excludeTargets": [
                {"id": target, "targetType": kind} for target, kind in self.exclude_targets
            ],
        }

    def allows(self, tenant: EntraTenant, user: User) -> bool:
        """Whether the policy lets `user` hold a pass: enabled, the user included (all users,
        or a member of an included group) and not excluded (by name or by a group)."""
        if self.state != "enabled":
            return False
        groups = {group.id for group in tenant.groups_of(user)}
        if ALL_USERS not in self.include_targets and not groups & set(self.include_targets):
            return False
        return not any(
            target == user.id if kind == "user" else target in groups
            for target, kind in self.exclude_targets
        )


_policies: weakref.WeakKeyDictionary[EntraTenant, TapPolicy] = weakref.WeakKeyDictionary()


def policy_of(tenant: EntraTenant) -> TapPolicy:
    policy = _policies.get(tenant)
    if policy is None:
        policy = _policies[tenant] = TapPolicy()
    return policy


@router.add("GET", f"{POLICY_PATH}/TemporaryAccessPass", POLICY_READ)
def get_policy(req: GraphRequest) -> GraphResponse:
    return GraphResponse(200, policy_of(req.tenant).view())


@router.add("PATCH", f"{POLICY_PATH}/TemporaryAccessPass", POLICY_WRITE)
def update_policy(req: GraphRequest) -> GraphResponse:
    body = req.json()
    for key in body:
        if key not in POLICY_PROPERTIES and not key.startswith("@odata."):
            raise undeclared_property(key, CONFIG_TYPE)
    changed = TapPolicy(**vars(policy_of(req.tenant)))
    if "state" in body:
        if body["state"] not in ("enabled", "disabled"):
            raise bad_request("Invalid value specified for property 'state'.", "badRequest")
        changed.state = body["state"]
    for key, attr in _LIFETIMES:
        if key in body:
            setattr(changed, attr, _int(body[key], key))
    if "isUsableOnce" in body:
        if not isinstance(body["isUsableOnce"], bool):
            raise bad_request("Invalid value specified for property 'isUsableOnce'.", "badRequest")
        changed.usable_once = body["isUsableOnce"]
    if "includeTargets" in body:
        changed.include_targets = _included(req.tenant, body["includeTargets"])
    if "excludeTargets" in body:
        changed.exclude_targets = _excluded(req.tenant, body["excludeTargets"])
    _check(changed)
    _policies[req.tenant] = changed
    return GraphResponse(204)


def _int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"Invalid value specified for property '{key}'.", "badRequest")
    return value


def _targets(value: object, key: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise bad_request(f"Invalid value specified for property '{key}'.", "badRequest")
    return value


def _included(tenant: EntraTenant, targets: object) -> list[str]:
    ids = [str(t.get("id", "")) for t in _targets(targets, "includeTargets")]
    for target in ids:
        if target != ALL_USERS and target not in tenant.groups:
            raise not_found(target)
    return ids


def _excluded(tenant: EntraTenant, targets: object) -> list[tuple[str, str]]:
    """Each exclusion a group or a user of the tenant; the SDK sends `targetType` with it."""
    excluded = []
    for target in _targets(targets, "excludeTargets"):
        ident, kind = str(target.get("id", "")), target.get("targetType", "group")
        if kind not in EXCLUDABLE:
            raise bad_request("Invalid value specified for property 'targetType'.", "badRequest")
        known = ident in tenant.groups if kind == "group" else tenant.live_user(ident)
        if not known:
            raise not_found(ident)
        excluded.append((ident, kind))
    return excluded


def _check(policy: TapPolicy) -> None:
    low, high = LIFETIME_BOUNDS
    lifetimes = (policy.minimum_lifetime, policy.default_lifetime, policy.maximum_lifetime)
    if not all(low <= value <= high for value in lifetimes) or not (
        policy.minimum_lifetime <= policy.default_lifetime <= policy.maximum_lifetime
    ):
        raise GraphError(
            400,
            "badRequest",
            "defaultLifetimeInMinutes must lie between minimumLifetimeInMinutes and "
            "maximumLifetimeInMinutes, all between 10 and 43200.",
        )
    if not 8 <= policy.default_length <= 48:
        raise GraphError(400, "badRequest", "defaultLength must be between 8 and 48.")
