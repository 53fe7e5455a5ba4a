# These tests tamper with the table through raw SQL on purpose; the names are constants.
# ruff: noqa: S608
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from portal.audit.events import record
from portal.audit.models import AuditChainHead, AuditEvent

from .conftest import raw_cursor

pytestmark = pytest.mark.django_db

TABLE = AuditEvent._meta.db_table
# Everything that describes an event except its row id and its place (seq) in the chain.
CONTENT_COLUMNS = [
    f.column for f in AuditEvent._meta.concrete_fields if f.column not in ("id", "seq")
]


def run_verify(capsys, *args: str) -> tuple[int, str]:
    try:
        call_command("verify_audit", *args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def chain(alice, contoso, fabrikam) -> list[AuditEvent]:
    """Four events in Contoso's chain, with Fabrikam's and the global chain interleaved."""
    events = []
    for n in range(4):
        events.append(record("tenant.update", actor=alice, tenant=contoso, after={"n": n}))
        record("tenant.update", actor=alice, tenant=fabrikam, after={"n": n})
    record("staff.create", actor=alice, target=alice)
    return events


def raw_update(event_id: int, values: dict) -> None:
    assignments = ", ".join(f'"{column}" = %s' for column in values)
    with raw_cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET {assignments} WHERE id = %s", [*values.values(), event_id]
        )


def raw_content(event_id: int) -> dict:
    columns = ", ".join(f'"{c}"' for c in CONTENT_COLUMNS)
    with raw_cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {TABLE} WHERE id = %s", [event_id])
        return dict(zip(CONTENT_COLUMNS, cursor.fetchone(), strict=True))


def raw_insert(event: AuditEvent) -> None:
    fields = [f for f in AuditEvent._meta.concrete_fields if f.column != "id"]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    values = [f.get_db_prep_save(getattr(event, f.attname), connection=connection) for f in fields]
    with raw_cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} ({columns}) VALUES ({marks})", values)


def forged_event(after: AuditEvent, seq: int) -> AuditEvent:
    """An event whose hash and link are computed correctly, as a forger holding the key would:
    even then the link of the row after it, or the chain head, gives it away."""
    forged = AuditEvent(
        timestamp=after.timestamp,
        chain_key=after.chain_key,
        seq=seq,
        actor_kind="system",
        actor_username="system",
        actor_display="System",
        tenant_id=after.tenant_id,
        tenant_name=after.tenant_name,
        action="tenant.update",
        after={"forged": True},
    )
    forged.seal(seq, after.hash)
    return forged


def test_intact_chains_pass(capsys, chain):
    code, output = run_verify(capsys)
    assert code == 0
    assert "Checked 3 chain(s), 9 event(s): intact." in output


def test_empty_trail_passes(capsys, db):
    code, output = run_verify(capsys)
    assert code == 0 and "Checked 0 chain(s), 0 event(s)" in output


def test_edited_row_is_named(capsys, chain):
    raw_update(chain[1].pk, {"after": '{"n": 99}'})

    code, output = run_verify(capsys)

    assert code == 1
    assert f"chain tenant:101, row id={chain[1].pk} seq=2" in output
    assert "edited" in output
    assert "Checked 3 chain(s), 6 event(s): 1 broken." in output


def test_edited_row_with_a_recomputed_hash_breaks_the_next_link(capsys, chain):
    stored = AuditEvent.objects.get(pk=chain[1].pk)
    stored.after = {"n": 99}
    raw_update(chain[1].pk, {"after": '{"n": 99}', "hash": stored.compute_hash()})

    code, output = run_verify(capsys)

    assert code == 1
    assert f"row id={chain[2].pk} seq=3" in output and "prev_hash" in output


def test_deleted_row_is_named(capsys, chain):
    with raw_cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [chain[1].pk])

    code, output = run_verify(capsys)

    assert code == 1
    assert f"row id={chain[2].pk} seq=3: sequence gap: expected seq 2" in output


def test_deleted_last_row_is_caught_by_the_chain_head(capsys, chain):
    with raw_cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [chain[3].pk])

    code, output = run_verify(capsys)

    assert code == 1
    assert "chain tenant:101: chain head is at seq 4 but the last event is seq 3" in output


def test_swapped_rows_are_named(capsys, chain):
    second, third = raw_content(chain[1].pk), raw_content(chain[2].pk)
    raw_update(chain[1].pk, third)
    raw_update(chain[2].pk, second)

    code, output = run_verify(capsys)

    assert code == 1
    assert f"chain tenant:101, row id={chain[1].pk} seq=2: prev_hash" in output


def test_inserted_row_is_named(capsys, chain):
    # Make room at seq 2 (highest first: the unique index checks each row), then insert a
    # forgery with a correct hash that links to seq 1.
    with raw_cursor() as cursor:
        for event in reversed(chain[1:]):
            cursor.execute(f"UPDATE {TABLE} SET seq = seq + 1 WHERE id = %s", [event.pk])
    raw_insert(forged_event(chain[0], seq=2))

    code, output = run_verify(capsys)

    assert code == 1
    assert f"chain tenant:101, row id={chain[1].pk} seq=3: prev_hash" in output


def test_row_appended_outside_record_is_caught_by_the_chain_head(capsys, chain):
    raw_insert(forged_event(chain[3], seq=5))

    code, output = run_verify(capsys)

    assert code == 1
    assert "last event seq 5 is beyond the chain head (seq 4)" in output


def test_events_without_a_head_are_reported(capsys, chain):
    AuditChainHead.objects.filter(chain_key="tenant:202").delete()

    code, output = run_verify(capsys)

    assert code == 1
    assert "chain tenant:202: events up to seq 4 but no chain head" in output


def test_tenant_option_checks_only_that_tenant(capsys, chain):
    raw_update(chain[1].pk, {"after": '{"n": 99}'})

    assert run_verify(capsys, "--tenant", "202") == (0, "Checked 1 chain(s), 4 event(s): intact.\n")
    code, output = run_verify(capsys, "--tenant", "101")
    assert code == 1 and f"row id={chain[1].pk} seq=2" in output
