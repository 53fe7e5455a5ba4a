"""Temporary Access Passes: `users/{id}/authentication/temporaryAccessPassMethods` and the
tenant's Temporary Access Pass policy
(`policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass`).

As Graph documents them (authentication-post-temporaryaccesspassmethods.md,
temporaryaccesspassauthenticationmethod.md and
temporaryaccesspassauthenticationmethodconfiguration.md):
the pass is in the answer to its creation only (null in every read); a user holds at most one,
and a new one replaces it; `lifetimeInMinutes` lies between the policy's minimum and maximum
(and within 10..43200); a reusable pass needs a policy that allows one; the policy must be
enabled and the user in its targets, else Graph refuses with the UserCredentialPolicy text.
(Graph also refuses external guests; the sandbox has no guest users.) Creating needs
UserAuthenticationMethod.ReadWrite.All (or the TAP-only
UserAuthMethod-TAP.ReadWrite.All); reading needs a Read permission of either family.

The sandbox keeps no copy of a pass, only when it was made and for how long. The policy's
defaults are Microsoft's (one hour, between one and eight hours, eight characters), enabled for
all users so the demo works; a real tenant starts with the method disabled.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
import weakref
from dataclasses import dataclass, field
from typing import Any

from sandbox.entra.errors import GraphError, bad_request, not_found, undeclared_property
from sandbox.entra.model import EntraTenant, User, new_id
from sandbox.entra.router import GraphRequest, GraphResponse, router
from sandbox.entra.users import find_user

TAP_READ = (
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "UserAuthMethod-TAP.Read.All",
    "UserAuthMethod-TAP.ReadWrite.All",
)
TAP_WRITE = ("UserAuthenticationMethod.ReadWrite.All", "UserAuthMethod-TAP.ReadWrite.All")
POLICY_READ = ("Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod")
POLICY_WRITE = ("Policy.ReadWrite.AuthenticationMethod",)
POLICY_PATH = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations"
ODATA_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
CONFIG_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
LIFETIME_BOUNDS = (10, 43200)
REFUSED_BY_POLICY = (
    "Converged UserCredentialPolicy does not allow creating or updating this authentication "
    "method. AuthMethodType [TemporaryAccessPass]."
)
# temporaryaccesspassauthenticationmethod.md, Properties.
PASS_PROPERTIES = frozenset(
    {
        "createdDateTime",
        "id",
        "isUsable",
        "isUsableOnce",
        "lifetimeInMinutes",
        "methodUsabilityReason",
        "startDateTime",
        "temporaryAccessPass",
    }
)
# Graph's passes mix letters, digits and a few symbols (e.g. "+drkzqAD" in the docs).
PASS_ALPHABET = string.ascii_letters + string.digits + "+-#@!%&*"


@dataclass
class TapPolicy:
    state: str = "enabled"
    default_lifetime: int = 60
    minimum_lifetime: int = 60
    maximum_lifetime: int = 480
    default_length: int = 8
    usable_once: bool = False  # True: every pass of the tenant is one-time
    include_targets: list[str] = field(default_factory=lambda: ["all_users"])  # group ids

    def view(self) -> dict[str, Any]:
        return {
            "@odata.type": CONFIG_TYPE,
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
            "excludeTargets": [],
        }


@dataclass
class Pass:
    id: str
    created: dt.datetime
    start: dt.datetime
    lifetime: int
    usable_once: bool

    def view(self, clear: str | None = None) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        end = self.start + dt.timedelta(minutes=self.lifetime)
        reason = "NotYetValid" if now < self.start else "Expired" if now >= end else None
        return {
            "@odata.type": ODATA_TYPE,
            "id": self.id,
            "temporaryAccessPass": clear,
            "createdDateTime": _iso(self.created),
            "startDateTime": _iso(self.start),
            "lifetimeInMinutes": self.lifetime,
            "isUsableOnce": self.usable_once,
            "isUsable": reason is None,
            "methodUsabilityReason": reason or "EnabledByPolicy",
        }


@dataclass
class TapState:
    policy: TapPolicy = field(default_factory=TapPolicy)
    passes: dict[str, Pass] = field(default_factory=dict)  # user id -> their one pass


_states: weakref.WeakKeyDictionary[EntraTenant, TapState] = weakref.WeakKeyDictionary()


def state_of(tenant: EntraTenant) -> TapState:
    state = _states.get(tenant)
    if state is None:
        state = _states[tenant] = TapState()
    return state


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- users' passes ---------------------------------------------------------------------------


@router.add("GET", "/users/{id}/authentication/temporaryAccessPassMethods", TAP_READ)
def list_passes(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    held = state_of(req.tenant).passes.get(user.id)
    context = (
        f"{req.base_url}/$metadata#users('{user.id}')/authentication/temporaryAccessPassMethods"
    )
    return GraphResponse(200, {"@odata.context": context, "value": [held.view()] if held else []})


@router.add("GET", "/users/{id}/authentication/temporaryAccessPassMethods/{method}", TAP_READ)
def get_pass(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    return GraphResponse(200, _held(req, user).view())


@router.add("DELETE", "/users/{id}/authentication/temporaryAccessPassMethods/{method}", TAP_WRITE)
def delete_pass(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    _held(req, user)
    del state_of(req.tenant).passes[user.id]
    return GraphResponse(204)


@router.add("POST", "/users/{id}/authentication/temporaryAccessPassMethods", TAP_WRITE)
def create_pass(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    body = req.json()
    # temporaryaccesspassauthenticationmethod.md (Properties): any other name is OData's 400
    # for a type that is not open, as for the mailbox's types (mail.py); the sandbox ignored
    # a misspelt `lifetimeInMinute` and issued a pass of the default lifetime.
    for key in body:
        if key not in PASS_PROPERTIES and not key.startswith("@odata."):
            raise undeclared_property(key, ODATA_TYPE.lstrip("#"))
    state = state_of(req.tenant)
    policy = state.policy
    if policy.state != "enabled" or not _in_scope(req.tenant, policy, user):
        raise bad_request(REFUSED_BY_POLICY, "badRequest")
    lifetime = _lifetime(body, policy)
    usable_once = _usable_once(body, policy)
    now = dt.datetime.now(dt.UTC)
    start = _start(body, now)
    issued = Pass(new_id(), now, start, lifetime, usable_once)
    state.passes[user.id] = issued  # a new pass replaces the one the user held
    clear = "".join(secrets.choice(PASS_ALPHABET) for _ in range(policy.default_length))
    return GraphResponse(201, issued.view(clear))


def _held(req: GraphRequest, user: User) -> Pass:
    held = state_of(req.tenant).passes.get(user.id)
    if held is None or held.id != req.params["method"]:
        raise not_found(req.params["method"])
    return held


def _in_scope(tenant: EntraTenant, policy: TapPolicy, user: User) -> bool:
    if "all_users" in policy.include_targets:
        return True
    return any(group.id in policy.include_targets for group in tenant.groups_of(user))


def _lifetime(body: dict, policy: TapPolicy) -> int:
    value = body.get("lifetimeInMinutes", policy.default_lifetime)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request("Invalid value specified for property 'lifetimeInMinutes'.", "badRequest")
    low, high = LIFETIME_BOUNDS
    if not low <= value <= high:
        raise bad_request(f"The lifetimeInMinutes must be between {low} and {high}.", "badRequest")
    if not policy.minimum_lifetime <= value <= policy.maximum_lifetime:
        raise bad_request(
            f"The lifetimeInMinutes must be between the policy's minimum "
            f"({policy.minimum_lifetime}) and maximum ({policy.maximum_lifetime}).",
            "badRequest",
        )
    return value


def _usable_once(body: dict, policy: TapPolicy) -> bool:
    value = body.get("isUsableOnce", policy.usable_once)
    if not isinstance(value, bool):
        raise bad_request("Invalid value specified for property 'isUsableOnce'.", "badRequest")
    if policy.usable_once and not value:
        raise bad_request(
            "The Temporary Access Pass policy allows only passes usable once.", "badRequest"
        )
    return value


def _start(body: dict, now: dt.datetime) -> dt.datetime:
    text = body.get("startDateTime")
    if text is None:
        return now
    try:
        start = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(
            "Invalid value specified for property 'startDateTime'.", "badRequest"
        ) from None
    return start if start.tzinfo else start.replace(tzinfo=dt.UTC)


# -- the tenant's policy ---------------------------------------------------------------------


@router.add("GET", f"{POLICY_PATH}/TemporaryAccessPass", POLICY_READ)
def get_policy(req: GraphRequest) -> GraphResponse:
    return GraphResponse(200, state_of(req.tenant).policy.view())


@router.add("PATCH", f"{POLICY_PATH}/TemporaryAccessPass", POLICY_WRITE)
def update_policy(req: GraphRequest) -> GraphResponse:
    body = req.json()
    policy = state_of(req.tenant).policy
    changed = TapPolicy(**vars(policy))
    if "state" in body:
        if body["state"] not in ("enabled", "disabled"):
            raise bad_request("Invalid value specified for property 'state'.", "badRequest")
        changed.state = body["state"]
    for key, attr in (
        ("defaultLifetimeInMinutes", "default_lifetime"),
        ("minimumLifetimeInMinutes", "minimum_lifetime"),
        ("maximumLifetimeInMinutes", "maximum_lifetime"),
        ("defaultLength", "default_length"),
    ):
        if key in body:
            setattr(changed, attr, _int(body[key], key))
    if "isUsableOnce" in body:
        if not isinstance(body["isUsableOnce"], bool):
            raise bad_request("Invalid value specified for property 'isUsableOnce'.", "badRequest")
        changed.usable_once = body["isUsableOnce"]
    if "includeTargets" in body:
        changed.include_targets = _targets(req.tenant, body["includeTargets"])
    _check_policy(changed)
    state_of(req.tenant).policy = changed
    return GraphResponse(204)


def _int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"Invalid value specified for property '{key}'.", "badRequest")
    return value


def _targets(tenant: EntraTenant, targets: object) -> list[str]:
    if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
        raise bad_request("Invalid value specified for property 'includeTargets'.", "badRequest")
    ids = [str(t.get("id", "")) for t in targets]
    for target in ids:
        if target != "all_users" and target not in tenant.groups:
            raise not_found(target)
    return ids


def _check_policy(policy: TapPolicy) -> None:
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
