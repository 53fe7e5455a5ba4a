"""A technician opens a person, offboards them with the dry run in view, lands on the job page
and watches it succeed: the live server, the sandbox directory over HTTPS and a real Celery
worker on the test database."""

import uuid
from datetime import timedelta

import pytest

from portal.models import Role
from provisioning import services
from provisioning.models import Identity
from tenants import clock
from tenants.models import RoleTemplate
from tests.browser.conftest import assert_the_button_follows_the_dry_run, sign_in
from tests.factories import PASSWORD, make_person
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_MAIL = "ada.lovelace-of-the-analytical-engine-department@research.contoso-holdings.example"


@pytest.fixture
def contoso(on_sandbox, worker):
    """Ada Lovelace, onboarded as Sales by the worker."""
    slug = f"contoso-{uuid.uuid4().hex[:6]}"
    dirs = make_directories(on_sandbox, slug, ("entra",))
    dirs.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    dirs.upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    job = services.request_onboarding(dirs.tenant, request, username=dirs.upn, actor="system")
    assert wait_for_job(job.pk, timeout=90).status == "succeeded"
    return dirs


def test_technician_offboards_a_person_with_a_dry_run_and_watches_it_succeed(
    page, screenshot, contoso
):
    Identity.objects.filter(username=contoso.upn).update(email=LONG_MAIL)
    sign_in(page, contoso.technician.username, PASSWORD)
    page.goto(f"/tenants/{contoso.tenant.slug}/people/")
    page.click("text=Ada Lovelace")
    # a long address wraps inside the Desired state card instead of running past it
    mail = page.locator("dl.props dd", has_text=LONG_MAIL)
    assert mail.evaluate("dd => dd.scrollWidth <= dd.clientWidth")
    card, shown = page.locator("section.card", has=mail).bounding_box(), mail.bounding_box()
    assert shown["x"] + shown["width"] <= card["x"] + card["width"]
    screenshot("identity-long-address")
    Identity.objects.filter(username=contoso.upn).update(email=contoso.upn)  # as the directory
    page.click("text=Offboard…")
    page.wait_for_url("**/offboard/")

    # the dry run of the tenant's preset (the MSP's default) appears by itself, with the
    # deletion 30 days later it schedules
    plan = page.locator("#preview")
    deleted = clock.tenant_today(contoso.tenant) + timedelta(days=30)
    plan.locator("#plan-deletion li", has_text=f"{deleted.day} {deleted:%b %Y}").wait_for()
    assert page.locator("textarea[name=keep_groups]").count() == 0  # one control: the ticks
    plan.locator("li", has_text="Remove licence SPE_E3").wait_for()
    plan.locator("li", has_text="Unassign app Salesforce").wait_for()
    plan.locator("li", has_text="Remove from group Staff").wait_for()
    # keep one of the person's groups: the plan follows
    plan.get_by_label("Staff", exact=True).check()
    plan.locator("li", has_text="Remove from group Staff").wait_for(state="detached")
    plan.locator("li", has_text="Remove from group Sales").wait_for()
    page.fill("#id_delete_after_days", "14")
    deleted = clock.tenant_today(contoso.tenant) + timedelta(days=14)
    plan.locator("#plan-deletion li", has_text=f"{deleted.day} {deleted:%b %Y}").wait_for()
    plan.locator("#plan-deletion", has_text="14 days after the offboarding").wait_for()
    assert plan.get_by_label("Staff", exact=True).is_checked()  # the tick survived the swap
    screenshot("offboarding-wizard-with-plan")
    offboard = page.get_by_role("button", name="Offboard Ada Lovelace")
    assert_the_button_follows_the_dry_run(page, offboard, screenshot, "offboarding")

    offboard.click()
    page.wait_for_url("**/jobs/*/")
    page.locator(".message.success", has_text="offboarding of Ada Lovelace").wait_for()
    page.locator('#job-progress[data-status="succeeded"]').wait_for(timeout=90_000)
    page.locator("table.steps tr", has_text="Block sign-in").locator(".badge.ok").wait_for()
    screenshot("offboarding-job-succeeded")

    # the person's page: left, what was removed, the deletion waiting, restore offered
    page.click("#job-progress >> text=Ada Lovelace")
    card = page.locator("#lifecycle")
    card.locator(".badge", has_text="Left").wait_for()
    removed = card.locator("dl.removed")
    for name in ("Sales", "SPE_E3", "Salesforce"):
        removed.locator(".chip", has_text=name).first.wait_for()
    card.locator("td", has_text="Delete the disabled account").wait_for()
    card.locator("a", has_text="Restore Ada Lovelace").wait_for()
    screenshot("identity-after-offboarding")

    user = contoso.entra_user(contoso.upn)
    assert user["accountEnabled"] is False
    assert user["licenses"] == [] and user["appRoleAssignments"] == []
    assert "Staff" in user["groups"] and "Sales" not in user["groups"]

    # rehire within the grace period: Restore shows what it will put back, then does so
    card.locator("a", has_text="Restore Ada Lovelace").click()
    page.wait_for_url("**/restore/")
    plan = page.locator("#preview")
    for step in ("Allow sign-in", "Add to group Sales", "Assign licence SPE_E3"):
        plan.locator("li", has_text=step).first.wait_for(state="attached")
    plan.locator(".plan-verdict", has_text="Ready to queue").wait_for()
    assert contoso.entra_user(contoso.upn)["accountEnabled"] is False  # nothing sent yet
    screenshot("restore-dry-run")
    confirm = page.locator("#confirm-restore")
    actions = page.locator(".layout-actions").get_by_role("button").all_inner_texts()
    assert actions == ["Confirm: restore Ada Lovelace"]  # no other page's Preview button
    assert_the_button_follows_the_dry_run(page, confirm, screenshot, "restore")
    confirm.click()
    page.wait_for_url("**/jobs/*/")
    page.locator(".message.success", has_text="restore of Ada Lovelace").wait_for()
    page.locator('#job-progress[data-status="succeeded"]').wait_for(timeout=90_000)
    screenshot("restore-job-succeeded")
    user = contoso.entra_user(contoso.upn)
    assert user["accountEnabled"] is True and user["licenses"] == ["SPE_E3"]
    assert [a["app"] for a in user["appRoleAssignments"]] == ["Salesforce"]
    assert {"Staff", "Sales"} <= set(user["groups"])


