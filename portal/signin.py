"""The audit of the ways in: sign-ins, second-factor codes, lockouts, sign-outs, password
resets, and refused state-changing requests.

Each is recorded with the username and the client address (never a password or a code): on
the chain of every tenant the person is bound to (a client admin's tenant, an account
manager's assigned tenants: ``portal.audit.people``), else on the MSP-wide chain, as is a
failed sign-in for a username nobody has. What anyone can cause without a password (a failed
sign-in, a wrong code, a lockout, a refused request, a reset request) is recorded within a
budget per source and minute and in total (SECURITY_EVENTS_PER_MINUTE,
SECURITY_EVENTS_PER_MINUTE_TOTAL), so a flood cannot fill the table; what is over budget is
logged instead, and counted: once its minute has ended, one `security.events_unrecorded`
event says how many (`summarise_unrecorded`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from portal import account_limit, client_address, mfa, ratelimit, unrecorded, usernames
from portal.audit.events import record
from portal.audit.people import record_about
from portal.logs import path_shown

log = logging.getLogger("portal.security")

# Set on the request by the code that asks for a credential, so that Django's one
# "login failed" signal is recorded as the step that failed.
STEP_ATTR = "portal_signin_step"
PASSWORD, SECOND_FACTOR, REAUTH = "password", "second_factor", "reauth"
LOCKOUT_MARK = "lockout"  # a lockout's start is recorded once (portal.lockouts.unlock forgets it)
FAILED_ACTION = {
    PASSWORD: "auth.login_failed",
    SECOND_FACTOR: "auth.second_factor_failed",
    REAUTH: "auth.reauth_failed",
}
USERNAME_LIMIT = 150
PATH_LIMIT = 200


def record_sign_in(request: HttpRequest, user, device) -> None:
    """A completed sign-in (password, and the second factor of a person who has one)."""
    _record_with_second_factor("auth.login", request, user, device)


def record_second_factor_passed(request: HttpRequest, user, device) -> None:
    """A signed-in session passed its second factor at the two-step page."""
    _record_with_second_factor("auth.second_factor_passed", request, user, device)


def _record_with_second_factor(action: str, request: HttpRequest, user, device) -> None:
    """`action` with the kind of second factor used (none, app, recovery code); a recovery
    code's use is recorded too, with how many are left."""
    if device is None:
        how = "none"
    else:
        how = "recovery code" if mfa.is_recovery_code(device) else "authenticator app"
    record_about(
        user, action, actor=user, target=user, after={"second_factor": how}, request=request
    )
    if mfa.is_recovery_code(device):
        record_recovery_code_use(request, user)


def record_recovery_code_use(request: HttpRequest, user) -> None:
    left = mfa.recovery_codes_left(user)
    record_about(
        user,
        "auth.recovery_code_used",
        actor=user,
        target=user,
        after={"recovery_codes_left": left},
        request=request,
    )


def record_budgeted(
    action: str,
    request: HttpRequest,
    *,
    username: str,
    user=None,
    after: dict[str, Any] | None = None,
    result: str = "failure",
) -> bool:
    """An event anyone may cause without a password, within the budget; False when it was
    only logged."""
    if not within_budget(request, action):
        return False
    username = _clip(username or "", USERNAME_LIMIT)
    record_about(
        user,
        action,
        actor=_actor(request),
        target=_person_target(user, username),
        after={"username": username, **(after or {})},
        result=result,
        request=request,
    )
    return True


def record_refusal(request: HttpRequest, reason: str) -> bool:
    """A refused state-changing request (403), within the budget."""
    actor = _actor(request)
    return record_budgeted(
        "security.request_refused",
        request,
        username="" if actor.is_anonymous else actor.get_username(),
        user=None if actor.is_anonymous else actor,
        after={
            "method": request.method,
            "path": _clip(path_shown(request.path), PATH_LIMIT),
            "reason": _clip(reason, 200),
        },
        result="denied",
    )


UNRECORDED = "security-events"


def summarise_unrecorded() -> int:
    """One `security.events_unrecorded` event for each ended minute in which security events
    went over the budget (`portal.unrecorded`). Returns how many it recorded."""
    return unrecorded.summarise(UNRECORDED, _say_unrecorded)


