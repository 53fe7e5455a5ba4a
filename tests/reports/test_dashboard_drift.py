"""The dashboard's drift card: open drift and unmanaged in-scope people per tenant, only of
the tenants the person may see, each linking to its tenant's drift report."""

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.models import Role
from provisioning.inventory.models import Cursor, Drift, Person
from reports.dashboard import build_dashboard
from tests.factories import make_person

pytestmark = pytest.mark.django_db

DASHBOARD = "/"


def drift_items(world, n: int, status=Drift.Status.OPEN) -> None:
    person = Person.objects.get(identity=world.identity)
    for i in range(n):
        Drift.objects.create(
            tenant=world.tenant,
            person=person,
            identity=world.identity,
            connection=world.connection,
            kind=Drift.Kind.EXTRA,
            access_kind="groups",
            ref_id=f"g{i}",
            ref_name=f"Group {i}",
            status=status,
        )


def unmanaged(world, n: int) -> None:
    for i in range(n):
        Person.objects.create(
            tenant=world.tenant, key=f"u{i}", in_scope=True, accounts_count=1, display_name=f"U{i}"
        )


def test_the_card_counts_drift_per_tenant_and_links_to_each_report(client, alpha, bravo):
    drift_items(alpha, 3)
    drift_items(alpha, 1, Drift.Status.CONVERGING)
    drift_items(alpha, 2, Drift.Status.RESOLVED)
    unmanaged(alpha, 4)
    unmanaged(bravo, 2)
    admin = make_person("msp", Role.MSP_ADMIN)

    board = build_dashboard(admin)
    figures = {r.slug: (r.drift_open, r.drift_converging, r.unmanaged) for r in board.drift_rows}
    assert figures == {"alpha": (3, 1, 4), "bravo": (0, 0, 2)}
    assert (board.drift_total, board.unmanaged_total) == (3, 6)

    client.force_login(admin)
    text = client.get(DASHBOARD).content.decode()
    assert 'id="drift-card"' in text
    assert 'data-drift-tenant="alpha"' in text and 'data-drift-tenant="bravo"' in text
    assert reverse("drift_report", kwargs={"tenant": "alpha"}) in text


def test_a_technician_sees_only_the_tenants_assigned(client, alpha, bravo):
    drift_items(alpha, 2)
    drift_items(bravo, 5)
    client.force_login(alpha.technician)
    text = client.get(DASHBOARD).content.decode()
    assert 'data-drift-tenant="alpha"' in text and 'data-drift-tenant="bravo"' not in text
    assert reverse("drift_report", kwargs={"tenant": "bravo"}) not in text


def test_no_drift_says_so_once_every_directory_has_been_read(client, alpha):
    """Before a directory's first read (the demo's first minute) the card said "No drift:
    every directory's last read shows what the portal wants, and every in-scope account is
    managed", of directories nobody had read; 385 unmanaged people appeared a minute later."""
    client.force_login(alpha.technician)
    text = client.get(DASHBOARD).content.decode()
    assert "No drift:" not in text
    connections = list(alpha.tenant.connections.all())
    assert f"No drift found yet: {len(connections)} directories have not been read" in text
    for connection in connections[1:]:
        Cursor.objects.create(connection=connection, full_read_at=timezone.now())
    text = client.get(DASHBOARD).content.decode()
    assert "No drift found yet: 1 directory has not been read" in text
    Cursor.objects.create(connection=connections[0], full_read_at=timezone.now())
    text = client.get(DASHBOARD).content.decode()
    assert "No drift:" in text and "not been read" not in text
