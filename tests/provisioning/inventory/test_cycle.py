"""After every inventory read that got to its end: the tenant's scope, matching and drift, in
that order (cycle.after_read); never after a read that failed."""

from __future__ import annotations

import logging
import sys
import types

import pytest

from provisioning.inventory import cycle, service
from provisioning.inventory.models import Account, Cursor, Person
from tests.provisioning.inventory import test_refresh as reads
from tests.provisioning.inventory.test_refresh import refresh

pytestmark = pytest.mark.django_db
dirs, existing = reads.dirs, reads.existing  # the fixtures: directories made for each test


@pytest.fixture
def steps(monkeypatch) -> list[tuple[str, object]]:
    """Stand-in steps, recording what they were called with, in a module of their own."""
    called: list[tuple[str, object]] = []
    module = types.ModuleType("tests_cycle_steps")
    for name in ("scope", "match", "drift"):
        setattr(module, name, lambda tenant, name=name: called.append((name, tenant)))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(
        cycle,
        "STEPS",
        (
            (module.__name__, "scope"),
            ("provisioning.inventory.not_written_yet", "anything"),
            (module.__name__, "match"),
            (module.__name__, "not_there_either"),
            (module.__name__, "drift"),
        ),
    )
    return called


def test_a_successful_read_runs_the_steps_in_order_and_skips_what_is_missing(
    dirs, existing, steps, caplog
):
    with caplog.at_level(logging.INFO, logger="provisioning.inventory.cycle"):
        refresh(dirs, "entra")

    assert steps == [("scope", dirs.tenant), ("match", dirs.tenant), ("drift", dirs.tenant)]
    assert "provisioning.inventory.not_written_yet is not there yet" in caplog.text
    assert "tests_cycle_steps.not_there_either is not there yet" in caplog.text


def test_a_failed_read_runs_none_of_them(dirs, existing, steps):
    connection = dirs.tenant.connections.get(kind="entra")
    connection.set_secret("not-the-secret")
    connection.save()

    cursor = service.refresh(connection, sleep=lambda seconds: None)

    assert cursor.state == Cursor.State.FAILED and steps == []


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
