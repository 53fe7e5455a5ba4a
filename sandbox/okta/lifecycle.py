"""User status transitions, with the rules Okta applies to each lifecycle operation."""

from __future__ import annotations

import secrets

from .errors import OktaError, wrong_status
from .model import User, now_iso
from .org import OktaOrg

_PASSWORD_STATES = ("ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED")


def _token() -> str:
    return secrets.token_urlsafe(15)


def activate(org: OktaOrg, user: User, base_url: str, send_email: bool) -> dict:
    if user.status not in ("STAGED", "DEPROVISIONED"):
        raise OktaError(403, "E0000016", "Activation failed because the user is already active")
    user.set_status("ACTIVE" if user.has_password else "PROVISIONED")
    if send_email:
        return {}
    token = _token()
    return {"activationUrl": f"{base_url}/welcome/{token}", "activationToken": token}


def reactivate(org: OktaOrg, user: User, base_url: str, send_email: bool) -> dict:
    if user.status != "PROVISIONED":
        raise wrong_status()
    user.last_updated = now_iso()
    if send_email:
        return {}
    token = _token()
    return {"activationUrl": f"{base_url}/welcome/{token}", "activationToken": token}


def deactivate(org: OktaOrg, user: User) -> None:
    """Deprovision: sessions end and app assignments go; group memberships stay, as in Okta."""
    if user.status == "DEPROVISIONED":
        raise wrong_status()
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
    if user.status != "LOCKED_OUT":
        raise wrong_status()
    user.set_status("ACTIVE")


def reset_password(org: OktaOrg, user: User, base_url: str, send_email: bool) -> dict:
    if user.status not in _PASSWORD_STATES:
        raise wrong_status()
    user.set_status("RECOVERY")
    user.sessions = 0
    if send_email:
        return {}
    return {"resetPasswordUrl": f"{base_url}/reset_password/{_token()}"}


def expire_password(org: OktaOrg, user: User, temp_password: bool) -> str | None:
    """Expire the password; returns a temporary one when asked, as `tempPassword=true` does."""
    if user.status not in _PASSWORD_STATES:
        raise wrong_status()
    user.set_status("PASSWORD_EXPIRED")
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
