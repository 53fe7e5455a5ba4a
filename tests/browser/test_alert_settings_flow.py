"""A technician chooses their alerts from the account menu and saves a daily digest; an MSP
admin sees a connection's credential expiry, and where it came from, on the tenant page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from provisioning.alerts.models import AlertPreference, Delivery
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_technician_switches_to_a_daily_digest(page, screenshot, alpha):
    sign_in(page, alpha.technician.username, PASSWORD)
    page.click("text=Alerts")
    expect(page.locator("h1")).to_have_text("My alerts")
    expect(page.get_by_label("A job failed or partly failed")).to_be_checked()
    expect(page.get_by_label("A connection was quarantined or released")).to_be_checked()
    page.get_by_label("A connection was quarantined or released").uncheck()
    page.get_by_label("Once a day, one e-mail listing the day's alerts").check()
    screenshot("alert-settings")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("text=Saved your alert settings.")).to_be_visible()
    saved = AlertPreference.objects.get(user=alpha.technician)
    assert saved.delivery == Delivery.DIGEST
    assert (saved.job_failures, saved.connection_changes) == (True, False)


def test_the_tenant_page_warns_of_a_credential_ending_soon(page, screenshot, alpha, msp_admin):
    okta = alpha.okta_connection
    okta.secret_expires_on = timezone.localdate() + timedelta(days=5)
    okta.save()
    sign_in(page, msp_admin.username, PASSWORD)
    page.goto(f"/tenants/{alpha.tenant.slug}/")
    warning = page.locator(".secret-state .badge.warn", has_text="in 5 days")
    expect(warning).to_be_visible()
    expect(page.locator(".secret-state", has_text="(typed in)")).to_be_visible()
    # Said what it is (it read "••• set 2 minutes ago, expires …"), right below the address.
    line = page.locator(f"#connection-{okta.pk} .credential")
    expect(line).to_contain_text("Credential: ••• set")
    address = page.locator(f"#connection-{okta.pk} > .muted").first.bounding_box()
    gap = line.bounding_box()["y"] - (address["y"] + address["height"])
    assert gap < 10, gap  # no empty row between them
    screenshot("tenant-credential-expiry")
