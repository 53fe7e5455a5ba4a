"""The People page in a browser: typing in the search box swaps the rows (htmx) and puts the
search in the address; Next and Previous walk keyset pages that keep it; a client admin reads
their own tenant's people only."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.models import Role
from provisioning.inventory import matching
from provisioning.inventory.models import Account, Cursor
from tenants.models import DirectoryConnection, Tenant
from tests.browser.conftest import SIDEWAYS, sign_in
from tests.factories import PASSWORD, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tenant_with_people(name: str, people: list[tuple[str, str]]) -> Tenant:
    slug = f"{name.lower()}-{uuid.uuid4().hex[:6]}"
    tenant = Tenant.objects.create(name=name, slug=slug, primary_domain=f"{slug}.test")
    connection = DirectoryConnection.objects.create(
        tenant=tenant, kind="okta", org_url="https://127.0.0.1:9/okta/none"
    )
    Account.objects.bulk_create(
        Account(
            connection=connection,
            tenant=tenant,
            remote_id=f"r-{n}",
            username=username,
            mail=username,
            display_name=display,
            in_scope=True,
        )
        for n, (username, display) in enumerate(people)
    )
    matching.rematch(tenant)
    return tenant


def test_search_as_you_type_and_keyset_pages(page, screenshot):
    staff = [(f"staff{n:03d}@contoso.test", f"Staff Member {n:03d}") for n in range(70)]
    contoso = tenant_with_people("Contoso", [*staff, ("grace@contoso.test", "Grace Hopper")])
    other = tenant_with_people("Fabrikam", [("gracie@fabrikam.test", "Gracie Other")])
    admin = make_person(f"ca-{contoso.slug}", Role.CLIENT_ADMIN, [contoso])
    sign_in(page, admin.username, PASSWORD)
    page.goto(f"/tenants/{contoso.slug}/people/")
    rows = page.locator("#people-rows table.people tbody tr")
    assert rows.count() == 50
    rows.first.locator("strong", has_text="Grace Hopper").wait_for()

    page.locator("#id_q").press_sequentially("grace")  # no Enter: htmx follows the typing
    page.wait_for_url("**?q=grace*")
    rows.filter(has_text="Staff Member").first.wait_for(state="detached")
    assert rows.count() == 1 and "Gracie Other" not in page.content()
    screenshot("people-search")

    page.locator("#id_q").fill("staff member")
    page.wait_for_url(lambda url: "q=staff%20member" in url)
    rows.first.locator("strong", has_text="Staff Member 000").wait_for()
    page.click("a[rel=next]")
    rows.first.locator("strong", has_text="Staff Member 050").wait_for()
    assert rows.count() == 20 and page.locator("a[rel=next]").count() == 0
    assert "q=staff+member" in page.url and "after=" in page.url  # the search kept
    screenshot("people-second-page")
    page.click("text=← Previous")
    rows.first.locator("strong", has_text="Staff Member 000").wait_for()
    assert rows.count() == 50

    assert page.goto(f"/tenants/{other.slug}/people/").status == 404


def test_the_people_table_fits_a_1280_pixel_screen(page, screenshot):
    """A technician's rows carry Adopt… and Offboard…; with long usernames (as a client's
    agency accounts have) the table stays in its card and the page never scrolls sideways."""
    agency = [(f"alex.rivera{n}@studio-agency.example", f"Alex Rivera {n}") for n in range(3)]
    contoso = tenant_with_people("Contoso", agency)
    tech = make_person(f"tech-{contoso.slug}", Role.TECHNICIAN, [contoso])
    sign_in(page, tech.username, PASSWORD)
    page.goto(f"/tenants/{contoso.slug}/people/")
    row = page.locator("#people-rows table.people tbody tr").first
    row.locator("a.button", has_text="Offboard").wait_for()
    screenshot("people-1280")

    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    card = page.locator("table.people").evaluate("t => t.closest('.card').getBoundingClientRect()")
    assert row.locator("a.button").count() == 2
    for button in row.locator("a.button").all():
        box = button.bounding_box()
        assert box["x"] + box["width"] <= card["right"]

    # A smaller laptop's window, the sidebar still beside the page: the table scrolls in its
    # card if it must, the page does not scroll sideways.
    page.set_viewport_size({"width": 1024, "height": 768})
    assert "HTML" not in page.evaluate(SIDEWAYS)


def test_the_stale_accounts_table_fits_a_1280_pixel_screen(page, screenshot):
    """The same long usernames on the stale report: Offboard… stays inside the card."""
    agency = [(f"alex.rivera{n}@studio-agency.example", f"Alex Rivera {n}") for n in range(3)]
    contoso = tenant_with_people("Contoso", agency)
    long_ago = timezone.now() - timedelta(days=200)
    Account.objects.filter(tenant=contoso).update(
        enabled=True, licence_ids=["EMS", "O365_BUSINESS_PREMIUM"], last_sign_in=long_ago
    )
    connection = contoso.connections.get()
    Cursor.objects.create(connection=connection, full_read_at=timezone.now())
    tech = make_person(f"tech-{contoso.slug}", Role.TECHNICIAN, [contoso])
    sign_in(page, tech.username, PASSWORD)
    page.goto(f"/tenants/{contoso.slug}/stale/")
    row = page.locator("table.stale-table tbody tr").first
    row.locator("a.button", has_text="Offboard").wait_for()
    screenshot("stale-1280")

    card = page.locator("table.stale-table").evaluate(
        "t => t.closest('.card').getBoundingClientRect()"
    )
    box = row.locator("a.button").bounding_box()
    assert box["x"] + box["width"] <= card["right"]


def test_a_username_on_the_people_page_breaks_before_its_domain(page, screenshot):
    """It broke wherever the column ended: "adele.kowalski@northwi" / "nd.example", and on a
    phone the name column was 11 characters wide ("adele.kowal" / "ski@northwi" / ...)."""
    from tests.browser.test_bulk_preview_layout import LINES

    username = "adele.kowalski@northwind.example"
    tenant = tenant_with_people("Northwind", [(username, "Adele Kowalski")])
    technician = make_person(f"tech-{tenant.slug}", Role.TECHNICIAN, [tenant])
    sign_in(page, technician.username, PASSWORD)
    page.goto(f"/tenants/{tenant.slug}/people/")
    code = page.locator("table.people tbody tr code").first
    whole_or_before_the_domain = (
        ["adele.kowalski@northwind.example"],
        ["adele.kowalski", "@northwind.example"],
    )
    assert code.evaluate(LINES) in whole_or_before_the_domain

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("people-390")
    assert code.evaluate(LINES) in whole_or_before_the_domain
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    card = page.locator("#people-rows .card")
    assert card.evaluate("c => c.scrollWidth <= c.clientWidth")  # nor does the card scroll
    offboard = page.locator("table.people tbody tr a.button", has_text="Offboard")
    assert offboard.bounding_box()["x"] + offboard.bounding_box()["width"] <= 390
