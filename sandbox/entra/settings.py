"""A directory's settings in the control API (`GET/PUT /_sandbox/entra/{id}/settings`) and
the delta-token resets (`POST /_sandbox/entra/{id}/delta-reset`).

Settings: `premium` (true/false: whether the tenant holds Microsoft Entra ID P1/P2, which
users' signInActivity needs; null: decided by its subscribed SKUs), `delta_token_lifetime_s`
(how long a deltaLink stays valid; Graph: seven days for directory objects),
`token_lifetime_s` (access tokens), `federated_domains` (verified domains whose
authenticationType is Federated: a user created on one needs onPremisesImmutableId) and
`unverified_domains` (domains added to the tenant but not verified: listed by GET /domains
with isVerified false, refused in a userPrincipalName). Both lists replace what was there.
"""

from __future__ import annotations

import time

from sandbox.entra.model import EntraTenant

DOMAIN_LISTS = ("federated_domains", "unverified_domains")


def settings_of(tenant: EntraTenant) -> dict:
    return {
        "premium": tenant.premium,
        "has_premium": tenant.has_premium(),
        "delta_token_lifetime_s": tenant.delta_token_lifetime_s,
        "token_lifetime_s": tenant.token_lifetime_s,
        "federated_domains": tenant.federated_domains,
        "unverified_domains": tenant.unverified_domains,
    }


def _positive_int(body: dict, key: str) -> int:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key} must be a positive integer")
    return value


def _domain_list(tenant: EntraTenant, body: dict, key: str) -> list[str]:
    value = body[key]
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise ValueError(f"{key} must be a list of domain names")
    names = [d.lower() for d in value]
    verified = [d for d in names if tenant.is_verified_domain(d)]
    if key == "federated_domains" and len(verified) != len(names):
        # Only a verified domain can be federated (domain-verify.md, then internalDomainFederation).
        raise ValueError("federated_domains must be verified domains of this tenant")
    if key == "unverified_domains" and verified:
        raise ValueError(f"unverified_domains names verified domains: {', '.join(verified)}")
    return names


def update_settings(tenant: EntraTenant, body: dict) -> None:
    """A partial update; raises ValueError, changing nothing, on a bad value."""
    known = {"premium", "delta_token_lifetime_s", "token_lifetime_s"}
    unknown = set(body) - known - set(DOMAIN_LISTS)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    if "premium" in body and body["premium"] is not None and not isinstance(body["premium"], bool):
        raise ValueError("premium must be true, false or null")
    lifetimes = {k: _positive_int(body, k) for k in known - {"premium"} if k in body}
    domains = {k: _domain_list(tenant, body, k) for k in DOMAIN_LISTS if k in body}
    tenant.federated_domains = domains.get("federated_domains", tenant.federated_domains)
    tenant.unverified_domains = domains.get("unverified_domains", tenant.unverified_domains)
    if "premium" in body:
        tenant.premium = body["premium"]
    if "delta_token_lifetime_s" in lifetimes:
        tenant.delta_token_lifetime_s = lifetimes["delta_token_lifetime_s"]
    if "token_lifetime_s" in lifetimes:
        tenant.token_lifetime_s = lifetimes["token_lifetime_s"]


def reset_delta(tenant: EntraTenant, body: dict) -> dict:
    """Every delta token issued so far stops working: `{"mode": "expire"}` answers them 400
    syncStateNotFound (as a token past its lifetime), `{"mode": "resync"}` 410 Gone
    resyncRequired (Graph's "Synchronization reset" after maintenance of the tenant). Open
    rounds (nextLinks) are dropped too."""
    mode = body.get("mode", "expire")
    if mode not in ("expire", "resync"):
        raise ValueError("mode must be 'expire' or 'resync'")
    now = time.time()
    if mode == "expire":
        tenant.delta_expired_before = now
    else:
        tenant.delta_resync_before = now
    tenant.delta_rounds.clear()
    return {"mode": mode, "before": now}
