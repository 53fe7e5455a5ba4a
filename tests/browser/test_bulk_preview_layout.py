"""The bulk preview's rows at a laptop's width: a username breaks only where a person would
break it (after a dot or a hyphen of the name, before the @; the domain whole), and a long
name between its words, never in the middle of a word."""

import uuid

import pytest

from portal.models import Role
from provisioning.models import Batch, BatchRow
from tenants.models import Tenant
from tests.browser.conftest import SIDEWAYS, sign_in
from tests.factories import PASSWORD, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each character's line (its box's top), so the test reads where the browser broke the text.
LINES = """code => {
  const range = document.createRange(), lines = [];
  let node, top = null, walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
  while ((node = walker.nextNode())) {
    for (let i = 0; i < node.length; i++) {
      range.setStart(node, i); range.setEnd(node, i + 1);
      const y = Math.round(range.getBoundingClientRect().top);
      if (y !== top) { lines.push(""); top = y; }
      lines[lines.length - 1] += node.data[i];
    }
  }
  return lines;
}"""


def test_a_long_username_in_the_preview_breaks_between_its_parts(page, screenshot):
    slug = f"layout-{uuid.uuid4().hex[:6]}"
    tenant = Tenant.objects.create(name="Layout", slug=slug, primary_domain="contoso.example")
    batch = Batch.objects.create(tenant=tenant, kind=Batch.Kind.CSV_ONBOARD, rows_total=2)
    username = "maximiliana.featherstonehaugh-worthington@contoso.example"
    first, last = "Maximiliana", "Featherstonehaugh-Worthington"
    cells = {"first_name": first, "last_name": last, "role": "Sales"}
    BatchRow.objects.create(
        batch=batch, line=2, data={"input": cells, "username": username, "start_date": "2026-12-05"}
    )
    BatchRow.objects.create(
        batch=batch,
        line=3,
        data={"input": {"first_name": "Grace", "last_name": "Hopper", "role": "Office"}},
        errors=["Unknown role “Office”. This tenant's roles: Engineering, Sales, Support."],
    )
    technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [tenant])
    sign_in(page, technician.username, PASSWORD)
    page.goto(f"/tenants/{slug}/bulk/{batch.pk}/")
    lines = page.locator("#line-2 code").evaluate(LINES)
    screenshot("bulk-preview-long-username")
    assert "".join(lines) == username
    for before, after in zip(lines, lines[1:], strict=False):
        assert before[-1] in ".-" or after[0] == "@", lines
    assert any(line.endswith("@contoso.example") for line in lines), lines  # the domain whole
    name = page.locator("#line-2 td:nth-child(2)").evaluate(LINES)
    assert [line.strip() for line in name] in (
        [f"{first} {last}"],
        [first, last],
        [first, "Featherstonehaugh-", "Worthington"],
    ), name


def test_a_row_that_needs_a_choice_keeps_the_preview_inside_a_1280_pixel_screen(page, screenshot):
    """A row's licence choice (a select as wide as its longest option) sat past the card's edge
    at 1280 px, and the whole page scrolled sideways (newcomer12's walk through the demo)."""
    slug = f"layout-{uuid.uuid4().hex[:6]}"
    tenant = Tenant.objects.create(name="Layout", slug=slug, primary_domain="northwind.example")
    batch = Batch.objects.create(tenant=tenant, kind=Batch.Kind.CSV_ONBOARD, rows_total=3)
    sku = "O365_BUSINESS_PREMIUM"
    no_seat = {"kind": "no_seat", "subject": sku, "message": f"Entra: No free seat of {sku}."}
    BatchRow.objects.create(
        batch=batch,
        line=2,
        data={
            "input": {"first_name": "Ann", "last_name": "Bulkley", "role": "Sales"},
            "username": "ann.bulkley@northwind.example",
            "start_date": "2026-12-06",
            "problems": [no_seat],
            "availability": {sku: 0, "EMS": 24, "SPE_E3": 48},
        },
    )
    BatchRow.objects.create(
        batch=batch,
        line=3,
        data={"input": {"first_name": "Ben", "last_name": "Bulkley", "role": "Nonexistent Role"}},
        errors=["Unknown role “Nonexistent Role”. This tenant's roles: Office, Operations, Sales."],
    )
    technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [tenant])
    sign_in(page, technician.username, PASSWORD)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/tenants/{slug}/bulk/{batch.pk}/")
    choice = page.locator("#line-2 select")
    choice.select_option(label="Use SPE_E3 instead (48 available)")
    screenshot("bulk-preview-row-choice-1280")

    assert page.evaluate(SIDEWAYS) == []
    card = page.locator("table.bulk-rows").evaluate(
        "t => t.closest('.card').getBoundingClientRect()"
    )
    box = choice.bounding_box()
    assert box["x"] + box["width"] <= card["right"], "the row's choice stands past its card"


def test_the_upload_pages_switch_sits_beside_the_heading_at_a_laptops_width(page, screenshot):
    """At 1280 px the switch (Onboard from CSV / Offboard from CSV) wrapped under the long
    subtitle onto a line of its own, pushing the form down; it sits on the heading's row."""
    slug = f"switch-{uuid.uuid4().hex[:6]}"
    tenant = Tenant.objects.create(name="Switch", slug=slug, primary_domain="contoso.example")
    technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [tenant])
    sign_in(page, technician.username, PASSWORD)
    for kind in ("onboard", "offboard"):
        page.goto(f"/tenants/{slug}/bulk/upload/?kind={kind}")
        heading = page.locator("h1").bounding_box()
        switch = page.get_by_role("navigation", name="What the file does").bounding_box()
        screenshot(f"bulk-upload-{kind}-1280")
        assert switch["y"] < heading["y"] + heading["height"], f"{kind}: the switch wrapped"
