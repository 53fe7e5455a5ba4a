"""A client admin signs in, finds the pending access request first on their home page,
approves it inline with a reason and watches it become granted: the live server, a real Celery
worker and the sandbox directory over HTTPS. And a technician's side: making a group
requestable from the directory's live list, and filing a request for someone."""

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from portal.models import Role
from provisioning.access import services as ar
from provisioning.connectors import bridge
from provisioning.connectors.factory import connector_for
from provisioning.models import AccessRequest, Identity, RequestableResource
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_person
from tests.provisioning.directories import make_directories
from tests.provisioning.test_lifecycle_e2e import onboard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def contoso(on_sandbox):
    slug = f"contoso-{uuid.uuid4().hex[:6]}"
    dirs = make_directories(on_sandbox, slug, ("entra",))
    dirs.tenant.name = "Contoso"
    dirs.tenant.save()
    dirs.approver = make_person(f"ca-{slug}", Role.CLIENT_ADMIN, [dirs.tenant])
    dirs.tech = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    return dirs


def vpn_of(dirs, **options) -> RequestableResource:
    connection = dirs.tenant.connections.get(kind="entra")
    found = next(g for g in bridge.run(connector_for(connection).groups()) if g.name == "VPN Users")
    resource = RequestableResource(
        tenant=dirs.tenant,
        connection=connection,
        kind="group",
        remote_id=found.id,
        name=found.name,
        **options,
    )
    return ar.save_requestable(resource, actor="system")


def test_client_admin_approves_inline_and_sees_it_granted(page, screenshot, contoso, worker):
    ada = onboard(contoso.tenant, "Ada", "Lovelace", [contoso.template])
    grace = onboard(contoso.tenant, "Grace", "Hopper", [contoso.template])
    vpn = vpn_of(contoso, time_bound=True, max_days=30)
    first = ar.file_request(
        ada,
        vpn,
        reason="Visiting clients for two weeks",
        ends_at=timezone.now() + timedelta(days=14),
        actor=contoso.tech,
    )
    make_person(f"ca2-{contoso.tenant.slug}", Role.CLIENT_ADMIN, [contoso.tenant])
    ar.file_request(  # a second client admin decides it: nobody approves their own
        grace,
        vpn,
        reason="Own request",
        ends_at=timezone.now() + timedelta(days=3),
        actor=contoso.approver,  # theirs: someone else approves it
    )

    sign_in(page, contoso.approver.username, PASSWORD)
    page.wait_for_url(f"**/tenants/{contoso.tenant.slug}/home/")
    page.locator("#waiting-for-you .count", has_text="1").wait_for()
    approvals = page.locator("#approvals .approval")
    assert approvals.count() == 2
    mine = approvals.first  # the one waiting for them comes first
    assert "Ada Lovelace" in mine.inner_text() and "Visiting clients" in mine.inner_text()
    assert "someone else approves it" in approvals.nth(1).inner_text()
    screenshot("client-home-pending")

    decision = page.locator(f"#decision-{first.pk}")
    decision.locator("textarea[name=reason]").fill("Fine for the client visits")
    decision.locator("button", has_text="Approve").click()
    page.locator(f'#decision-{first.pk}[data-status="granted"]').wait_for(timeout=90_000)
    assert "Fine for the client visits" in page.locator(f"#decision-{first.pk}").inner_text()
    screenshot("client-home-granted")

    first.refresh_from_db()
    assert first.status == AccessRequest.Status.GRANTED
    assert first.decided_by == contoso.approver
    user = contoso.entra_user(ada.username)
    assert "VPN Users" in user["groups"]

    page.reload()  # the person's access shows in their people list
    page.locator("#people tr", has_text="Ada Lovelace").locator(
        ".chip", has_text="VPN Users"
    ).wait_for()
    page.locator("#waiting-for-you .count").wait_for(state="hidden")  # no "0" badge


