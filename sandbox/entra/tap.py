"""Temporary Access Passes: `users/{id}/authentication/temporaryAccessPassMethods`, within
the tenant's Temporary Access Pass policy (tap_policy.py).

As Graph documents them (authentication-post-temporaryaccesspassmethods.md,
temporaryaccesspassauthenticationmethod.md and
temporaryaccesspassauthenticationmethodconfiguration.md):
the pass is in the answer to its creation only (null in every read); a user holds at most one,
and a new one replaces it; `lifetimeInMinutes` lies between the policy's minimum and maximum
(and within 10..43200); a reusable pass needs a policy that allows one; the policy must be
enabled, the user in its targets and not excluded, else Graph refuses with the
UserCredentialPolicy text. (Graph also refuses external guests; the sandbox has no guest
users.) Creating needs UserAuthenticationMethod.ReadWrite.All (or the TAP-only
UserAuthMethod-TAP.ReadWrite.All); reading needs a Read permission of either family.

The sandbox keeps no copy of a pass, only when it was made and for how long.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
import weakref
from dataclasses import dataclass
from typing import Any

from sandbox.entra.errors import bad_request, not_found, undeclared_property
from sandbox.entra.model import EntraTenant, User, new_id
from sandbox.entra.router import GraphRequest, GraphResponse, router
from sandbox.entra.tap_policy import LIFETIME_BOUNDS, TapPolicy, policy_of
from sandbox.entra.users import find_user

TAP_READ = (
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "UserAuthMethod-TAP.Read.All",
    "UserAuthMethod-TAP.ReadWrite.All",
)
TAP_WRITE = ("UserAuthenticationMethod.ReadWrite.All", "UserAuthMethod-TAP.ReadWrite.All")
ODATA_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
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


_passes: weakref.WeakKeyDictionary[EntraTenant, dict[str, Pass]] = weakref.WeakKeyDictionary()


def passes_of(tenant: EntraTenant) -> dict[str, Pass]:
    """The tenant's passes by user id: a user holds one at most."""
    passes = _passes.get(tenant)
    if passes is None:
        passes = _passes[tenant] = {}
    return passes


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- users' passes ---------------------------------------------------------------------------


@router.add("GET", "/users/{id}/authentication/temporaryAccessPassMethods", TAP_READ)
def list_passes(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    held = passes_of(req.tenant).get(user.id)
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
    del passes_of(req.tenant)[user.id]
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
    policy = policy_of(req.tenant)
    if not policy.allows(req.tenant, user):
        raise bad_request(REFUSED_BY_POLICY, "badRequest")
    lifetime = _lifetime(body, policy)
    usable_once = _usable_once(body, policy)
    now = dt.datetime.now(dt.UTC)
    start = _start(body, now)
    issued = Pass(new_id(), now, start, lifetime, usable_once)
    passes_of(req.tenant)[user.id] = issued  # a new pass replaces the one the user held
    clear = "".join(secrets.choice(PASS_ALPHABET) for _ in range(policy.default_length))
    return GraphResponse(201, issued.view(clear))


def _held(req: GraphRequest, user: User) -> Pass:
    held = passes_of(req.tenant).get(user.id)
    if held is None or held.id != req.params["method"]:
        raise not_found(req.params["method"])
    return held


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
