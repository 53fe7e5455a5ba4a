"""A technician uploads a CSV file in the browser, checks the preview, queues the valid rows
and watches the batch's progress bar reach 100 %: the live server, the sandbox directory over
HTTPS and a real Celery worker on the test database."""

import pytest

from tenants.models import OffboardingPreset
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD
from tests.provisioning.bulk_support import ONBOARD_HEADER, csv_text, sandbox_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_technician_imports_a_csv_and_watches_it_finish(page, screenshot, on_sandbox, worker):
    dirs = sandbox_tenant(on_sandbox, "browserbulk")
    domain = dirs.tenant.primary_domain
    rows = [
        ["Ada", "Lovelace", "Sales", "", "", "", "Analyst", "", "", ""],
        ["Charles", "Babbage", "Support", "", "", "", "", "", "", ""],
        ["Grace", "Hopper", "Sales;Support", "", "", "", "", "", "", ""],
        ["Bob", "Typo", "Salse", "", "", "", "", "", "", ""],
    ]
    sign_in(page, dirs.technician.username, PASSWORD)
    page.goto(f"/tenants/{dirs.tenant.slug}/people/")
    page.click("text=Bulk import (CSV)")
    page.click("text=Onboard from CSV")
    page.set_input_files(
        "#id_file",
        files=[{"name": "joiners.csv", "mimeType": "text/csv",
                "buffer": csv_text(ONBOARD_HEADER, rows).encode()}],
    )  # fmt: skip
    screenshot("bulk-upload")
    page.click("text=Upload and check")

    page.wait_for_url("**/bulk/*/")
    page.locator("#line-5.invalid", has_text="Unknown role “Salse”").wait_for()
    page.locator("#line-2", has_text=f"ada.lovelace@{domain}").wait_for()
    queue = page.locator("#queue-rows")
    assert queue.inner_text() == "Queue 3 valid rows"
    screenshot("bulk-preview")

    queue.click()
    page.locator(".message.success", has_text="Queued 3 rows.").wait_for()
    # the progress partial polls until every job is done, then stops
    page.locator('#batch-progress[data-percent="100"]').wait_for(timeout=90_000)
    assert page.locator("#batch-progress").get_attribute("hx-trigger") is None
    assert page.locator("#batch-progress progress").get_attribute("value") == "100"
    assert page.locator("#batch-progress .badge.ok", has_text="Succeeded").count() == 3
    screenshot("bulk-batch-done")

    for upn in (f"ada.lovelace@{domain}", f"charles.babbage@{domain}", f"grace.hopper@{domain}"):
        assert dirs.entra_user(upn)["accountEnabled"] is True
    with page.expect_download() as download:
        page.click("text=Download the result (CSV)")
    assert download.value.suggested_filename.endswith("-result.csv")


def test_offboarding_upload_starts_from_the_tenant_preset(page, screenshot, on_sandbox):
    dirs = sandbox_tenant(on_sandbox, "browseroff")
    OffboardingPreset.objects.create(tenant=dirs.tenant, okta_mode="deactivate",
                                     delete_after_days=14, keep_groups=["All Staff"])  # fmt: skip
    sign_in(page, dirs.technician.username, PASSWORD)
    page.goto(f"/tenants/{dirs.tenant.slug}/bulk/upload/?kind=offboard")
    assert page.locator("#id_okta_mode").input_value() == "deactivate"
    assert page.locator("#id_delete_after_days").input_value() == "14"
    assert page.locator("#id_keep_groups").input_value() == "All Staff"
    page.set_input_files(
        "#id_file",
        files=[{"name": "leavers.csv", "mimeType": "text/csv",
                "buffer": b"username\r\nnobody@elsewhere.example\r\n"}],
    )  # fmt: skip
    screenshot("bulk-upload-offboard")
    page.click("text=Upload and check")
    page.locator("#line-2.invalid", has_text="Nobody with username").wait_for()
    assert page.locator("#queue-rows").count() == 0
