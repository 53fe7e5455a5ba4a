"""An MSP admin finds a person locked out of sign-in on their staff page and unlocks them;
the person signs in again."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_msp_admin_unlocks_a_locked_out_person(page, screenshot, alpha, msp_admin):
    person = alpha.technician
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        elsewhere.post(reverse("login"), {"username": person.username, "password": "wrong"})
    sign_in(page, msp_admin.username, PASSWORD)
    page.goto(reverse("staff_edit", kwargs={"person_id": person.pk}))
    card = page.locator("section:has(h2:text('Locked out of sign-in'))")
    expect(card).to_contain_text("203.0.113.9")
    screenshot("staff-locked-out")
    card.locator("button:has-text('Unlock sign-in')").click()
    expect(page.locator("body")).to_contain_text(f"{person.username} can sign in again.")
    expect(page.locator("h2:text('Locked out of sign-in')")).to_have_count(0)
    screenshot("staff-unlocked")
    again = elsewhere.post(reverse("login"), {"username": person.username, "password": PASSWORD})
    assert again.status_code == 302
