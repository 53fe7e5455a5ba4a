"""After every inventory read that got to its end: the tenant's scope, matching and drift
(cycle.after_read); never after a read that failed."""

from __future__ import annotations

import pytest

from provisioning.inventory import service
from provisioning.inventory.models import Account, Cursor, Person
from tests.provisioning.inventory import test_refresh as reads
from tests.provisioning.inventory.test_refresh import refresh

pytestmark = pytest.mark.django_db
dirs, existing = reads.dirs, reads.existing  # the fixtures: directories made for each test


def test_a_failed_read_scopes_matches_and_compares_nothing(dirs, existing):
    connection = dirs.tenant.connections.get(kind="entra")
    refresh(dirs, "entra")
    Account.objects.filter(connection=connection).update(in_scope=False, person=None)
    connection.set_secret("not-the-secret")
    connection.save()

    cursor = service.refresh(connection, sleep=lambda seconds: None)

    assert cursor.state == Cursor.State.FAILED
    rows = Account.objects.filter(connection=connection)
    assert not rows.filter(in_scope=True).exists() and not rows.filter(person__isnull=False)


def test_after_a_read_the_accounts_are_scoped_and_matched_to_people(dirs, existing):
    domain = dirs.tenant.primary_domain
    service_account = dirs.add_entra_user(f"svc-backup@{domain}", "Backup", "Service")

    refresh(dirs, "entra")

    rows = Account.objects.filter(connection__tenant=dirs.tenant)
    ada = rows.get(remote_id=existing["people"]["ada"]["id"])
    svc = rows.get(remote_id=service_account["id"])
    assert ada.in_scope and not svc.in_scope and svc.scope_reason
    assert ada.person is not None and ada.person.username == f"ada@{domain}"
    assert Person.objects.filter(tenant=dirs.tenant).count() == rows.count() == 4
