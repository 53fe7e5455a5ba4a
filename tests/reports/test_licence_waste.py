"""Licence waste in the client report: per SKU, the seats the sandbox's directory holds
(bought, assigned), the seats nobody holds, and those held by blocked and by stale accounts,
as the inventory read them through the real SDKs; on the report page and in its CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from portal.models import Role
from provisioning.inventory.stale import licence_waste
from tests.factories import make_person
from tests.provisioning.inventory.test_stale import build_world, drop

pytestmark = pytest.mark.django_db


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


def sandbox_seats(world) -> dict[str, tuple[int, int]]:
    """SKU part number -> (seats bought, seats assigned), as Graph tells an admin."""
    response = world.dirs.graph("GET", "/subscribedSkus")
    assert response.status_code == 200, response.text
    return {
        s["skuPartNumber"]: (s["prepaidUnits"]["enabled"], s["consumedUnits"])
        for s in response.json()["value"]
    }


def test_waste_per_sku_is_what_the_directory_holds(world):
    held = sandbox_seats(world)

    waste = licence_waste(world.tenant)

    by_name = {s.name: s for s in waste.skus}
    assert set(by_name) == set(held) == {"SPE_E3", "EMS"}
    for name, (total, consumed) in held.items():
        assert (by_name[name].total, by_name[name].consumed) == (total, consumed)
        assert by_name[name].unused == total - consumed
    e3, ems = by_name["SPE_E3"], by_name["EMS"]
    # SPE_E3: never, old, recent and blocked hold it; blocked is blocked, never and old stale
    assert (e3.consumed, e3.on_disabled, e3.on_stale) == (4, 1, 2)
    assert (ems.consumed, ems.on_disabled, ems.on_stale) == (1, 0, 1)  # old's
    assert e3.freeable == e3.total - 4 + 1 + 2
    assert waste.freeable == (e3.total - 4 + 3) + (ems.total - 1 + 1)
    assert waste.days == 90 and waste.notes == []
    # Okta sells no SKUs: it has no line here (its stale users are on the stale report)
    assert {s.directory for s in waste.skus} == {"Microsoft Entra ID"}

    assert licence_waste(world.tenant, days=150).on_stale == 2  # old's two
    assert licence_waste(world.tenant, days=365).on_stale == 0


def report_of(client, world, name: str = "client_report"):
    """The report as the tenant's account manager reads it."""
    slug = world.tenant.slug
    if "_auth_user_id" not in client.session:
        client.force_login(make_person(f"am-{slug}", Role.ACCOUNT_MANAGER, [world.tenant]))
    response = client.get(reverse(name, kwargs={"tenant": slug}))
    assert response.status_code == 200
    return response


def test_the_client_report_shows_the_waste_and_its_csv_has_it(world, client):
    waste = licence_waste(world.tenant)

    response = report_of(client, world)

    page = response.content.decode()
    assert 'id="licence-waste"' in page
    assert f"<strong>{waste.freeable} seats could be freed</strong>" in page
    assert f"{waste.on_disabled} held by blocked accounts, {waste.on_stale} held by" in page
    assert reverse("stale_report", kwargs={"tenant": world.tenant.slug}) in page
    # the seats-in-use line, never read by the dashboard here, starts from the inventory's read
    lines = {s.sku: (s.total, s.used_now) for s in response.context["report"].licences}
    assert lines == {"EMS": (50, 1), "SPE_E3": (100, 4)}

    text = report_of(client, world, "client_report_csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert {len(row) for row in rows} == {8}  # padded to one width (RFC 4180 §2.4)
    assert ["Licence seats that could be freed now", str(waste.freeable)] + [""] * 6 in rows
    header = rows.index(next(r for r in rows if r[:2] == ["Directory", "SKU"]))
    assert rows[header][6] == "On accounts without a sign-in for 90 days"
    lines = {r[1]: r for r in rows[header + 1 : header + 3]}
    e3 = next(s for s in waste.skus if s.name == "SPE_E3")
    assert lines["SPE_E3"] == [
        "Microsoft Entra ID",
        "SPE_E3",
        str(e3.total),
        "4",
        str(e3.total - 4),
        "1",
        "2",
        str(e3.freeable),
    ]


def test_without_premium_seats_on_stale_accounts_are_unknown_not_zero(no_premium, client):
    waste = licence_waste(no_premium.tenant)

    assert all(s.on_stale is None for s in waste.skus)
    assert next(s for s in waste.skus if s.name == "SPE_E3").on_disabled == 1
    assert len(waste.notes) == 1 and "premium license" in waste.notes[0]

    page = report_of(client, no_premium).content.decode()
    assert "seats on stale accounts unknown" in page and ">unknown<" in page
    assert "not counted where the directory's sign-ins are unknown" in page
    assert "0 held by accounts nobody signed in" not in page
