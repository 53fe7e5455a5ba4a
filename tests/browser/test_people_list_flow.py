"""The People page in a browser: typing in the search box swaps the rows (htmx) and puts the
search in the address; Next and Previous walk keyset pages that keep it; a client admin reads
their own tenant's people only."""

import uuid

import pytest

from portal.models import Role
from provisioning.inventory import matching
from provisioning.inventory.models import Account
from tenants.models import DirectoryConnection, Tenant
from tests.browser.conftest import sign_in
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
