"""The bulk preview's rows at a laptop's width: a username breaks only where a person would
break it (after a dot or a hyphen of the name, before the @; the domain whole), and a long
name between its words, never in the middle of a word."""

import uuid

import pytest

from portal.models import Role
from provisioning.models import Batch, BatchRow
from tenants.models import Tenant
from tests.browser.conftest import sign_in
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
