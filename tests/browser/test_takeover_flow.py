"""A technician takes over someone the portal never made: finds them on the People page by
search, adopts them with the suggested role template (the rest of their access recorded as
exceptions, nothing sent), offboards them with the dry run in view and watches the job
succeed; the account is then disabled in the directory, read over Graph. The live server,
the sandbox directory over HTTPS and a real Celery worker on the test database."""

import uuid

import pytest

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.inventory import service
from provisioning.inventory.models import Cursor
from provisioning.models import Identity
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_person
from tests.provisioning.directories import make_directories, user_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def graph_ok(dirs, method: str, path: str, body: dict | None = None) -> dict:
    response = dirs.graph(method, path, body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def existing_user(dirs, name: str, last: str, groups=(), skus=(), apps=()) -> dict:
    """Someone an admin made in Entra before the portal came, with their access."""
    user = dirs.add_entra_user(f"{name}@{dirs.tenant.primary_domain}", name.title(), last)
    body = {"usageLocation": "GB", "department": "Sales", "jobTitle": "Account Executive"}
    graph_ok(dirs, "PATCH", f"/users/{user['id']}", body)
    ids = {g["displayName"]: g["id"] for g in graph_ok(dirs, "GET", "/groups")["value"]}
    for group in groups:
        ref = {"@odata.id": f"{dirs.server.url}/v1.0/directoryObjects/{user['id']}"}
        graph_ok(dirs, "POST", f"/groups/{ids[group]}/members/$ref", ref)
    skus_by_name = {
        s["skuPartNumber"]: s["skuId"] for s in graph_ok(dirs, "GET", "/subscribedSkus")["value"]
    }
    if skus:
        body = {
            "addLicenses": [{"skuId": skus_by_name[s], "disabledPlans": []} for s in skus],
            "removeLicenses": [],
        }
        graph_ok(dirs, "POST", f"/users/{user['id']}/assignLicense", body)
    apps_by_name = {
        a["displayName"]: a["id"] for a in graph_ok(dirs, "GET", "/servicePrincipals")["value"]
    }
    for app in apps:
        body = {
            "principalId": user["id"],
            "resourceId": apps_by_name[app],
            "appRoleId": user_role(dirs, apps_by_name[app]),
        }
        graph_ok(dirs, "POST", f"/servicePrincipals/{apps_by_name[app]}/appRoleAssignedTo", body)
    return user


@pytest.fixture
def northwind(on_sandbox, worker):
    """A client whose Entra directory existed before the portal: Grace as the Sales role
    says plus VPN Users, and two others; read by the inventory."""
    slug = f"northwind-{uuid.uuid4().hex[:6]}"
    dirs = make_directories(on_sandbox, slug, ("entra",))
    dirs.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    dirs.grace = existing_user(
        dirs,
        "grace",
        "Hopper",
        groups=["Staff", "Sales", "VPN Users"],
        skus=["SPE_E3"],
        apps=["Salesforce"],
    )
    existing_user(dirs, "alan", "Turing", groups=["Staff"])
    existing_user(dirs, "svc-backup", "Service", groups=["Staff"])
    cursor = service.refresh(dirs.tenant.connections.get(kind="entra"))
    assert cursor.state == Cursor.State.IDLE, cursor.last_error
    yield dirs
    with dirs.control() as control:
        control.delete(f"/_sandbox/entra/{dirs.entra_id}")


def test_technician_adopts_an_existing_user_and_offboards_them(page, screenshot, northwind):
    upn = northwind.grace["userPrincipalName"]
    sign_in(page, northwind.technician.username, PASSWORD)
    page.goto(f"/tenants/{northwind.tenant.slug}/people/")
    page.fill("#people-filters input[name=q]", "hopper")
    rows = page.locator("#people-rows table.people tbody tr")
    rows.filter(has_text="Grace Hopper").wait_for()
    rows.filter(has_text="Alan Turing").wait_for(state="detached")
    screenshot("takeover-people-search")
    rows.filter(has_text="Grace Hopper").get_by_role("link", name="Grace Hopper").click()
    page.wait_for_url("**/people/accounts/*/")

    page.locator("#person-actions").get_by_role("link", name="Adopt…").click()
    page.wait_for_url("**/adopt/")
    sales = page.locator(".template-choice", has_text="Sales")
    sales.locator(".badge", has_text="Best match").wait_for()
    assert sales.locator("input[type=checkbox]").is_checked()
    page.locator("#exceptions .chip", has_text="VPN Users").wait_for()
    page.locator("#changes-nothing").wait_for()
    screenshot("takeover-adopt-with-suggestion")

    page.get_by_role("button", name="Adopt Grace Hopper").click()
    page.wait_for_url("**/people/*/")
    page.locator(".message.success", has_text="Nothing was changed in any directory").wait_for()
    identity = Identity.objects.get(tenant=northwind.tenant, username=upn)
    assert identity.status == Identity.Status.ACTIVE
    assert [t.name for t in identity.role_templates.all()] == ["Sales"]
    assert AuditEvent.objects.filter(action="inventory.adopted", target_id=str(identity.pk))
    assert northwind.entra_user(upn)["accountEnabled"] is True  # adoption sent nothing

    page.get_by_role("link", name="Offboard…").first.click()
    page.wait_for_url("**/offboard/")
    plan = page.locator("#preview")
    plan.locator("li", has_text="Remove licence SPE_E3").wait_for()
    plan.locator("li", has_text="Remove from group VPN Users").wait_for()
    page.fill("#id_delete_after_days", "")
    screenshot("takeover-offboard-dry-run")
    page.click("button:has-text('Offboard Grace Hopper')")
    page.wait_for_url("**/jobs/*/")
    page.locator('#job-progress[data-status="succeeded"]').wait_for(timeout=90_000)
    screenshot("takeover-offboard-succeeded")

    user = northwind.entra_user(upn)
    assert user["accountEnabled"] is False
    assert user["licenses"] == [] and user["appRoleAssignments"] == []
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT
    # a restore would give back what no template explains, too
    exceptions = identity.access_exceptions[str(identity.accounts.get().connection_id)]
    assert [g["name"] for g in exceptions["groups"]] == ["VPN Users"]

    # the others, at once: Alan with no template (Sales would add), the service account left
    page.goto(f"/tenants/{northwind.tenant.slug}/people/adopt/?who=unmanaged")
    page.locator("#adoptable", has_text="1").wait_for()
    page.locator("#refusals td", has_text="Out of scope").wait_for()
    screenshot("takeover-bulk-preview")
    page.get_by_role("button", name="Adopt 1 person").click()
    page.locator(".message.success", has_text="Adopted 1 person").wait_for()
    alan = Identity.objects.get(tenant=northwind.tenant, username__startswith="alan@")
    assert list(alan.role_templates.all()) == [] and alan.access_exceptions


def test_the_bulk_preview_proposes_a_template_the_technician_makes_and_adopts_with(
    page, screenshot, northwind
):
    """Day one of a takeover: three people hold Staff and VPN Users and no template says so;
    the preview proposes it, its link opens the role form filled in, and once it is saved the
    three are adopted with it."""
    for name in ("ada", "edsger", "barbara"):
        existing_user(northwind, name, "Field", groups=["Staff", "VPN Users"])
    cursor = service.refresh(northwind.tenant.connections.get(kind="entra"))
    assert cursor.state == Cursor.State.IDLE, cursor.last_error
    sign_in(page, northwind.technician.username, PASSWORD)
    page.goto(f"/tenants/{northwind.tenant.slug}/people/adopt/")
    proposals = page.locator("#template-proposals")
    row = proposals.locator("tbody tr", has_text="VPN Users")
    row.wait_for()
    assert " ".join(row.inner_text().split()).startswith("Staff VPN Users 3 Make a role template")
    screenshot("takeover-template-proposal")

    row.get_by_role("link", name="Make a role template of it…").click()
    page.wait_for_url("**/roles/new/?*")
    assert page.locator("#id_groups").input_value() == "Staff\nVPN Users"
    page.fill("#id_name", "Field staff")
    page.get_by_role("button", name="Save role template").click()
    # Saved, back at the preview.
    page.wait_for_url(f"**/tenants/{northwind.tenant.slug}/people/adopt/")
    page.locator(".message.success", has_text="Field staff").wait_for()
    # Templates chosen: Field staff for the three (Alan, with Staff only, still without).
    page.get_by_role("row", name="Field staff 3", exact=True).wait_for()
    assert page.locator("#template-proposals").count() == 0
    screenshot("takeover-template-chosen")
    page.locator("#adopt-many button[type=submit]").click()
    page.locator(".message.success").wait_for()
    field = Identity.objects.filter(tenant=northwind.tenant, role_templates__name="Field staff")
    assert field.count() == 3