def _say_unrecorded(began, how_many: int) -> None:
    record(
        "security.events_unrecorded",
        actor="system",
        after={
            "minute": began.isoformat(),
            "per_source": settings.SECURITY_EVENTS_PER_MINUTE,
            "in_total": settings.SECURITY_EVENTS_PER_MINUTE_TOTAL,
            "unrecorded": how_many,
        },
        result="denied",
    )


def within_budget(request: HttpRequest, action: str) -> bool:
    """Count one security event of this source (person, else address) and in total."""
    user = getattr(request, "user", None)
    person = user.pk if user is not None and user.is_authenticated else "-"
    source = f"{person}|{client_address.sender(request.META.get('REMOTE_ADDR', ''))}"
    allowed = ratelimit.hit(
        "security-events", source, limit=settings.SECURITY_EVENTS_PER_MINUTE, window_s=60
    ) and ratelimit.hit(
        "security-events", "*", limit=settings.SECURITY_EVENTS_PER_MINUTE_TOTAL, window_s=60
    )
    if not allowed:
        unrecorded.count(UNRECORDED)
        log.warning(
            "Security event %s from %s over budget: logged, not recorded (request id %s)",
            action,
            request.META.get("REMOTE_ADDR", ""),
            getattr(request, "request_id", ""),
        )
    return allowed


# -- receivers (connected in portal.apps) ----------------------------------------------------


def on_login_failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs):
    if request is None:
        return
    username = str((credentials or {}).get("username") or "")
    account_limit.count_failure(username)
    account_limit.count_client_failure(request)
    step = getattr(request, STEP_ATTR, PASSWORD)
    user = get_user_model().objects.filter(username=username).first() if username else None
    record_budgeted(
        FAILED_ACTION.get(step, FAILED_ACTION[PASSWORD]), request, username=username, user=user
    )


def record_account_held(request: HttpRequest, username: str, seconds: int) -> None:
    """The per-account cap refused a sign-in (portal.account_limit): recorded once a window."""
    if not ratelimit.first(LOCKOUT_MARK, f"account|{usernames.folded(username)}", window_s=seconds):
        return
    user = usernames.holder_of(username)
    record_budgeted(
        "auth.locked_out",
        request,
        username=user.get_username() if user is not None else username,
        user=user,
        after={
            "scope": "account",
            "failures": settings.SIGNIN_FAILURES_PER_ACCOUNT_PER_HOUR,
            "locked_for_minutes": -(-seconds // 60),
        },
    )


def record_client_held(request: HttpRequest, username: str, seconds: int) -> None:
    """The cap per client refused a sign-in (portal.account_limit): recorded once a window."""
    client = client_address.sender(request.META.get("REMOTE_ADDR", ""))
    if not ratelimit.first(LOCKOUT_MARK, f"client|{client}", window_s=seconds):
        return
    record_budgeted(
        "auth.locked_out",
        request,
        username=username,
        after={
            "scope": "client",
            "failures": settings.SIGNIN_FAILURES_PER_CLIENT_PER_HOUR,
            "locked_for_minutes": -(-seconds // 60),
        },
    )


def on_locked_out(sender, request: HttpRequest | None = None, username=None, ip_address=None, **kw):
    # django-axes signals again on every attempt during a lockout: record its start only.
    if request is None:
        return
    cooloff_s = int(float(settings.AXES_COOLOFF_TIME) * 3600)
    if not ratelimit.first(LOCKOUT_MARK, f"{username}|{ip_address}", window_s=cooloff_s):
        return
    username = str(username or "")
    user = get_user_model().objects.filter(username=username).first() if username else None
    record_budgeted(
        "auth.locked_out",
        request,
        username=username,
        user=user,
        after={"failures": settings.AXES_FAILURE_LIMIT, "locked_for_minutes": cooloff_s // 60},
    )


def on_logged_out(sender, request: HttpRequest | None = None, user=None, **kwargs):
    if user is not None and user.pk is not None:
        record_about(user, "auth.logout", actor=user, target=user, request=request)


def _actor(request: HttpRequest):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else AnonymousUser()


def _person_target(user, username: str) -> tuple[str, Any, str] | None:
    if user is not None:
        return ("auth.user", user.pk, user.get_username())
    return ("auth.user", None, username) if username else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
