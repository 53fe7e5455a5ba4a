"""An authenticator code is good once, and guessing is slowed down: a code that signed in one
session does not sign in another within its 30 s window (someone who watched it typed, or
read it off a phished page), and after wrong codes even the right one is refused for a while
(django-otp's throttle), so six digits cannot be walked through on the sign-in page."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.test_login import login, totp_now

pytestmark = pytest.mark.django_db

ASKED = "Enter the current code from your authenticator app"


@pytest.fixture
def phone(alpha) -> TOTPDevice:
    return TOTPDevice.objects.create(user=alpha.technician, name="phone", confirmed=True)


def test_a_code_that_signed_in_once_signs_in_nowhere_else(alpha, phone):
    code = totp_now(phone)
    assert login(Client(), "tech-alpha", otp_token=code).status_code == 302
    replayed = Client()
    response = login(replayed, "tech-alpha", otp_token=code)
    assert response.status_code == 200 and ASKED in response.content.decode()
    assert "_auth_user_id" not in replayed.session


def test_after_wrong_codes_the_right_one_waits(alpha, phone):
    wrong = f"{(int(totp_now(phone)) + 1) % 1_000_000:06d}"
    assert login(Client(), "tech-alpha", otp_token=wrong).status_code == 200
    phone.refresh_from_db()
    assert phone.throttling_failure_count == 1  # the page's wrong code counted
    # As after ten wrong codes in a row: the next try is allowed 2^9 s after the last.
    TOTPDevice.objects.filter(pk=phone.pk).update(throttling_failure_count=10)
    phone.refresh_from_db()
    guesser = Client()
    response = login(guesser, "tech-alpha", otp_token=totp_now(phone))
    assert response.status_code == 200 and "_auth_user_id" not in guesser.session
