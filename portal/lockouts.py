"""Sign-in lockouts (django-axes' failed attempts): whether a person is locked out, and
unlocking, on the person's staff page, by deleting attempts in the Django admin or with
django-axes' reset commands (`manage.py axes_reset`, `axes_reset_username`, ...), always on
the audit trail: an unlock lets someone try passwords again."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import (
    get_client_username,
    get_cool_off,
    get_failure_limit,
)
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from portal import account_limit, client_address, ratelimit
from portal.audit.events import record
from portal.audit.models import AuditEvent
from portal.audit.people import record_about
from portal.signin import LOCKOUT_MARK


def lockouts_of(person) -> list[AccessAttempt]:
    """The attempts that lock `person` out now (one per address and browser)."""
    since = timezone.now() - timedelta(hours=float(settings.AXES_COOLOFF_TIME))
    return list(
        AccessAttempt.objects.filter(
            username=person.get_username(),
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
            attempt_time__gte=since,
        ).order_by("attempt_time", "pk")
    )


def unlock(
    attempts: QuerySet[AccessAttempt],
    *,
    actor,
    request: HttpRequest | None = None,
    via: str = "",
) -> int:
    """Delete `attempts` and record one `auth.unlocked` event per username they were of
    (about the person of that name, else on the MSP-wide trail); how many were deleted.
    `via` says how, when it was not a person on a page."""
    with transaction.atomic():
        chosen = list(attempts.select_for_update().order_by("username", "attempt_time", "pk"))
        by_username: dict[str, list[AccessAttempt]] = defaultdict(list)
        for attempt in chosen:
            by_username[attempt.username or ""].append(attempt)
        AccessAttempt.objects.filter(pk__in=[a.pk for a in chosen]).delete()
        for username, theirs in by_username.items():
            capped = account_limit.failures_holding(username)
            account_limit.forget(username)
            _record(username, theirs, capped, actor=actor, request=request, via=via)
    return len(chosen)


def unlock_person(person, *, actor, request: HttpRequest | None = None) -> int:
    """Lift the person's own lockouts: django-axes' attempts and the cap per account. The cap
    per client stays (`clients_holding` says so on the page): its count is everyone's failures
    from that address, a spray over many accounts as often as not, and an unlock for one person
    would let it go on against all of them. The person passes it from any client they signed
    in from within account_limit.FAMILIAR_DAYS, and from any other client. How many lockouts
    were lifted: the cap per account alone counts one (django-axes deletes its attempts after
    a cool-off shorter than the cap's hour), recorded as the attempts are."""
    username = person.get_username()
    lifted = unlock(AccessAttempt.objects.filter(username=username), actor=actor, request=request)
    if lifted:
        return lifted
    capped = account_limit.failures_holding(username)
    account_limit.forget(username)
    if not capped:
        return 0
    _record(username, [], capped, actor=actor, request=request, via="")
    return 1


def account_held_until(person) -> datetime | None:
    """Until when the cap per account holds the person's sign-ins from clients new to them
    (None: it does not)."""
    seconds = account_limit.account_wait(person.get_username())
    return timezone.now() + timedelta(seconds=seconds) if seconds else None


@dataclass(frozen=True)
class ClientHold:
    """A client whose sign-ins wait on the cap per client, and until when."""

    client: str
    until: datetime


FAILED = ("auth.login_failed", "auth.second_factor_failed", "auth.locked_out")


def clients_holding(person) -> list[ClientHold]:
    """The clients the person's failed sign-ins came from this hour whose cap per client still
    holds their sign-ins. Read from the audit trail's failures (kept within its budget) and the
    person's django-axes attempts, since an unlock deletes those."""
    since = timezone.now() - timedelta(seconds=account_limit.WINDOW_S)
    addresses = set(
        AuditEvent.objects.filter(
            action__in=FAILED,
            target_type="auth.user",
            target_id=str(person.pk),
            timestamp__gte=since,
        )
        .exclude(source_ip=None)
        .values_list("source_ip", flat=True)[:500]
    )
    addresses |= set(
        AccessAttempt.objects.filter(username=person.get_username()).values_list(
            "ip_address", flat=True
        )
    )
    holds = {}
    for address in sorted(a for a in addresses if a):
        seconds = account_limit.client_wait(address, person)
        if seconds:
            client = client_address.sender(address)
            holds[client] = ClientHold(client, timezone.now() + timedelta(seconds=seconds))
    return sorted(holds.values(), key=lambda hold: hold.client)


def _record(
    username: str, attempts: list[AccessAttempt], capped: int, *, actor, request, via: str
) -> None:
    """`capped`: the account's failures when its cap held it (0: it did not)."""
    person = get_user_model().objects.filter(username=username).first() if username else None
    for attempt in attempts:  # a later lockout is recorded again, as the first was
        ratelimit.forget_first(LOCKOUT_MARK, f"{username}|{attempt.ip_address}")
    record_about(
        person,
        "auth.unlocked",
        actor=actor,
        target=("auth.user", person.pk if person else None, username),
        before={
            "attempts": [
                {"address": a.ip_address, "failures": a.failures_since_start} for a in attempts
            ],
            **({"account_cap": {"failures": capped}} if capped else {}),
        },
        after={"attempts": [], **({"via": via} if via else {})},
        request=request,
    )


VIA = "django-axes reset (manage.py axes_reset…)"


class AuditedAxesHandler(AxesDatabaseHandler):
    """django-axes' database handler (AXES_HANDLER), whose reset, the one its commands
    (`axes_reset`, `axes_reset_username`, `axes_reset_ip`, `axes_reset_ip_username`) and
    `axes.utils.reset` call, unlocks through `unlock`: audited as the staff page's Unlock
    sign-in is, by the system (a shell has no portal person)."""

    def reset_attempts(
        self,
        *,
        ip_address: str | None = None,
        username: str | None = None,
        ip_or_username: bool = False,
    ) -> int:
        attempts = AccessAttempt.objects.all()
        if ip_or_username:
            attempts = attempts.filter(Q(ip_address=ip_address) | Q(username=username))
        else:
            if ip_address:
                attempts = attempts.filter(ip_address=ip_address)
            if username:
                attempts = attempts.filter(username=username)
        return unlock(attempts, actor="system", via=VIA)

    def reset_logs(self, *, age_days: int | None = None) -> int:
        with transaction.atomic():
            deleted = super().reset_logs(age_days=age_days)
            _record_logs_deleted("sign-in logs", deleted, age_days)
        return deleted

    def reset_failure_logs(self, *, age_days: int | None = None) -> int:
        with transaction.atomic():
            deleted = super().reset_failure_logs(age_days=age_days)
            _record_logs_deleted("failure logs", deleted, age_days)
        return deleted


def _record_logs_deleted(which: str, deleted: int, age_days: int | None) -> None:
    """The Django admin keeps these logs read-only: deleting them (axes_reset_logs,
    axes_reset_failure_logs) is on the MSP-wide trail."""
    if deleted:
        record(
            "auth.logs_deleted",
            actor="system",
            target=("axes_log", None, which),
            after={"deleted": deleted, "older_than_days": age_days, "via": VIA},
        )


def _in_words(seconds: int) -> str:
    """A wait as the lockout page says it ("15 minutes"; django-axes' own is "PT15M")."""
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def account_held_response(request: HttpRequest, seconds: int) -> HttpResponse:
    """The lockout page for an account held by its cap (portal.account_limit), from here."""
    context = {"everywhere": True, "cooloff_time": _in_words(seconds)}
    response = render(
        request, settings.AXES_LOCKOUT_TEMPLATE, context, status=settings.AXES_HTTP_RESPONSE_CODE
    )
    response["Retry-After"] = str(seconds)
    return response


def client_held_response(request: HttpRequest, seconds: int) -> HttpResponse:
    """The lockout page for a client held by its cap (portal.account_limit), from here."""
    context = {"from_client": True, "cooloff_time": _in_words(seconds)}
    response = render(
        request, settings.AXES_LOCKOUT_TEMPLATE, context, status=settings.AXES_HTTP_RESPONSE_CODE
    )
    response["Retry-After"] = str(seconds)
    return response


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """django-axes' lockout page (AXES_LOCKOUT_CALLABLE), with a Retry-After (RFC 6585 §4):
    each attempt while locked starts the cool-off again (django-axes stores its time), so the
    wait is the whole cool-off from now."""
    cool_off = get_cool_off(request)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "cooloff_time": _in_words(int(cool_off.total_seconds())) if cool_off else None,
    }
    response = render(
        request, settings.AXES_LOCKOUT_TEMPLATE, context, status=settings.AXES_HTTP_RESPONSE_CODE
    )
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
