"""User status transitions, with the rules Okta applies to each lifecycle operation."""

from __future__ import annotations

import secrets

from . import group_apps
from .errors import OktaError, wrong_status
from .model import User, now_iso
from .org import OktaOrg

ALREADY_ACTIVE = "Activation failed because the user is already active"
# What reactivate restarts: an activation the person has not finished, or a recovery.
REACTIVATABLE = ("PROVISIONED", "RECOVERY")

_PASSWORD_STATES = ("ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED")


def _token() -> str:
    return secrets.token_urlsafe(15)


def activate(org: OktaOrg, user: User, base_url: str, send_email: bool) -> dict:
    """STAGED or DEPROVISIONED only (E0000016 otherwise, also while an activation runs);
    asynchronous: `transitioningToStatus` says where the user is going until they are there.
    Group reconciliation runs with it: what the user's groups grant comes back."""
    if user.status not in ("STAGED", "DEPROVISIONED") or user.transitioning_to is not None:
        raise OktaError(403, "E0000016", ALREADY_ACTIVE)
    user.start_transition("ACTIVE" if user.has_password else "PROVISIONED", org.activation_s)
    group_apps.sync_user(org, user)
    if send_email:
        return {}
    token = _token()
    return {"activationUrl": f"{base_url}/welcome/{token}", "activationToken": token}


def reactivate(org: OktaOrg, user: User, base_url: str, send_email: bool) -> dict:
    """PROVISIONED or RECOVERY only: restarts the activation the person has to finish (a new
    link; the status stays until they do)."""
    if user.status not in REACTIVATABLE:
        raise wrong_status()
    user.last_updated = now_iso()
    if send_email:
        return {}
    token = _token()
    return {"activationUrl": f"{base_url}/welcome/{token}", "activationToken": token}


def deactivate(org: OktaOrg, user: User) -> None:
    """Deprovision: sessions end and app assignments go; group memberships stay, as in Okta."""
    if user.status == "DEPROVISIONED" and user.transitioning_to is None:
        raise wrong_status()
    user.transitioning_to = None
    user.set_status("DEPROVISIONED")
    user.sessions = 0
    org.drop_assignments(user)


def suspend(org: OktaOrg, user: User) -> None:
    if user.status != "ACTIVE":
        raise OktaError(
            400,
            "E0000001",
            "Api validation failed: status",
            ["status: Cannot suspend a user that is not active"],
        )
    user.set_status("SUSPENDED")
    user.sessions = 0


def unsuspend(org: OktaOrg, user: User) -> None:
    if user.status != "SUSPENDED":
        raise OktaError(
            400,
            "E0000001",
            "Api validation failed: status",
            ["status: Cannot unsuspend a user that is not suspended"],
        )
    user.set_status("ACTIVE")


def unlock(org: OktaOrg, user: User) -> None:
    """LOCKED_OUT becomes ACTIVE; an ACTIVE user is taken too ("unlocks a user with an ACTIVE
    status that's blocked from unknown devices", UserLifecycleApi.unlock_user) and stays so."""
    if user.status not in ("LOCKED_OUT", "ACTIVE"):
        raise wrong_status()
    if user.status == "LOCKED_OUT":
        user.set_status("ACTIVE")


def reset_password(
    org: OktaOrg, user: User, base_url: str, send_email: bool, revoke_sessions: bool = False
) -> dict:
    """RECOVERY, and a reset link. The sessions end only with `revokeSessions=true`: "This
    operation provides an option to delete all the user's sessions" (okta SDK 3.x
    `UserCredApi.reset_password`; `revokeSessions`: "Revokes all user sessions, except for the
    current session, if set to `true`"). The sandbox ended them on every reset."""
    if user.status not in _PASSWORD_STATES:
        raise wrong_status()
    user.set_status("RECOVERY")
    if revoke_sessions:
        user.sessions = 0
    if send_email:
        return {}
    return {"resetPasswordUrl": f"{base_url}/reset_password/{_token()}"}


def expire_password(
    org: OktaOrg, user: User, temp_password: bool, revoke_sessions: bool = False
) -> str | None:
    """Expire the password; returns a temporary one when asked, as `tempPassword=true` does.
    With a temporary password, `revokeSessions=true` ends the sessions: "If `revokeSessions` is
    included in the request with a value of `true`, the user's current outstanding sessions are
    revoked" (okta SDK 3.x `UserCredApi.expire_password_with_temp_password`)."""
    if user.status not in _PASSWORD_STATES:
        raise wrong_status()
    user.set_status("PASSWORD_EXPIRED")
    if revoke_sessions:
        user.sessions = 0
    if not temp_password:
        return None
    user.has_password = True
    user.password_changed = now_iso()
    return secrets.token_urlsafe(9)


def delete(org: OktaOrg, user: User) -> None:
    """DELETE deactivates first; only a DEPROVISIONED user is really deleted."""
    if user.status == "DEPROVISIONED":
        org.delete_user(user)
    else:
        deactivate(org, user)