def test_technician_makes_a_group_requestable_and_files_a_request(page, screenshot, contoso):
    Identity.objects.create(
        tenant=contoso.tenant,
        first_name="Ada",
        last_name="Lovelace",
        display_name="Ada Lovelace",
        username=f"ada.lovelace@{contoso.tenant.primary_domain}",
        email=f"ada.lovelace@{contoso.tenant.primary_domain}",
        status=Identity.Status.ACTIVE,
    )
    sign_in(page, contoso.tech.username, PASSWORD)
    page.goto(f"/tenants/{contoso.tenant.slug}/access/resources/new/")
    page.select_option("#id_pick", label="VPN Users")
    page.fill("#id_description", "Remote access to the office network")
    page.check("#id_time_bound")
    page.fill("#id_max_days", "30")
    screenshot("requestable-form")
    page.click("text=Make requestable >> nth=-1")
    page.wait_for_url("**/access/resources/")
    page.locator("tr", has_text="VPN Users").locator(".badge.ok").wait_for()
    screenshot("requestable-list")

    page.click("text=Requests")
    page.click("text=Request access")
    page.select_option(
        "#id_identity", label=f"Ada Lovelace (ada.lovelace@{contoso.tenant.primary_domain})"
    )
    page.select_option("#id_resource", index=1)
    page.fill("#id_reason", "On call next week")
    page.click("text=File the request")
    page.locator(".field .error", has_text="time-bound").wait_for()  # no end date yet
    page.fill("#id_ends_at", _in_days(contoso.tenant, 7))
    page.click("text=File the request")
    page.wait_for_url("**/access/requests/*/")
    page.locator(".message.success", has_text="approvers have been told").wait_for()
    page.goto(f"/tenants/{contoso.tenant.slug}/access/requests/")
    page.locator("#results tr", has_text="Ada Lovelace").wait_for()
    screenshot("access-requests-list")


def _in_days(tenant, days: int) -> str:
    local = timezone.now().astimezone(ZoneInfo(tenant.time_zone)) + timedelta(days=days)
    return local.strftime("%Y-%m-%dT%H:%M")


def test_client_admin_asks_to_onboard_and_a_technician_acts_on_it(page, screenshot, contoso):
    sign_in(page, contoso.approver.username, PASSWORD)
    page.click("text=Ask to onboard someone")
    page.fill("#id_first_name", "Grace")
    page.fill("#id_last_name", "Hopper")
    page.select_option("#id_role_template", label=contoso.template.name)
    page.fill("#id_job_title", "Analyst")
    page.fill("#id_start_date", _in_days(contoso.tenant, 10)[:10])
    page.fill("#id_note", "Needs a laptop on day one")
    page.click("text=Send to the MSP")
    page.locator("#to-the-msp tr", has_text="Onboard Grace Hopper").locator(
        ".badge", has_text="Open"
    ).wait_for()
    page.click("text=Sign out")

    sign_in(page, contoso.tech.username, PASSWORD)
    page.goto(f"/tenants/{contoso.tenant.slug}/actions/")
    row = page.locator("tr", has_text="Onboard Grace Hopper")
    assert "Needs a laptop on day one" in row.inner_text()
    screenshot("requests-to-act")
    row.locator("text=Open the onboarding form").click()
    page.wait_for_url("**/onboard/?*")
    assert page.input_value("#id_first_name") == "Grace"
    assert page.input_value("#id_job_title") == "Analyst"
    assert page.get_by_label(contoso.template.name, exact=True).is_checked()
    page.go_back()
    row = page.locator("tr", has_text="Onboard Grace Hopper")
    row.locator("summary", has_text="Decline").click()
    row.locator("input[name=reason]").fill("The agency onboards contractors")
    row.locator("button", has_text="Decline").click()
    page.locator(".message.success", has_text="marked declined").wait_for()
    page.locator("tr", has_text="Onboard Grace Hopper").locator(
        ".badge.bad", has_text="Declined"
    ).wait_for()
