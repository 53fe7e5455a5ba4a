"""A technician offboards someone whose manager is a guest in the client's directory: the dry
run says the mail and OneDrive would go to a guest, and the offboarding is refused in words
until forwarding and the OneDrive are unticked (guest24). Live server, the sandbox, a worker."""

import uuid

import pytest

from portal.models import Role
from provisioning import services
from provisioning.models import Job
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_person
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_guest_manager_is_refused_on_the_offboarding_page(page, screenshot, on_sandbox, worker):
    slug = f"guestpage-{uuid.uuid4().hex[:6]}"
    dirs = make_directories(on_sandbox, slug, ("entra",))
    dirs.invite_entra_guest("gus@partner.example", "Gus Guest")
    technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    request = services.OnboardingRequest(
        "Ada", "Lovelace", [dirs.template], attributes={"manager": "Gus Guest"}
    )
    upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    job = services.request_onboarding(dirs.tenant, request, username=upn, actor="system")
    assert wait_for_job(job.pk, timeout=90).status == "succeeded"

    sign_in(page, technician.username, PASSWORD)
    page.goto(f"/tenants/{slug}/people/{job.identity_id}/offboard/")
    page.get_by_label("Forward new mail to their manager").check()
    page.locator("#preview", has_text="is a guest in the client's directory").wait_for()
    page.get_by_role("button", name="Offboard Ada Lovelace").click()
    refusal = page.locator(".message.error", has_text="is a guest in")
    refusal.wait_for()
    assert f"{dirs.tenant.name}'s directory: a leaver's mail goes only to a member" in (
        refusal.inner_text()
    )
    screenshot("offboarding-refused-guest-manager")
    assert not Job.objects.filter(identity_id=job.identity_id, kind=Job.Kind.LEAVE).exists()

    page.get_by_label("Forward new mail to their manager").uncheck()
    page.get_by_label("Give their manager write access to their OneDrive").uncheck()
    page.get_by_role("button", name="Offboard Ada Lovelace").click()
    page.wait_for_url("**/jobs/*/")
