"""A technician gives a role template a SCIM app and one of its groups, then onboards someone
with it: the job reaches the app, over HTTPS, through a real Celery worker."""

import uuid

import pytest

from portal.models import Role
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_person
from tests.provisioning.directories import make_directories
from tests.provisioning.scim_apps import connect, make_app

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_role_template_gives_a_scim_app_and_a_joiner_gets_an_account_there(
    page, screenshot, on_sandbox, worker
):
    slug = f"slackco-{uuid.uuid4().hex[:6]}"
    dirs = make_directories(on_sandbox, slug, ("entra",))
    technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    app = make_app(on_sandbox, "slack", groups=["general", "sales"])
    connect(dirs.tenant, app, "Slack")

    sign_in(page, technician.username, PASSWORD)
    page.goto(f"/tenants/{dirs.tenant.slug}/roles/{dirs.template.pk}/edit/")
    page.get_by_label("Give Slack").check()
    page.get_by_label("Groups in Slack").fill("sales")
    screenshot("role-template-with-scim-app")
    page.click("text=Save role template")
    page.locator(".message.success").filter(has_text=dirs.template.name).wait_for()

    page.click("nav >> text=Onboard")
    page.wait_for_url(f"**/tenants/{dirs.tenant.slug}/onboard/")
    page.get_by_label(dirs.template.name, exact=True).check()
    page.type("#id_first_name", "Ada")
    page.type("#id_last_name", "Lovelace")
    upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    # the first dry run signs in to Entra and discovers the app: slow on a loaded machine
    page.locator("#preview-username").filter(has_text=upn).wait_for(timeout=60_000)
    in_slack = page.locator("#preview .plan-directory", has_text="Slack (SCIM)")
    in_slack.get_by_text("Add to group sales", exact=True).wait_for()
    page.locator("#preview .plan-verdict", has_text="Ready to queue").wait_for()
    page.click("text=Queue onboarding")
    page.wait_for_url("**/jobs/*/")
    page.locator('#job-progress[data-status="succeeded"]').wait_for(timeout=90_000)
    page.locator("#job-verification tr", has_text="Slack (SCIM)").wait_for()
    screenshot("job-reached-the-scim-app")

    held = app.user(upn)
    assert held is not None and held["active"] is True
    assert app.groups_of(held["id"]) == {"sales"}
