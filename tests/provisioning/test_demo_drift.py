"""The demo's seeded directories agree with its seeded desired state: once the history
people have their accounts, the inventory finds only the drift made on purpose (one leaver
enabled again and one person in an extra group, in each directory the seeding reaches), even
when beat's first read came before the accounts, as it does in `rundemo`.

A demo sandbox of its own, as test_demo_accounts.py has: the seeding changes seat counts."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import call_command

from provisioning import demo_accounts, tasks
from provisioning.demo import seed_access
from provisioning.inventory import service
from provisioning.inventory import tasks as inventory_tasks
from provisioning.inventory.models import Drift
from reports.demo_history import seed_history
from tenants.models import DirectoryConnection
from tests.sandbox.server import running_sandbox

pytestmark = pytest.mark.django_db

SEEDED_DRIFT = {  # (tenant, directory, kind): open items; the README's "some" per tenant
    ("contoso", "entra", Drift.Kind.EXTRA): 1,
    ("contoso", "entra", Drift.Kind.STATE): 1,
    ("fabrikam", "okta", Drift.Kind.EXTRA): 1,
    ("fabrikam", "okta", Drift.Kind.STATE): 1,
    ("northwind", "entra", Drift.Kind.EXTRA): 1,
    ("northwind", "entra", Drift.Kind.STATE): 1,
    ("northwind", "okta", Drift.Kind.EXTRA): 1,
    ("northwind", "okta", Drift.Kind.STATE): 1,
}


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory):
    with running_sandbox(tmp_path_factory.mktemp("demo-drift-tls"), "--seed", "demo") as server:
        yield server


@pytest.fixture
def follow_up_reads_here(monkeypatch):
    """The reads the seeding task queues run here, in this test's transaction."""

    def run(connection_id, **options):
        inventory_tasks.refresh_inventory_after.apply(args=(connection_id,), kwargs=options)

    monkeypatch.setattr(inventory_tasks.refresh_inventory_after, "delay", run)


def test_the_drift_page_shows_only_the_seeded_drift(own_sandbox, settings, follow_up_reads_here):
    settings.SANDBOX_URL = own_sandbox.url
    settings.SANDBOX_CA_FILE = own_sandbox.ca
    call_command("seed_demo", verbosity=0)
    seed_access(wait_seconds=5)
    seed_history()
    connections = DirectoryConnection.objects.filter(tenant__slug__in=demo_accounts.SLUGS)
    for connection in connections:  # beat's first reads, before the history's accounts
        service.refresh(connection, sleep=lambda seconds: None)

    made = tasks.seed_demo_accounts()

    assert made["accounts"] > 50 and made["drift"] == len(SEEDED_DRIFT)
    open_items = Drift.objects.filter(status=Drift.Status.OPEN)
    found = Counter(open_items.values_list("tenant__slug", "connection__kind", "kind"))
    missing = open_items.filter(kind=Drift.Kind.MISSING).values_list("ref_name", flat=True)
    assert dict(found) == SEEDED_DRIFT, f"missing: {Counter(missing)}"