def test_technician_schedules_a_role_change_sees_it_on_the_schedule_and_cancels_it(
    page, screenshot, contoso, msp_admin
):
    RoleTemplate.objects.create(
        tenant=contoso.tenant,
        name="Support",
        groups=["Staff", "Finance"],
        licenses=["EMS"],
        apps=["Slack"],
        department="Support",
    )
    sign_in(page, contoso.technician.username, PASSWORD)
    page.goto(f"/tenants/{contoso.tenant.slug}/people/")
    page.click("text=Ada Lovelace")
    page.click("text=Change role / attributes")
    page.get_by_label("Sales", exact=True).uncheck()
    page.get_by_label("Support", exact=True).check()
    page.fill("#id_department", "")
    day = clock.tenant_today(contoso.tenant) + timedelta(days=10)
    page.fill("#id_at", f"{day.isoformat()}T09:30")  # Europe/London, the tenant's zone
    shown = f"{day.day} {day:%b %Y} 09:30"
    plan = page.locator("#preview")
    plan.locator(".ok", has_text="+ Finance").wait_for()
    plan.locator(".ok", has_text="+ EMS (50 available)").wait_for()  # the seats, as onboarding
    plan.locator(".bad", has_text="− SPE_E3").wait_for()
    plan.locator("td", has_text="department → Support").wait_for()
    screenshot("mover-with-difference")
    queue = page.get_by_role("button", name="Queue the change")
    assert_the_button_follows_the_dry_run(page, queue, screenshot, "mover")

    queue.click()
    page.wait_for_url("**/jobs/*/")
    page.locator("#job-scheduled", has_text=shown).wait_for()
    screenshot("mover-job-scheduled")

    page.goto(f"/tenants/{contoso.tenant.slug}/schedule/")
    row = page.locator("#upcoming tr", has_text="Ada Lovelace")
    row.locator("td", has_text=shown).wait_for()
    screenshot("schedule")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    row.locator("button", has_text="Cancel").click()
    page.locator(".message.success", has_text="Cancelled Change").wait_for()
    assert asked and asked[0].endswith("for Ada Lovelace? It will not run."), asked
    page.locator("#upcoming td.empty", has_text="Nothing is scheduled.").wait_for()

    page.context.clear_cookies()
    sign_in(page, msp_admin.username, PASSWORD)
    page.goto(f"/tenants/{contoso.tenant.slug}/")
    page.click("text=Lifecycle settings")
    page.get_by_label("Deactivate (drops app assignments)").check()
    page.fill("#id_delete_after_days", "")
    screenshot("lifecycle-settings")
    page.click("button:has-text('Save lifecycle settings')")
    page.locator(".message.success", has_text="Saved the lifecycle settings").wait_for()
