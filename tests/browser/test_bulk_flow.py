"""A technician uploads a CSV file in the browser, checks the preview, queues the valid rows
and watches the batch's progress bar reach 100 %: the live server, the sandbox directory over
HTTPS and a real Celery worker on the test database."""

import re
import uuid

import pytest

from portal.models import Role
from provisioning.models import Job
from tenants.models import OffboardingPreset
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_person
from tests.provisioning.bulk_support import ONBOARD_HEADER, csv_text, sandbox_tenant
from tests.provisioning.directories import make_directories

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
    assert page.locator("#batch-progress").get_attribute("data-hx-trigger") is None
    assert page.locator("#batch-progress progress").get_attribute("value") == "100"
    assert page.locator("#batch-progress .badge.ok", has_text="Succeeded").count() == 3
    screenshot("bulk-batch-done")

    for upn in (f"ada.lovelace@{domain}", f"charles.babbage@{domain}", f"grace.hopper@{domain}"):
        assert dirs.entra_user(upn)["accountEnabled"] is True
    with page.expect_download() as download:
        page.click("text=Download the result (CSV)")
    assert download.value.suggested_filename.endswith("-result.csv")


def test_offboarding_upload_starts_from_the_tenant_preset(page, screenshot, on_sandbox):
    # with Okta: a tenant without it is not asked how to leave it there
    dirs = sandbox_tenant(on_sandbox, "browseroff", kinds=("entra", "okta"))
    OffboardingPreset.objects.create(tenant=dirs.tenant, okta_mode="deactivate",
                                     delete_after_days=14, keep_groups=["Staff"])  # fmt: skip
    sign_in(page, dirs.technician.username, PASSWORD)
    page.goto(f"/tenants/{dirs.tenant.slug}/bulk/upload/?kind=offboard")
    assert page.locator("#id_okta_mode").input_value() == "deactivate"
    assert page.locator("#id_delete_after_days").input_value() == "14"
    assert page.locator("#id_keep_groups").input_value() == "Staff"
    page.set_input_files(
        "#id_file",
        files=[{"name": "leavers.csv", "mimeType": "text/csv",
                "buffer": b"username\r\nnobody@elsewhere.example\r\n"
                          + b"a" * 200 + b"@elsewhere.example\r\n"}],
    )  # fmt: skip
    screenshot("bulk-upload-offboard")
    page.click("text=Upload and check")
    page.locator("#line-2.invalid", has_text="Nobody with username").wait_for()
    assert page.locator("#queue-rows").count() == 0
    # a long unbroken value (a pasted line, a username) wraps: the rows stay in their card
    page.locator("#line-3.invalid").wait_for()
    screenshot("bulk-preview-long-value")
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    badge = page.locator("#line-3 .badge", has_text="Invalid").bounding_box()
    assert badge["height"] < 2 * page.locator("#line-2 code").bounding_box()["height"]


def test_a_row_without_a_seat_gets_another_licence_and_a_job_waits_for_a_choice(
    page, screenshot, on_sandbox, worker
):
    """Three SPE_E3 seats for four rows: the preview asks about the fourth, which takes EMS
    instead. An admin takes one more seat before the jobs run, so one job stops for a choice
    on its page; choosing EMS there converges it."""
    slug = f"browserseat-{uuid.uuid4().hex[:6]}"
    dirs = make_directories(on_sandbox, slug, ("entra",), seats=3)
    technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    domain = dirs.tenant.primary_domain
    names = [("Ada", "Lovelace"), ("Alan", "Turing"), ("Grace", "Hopper"), ("Edsger", "Dijkstra")]
    rows = [[first, last, "Sales", "", "", "", "", "", "", ""] for first, last in names]
    sign_in(page, technician.username, PASSWORD)
    page.goto(f"/tenants/{dirs.tenant.slug}/bulk/upload/?kind=onboard")
    page.set_input_files(
        "#id_file",
        files=[{"name": "joiners.csv", "mimeType": "text/csv",
                "buffer": csv_text(ONBOARD_HEADER, rows).encode()}],
    )  # fmt: skip
    with page.expect_navigation(url="**/bulk/*/", timeout=60_000):  # every row is dry-run
        page.click("text=Upload and check")
    fifth = page.locator("#line-5.needs-choice")
    fifth.locator(".problem", has_text="No free seat of SPE_E3").wait_for()
    assert page.locator("#line-4 .badge", has_text="Valid").count() == 1
    assert page.locator("#need-choice-count").inner_text() == "1"
    select = fifth.locator("select")
    select.select_option(label="Use EMS instead (50 available)")
    screenshot("bulk-preview-needs-choice")

    take_a_seat(dirs, f"late@{domain}")  # before the jobs run: one of them finds none
    page.click("#queue-rows")
    page.locator(".message.success", has_text="Queued 4 rows.").wait_for()
    page.locator("#batch-progress .stat", has_text="Need a choice").wait_for(timeout=90_000)
    screenshot("bulk-batch-needs-choice")
    waiting = Job.objects.get(batch__tenant=dirs.tenant, status=Job.Status.NEEDS_CHOICE)

    page.goto(f"/jobs/{waiting.pk}/")
    notice = page.locator("#job-needs-choice", has_text="No free seat of SPE_E3")
    notice.wait_for()
    # The notice stands apart from the cards under it (it touched them).
    under = page.locator("#job-progress > .grid").bounding_box()["y"]
    assert under - (notice.bounding_box()["y"] + notice.bounding_box()["height"]) >= 8
    assert "No steps: the directories matched already" not in page.content()
    assert page.locator("text=0 steps failed").count() == 0
    offered = page.locator("#job-choice select option").all_inner_texts()
    assert offered[-1] == "Go without this licence", offered
    assert re.fullmatch(r"Use EMS instead \((48|49|50) available\)", offered[1]), offered
    page.select_option("#job-choice select", value="EMS")
    screenshot("job-waiting-for-choice")
    page.click("#apply-choice")
    page.locator('#job-progress[data-status="succeeded"]').wait_for(timeout=90_000)
    screenshot("job-choice-converged")

    licences = sorted(
        tuple(dirs.entra_user(f"{f.lower()}.{last.lower()}@{domain}")["licenses"])
        for f, last in names
    )
    assert licences == [("EMS",), ("EMS",), ("SPE_E3",), ("SPE_E3",)]
    assert {j.status for j in Job.objects.filter(batch__tenant=dirs.tenant)} == {
        Job.Status.SUCCEEDED
    }


def take_a_seat(dirs, upn: str) -> None:
    """An admin gives an SPE_E3 seat to someone else, behind the portal's back."""
    user = dirs.add_entra_user(upn, "Late", "Comer")
    dirs.graph("PATCH", f"/users/{user['id']}", {"usageLocation": "GB"})
    skus = dirs.graph("GET", "/subscribedSkus").json()["value"]
    e3 = next(s["skuId"] for s in skus if s["skuPartNumber"] == "SPE_E3")
    body = {"addLicenses": [{"skuId": e3, "disabledPlans": []}], "removeLicenses": []}
    assert dirs.graph("POST", f"/users/{user['id']}/assignLicense", body).status_code == 200
