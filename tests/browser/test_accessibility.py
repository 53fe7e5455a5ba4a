"""Every page a person of each role reaches by following links passes axe-core's WCAG 2.1 AA
checks, and so do the main forms when they come back with errors: contrast, names of
links, buttons and fields, table headers, landmarks, a language and a heading.

One page per URL shape (`/jobs/12/` stands for every job), on the demo's data without its
sandbox: the tenants, their live joiners and a month of history."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command

from portal.models import Role
from provisioning.demo import seed_people
from reports.demo_history import seed_history
from tenants.models import Tenant
from tests import db_snapshot
from tests.browser.conftest import SIDEWAYS, sign_in
from tests.factories import PASSWORD, make_person
from tests.reports.test_demo_history import requestables

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Best practice beyond WCAG that a checker reports as well.
BEST_PRACTICE = ["landmark-one-main", "page-has-heading-one", "empty-table-header"]
# Only those rules run, and only their violations are gathered: axe's whole best-practice set
# and its report of every passing node cost twice the crawl's time.
CHECKS = {
    "runOnly": {"type": "tag", "values": WCAG_AA},
    "rules": {rule: {"enabled": True} for rule in BEST_PRACTICE},
    "resultTypes": ["violations"],
}
NOT_PAGES = re.compile(r"logout|\.(csv|json|pdf)$|/export|/download|template\.csv")


def seed_demo() -> None:
    call_command("seed_demo")
    seed_people()
    requestables()
    seed_history()


@pytest.fixture(scope="module")
def demo_rows(django_db_setup, django_db_blocker) -> list[db_snapshot.Rows]:
    """The demo's rows, seeded once for the module (5 to 13 s a test at a load of 17) in a
    transaction rolled back: each test's own writes (its people, sign-ins, a batch) go with
    its flush, and the next test gets the demo alone again (tests/db_snapshot.py)."""
    with django_db_blocker.unblock():
        return db_snapshot.rows_added_by(seed_demo)


@pytest.fixture
def demo(demo_rows, transactional_db):
    db_snapshot.write(demo_rows)
    return {t.slug: t for t in Tenant.objects.all()}


@pytest.fixture(autouse=True)
def axe_on_every_page(page):
    """axe-core loaded with every document the page opens, once for the whole crawl rather
    than sent again for each page."""
    page.context.add_init_script(script=Axe().axe_script)


def problems(page) -> list[str]:
    found = []
    for violation in page.evaluate("options => axe.run(document, options)", CHECKS)["violations"]:
        where = [node["target"] for node in violation["nodes"][:3]]
        found.append(f"{page.url}: {violation['id']} ({violation['impact']}) at {where}")
    return found


def shape(path: str) -> str:
    return re.sub(r"\d+", "N", path)


def crawl(page, keep: str) -> tuple[int, list[str]]:
    """Follow the links from the landing page, one page per shape, in one tenant (`keep`):
    the others' pages are the same templates; what axe found."""
    other_tenants = re.compile(rf"/(?!{keep}/)(contoso|fabrikam|northwind)/")
    queue, shapes, found = [urlsplit(page.url).path], set(), []
    while queue:
        path = queue.pop(0)
        if shape(path) in shapes or NOT_PAGES.search(path) or other_tenants.search(path):
            continue
        shapes.add(shape(path))
        response = page.goto(path)
        assert response.ok, f"{path}: {response.status}"
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        found += problems(page)
        links = page.eval_on_selector_all("a[href^='/']", "els => els.map(e => e.pathname)")
        queue += [link for link in links if not link.startswith(("/static/", "/admin/"))]
    return len(shapes), found


@pytest.mark.parametrize(
    "role,tenants,least_pages",
    [
        (Role.MSP_ADMIN, None, 50),
        (Role.ACCOUNT_MANAGER, ["fabrikam"], 8),
        (Role.CLIENT_ADMIN, ["contoso"], 8),
    ],
)
def test_every_page_a_role_reaches_passes_axe(page, demo, role, tenants, least_pages):
    person = make_person(
        f"a11y.{role}",
        role,
        [demo[slug] for slug in tenants or []],
        all_tenants=tenants is None,
    )
    sign_in(page, person.username, PASSWORD)
    pages, found = crawl(page, keep=tenants[0] if tenants else "contoso")
    assert pages >= least_pages  # the crawl reached the product, not just a login page
    assert found == []


FORMS = [
    "/tenants/contoso/onboard/",
    "/tenants/contoso/roles/new/",
    "/tenants/contoso/webhooks/new/",
]


