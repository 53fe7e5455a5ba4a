"""The Django admin (MSP admins only) passes axe-core's WCAG 2.1 AA checks too: Django's own
style sheet tells the breadcrumbs' links from their text by colour alone (white on light
blue-grey, 1.4:1: axe's link-in-text-block, WCAG 1.4.1); the portal's admin template
underlines them."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from portal.models import Role
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import CHECKS
from tests.factories import PASSWORD, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/admin/",
    "/admin/tenants/",
    "/admin/tenants/roletemplate/",
    "/admin/auth/",
    "/admin/audit/auditevent/?q=a",
    "/admin/axes/accesslog/",
]


def test_the_admin_pages_pass_axe_at_both_widths(page):
    page.context.add_init_script(script=Axe().axe_script)
    admin = make_person("a11y.admin", Role.MSP_ADMIN, all_tenants=True)
    sign_in(page, admin.username, PASSWORD)
    found = []
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for path in PAGES:
            assert page.goto(path).ok, path
            for violation in page.evaluate("o => axe.run(document, o)", CHECKS)["violations"]:
                found.append(f"{width} {path}: {violation['id']}")
    assert found == []
