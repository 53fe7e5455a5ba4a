import pytest

from tenants.models import RoleTemplate
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_technician_creates_a_role_template(page, screenshot, alpha):
    sign_in(page, alpha.technician.username, PASSWORD)
    page.click("text=Tenants")
    page.click(f"text={alpha.tenant.name}")
    page.click("text=New role template")

    page.fill("#id_name", "Field Engineer")
    page.fill("#id_groups", "Field Team\nAll Staff")
    page.fill("#id_licenses", "SPE_E3")
    page.fill("#id_apps", "ServiceNow")
    page.fill("#id_department", "Operations")
    page.fill("#id_username_rule", "{f}.{last}@{domain}")
    page.select_option("#id_domain", "alpha-eu.test")
    preview = page.locator("#username-preview .result")
    preview.filter(has_text="j.muller-ludenscheidt@alpha-eu.test").wait_for()
    screenshot("role-template-form")

    page.click("text=Save role template")
    page.wait_for_url(f"**/tenants/{alpha.tenant.slug}/")
    page.locator(".message.success").filter(has_text="Field Engineer").wait_for()
    screenshot("tenant-with-new-role-template")

    template = RoleTemplate.objects.get(tenant=alpha.tenant, name="Field Engineer")
    assert template.groups == ["Field Team", "All Staff"]
    assert template.username_rule == "{f}.{last}@{domain}" and template.domain == "alpha-eu.test"


def test_bad_rule_shows_inline_error_before_saving(page, alpha):
    sign_in(page, alpha.technician.username, PASSWORD)
    page.goto(f"/tenants/{alpha.tenant.slug}/roles/new/")
    page.fill("#id_username_rule", "{first}.{surname}@{domain}")
    page.locator("#username-preview .bad").filter(has_text="Unknown placeholder").wait_for()
