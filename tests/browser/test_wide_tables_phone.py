"""The portal's wide tables on a phone: each row stacks with its cells labelled, so status and
actions are on the screen, not behind the card's sideways scroll bar; at 1280 px each stays a
table with its header and no labels."""

from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.utils import timezone

from portal.models import Role
from provisioning.api import tokens as api_tokens
from provisioning.demo import seed_people
from provisioning.inventory.models import Account, Cursor
from provisioning.models import Batch, BatchRow, Identity
from provisioning.models_access import ActionRequest
from provisioning.scim import tokens as scim_tokens
from provisioning.webhook.models import HRWebhookEvent
from reports.demo_history import seed_history
from tenants.models import Tenant
from tenants.outbox.models import SentEmail
from tests.browser.conftest import SIDEWAYS, sign_in
from tests.browser.test_accessibility import problems
from tests.factories import PASSWORD, make_person, make_tenant_world
from tests.outbound.support import delivery_of, make_endpoint
from tests.provisioning.inventory.test_adopt_views import people  # noqa: F401 - fixture
from tests.provisioning.inventory.test_drift_views import item
from tests.provisioning.test_views_schedule import held_batch, scheduled_leave
from tests.reports.test_demo_history import requestables

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each row's cells that name their column on a phone, and whether each shows.
LABELS = """table => [...table.querySelectorAll(':scope > tbody > tr')]
  .filter(row => row.cells.length > 1)
  .map(row => [...row.querySelectorAll('.cell-label')].map(l => l.getClientRects().length > 0))"""


def msp_pages(admin, contoso) -> list[str]:
    SentEmail.objects.create(
        from_email="portal@msp.example",
        recipients="a.very.long.address.of.a.client.admin@contoso.example",
        subject="Access request for Sales Team approved",
        body="",
    )
    endpoint, _ = make_endpoint(contoso, "https://psa.contoso.example/hooks/portal/tickets")
    delivery_of(contoso, endpoint)
    expires = timezone.now() + timedelta(days=90)
    api_tokens.issue(admin, "Nightly PSA sync", expires_at=expires)
    return [
        "/reports/",
        "/role-templates/",
        "/staff/",
        "/outbox/",
        f"/tenants/{contoso.slug}/webhooks/",
        f"/tenants/{contoso.slug}/webhooks/{endpoint.pk}/",
        "/account/api-tokens/",
        "/api-tokens/",
    ]


def tenant_pages(admin, contoso) -> list[str]:
    person = Identity.objects.filter(tenant=contoso, jobs__isnull=False).first()
    scim_tokens.issue(contoso, "Okta provisioning", actor=admin)
    batch = Batch.objects.create(tenant=contoso, kind=Batch.Kind.CSV_OFFBOARD)
    BatchRow.objects.create(batch=batch, line=2, identity=person, data={"shown": {"leave": "now"}})
    details = {"first_name": "Grace", "last_name": "Hopper", "start_date": "2026-12-01"}
    ActionRequest.objects.create(tenant=contoso, kind="onboard", details=details)
    return [
        f"/tenants/{contoso.slug}/",
        f"/tenants/{contoso.slug}/people/{person.pk}/",
        f"/tenants/{contoso.slug}/access/requests/",
        f"/tenants/{contoso.slug}/access/resources/",
        f"/tenants/{contoso.slug}/actions/",
        f"/tenants/{contoso.slug}/scim/",
        f"/tenants/{contoso.slug}/bulk/{batch.pk}/",
    ]


def drift_pages(admin, contoso) -> list[str]:
    world = make_tenant_world("drifted", "Drifted Ltd")
    item(world, name="Engineering Team (all offices, contractors included)")
    return [f"/tenants/{world.tenant.slug}/drift/"]


@pytest.mark.parametrize(
    "pages", [msp_pages, tenant_pages, drift_pages], ids=["msp", "tenant", "drift"]
)
def test_wide_tables_stack_with_labelled_cells_on_a_phone(page, screenshot, pages):
    call_command("seed_demo")
    seed_people()
    requestables()
    seed_history()
    admin = make_person("wide.admin", Role.MSP_ADMIN, all_tenants=True)
    paths = pages(admin, Tenant.objects.get(slug="contoso"))
    stack_on_a_phone(page, screenshot, admin, paths)


def test_takeover_and_lifecycle_tables_stack_on_a_phone(page, screenshot, alpha, people):  # noqa: F811
    """The schedule, the attribute mappings, the stale accounts, the adopt preview, the bulk
    imports and the HR webhook's events scrolled sideways on a phone (seven columns, long
    expressions, chips of licences)."""
    admin = make_person("wide.admin", Role.MSP_ADMIN, all_tenants=True)
    scheduled_leave(alpha, when=timezone.now() + timedelta(days=3))
    held_batch(alpha)  # also a row of the bulk imports
    for name in ("ada", "bob"):  # licensed, never signed in since the first read
        Account.objects.filter(tenant=alpha.tenant, username=f"{name}@alpha.test").update(
            licence_ids=["sku-e3"], first_seen=timezone.now() - timedelta(days=120)
        )
    HRWebhookEvent.objects.create(
        tenant=alpha.tenant,
        tenant_slug=alpha.tenant.slug,
        idempotency_key="workday-evt-2026-12-06-000123-terminate",
        event_type="terminate",
        employee_id="E-100234",
        outcome=HRWebhookEvent.Outcome.REJECTED,
        reason="No managed person has this employee id.",
        remote_addr="203.0.113.10",
    )
    now = timezone.now()
    for connection in (alpha.connection, alpha.okta_connection):
        Cursor.objects.create(connection=connection, full_read_at=now, finished_at=now)
    slug = alpha.tenant.slug
    paths = [
        "/schedule/",
        f"/tenants/{slug}/schedule/",
        f"/tenants/{slug}/mappings/",
        f"/tenants/{slug}/stale/",
        f"/tenants/{slug}/people/adopt/",
        f"/tenants/{slug}/bulk/",
        f"/tenants/{slug}/hr-webhook/",
    ]
    stack_on_a_phone(page, screenshot, admin, paths)


def stack_on_a_phone(page, screenshot, admin, paths: list[str]) -> None:
    page.context.add_init_script(script=Axe().axe_script)
    sign_in(page, admin.username, PASSWORD)
    for path in paths:
        name = path.strip("/").replace("/", "-")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(path)
        tables = page.locator("main .card table:not(.diff, .compare)")
        assert tables.count() > 0, path
        for table in tables.all():
            assert table.locator("thead").is_visible(), path
            assert all(not shown for row in table.evaluate(LABELS) for shown in row), path
        assert problems(page) == []

        page.set_viewport_size({"width": 390, "height": 844})
        screenshot(f"wide-{name}-390")
        assert page.evaluate(SIDEWAYS) == [], path
        rows = [labels for table in tables.all() for labels in table.evaluate(LABELS)]
        assert rows, f"{path}: no rows to look at"
        for labels in rows:
            assert labels and all(labels), f"{path}: a row's cells are not labelled: {labels}"
        assert problems(page) == []  # the header only hidden: each cell keeps its column's name
