"""Sign-in lockouts (django-axes' failed attempts): whether a person is locked out, and
unlocking, on the person's staff page or by deleting attempts in the Django admin, always on
the audit trail: an unlock lets someone try passwords again."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from portal import ratelimit
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


def unlock(attempts: QuerySet[AccessAttempt], *, actor, request: HttpRequest | None = None) -> int:
    """Delete `attempts` and record one `auth.unlocked` event per username they were of
    (about the person of that name, else on the MSP-wide trail); how many were deleted."""
    with transaction.atomic():
        chosen = list(attempts.select_for_update().order_by("username", "attempt_time", "pk"))
        by_username: dict[str, list[AccessAttempt]] = defaultdict(list)
        for attempt in chosen:
            by_username[attempt.username or ""].append(attempt)
        AccessAttempt.objects.filter(pk__in=[a.pk for a in chosen]).delete()
        for username, theirs in by_username.items():
            _record(username, theirs, actor=actor, request=request)
    return len(chosen)


def unlock_person(person, *, actor, request: HttpRequest | None = None) -> int:
    return unlock(
        AccessAttempt.objects.filter(username=person.get_username()), actor=actor, request=request
    )


def _record(username: str, attempts: list[AccessAttempt], *, actor, request) -> None:
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
            ]
        },
        after={"attempts": []},
        request=request,
    )
