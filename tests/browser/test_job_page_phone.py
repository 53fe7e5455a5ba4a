"""A leaver's job page on a phone: the proof that every access is gone (each step's status,
each directory's read-back) is on the screen, not behind a card's sideways scroll bar."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.models import Job, Step
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_tenant_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STEPS = [
    ("entra", "disable_user", "linus.slackman@contoso.example"),
    ("entra", "remove_group", "Sales Team"),
    ("entra", "remove_license", "O365_BUSINESS_PREMIUM"),
    ("okta", "disable_user", "linus.slackman@contoso.example"),
]
KEPT = "“Sales (dynamic)” is rule-based: the directory manages its members, so it stays."


def finished_leave(world) -> Job:
    now = timezone.now()
    connections = {"entra": world.connection, "okta": world.okta_connection}
    job = Job.objects.create(
        tenant=world.tenant,
        identity=world.identity,
        kind="leave",
        status="succeeded",
        created_at=now - timedelta(minutes=1),
        started_at=now - timedelta(minutes=1),
        finished_at=now,
        planned=True,
        steps_total=len(STEPS),
        steps_done=len(STEPS),
        verification={
            "read_at": now.isoformat(),
            "desired_version": 2,
            "directories": {
                str(world.connection.pk): {
                    "account": "7f9addbe-1fef-48ae-a452-05b1ab0385e9",
                    "enabled": False,
                    **{"groups": 1, "licenses": 0, "apps": 0, "roles": 0},
                    "kept": [KEPT],
                },
                str(world.okta_connection.pk): {
                    "account": "00u008E9QkTK815ItoZV",
                    "enabled": False,
                    **{"groups": 0, "licenses": 0, "apps": 0, "roles": None},
                },
            },
        },
    )
    for order, (kind, action, target) in enumerate(STEPS, start=1):
        Step.objects.create(
            job=job,
            connection=connections[kind],
            order=order,
            action=action,
            target_name=target,
            status="succeeded",
            attempts=1,
            duration_ms=30,
        )
    return job


def test_a_leavers_steps_and_read_back_fit_a_phone(page, screenshot):
    world = make_tenant_world(f"phone-{uuid.uuid4().hex[:6]}", "Contoso")
    job = finished_leave(world)
    sign_in(page, world.technician.username, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/jobs/{job.pk}/")
    steps = page.locator("table.steps").locator("xpath=ancestor::section[1]")
    verification = page.locator("#job-verification")
    screenshot("job-leave-390")

    for card in (steps, verification):
        assert card.evaluate("e => e.scrollWidth <= e.clientWidth"), "the card scrolls sideways"
    right = steps.bounding_box()["x"] + steps.bounding_box()["width"]
    badges = page.locator("table.steps .badge")
    assert badges.count() == len(STEPS)
    for badge in badges.all():
        box = badge.bounding_box()
        assert box["x"] + box["width"] <= right, "a step's status is past the card's edge"
    entra = verification.locator("tbody tr", has_text="7f9addbe")
    for said in ("Sign-in blocked", "Licences 0", "Apps 0"):
        assert said in " ".join(entra.inner_text().split()), entra.inner_text()
    assert verification.locator("tr.kept", has_text="Sales (dynamic)").is_visible()


def test_the_jobs_list_keeps_each_jobs_status_on_a_phone(page, screenshot):
    world = make_tenant_world(f"phone-{uuid.uuid4().hex[:6]}", "Contoso")
    finished_leave(world)
    sign_in(page, world.technician.username, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/jobs/")
    results = page.locator("#results")
    results.locator("tbody tr").first.wait_for()
    screenshot("job-list-390")

    card = results.locator(".card").first
    assert card.evaluate("e => e.scrollWidth <= e.clientWidth"), "the list scrolls sideways"
    right = card.bounding_box()["x"] + card.bounding_box()["width"]
    for badge in results.locator("tbody .badge").all():
        box = badge.bounding_box()
        assert box["x"] + box["width"] <= right, "a job's status is past the card's edge"


def test_the_tenants_list_fits_a_phone(page, screenshot):
    """Connections, role templates and status were behind the card's scroll bar at 390 px."""
    world = make_tenant_world(f"phone-{uuid.uuid4().hex[:6]}", "Contoso")
    sign_in(page, world.technician.username, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/tenants/")
    card = page.locator("main .card").first
    row = card.locator("tbody tr", has_text="Contoso")
    row.wait_for()
    screenshot("tenant-list-390")
    assert card.evaluate("e => e.scrollWidth <= e.clientWidth"), "the list scrolls sideways"
    assert "Connections 2" in " ".join(row.inner_text().split())
