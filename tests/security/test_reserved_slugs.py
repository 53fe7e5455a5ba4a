"""Issue 12, item 2: a tenant slugged "global" opened the MSP-wide audit chain to its client
admin, and "new" was shadowed by /tenants/new/.

Slugs that are words of the URLconf or special values are reserved (tenants.slugs), existing
ones are renamed by tenants migration 0006, and the MSP-wide chain is selected by a value no
slug can take, for MSP admins only.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.http import HttpResponse
from django.test import override_settings
from django.urls import NoReverseMatch, include, path, reverse

from portal.audit.events import record
from portal.audit.models import AuditEvent
from portal.models import Role
from reports.audit_queries import GLOBAL
from tenants import services, slugs
from tenants.models import Tenant
from tests.factories import make_person, make_tenant_world
from tests.reports.audit_support import audit_url, csv_rows, event_ids, export_url

pytestmark = pytest.mark.django_db

migration = importlib.import_module("tenants.migrations.0006_rename_reserved_slugs")

STAFF_SECRET_EVENT = "Neo Staffer"  # the target of the MSP-wide event below

TENANT_FORM = {
    "name": "Delta",
    "slug": "",
    "primary_domain": "delta.test",
    "other_domains": "",
    "default_usage_location": "GB",
    "time_zone": "Europe/London",
    "tags": "",
    "notes": "",
    "is_active": "on",
}


def _kiosk(request, tenant: str) -> HttpResponse:
    return HttpResponse(tenant)


# A URLconf with one page more than the portal's: its word must become reserved unaided.
urlpatterns = [
    path("kiosk/<slug:tenant>/", _kiosk),
    path("", include("portal.urls")),
]


def create_tenant(client, **fields):
    before = (Tenant.objects.count(), AuditEvent.objects.count())
    response = client.post(reverse("tenant_create"), {**TENANT_FORM, **fields})
    return response, before


# -- reserved slugs on the tenant form --------------------------------------------------


@pytest.mark.parametrize(
    "slug",
    ["global", "new", "Global", "all", "msp", "audit", "login", "admin", "export", "edit",
     "people", "hooks", "role-templates", "static"],
)  # fmt: skip
def test_a_typed_reserved_slug_is_refused_and_nothing_is_saved(client, msp_admin, slug):
    client.force_login(msp_admin)
    response, before = create_tenant(client, slug=slug)
    assert response.status_code == 200
    assert f"“{slug}” is reserved" in response.content.decode()
    assert (Tenant.objects.count(), AuditEvent.objects.count()) == before


def test_the_msp_wide_selector_is_not_a_slug(client, msp_admin):
    client.force_login(msp_admin)
    with pytest.raises(ValidationError):
        validate_slug(GLOBAL)
    with pytest.raises(NoReverseMatch):
        reverse("tenant_detail", kwargs={"tenant": GLOBAL})
    response, before = create_tenant(client, slug=GLOBAL)
    assert response.status_code == 200 and "Enter a valid “slug”" in response.content.decode()
    assert Tenant.objects.count() == before[0]


def test_editing_a_tenant_to_a_reserved_slug_is_refused(client, alpha, msp_admin):
    client.force_login(msp_admin)
    url = reverse("tenant_edit", kwargs={"tenant": "alpha"})
    fields = {**TENANT_FORM, "name": "Alpha Ltd", "primary_domain": "alpha.test"}
    response = client.post(url, {**fields, "slug": "tenants"})
    assert "“tenants” is reserved" in response.content.decode()
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.slug == "alpha"


@pytest.mark.parametrize(("name", "slug"), [("Global", "global-2"), ("New", "new-2")])
def test_a_slug_made_from_a_name_skips_reserved_words(client, msp_admin, name, slug):
    client.force_login(msp_admin)
    response, _ = create_tenant(client, name=name)
    assert response.status_code == 302
    assert response["Location"] == reverse("tenant_detail", kwargs={"tenant": slug})
    assert Tenant.objects.get(name=name).slug == slug
    assert client.get(response["Location"]).status_code == 200


def test_a_slug_made_from_a_name_skips_taken_slugs_too(client, msp_admin):
    Tenant.objects.create(name="Global Old", slug="global-2", primary_domain="g2.test")
    client.force_login(msp_admin)
    response, _ = create_tenant(client, name="Global")
    assert response.status_code == 302
    assert Tenant.objects.get(name="Global").slug == "global-3"


def test_the_reserved_words_come_from_the_urlconf():
    reserved = slugs.reserved_slugs()
    # One word of each kind: top level, nested, after a converter, a file name, the admin's.
    assert {"tenants", "new", "audit", "verify", "export", "csv", "onboard", "hr-webhook"} <= (
        reserved
    )
    assert {"login", "logout", "admin", "jsi18n"} <= reserved
    assert {"global", "all", "msp"} <= reserved
    assert not {"alpha", "bravo", "contoso", "fabrikam", "northwind", "tenant-slug"} & reserved
    assert "kiosk" not in reserved


def test_a_page_added_to_the_urlconf_reserves_its_words(client, msp_admin):
    client.force_login(msp_admin)
    assert not slugs.is_reserved("kiosk")
    with override_settings(ROOT_URLCONF=__name__):
        assert slugs.is_reserved("kiosk")
        response, before = create_tenant(client, slug="kiosk")
        assert "“kiosk” is reserved" in response.content.decode()
        assert Tenant.objects.count() == before[0]
    assert not slugs.is_reserved("kiosk")


def test_the_tenant_service_refuses_a_reserved_slug_whoever_calls_it():
    """seed_demo and any other caller go through services.save_tenant."""
    before = (Tenant.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError, match="is reserved"):
        services.save_tenant(
            Tenant(name="Global", slug="global", primary_domain="global.test"), actor="system"
        )
    assert (Tenant.objects.count(), AuditEvent.objects.count()) == before


# -- the rename migration ---------------------------------------------------------------


def test_the_migration_renames_reserved_slugs_and_nothing_else():
    made = {
        slug: Tenant.objects.create(name=f"T {slug}", slug=slug, primary_domain=f"{slug}.test")
        for slug in ("global", "new", "new-tenant", "Audit", "contoso", "all-tenant")
    }
    events = AuditEvent.objects.count()
    migration.rename_reserved_slugs(django_apps, None)
    after = {t.name: t.slug for t in Tenant.objects.all()}
    assert after == {
        "T global": "global-tenant",
        "T new": "new-tenant-2",  # "new-tenant" is another tenant's
        "T new-tenant": "new-tenant",
        "T Audit": "Audit-tenant",
        "T contoso": "contoso",
        "T all-tenant": "all-tenant",
    }
    assert Tenant.objects.get(pk=made["global"].pk).primary_domain == "global.test"
    assert AuditEvent.objects.count() == events
    migration.rename_reserved_slugs(django_apps, None)  # a second run changes nothing
    assert {t.name: t.slug for t in Tenant.objects.all()} == after


def test_the_migration_froze_the_reserved_words_of_its_day():
    frozen = migration.RESERVED
    assert {"global", "new", "all", "msp", "tenants", "audit", "export", "login"} <= frozen
    assert all(migration.new_slug(slug, set()) not in frozen for slug in frozen)


# -- the MSP-wide audit chain -----------------------------------------------------------


@pytest.fixture
def global_tenant(db):
    """A client slugged "global" as before the fix: saved directly, past the form."""
    return make_tenant_world("global", "Global Corp")


@pytest.fixture
def trail(global_tenant, bravo, msp_admin):
    return {
        "msp": record(
            "staff.create", actor=msp_admin, target=("auth.user", 99, STAFF_SECRET_EVENT)
        ).pk,
        "global_tenant": record(
            "tenant.update",
            actor=msp_admin,
            tenant=global_tenant.tenant,
            target=global_tenant.tenant,
        ).pk,
        "bravo": record(
            "tenant.update", actor=msp_admin, tenant=bravo.tenant, target=bravo.tenant
        ).pk,
    }


def test_client_admin_of_a_tenant_slugged_global_sees_only_its_own_events(
    client, trail, global_tenant
):
    client.force_login(global_tenant.client_admin)
    page = client.get(audit_url(tenant="global"))
    assert event_ids(page) == [trail["global_tenant"]]
    assert STAFF_SECRET_EVENT not in page.content.decode()
    partial = client.get(audit_url(tenant="global"), headers={"HX-Request": "true"})
    assert event_ids(partial) == [trail["global_tenant"]]
    rows = csv_rows(client.get(export_url(tenant="global")))
    assert [row["tenant"] for row in rows] == ["Global Corp"]
    assert all(STAFF_SECRET_EVENT not in row["target"] for row in rows)


@pytest.mark.parametrize("role", [Role.CLIENT_ADMIN, Role.TECHNICIAN, Role.ACCOUNT_MANAGER])
def test_only_msp_admins_may_select_the_msp_wide_chain(client, trail, global_tenant, role):
    client.force_login(global_tenant.people[role])
    assert client.get(audit_url(tenant=GLOBAL)).status_code == 404
    assert client.get(export_url(tenant=GLOBAL)).status_code == 404
    htmx = client.get(audit_url(tenant=GLOBAL), headers={"HX-Request": "true"})
    assert htmx.status_code == 404
    body = client.get(audit_url()).content.decode()
    assert f'value="{GLOBAL}"' not in body and STAFF_SECRET_EVENT not in body


def test_a_technician_of_every_tenant_may_not_select_the_msp_wide_chain(client, trail):
    client.force_login(make_person("tech-all", Role.TECHNICIAN, all_tenants=True))
    assert client.get(audit_url(tenant=GLOBAL)).status_code == 404
    assert client.get(export_url(tenant=GLOBAL)).status_code == 404


def test_msp_admin_selects_the_msp_wide_chain_with_the_new_value(client, trail, msp_admin):
    client.force_login(msp_admin)
    assert f'value="{GLOBAL}"' in client.get(audit_url()).content.decode()
    page = client.get(audit_url(tenant=GLOBAL))
    assert event_ids(page) == [trail["msp"]] and STAFF_SECRET_EVENT in page.content.decode()
    export = client.get(export_url(tenant=GLOBAL))
    assert "audit-msp-wide-" in export["Content-Disposition"]
    assert [row["target"] for row in csv_rows(export)] == [STAFF_SECRET_EVENT]
    # "global" is now only a (legacy) tenant's slug, never the MSP-wide chain.
    assert event_ids(client.get(audit_url(tenant="global"))) == [trail["global_tenant"]]
