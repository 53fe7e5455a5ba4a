"""Retention: old events go behind a signed checkpoint; the chain still verifies, and
tampering after the prune is still caught."""
# These tests tamper with the table through raw SQL on purpose; the names are constants.
# ruff: noqa: S608

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.utils import timezone

from portal.audit.bulk import append_events, history_event
from portal.audit.events import record
from portal.audit.models import AuditCheckpoint, AuditEvent
from portal.audit.retention import prune_chain
from portal.audit.verify import verify_all

from .conftest import is_postgres, raw_cursor

pytestmark = pytest.mark.django_db
TABLE = AuditEvent._meta.db_table


@pytest.fixture
def aged_chain(alice, contoso):
    """500 days of one tenant's history: 50 events 10 days apart, then 3 of today."""
    start = timezone.now() - timedelta(days=500)
    append_events(
        history_event(
            "identity.onboard",
            timestamp=start + timedelta(days=10 * n),
            actor=alice,
            tenant=contoso,
            target=("identity", n, f"Person {n}"),
            after={"n": n},
        )
        for n in range(50)
    )
    for n in range(3):
        record("identity.change", actor=alice, tenant=contoso, after={"today": n})
    return "tenant:101"


def verify_output(capsys, tenant_id=101) -> tuple[bool, str]:
    try:
        call_command("verify_audit", "--tenant", str(tenant_id))
        ok = True
    except SystemExit:
        ok = False
    out = capsys.readouterr()
    return ok, out.out + out.err


def test_pruning_keeps_the_chain_verifiable(capsys, aged_chain):
    cutoff = timezone.now() - timedelta(days=395)
    pruned = prune_chain(aged_chain, cutoff)
    remaining = AuditEvent.objects.filter(chain_key=aged_chain)
    assert pruned.removed == 11  # 500..400 days old go; 390 days old stays
    assert remaining.count() == 42
    assert not remaining.filter(timestamp__lt=cutoff).exists()
    checkpoint = AuditCheckpoint.objects.get(chain_key=aged_chain)
    assert checkpoint.seq == 11 and checkpoint.events_removed == 11
    assert remaining.order_by("seq").first().prev_hash == checkpoint.hash
    ok, out = verify_output(capsys)
    assert ok, out
    assert "42 event(s): intact" in out
    again = prune_chain(aged_chain, cutoff)
    assert again.removed == 0 and AuditCheckpoint.objects.count() == 1


def test_a_later_prune_moves_the_checkpoint(capsys, aged_chain):
    prune_chain(aged_chain, timezone.now() - timedelta(days=395))
    prune_chain(aged_chain, timezone.now() - timedelta(days=100))
    latest = AuditCheckpoint.objects.filter(chain_key=aged_chain).order_by("-seq").first()
    assert latest.events_removed == 41
    assert verify_output(capsys)[0]


def test_an_edited_row_after_pruning_is_caught(capsys, aged_chain):
    prune_chain(aged_chain, timezone.now() - timedelta(days=395))
    with raw_cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET target_display = 'Someone else' WHERE chain_key = %s AND seq = 20",
            [aged_chain],
        )
    ok, out = verify_output(capsys)
    assert not ok and "seq=20" in out and "edited" in out


def test_removing_the_first_kept_row_is_caught(capsys, aged_chain):
    prune_chain(aged_chain, timezone.now() - timedelta(days=395))
    with raw_cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE chain_key = %s AND seq = 12", [aged_chain])
    ok, out = verify_output(capsys)
    assert not ok and "sequence gap" in out


def test_a_forged_checkpoint_is_caught(capsys, aged_chain):
    """Someone deletes more history and moves the checkpoint up to cover it."""
    prune_chain(aged_chain, timezone.now() - timedelta(days=395))
    thirtieth = AuditEvent.objects.get(chain_key=aged_chain, seq=30)
    AuditCheckpoint.objects.filter(chain_key=aged_chain).update(seq=30, hash=thirtieth.hash)
    with raw_cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE chain_key = %s AND seq <= 30", [aged_chain])
    ok, out = verify_output(capsys)
    assert not ok and "not signed by this portal" in out


def test_a_deleted_checkpoint_is_caught(capsys, aged_chain):
    prune_chain(aged_chain, timezone.now() - timedelta(days=395))
    AuditCheckpoint.objects.all().delete()
    ok, out = verify_output(capsys)
    assert not ok and "sequence gap" in out


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_postgres_refuses_deleting_rows_no_checkpoint_covers(aged_chain):
    from django.db import InternalError, ProgrammingError, transaction

    prune_chain(aged_chain, timezone.now() - timedelta(days=395))
    refused = pytest.raises((InternalError, ProgrammingError, IntegrityError))
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE chain_key = %s AND seq = 12", [aged_chain])
    assert is_postgres()
    assert verify_all(101).ok
