"""Stale accounts: enabled accounts holding a seat that nobody signed in to for N days, from
the sign-ins the sandbox's directories hold (Entra's signInActivity, Okta's lastLogin) as the
inventory reads them through the real SDKs; the report page (roles, tenants, filters, bad
input, pages) and its CSV."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning.connectors import bridge
from provisioning.connectors.base import NewUser
from provisioning.connectors.factory import connector_for
from provisioning.inventory import service, stale
from provisioning.inventory.models import Account, Cursor
from provisioning.models import Identity
from tests.provisioning.directories import Directories, make_directories

pytestmark = pytest.mark.django_db

INJECTED = '=HYPERLINK("http://evil.test","x")'


@dataclass
class World:
    dirs: Directories
    ids: dict[str, str]  # name -> remote id
    skus: dict[str, str]  # part number -> SKU id
    identity: Identity  # manages "old"

    @property
    def tenant(self):
        return self.dirs.tenant

    def account(self, name: str) -> Account:
        return Account.objects.get(tenant=self.tenant, remote_id=self.ids[name])

    def names_of(self, accounts) -> set[str]:
        by_id = {remote_id: name for name, remote_id in self.ids.items()}
        return {by_id[a.remote_id] for a in accounts}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _graph(dirs: Directories, method: str, path: str, body: dict | None = None) -> dict:
    response = dirs.graph(method, path, body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def _sign_ins(dirs: Directories, kind: str, when: dict[str, datetime]) -> None:
    ident = dirs.entra_id if kind == "entra" else dirs.okta_id
    body = {"sign_ins": [{"user": user, "at": _iso(at)} for user, at in when.items()]}
    with dirs.control() as control:
        recorded = control.post(f"/_sandbox/{kind}/{ident}/sign-ins", json=body)
    assert recorded.status_code == 200, recorded.text


def _entra_users(dirs: Directories, skus: dict[str, str]) -> dict[str, str]:
    domain = dirs.tenant.primary_domain
    ids = {}
    for name, first in [
        ("never", INJECTED),
        ("old", "Olga"),
        ("recent", "Rita"),
        ("blocked", "Boris"),
        ("unlicensed", "Uma"),
    ]:
        ids[name] = dirs.add_entra_user(f"{name}@{domain}", first, "Stale")["id"]
    licensed = {"never": ["SPE_E3"], "old": ["SPE_E3", "EMS"], "recent": ["SPE_E3"]}
    licensed["blocked"] = ["SPE_E3"]
    for name, parts in licensed.items():
        _graph(dirs, "PATCH", f"/users/{ids[name]}", {"usageLocation": "GB"})
        body = {"addLicenses": [{"skuId": skus[p], "disabledPlans": []} for p in parts]}
        _graph(dirs, "POST", f"/users/{ids[name]}/assignLicense", {**body, "removeLicenses": []})
    _graph(dirs, "PATCH", f"/users/{ids['blocked']}", {"accountEnabled": False})
    return ids


def _okta_users(dirs: Directories) -> dict[str, str]:
    okta = connector_for(dirs.tenant.connections.get(kind="okta"))
    domain = dirs.tenant.primary_domain
    ids = {}
    for name in ("okold", "oknew", "oknever"):
        new = NewUser(
            username=f"{name}@{domain}",
            first_name=name.title(),
            last_name="Okta",
            display_name=f"{name.title()} Okta",
            email=f"{name}@{domain}",
            password="Okta-Stale-Pa55word!",
        )
        ids[name] = bridge.run(okta.create_user(new)).id
    return ids


def build_world(server, premium: bool = True) -> World:
    """Entra: never signed in, signed in 200 days ago (managed by the portal), 5 days ago,
    blocked, unlicensed; Okta (every user a seat): 201 days ago, 2 days ago, never. The
    inventory has known every account for 120 days."""
    dirs = make_directories(server, f"st{uuid.uuid4().hex[:10]}", kinds=("entra", "okta"))
    with dirs.control() as control:
        control.put(f"/_sandbox/entra/{dirs.entra_id}/settings", json={"premium": premium})
    skus = {s["skuPartNumber"]: s["skuId"] for s in _graph(dirs, "GET", "/subscribedSkus")["value"]}
    ids = _entra_users(dirs, skus) | _okta_users(dirs)
    now = timezone.now()
    long_ago = now - timedelta(days=200)
    _sign_ins(
        dirs,
        "entra",
        {
            ids["old"]: long_ago,
            ids["recent"]: now - timedelta(days=5),
            ids["blocked"]: long_ago,
            ids["unlicensed"]: long_ago,
        },
    )
    _sign_ins(
        dirs,
        "okta",
        {ids["okold"]: long_ago - timedelta(days=1), ids["oknew"]: now - timedelta(days=2)},
    )
    identity = Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Olga",
        last_name="Stale",
        display_name="Olga Stale",
        username=f"old@{dirs.tenant.primary_domain}",
        email=f"old@{dirs.tenant.primary_domain}",
        status=Identity.Status.ACTIVE,
    )
    for kind in ("entra", "okta"):
        cursor = service.refresh(dirs.tenant.connections.get(kind=kind))
        assert cursor is not None and cursor.state == Cursor.State.IDLE, cursor.last_error
    Account.objects.filter(tenant=dirs.tenant).update(first_seen=now - timedelta(days=120))
    return World(dirs, ids, skus, identity)


def drop(world: World) -> None:
    with world.dirs.control() as control:
        control.delete(f"/_sandbox/entra/{world.dirs.entra_id}")
        control.delete(f"/_sandbox/okta/{world.dirs.okta_id}")


@pytest.fixture
def world(on_sandbox):
    made = build_world(on_sandbox)
    yield made
    drop(made)


@pytest.fixture
def no_premium(on_sandbox):
    made = build_world(on_sandbox, premium=False)
    yield made
    drop(made)


def url(world_or_tenant, name: str = "stale_report", **query) -> str:
    tenant = getattr(world_or_tenant, "tenant", world_or_tenant)
    base = reverse(name, kwargs={"tenant": tenant.slug})
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


# -- detection ------------------------------------------------------------------------------


def test_stale_means_enabled_with_a_seat_and_no_sign_in_for_n_days(world):
    tenant = world.tenant

    found = list(stale.stale_accounts(tenant, 90))

    # never signed in first (by username), then the longest unused
    assert [world.names_of([a]).pop() for a in found] == ["never", "oknever", "okold", "old"]
    # signed in 5 days ago, blocked, without a licence: not stale
    assert world.names_of(stale.stale_accounts(tenant, 150)) == {"old", "okold"}
    assert world.names_of(stale.stale_accounts(tenant, 365)) == set()
    assert world.names_of(stale.stale_accounts(tenant, 3)) == {
        "never",
        "oknever",
        "old",
        "okold",
        "recent",
    }
    assert world.account("old").last_sign_in < timezone.now() - timedelta(days=199)
    assert world.account("okold").last_sign_in < timezone.now() - timedelta(days=199)


def test_without_premium_entra_is_left_out_and_the_page_says_why(no_premium, client):
    tenant = no_premium.tenant

    assert no_premium.names_of(stale.stale_accounts(tenant, 90)) == {"oknever", "okold"}

    client.force_login(_technician(tenant))
    response = client.get(url(no_premium))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Microsoft Entra ID: not in this list." in page
    assert "premium license" in page  # Graph's own reason, as the cursor noted it
    assert "No account is stale" not in page
    assert f"<code>never@{tenant.primary_domain}" not in page
    assert f"okold@{tenant.primary_domain}" in page


def _technician(tenant):
    from portal.models import Role
    from tests.factories import make_person

    return make_person(f"tech-{tenant.slug}", Role.TECHNICIAN, [tenant])


# -- the page -------------------------------------------------------------------------------


def _rows(response) -> list[str]:
    """The usernames the page lists, in order."""
    page = response.content.decode()
    return [
        line.split("<code>")[1].split("</code>")[0] for line in page.split("<tr data-account=")[1:]
    ]


def test_the_page_by_role_and_tenant_with_its_filters(world, client, bravo):
    from portal.models import Role
    from tests.factories import make_person

    tenant = world.tenant
    domain = tenant.primary_domain
    tech = make_person(f"tech-{tenant.slug}", Role.TECHNICIAN, [tenant])
    admin = make_person(f"ca-{tenant.slug}", Role.CLIENT_ADMIN, [tenant])

    client.force_login(admin)
    response = client.get(url(world))
    assert response.status_code == 200
    # never signed in first, then the longest unused (Okta's 201 days before Entra's 200)
    assert _rows(response) == [f"{n}@{domain}" for n in ("never", "oknever", "okold", "old")]
    assert response.context["page"].paginator.count == 4
    assert "Offboard…" not in response.content.decode()  # a client admin does not act here

    client.force_login(tech)
    page = client.get(url(world)).content.decode()
    offboard = reverse("offboard", kwargs={"tenant": tenant.slug, "identity_id": world.identity.pk})
    detail = reverse(
        "identity_detail", kwargs={"tenant": tenant.slug, "identity_id": world.identity.pk}
    )
    assert offboard in page and detail in page  # Olga is managed: the portal's own pages
    never = world.account("never")  # not managed, in scope: offboarded from its person
    assert never.in_scope and never.person_id is not None
    kwargs = {"tenant": tenant.slug, "person_id": never.person_id}
    assert reverse("person_offboard", kwargs=kwargs) in page
    assert reverse("person_detail", kwargs=kwargs) in page

    assert _rows(client.get(url(world, idle_days=150))) == [f"okold@{domain}", f"old@{domain}"]
    okta = tenant.connections.get(kind="okta")
    assert set(_rows(client.get(url(world, directory=okta.pk)))) == {
        f"oknever@{domain}",
        f"okold@{domain}",
    }
    assert _rows(client.get(url(world, managed="managed"))) == [f"old@{domain}"]
    assert f"old@{domain}" not in _rows(client.get(url(world, managed="unmanaged")))

    client.force_login(bravo.technician)
    assert client.get(url(world)).status_code == 404
    assert client.get(url(world, "stale_csv")).status_code == 404


BAD_FILTERS = [
    {"idle_days": "0"},
    {"idle_days": "3651"},
    {"idle_days": "99999999999999999999999"},
    {"idle_days": "ninety"},
    {"directory": "99999999999999999999"},
    {"managed": "perhaps"},
    {"page": "0"},
]


def test_bad_filters_are_marked_and_left_out_and_the_csv_leaves_them_out_too(alpha, client):
    """As every list's filters (portal.fields.usable_filters): the CSV of a query with a bad
    value is the file of the query without it, as the page lists it."""
    client.force_login(alpha.technician)

    for query in BAD_FILTERS:
        page = client.get(url(alpha, **query))
        assert page.status_code == 200, query
        assert page.context["form"].errors and page.context["page"] is not None, query
        assert '<p class="error">' in page.content.decode(), query
        export = client.get(url(alpha, "stale_csv", **query))
        assert export.status_code == 200, query
        assert export["Content-Type"].startswith("text/csv"), query


def test_a_directory_not_read_yet_is_named_not_reported_clean(alpha, bravo, client):
    Account.objects.create(
        connection=bravo.connection,
        tenant=bravo.tenant,
        remote_id="other-tenant",
        username="bravo-only@bravo.test",
        licence_ids=["sku"],
        first_seen=timezone.now() - timedelta(days=400),
    )
    client.force_login(alpha.account_manager)

    response = client.get(url(alpha))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("has not read this directory in full yet") == 2  # Entra and Okta
    assert "bravo-only" not in page


def test_pages_of_fifty(alpha, client):
    for connection in (alpha.connection, alpha.okta_connection):
        Cursor.objects.create(connection=connection, full_read_at=timezone.now())
    old = timezone.now() - timedelta(days=100)
    Account.objects.bulk_create(
        Account(
            connection=alpha.connection,
            tenant=alpha.tenant,
            remote_id=f"r{i}",
            username=f"user{i:02}@alpha.test",
            licence_ids=["sku"],
            last_sign_in=old + timedelta(minutes=i),
        )
        for i in range(60)
    )
    client.force_login(alpha.client_admin)

    first, second = client.get(url(alpha)), client.get(url(alpha, page=2))

    assert _rows(first) == [f"user{i:02}@alpha.test" for i in range(50)]
    assert _rows(second) == [f"user{i:02}@alpha.test" for i in range(50, 60)]
    assert "Page 2 of 2 · 60 accounts" in second.content.decode()


# -- the CSV --------------------------------------------------------------------------------


def test_csv_has_the_columns_and_no_formula_runs(world, client):
    client.force_login(_technician(world.tenant))

    response = client.get(url(world, "stale_csv"))

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert "stale-accounts-90d" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header == stale.csv_header(world.tenant.time_zone)
    by_user = {r[1].split("@")[0]: dict(zip(stale.CSV_HEADER, r, strict=True)) for r in rows}
    assert set(by_user) == {"never", "oknever", "old", "okold"}
    never = by_user["never"]
    assert never["Name"] == "'" + INJECTED + " Stale"  # written, not run
    assert never["Last sign-in"] == "never" and never["Days without a sign-in"] == "120"
    assert never["Licences"] == "SPE_E3" and never["Managed"] == "no"
    old = by_user["old"]
    assert old["Licences"] == "SPE_E3; EMS" or old["Licences"] == "EMS; SPE_E3"
    assert old["Managed"] == "yes" and old["Days without a sign-in"] == "200"
    assert by_user["okold"]["Directory"] == "Okta" and by_user["okold"]["Licences"] == ""
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)

    filtered = client.get(url(world, "stale_csv", managed="managed", idle_days=150))
    text = b"".join(filtered.streaming_content).decode("utf-8-sig")
    records = list(csv.reader(io.StringIO(text)))
    assert len(records) == 2 and records[1][0] == "Olga Stale"
    assert records[1][1].startswith("old@")
    assert text.startswith('"Name","Username",')  # every cell quoted (portal.csv_cells.writer)


def test_csv_times_say_the_time_zone_they_are_in(world, client):
    """A time without its zone is a local time only its writer can place (RFC 3339 §4.4,
    unqualified local time, is left out of Internet formats for that): the stale accounts' CSV
    writes the tenant's wall-clock times, and its header says whose, as the report's CSV does
    on its Generated line."""
    world.tenant.time_zone = "Pacific/Auckland"
    world.tenant.save(update_fields=["time_zone"])
    client.force_login(_technician(world.tenant))

    text = b"".join(client.get(url(world, "stale_csv")).streaming_content).decode("utf-8-sig")

    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[4] == "Last sign-in (Pacific/Auckland)"
    assert header[6] == "First seen (Pacific/Auckland)"
    old = next(r for r in rows if r[1].startswith("old@"))
    signed_in = world.account("old").last_sign_in.astimezone(ZoneInfo("Pacific/Auckland"))
    assert old[4] == f"{signed_in:%Y-%m-%d %H:%M}"