def test_forms_sent_back_with_errors_pass_axe(page, demo, screenshot):
    technician = make_person("a11y.tech", Role.TECHNICIAN, all_tenants=True)
    sign_in(page, technician.username, PASSWORD)
    found = []
    for path in FORMS:
        page.goto(path)
        form = page.locator("form[method=post]:has([required])").first
        form.evaluate("f => { f.noValidate = true }")  # the server's errors, not the browser's
        form.locator("button[type=submit], input[type=submit]").first.click()
        page.wait_for_load_state()
        assert page.locator(".errorlist, [aria-invalid=true]").count() > 0, (
            f"{path} showed no errors"
        )
        screenshot("a11y-errors-" + path.strip("/").replace("/", "-"))
        found += problems(page)
    assert found == []


def test_the_report_passes_axe_on_a_phone(page, demo):
    """At 390 px its tables stack with labelled cells: no card scrolls sideways (one that did
    would need a keyboard to reach it), and each cell keeps its column's name."""
    person = make_person("a11y.phone", Role.CLIENT_ADMIN, [demo["contoso"]])
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, person.username, PASSWORD)
    page.goto("/reports/contoso/")
    assert page.evaluate(SIDEWAYS) == []
    assert problems(page) == []


def test_a_tenants_connections_pass_axe_on_a_phone(page, demo, screenshot):
    """Its hold-in-quarantine reason box is a target a finger hits (WCAG 2.2's 24 px: it was
    the browser's bare 21 px box, beside the buttons)."""
    page.set_viewport_size({"width": 390, "height": 844})
    admin = make_person("a11y.admin.phone", Role.MSP_ADMIN, all_tenants=True)
    sign_in(page, admin.username, PASSWORD)
    page.goto("/tenants/contoso/")
    assert page.locator("input[name=reason]").count() > 0  # the check met the reason boxes
    screenshot("a11y-tenant-phone")
    assert problems(page) == []
    # Its settings are forms: nothing in them scrolls sideways (a fieldset, and a select of
    # people's names and usernames, widened their cards).
    for path in ("first-sign-in/", "mappings/entra/first_name/"):
        page.goto(f"/tenants/contoso/{path}")
        assert page.evaluate(SIDEWAYS) == [], path


def test_an_offboarding_batch_passes_axe(page, demo):
    """Its rows link each leaver beside their username: the link is told from the text
    without its colour (the crawl meets a joiners' batch under the same URL shape)."""
    from provisioning.models import Batch, BatchRow, Identity

    leaver = Identity.objects.filter(tenant=demo["contoso"]).first()
    batch = Batch.objects.create(tenant=demo["contoso"], kind=Batch.Kind.CSV_OFFBOARD)
    BatchRow.objects.create(batch=batch, line=2, identity=leaver, data={"shown": {"leave": "now"}})
    technician = make_person("a11y.leavers", Role.TECHNICIAN, all_tenants=True)
    sign_in(page, technician.username, PASSWORD)
    page.goto(f"/tenants/contoso/bulk/{batch.pk}/")
    assert page.locator("#line-2 a", has_text=leaver.display_name).count() == 1
    assert problems(page) == []


def test_pages_before_sign_in_and_error_pages_pass_axe(page):
    """What the crawls, signed in and following links, never meet: the sign-in and its errors,
    the password reset and a spent reset link, the API's public problem types (a PSA's
    developer follows a problem's `type` there, signed out), and the 403, 404 and 405 pages."""
    found = []
    for path in ("/login/", "/password-reset/", "/password-reset/MQ/spent/", "/api/problems"):
        page.goto(path)
        found += problems(page)
    assert page.goto("/no-such-page/").status == 404
    found += problems(page)
    page.goto("/login/")
    page.fill("#id_username", "nobody")
    page.fill("#id_password", "not-the-password")
    page.locator("form [type=submit]").first.click()
    page.wait_for_load_state()
    assert page.locator(".errorlist, .message, [role=alert]").count() > 0  # sent back with errors
    found += problems(page)
    person = make_person("a11y.errors", Role.ACCOUNT_MANAGER)
    sign_in(page, person.username, PASSWORD)
    for path, status in [
        ("/staff/", 403),
        ("/no-such-page/", 404),
        ("/account/mfa/recovery-codes/", 405),
    ]:
        assert page.goto(path).status == status, path
        found += problems(page)
    assert found == []


def test_the_api_reference_passes_axe_once_drawn(page, alpha, screenshot):
    """Swagger UI draws the page after it has read the API's description: the crawl met the
    empty page. Drawn, its own look failed contrast (the OAS badge, the document's link, the
    Authorize button) and nested a link in each operation's button (deep links)."""
    sign_in(page, alpha.technician.username, PASSWORD)
    page.goto("/api/v1/docs")
    page.wait_for_function("() => ui.specSelectors.loadingStatus() === 'success'", polling=100)
    page.locator(".opblock-summary-control").first.wait_for()
    page.locator(".opblock-summary-control").first.click()
    page.locator(".opblock-body").first.wait_for()
    screenshot("a11y-api-reference")
    assert problems(page) == []
