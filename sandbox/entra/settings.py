"""A directory's settings in the control API (`GET/PUT /_sandbox/entra/{id}/settings`) and
the delta-token resets (`POST /_sandbox/entra/{id}/delta-reset`).

Settings: `premium` (true/false: whether the tenant holds Microsoft Entra ID P1/P2, which
users' signInActivity needs; null: decided by its subscribed SKUs), `delta_token_lifetime_s`
(how long a deltaLink stays valid; Graph: seven days for directory objects) and
`token_lifetime_s` (access tokens).
"""

from __future__ import annotations

import time

from sandbox.entra.model import EntraTenant


def settings_of(tenant: EntraTenant) -> dict:
    return {
        "premium": tenant.premium,
        "has_premium": tenant.has_premium(),
        "delta_token_lifetime_s": tenant.delta_token_lifetime_s,
        "token_lifetime_s": tenant.token_lifetime_s,
    }


def _positive_int(body: dict, key: str) -> int:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key} must be a positive integer")
    return value


def update_settings(tenant: EntraTenant, body: dict) -> None:
    """A partial update; raises ValueError, changing nothing, on a bad value."""
    known = {"premium", "delta_token_lifetime_s", "token_lifetime_s"}
    unknown = set(body) - known
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    if "premium" in body and body["premium"] is not None and not isinstance(body["premium"], bool):
        raise ValueError("premium must be true, false or null")
    lifetimes = {k: _positive_int(body, k) for k in known - {"premium"} if k in body}
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
