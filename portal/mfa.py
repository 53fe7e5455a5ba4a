"""The second factor: an authenticator app (TOTP), one-time recovery codes, and the fresh
password that changing either needs.

Every way in goes through ``missing_step``: a signed-in session of a person who has a second
factor opens nothing until it passed it (portal.middleware.SecondFactorMiddleware, and the
Django admin's permission check), however the session was made.
"""

from __future__ import annotations

import functools
import time

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from django.middleware.csrf import rotate_token
from django_otp import device_classes
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.audit.people import record_about
from portal.models import Role, has_role

RECOVERY_CODE_COUNT = 10
REAUTH_SESSION_KEY = "portal_reauth_at"

VERIFY = "verify"
ENROL = "enrol"


def missing_step(request: HttpRequest) -> str | None:
    """What this session still owes before it may open a page: VERIFY (the person has a
    second factor and this session has not passed it), ENROL (an MSP admin without one while
    REQUIRE_ADMIN_MFA is on), or None."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or _is_verified(user):
        return None
    if has_second_factor(user):
        return VERIFY
    if settings.REQUIRE_ADMIN_MFA and has_role(user, (Role.MSP_ADMIN,)):
        return ENROL
    return None


def passed(request: HttpRequest, device: Device) -> None:
    """This session passed its second factor on `device` (the two-step page, or a device just
    set up): a step up in what it may open, so it gets a new session key and CSRF token, as
    Django's login() gives a password sign-in. A session key planted in the browser before
    (session fixation: OWASP's Session Management Cheat Sheet, renew the id on any privilege
    change) is left signed in with the password only, which opens nothing."""
    otp_login(request, device)
    request.session.cycle_key()
    rotate_token(request)


def has_second_factor(user) -> bool:
    """Whether `user` has a confirmed device of any kind: one query, as this is asked on every
    request of a session that has not passed the second factor. Its SQL is written once per
    process: building the ORM union every time cost more than running it (about 1 ms of CPU
    a request, and some 7,000 requests in the test suite's hostile-query crawl alone)."""
    sql, tables = _confirmed_device_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk] * tables)
        return bool(cursor.fetchone()[0])


@functools.cache
def _confirmed_device_sql() -> tuple[str, int]:
    """SELECT EXISTS (a confirmed row of the user in the first device table) OR EXISTS (...),
    and how many tables it reads (each takes the user's id)."""
    quote = connection.ops.quote_name
    exists = [
        f"EXISTS (SELECT 1 FROM {quote(model._meta.db_table)}"  # noqa: S608 - names of models
        f" WHERE {quote(model._meta.get_field('user').column)} = %s"
        f" AND {quote(model._meta.get_field('confirmed').column)})"
        for model in device_classes()
    ]
    return "SELECT " + " OR ".join(exists), len(exists)


def _is_verified(user) -> bool:
    is_verified = getattr(user, "is_verified", None)  # set by django_otp's OTPMiddleware
    return bool(is_verified and is_verified())


# -- re-authentication ---------------------------------------------------------------------


def stamp_reauth(request: HttpRequest) -> None:
    """The person has just typed their password in this session (sign-in or re-auth)."""
    request.session[REAUTH_SESSION_KEY] = int(time.time())


def reauth_is_fresh(request: HttpRequest) -> bool:
    stamped = request.session.get(REAUTH_SESSION_KEY)
    if not isinstance(stamped, int):
        return False
    return 0 <= time.time() - stamped <= settings.REAUTH_MAX_AGE_SECONDS


# -- devices ---------------------------------------------------------------------------------


def authenticator_of(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_authenticator(user) -> TOTPDevice:
    """The authenticator being set up (its QR code is on the page), created when there is none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def normalise_code(text: str) -> str:
    """Codes are typed with spaces or a dash ("abcd-efgh") and in either case."""
    return "".join(text.split()).replace("-", "").lower()


def match_second_factor(user, code: str) -> Device | None:
    """The confirmed device that accepts `code` (each device throttles wrong guesses), or None.

    Digits go to the authenticator app, anything else to the recovery codes, so that a
    recovery code never counts as a wrong authenticator code (which would slow the next one).
    """
    code = normalise_code(code)
    if not code:
        return None
    model = TOTPDevice if code.isdigit() else StaticDevice
    with transaction.atomic():
        devices = model.objects.devices_for_user(user, confirmed=True).select_for_update()
        for device in devices:
            if device.verify_token(code):
                return device
    return None


def is_recovery_code(device: Device | None) -> bool:
    return isinstance(device, StaticDevice)


def enrol_authenticator(user, device: TOTPDevice, *, request: HttpRequest) -> list[str]:
    """Make `device` the person's one authenticator app, with a new set of recovery codes
    (returned, to be shown once); any earlier app and codes stop working. Audited."""
    with transaction.atomic():
        replaced, _ = TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        TOTPDevice.objects.filter(user=user, confirmed=False).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _replace_recovery_codes(user)
        record_about(
            user,
            "staff.mfa_enrolled",
            actor=user,
            target=user,
            after={"replaced_earlier_app": replaced > 0, "recovery_codes": len(codes)},
            request=request,
        )
    return codes


def regenerate_recovery_codes(user, *, request: HttpRequest) -> list[str]:
    """A new set of recovery codes (returned, to be shown once); the old set stops working."""
    with transaction.atomic():
        codes = _replace_recovery_codes(user)
        record_about(
            user,
            "staff.recovery_codes_generated",
            actor=user,
            target=user,
            after={"recovery_codes": len(codes)},
            request=request,
        )
    return codes


def remove_second_factor(user) -> int:
    """Delete every device of the person (apps and recovery codes); the number removed.

    Their sessions verified with one of them stop counting as verified at the next request
    (django-otp no longer finds the device).
    """
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).count()
        model.objects.filter(user=user).delete()
    return removed


def _replace_recovery_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [_new_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _new_code() -> str:
    # Eight base-32 characters (40 random bits); never all digits, which would read as an
    # authenticator code.
    while True:
        code = StaticToken.random_token()
        if not code.isdigit():
            return code
