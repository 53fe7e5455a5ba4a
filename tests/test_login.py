import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from cryptography.fernet import Fernet
from django.conf import settings
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import PASSWORD


def login(client, username, password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password, **extra})


def test_login_and_logout(client, alpha):
    response = login(client, "tech-alpha")
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert alpha.tenant.name in client.get(reverse("dashboard")).content.decode()
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_wrong_password_is_refused_plainly(client, alpha):
    response = login(client, "tech-alpha", "nope")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_repeated_failures_lock_the_account_with_a_clear_message(client, alpha):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "tech-alpha", "wrong")
    response = login(client, "tech-alpha")  # even the right password is refused now
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302
    # RFC 6585 §4: each attempt while locked starts the cool-off again (django-axes keeps
    # the attempt's time), so the wait is the whole cool-off, from now.
    assert response["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME * 3600))
    # In words, as the page for an account held from every address says it: the page said
    # "Try again in PT15M" (django-axes' ISO 8601 duration).
    minutes = int(settings.AXES_COOLOFF_TIME * 60)
    assert f"Try again in {minutes} minutes," in response.content.decode()


def test_a_username_longer_than_any_is_refused_before_it_is_tried(client, alpha):
    """The form only said 150 characters in the page (Django sets maxlength on the widget,
    not a validator): a longer one was tried and recorded as django-axes' failed attempt, whose
    column takes 255, so on PostgreSQL any outsider's long username was a 500."""
    attempts = AccessAttempt.objects.count()
    response = login(client, "x" * 300, "nope")
    assert response.status_code == 200
    assert "at most 150 characters" in response.content.decode()
    assert AccessAttempt.objects.count() == attempts


def totp_now(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_enrolled_person_needs_the_code(client, alpha):
    device = TOTPDevice.objects.create(user=alpha.technician, name="phone", confirmed=True)
    response = login(client, "tech-alpha")
    assert response.status_code == 200
    assert "Enter the current code from your authenticator app" in response.content.decode()
    response = login(client, "tech-alpha", otp_token=totp_now(device))
    assert response.status_code == 302


def test_admin_mfa_required_when_configured(client, msp_admin, settings):
    settings.REQUIRE_ADMIN_MFA = True
    login(client, "msp-admin")
    response = client.get(reverse("tenant_list"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa") + "?next=%2Ftenants%2F"
    page = client.get(reverse("mfa")).content.decode()
    assert "<svg" in page and "Scan this code" in page
    device = TOTPDevice.objects.get(user=msp_admin)
    wrong = client.post(reverse("mfa"), {"token": "000000"})
    assert "did not match" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # django-otp slows down guessing after a wrong code
    before = client.session.session_key
    done = client.post(reverse("mfa"), {"token": totp_now(device)})
    assert done.status_code == 200 and "Your recovery codes" in done.content.decode()
    assert client.session.session_key != before  # a step up gets a new session key
    assert client.get(reverse("tenant_list")).status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_technicians_are_not_forced_into_mfa(client, alpha, settings):
    settings.REQUIRE_ADMIN_MFA = True
    login(client, "tech-alpha")
    assert client.get(reverse("tenant_list")).status_code == 200


@pytest.mark.django_db(transaction=False)
def test_production_settings_pass_check_deploy():
    # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE is for tests only; a deployment never has it.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env |= {
        "DJANGO_ENV": "production",
        "SECRET_KEY": Fernet.generate_key().decode() * 2,
        "ALLOWED_HOSTS": "portal.example.com",
        "CREDENTIAL_KEYS": Fernet.generate_key().decode(),
        "AUDIT_SIGNING_KEYS": "k1:" + Fernet.generate_key().decode(),
        "DATABASE_URL": "sqlite:////tmp/deploy-check.sqlite3",
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secrets():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CREDENTIAL_KEYS")}
    env |= {"DJANGO_ENV": "production", "ALLOWED_HOSTS": "portal.example.com"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_a_session_ends_twelve_hours_after_sign_in(client, alpha):
    """A stolen or forgotten session of someone who can change every client's directories
    does not last Django's default two weeks: twelve hours (`SESSION_MAX_AGE_SECONDS`), the
    re-authentication interval of NIST SP 800-63B at AAL2."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    login(client, "tech-alpha")
    session = Session.objects.get(pk=client.session.session_key)
    left = (session.expire_date - timezone.now()).total_seconds()
    assert 12 * 3600 - 60 < left <= 12 * 3600
    assert client.get(reverse("dashboard")).status_code == 200

    # Twelve hours on: the store no longer takes the session.
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now())
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_sign_in_refused_as_a_whole_marks_no_fields_it_does_not_mark(client, alpha):
    """newcomer24: asked for the code (or given a wrong password), the sign-in page also said
    "Please correct the fields marked below. Nothing was saved.": no field was marked, and a
    sign-in saves nothing. That line is for errors of a field; these are the form's own."""
    TOTPDevice.objects.create(user=alpha.technician, name="phone", confirmed=True)
    for password in (PASSWORD, "not-the-password"):
        page = login(client, "tech-alpha", password).content.decode()
        assert "Enter the current code" in page or "correct username and password" in page
        assert "fields marked below" not in page and "Nothing was saved" not in page
    # A field's own error still gets the line that points at it.
    page = login(client, "", PASSWORD).content.decode()
    assert "Please correct the fields marked below." in page


def test_asked_for_the_code_the_person_is_told_to_type_the_password_again(client, alpha):
    """newcomer24: asked for the code, the page showed the password's box empty (a password is
    never rendered back) and said only to enter the code: a code typed alone was refused with
    the password's own "This field is required."."""
    TOTPDevice.objects.create(user=alpha.technician, name="phone", confirmed=True)
    page = login(client, "tech-alpha").content.decode()
    assert "with your password again" in page
