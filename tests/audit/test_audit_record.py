from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from portal.audit.events import event_for, forget_known_heads, record, record_all, snapshot
from portal.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from portal.audit.verify import verify_all
from tests.test_bulk_rows import connection_lookups

from .conftest import is_postgres

pytestmark = pytest.mark.django_db


def test_record_writes_one_event_that_starts_the_tenant_chain(alice, contoso):
    event = record(
        "tenant.update",
        actor=alice,
        tenant=contoso,
        target=("tenants.tenant", contoso.pk, "Contoso"),
        before={"name": "Contoso Ltd"},
        after={"name": "Contoso"},
    )

    assert AuditEvent.objects.count() == 1
    stored = AuditEvent.objects.get()
    assert stored.pk == event.pk
    assert (stored.chain_key, stored.seq, stored.prev_hash) == ("tenant:101", 1, GENESIS_HASH)
    assert stored.hash == stored.compute_hash() == event.hash
    assert len(stored.hash) == 64
    assert (stored.tenant_id, stored.tenant_name) == (101, "Contoso")
    assert (stored.actor_kind, stored.actor_user_id) == ("person", alice.pk)
    assert (stored.actor_username, stored.actor_display) == ("alice", "Alice Archer")
    assert (stored.target_type, stored.target_id, stored.target_display) == (
        "tenants.tenant",
        "101",
        "Contoso",
    )
    assert stored.before == {"name": "Contoso Ltd"} and stored.after == {"name": "Contoso"}
    assert stored.result == "success"
    head = AuditChainHead.objects.get(chain_key="tenant:101")
    assert (head.seq, head.hash, head.tenant_id) == (1, stored.hash, 101)


def test_each_event_links_to_the_one_before(alice, contoso):
    first = record("tenant.create", actor=alice, tenant=contoso)
    second = record("tenant.update", actor=alice, tenant=contoso)
    third = record("tenant.update", actor="system", tenant=contoso)

    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert AuditChainHead.objects.get(chain_key="tenant:101").hash == third.hash


def test_tenant_chains_are_independent_of_each_other_and_of_the_global_chain(
    alice, contoso, fabrikam
):
    a1 = record("tenant.create", actor=alice, tenant=contoso)
    b1 = record("tenant.create", actor=alice, tenant=fabrikam)
    g1 = record("staff.create", actor=alice, target=alice)
    a2 = record("tenant.update", actor=alice, tenant=contoso)

    assert (a1.chain_key, b1.chain_key, g1.chain_key) == ("tenant:101", "tenant:202", "global")
    assert a1.seq == b1.seq == g1.seq == 1
    assert a1.prev_hash == b1.prev_hash == g1.prev_hash == GENESIS_HASH
    assert (a2.seq, a2.prev_hash) == (2, a1.hash)
    assert g1.tenant_id is None and g1.tenant_name == ""
    assert AuditChainHead.objects.count() == 3


def test_model_target_actor_kinds_request_and_job(alice, contoso):
    request = RequestFactory().post("/tenants/101/", REMOTE_ADDR="2001:DB8::1")
    request.request_id = "req-123"

    by_person = record(
        "staff.update", actor=alice, target=alice, request=request, job_id=42, result="failure"
    )
    by_webhook = record("identity.create", actor="webhook", tenant=contoso)
    by_anonymous = record("auth.login", actor=AnonymousUser(), result="denied")

    by_person.refresh_from_db()
    assert (by_person.target_type, by_person.target_id) == ("auth.user", str(alice.pk))
    assert by_person.target_display == "alice"
    assert (by_person.request_id, by_person.source_ip) == ("req-123", "2001:db8::1")
    assert (by_person.job_id, by_person.result) == ("42", "failure")
    assert by_person.hash == by_person.compute_hash()
    assert (by_webhook.actor_kind, by_webhook.actor_user_id) == ("webhook", None)
    assert by_anonymous.actor_kind == "anonymous"


def test_request_without_request_id_or_with_a_bad_address(alice):
    request = RequestFactory().get("/", REMOTE_ADDR="not-an-ip")
    event = record("staff.update", actor=alice, request=request)
    assert (event.request_id, event.source_ip) == ("", None)


def test_event_rolls_back_with_the_change_it_records(alice, contoso):
    with pytest.raises(RuntimeError), transaction.atomic():
        User.objects.create_user("bob")
        record("staff.create", actor=alice, tenant=contoso)
        raise RuntimeError("the change failed")

    assert not User.objects.filter(username="bob").exists()
    assert AuditEvent.objects.count() == 0
    assert not AuditChainHead.objects.filter(seq__gt=0).exists()
    assert record("staff.create", actor=alice, tenant=contoso).seq == 1


@pytest.mark.parametrize(
    ("action", "kwargs"),
    [
        ("TenantCreate", {}),
        ("tenant", {}),
        ("tenant.create", {"result": "ok"}),
        ("tenant.create", {"actor": "someone"}),
        ("tenant.create", {"actor": User(username="unsaved")}),
    ],
)
def test_bad_arguments_are_refused_and_write_nothing(alice, action, kwargs):
    kwargs = {"actor": alice, **kwargs}
    with pytest.raises((ValueError, TypeError)):
        record(action, **kwargs)
    assert AuditEvent.objects.count() == 0


def test_snapshot_gives_json_safe_concrete_fields(alice):
    state = snapshot(alice, exclude=("password",))

    assert state["username"] == "alice"
    assert state["id"] == alice.pk
    assert isinstance(state["date_joined"], str) and "T" in state["date_joined"]
    assert state["last_login"] is None
    assert "password" not in state
    assert set(snapshot(alice, fields=["username", "email"])) == {"username", "email"}


def test_snapshot_of_a_foreign_key_is_its_id(alice):
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    entry = LogEntry.objects.create(
        user=alice,
        content_type=ContentType.objects.get_for_model(User),
        object_id="1",
        object_repr="x",
        action_flag=1,
    )
    state = snapshot(entry, fields=["user", "content_type_id", "action_time"])
    assert state["user_id"] == alice.pk
    assert state["content_type_id"] == entry.content_type_id
    assert set(state) == {"user_id", "content_type_id", "action_time"}


def test_json_values_survive_the_round_trip_and_still_verify(alice, contoso):
    after = {"n": 1e20, "f": 0.1, "i": 3, "tiny": 1e-7, "nested": {"2": [1.0, "x", None]}}
    event = record("tenant.update", actor=alice, tenant=contoso, after=after)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.compute_hash() == stored.hash


def test_record_all_appends_in_order_under_one_head_per_chain(alice, contoso, fabrikam):
    first = record("tenant.create", actor=alice, tenant=contoso)
    events = [
        event_for("tenant.update", actor="system", tenant=contoso, after={"n": 1}),
        event_for("tenant.create", actor=alice, tenant=fabrikam),
        event_for("tenant.update", actor="system", tenant=contoso, after={"n": 2}),
    ]
    with CaptureQueriesContext(connection) as queries:
        record_all(events)

    a2, b1, a3 = (AuditEvent.objects.get(pk=e.pk) for e in events)
    assert [(a2.seq, a2.prev_hash), (a3.seq, a3.prev_hash)] == [(2, first.hash), (3, a2.hash)]
    assert a2.after == {"n": 1} and a3.after == {"n": 2} and a2.timestamp <= a3.timestamp
    assert (b1.chain_key, b1.seq, b1.prev_hash) == ("tenant:202", 1, GENESIS_HASH)
    assert AuditChainHead.objects.get(chain_key="tenant:101").hash == a3.hash
    assert verify_all().ok
    # On PostgreSQL the INSERT follows the head's UPDATE in a WITH: "in", not "startswith".
    inserts = [q for q in queries if 'INSERT INTO "audit_auditevent"' in q["sql"]]
    assert len(inserts) == 2  # one per chain, whatever the number of events


def test_an_append_is_a_locked_read_of_the_head_and_one_write(alice, contoso):
    """PostgreSQL: the head's SELECT ... FOR UPDATE, then its UPDATE and the events' INSERT
    as one statement. SQLite (no data-modifying WITH): the UPDATE on its own."""
    from portal.models import role_of

    role_of(alice)  # the actor's role, read once per user (a request's access check has)
    with CaptureQueriesContext(connection) as first:
        record("tenant.create", actor=alice, tenant=contoso)
    forget_known_heads()  # as another process would append: it did not write the head last
    with CaptureQueriesContext(connection) as next_:
        event = record("tenant.update", actor=alice, tenant=contoso)

    writes = 1 if is_postgres() else 2
    # A chain's first event also creates its head and reads it again.
    assert len(first) == 3 + writes
    assert len(next_) == 1 + writes
    locked_read, *_ = (q["sql"] for q in next_)
    assert locked_read.startswith('SELECT "audit_auditchainhead"')
    assert locked_read.endswith("FOR UPDATE") == is_postgres()
    head = AuditChainHead.objects.get(chain_key="tenant:101")
    assert (head.seq, head.hash) == (2, event.hash) and head.signature_problem() is None
    assert AuditEvent.objects.get(pk=event.pk).hash == event.hash
    assert verify_all().ok


def test_a_persons_event_names_their_role_then(alpha):
    """Who acted, and in what capacity at the time: a later role change does not rewrite it."""
    from portal.audit.context import acting_through, request_scope

    event = record("tenant.update", actor=alpha.technician, tenant=alpha.tenant)
    assert event.actor_display.endswith("(Technician)")
    with request_scope():
        acting_through("API token “RMM”")
        via = record("job.retry", actor=alpha.client_admin, tenant=alpha.tenant)
    assert via.actor_display.endswith("(Client admin) via API token “RMM”")
    assert verify_all().ok


@pytest.mark.django_db(transaction=True)
def test_an_append_after_this_process_own_is_one_statement(alice, contoso):
    """The head this process's last append left is still the chain's end: no locked read.
    PostgreSQL: the head's conditional UPDATE and the events' INSERT in one statement;
    SQLite: the conditional UPDATE, then the INSERT."""
    first = record("tenant.create", actor=alice, tenant=contoso)
    request = RequestFactory().post("/tenants/101/", REMOTE_ADDR="2001:DB8::1")
    after = {"n": 1.5, "names": ["a", "b"], "nested": {"ok": True, "none": None}}
    with CaptureQueriesContext(connection) as queries:
        event = record("tenant.update", actor=alice, tenant=contoso, request=request, after=after)

    sent = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")]
    assert len(sent) == (1 if is_postgres() else 2)
    assert not any(sql.startswith('SELECT "audit_auditchainhead"') for sql in sent)
    head = AuditChainHead.objects.get(chain_key="tenant:101")
    assert (head.seq, head.hash) == (2, event.hash) and head.signature_problem() is None
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.prev_hash, stored.source_ip, stored.after) == (first.hash, "2001:db8::1", after)
    assert stored.compute_hash() == stored.hash
    assert verify_all().ok


@pytest.mark.django_db(transaction=True)
def test_an_append_after_another_writer_chains_on_their_event(alice, contoso, monkeypatch):
    """What this process remembers is stale when another process appended since (here:
    the head as it was before this process's second event): the append still chains on
    the chain's real end, after the locked read the same statement took (PostgreSQL)."""
    from portal.audit import events

    record("tenant.create", actor=alice, tenant=contoso)
    stale = dict(events._known_heads)
    other = record("tenant.update", actor="system", tenant=contoso)
    monkeypatch.setattr(events, "_known_heads", stale)
    with CaptureQueriesContext(connection) as queries:
        event = record("tenant.update", actor=alice, tenant=contoso)

    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.seq, stored.prev_hash) == (3, other.hash)
    assert AuditEvent.objects.filter(chain_key="tenant:101").count() == 3
    sent = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")]
    # PostgreSQL: the missed guess locked the head in the same statement, as a locked read
    # would; SQLite: the UPDATE that matched nothing, the read, the INSERT, the UPDATE.
    assert len(sent) == (2 if is_postgres() else 4)
    assert verify_all().ok
    with CaptureQueriesContext(connection) as after:
        record("tenant.update", actor=alice, tenant=contoso)
    assert len([q for q in after if q["sql"] not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")]) == (
        1 if is_postgres() else 2
    )


@pytest.mark.django_db(transaction=True)
def test_an_append_after_one_rolled_back_chains_on_the_committed_end(alice, contoso):
    """The rolled back append's head was remembered and never committed: the next append's
    guess matches nothing and it chains on the chain's real end."""
    record("tenant.create", actor=alice, tenant=contoso)
    with pytest.raises(RuntimeError), transaction.atomic():
        record("tenant.update", actor=alice, tenant=contoso)
        raise RuntimeError("the change fails")
    event = record("tenant.update", actor=alice, tenant=contoso)

    assert AuditEvent.objects.get(pk=event.pk).seq == 2
    assert verify_all().ok


@pytest.mark.django_db(transaction=True)
def test_a_head_read_without_its_lock_is_only_a_guess_the_append_checks(alice, contoso):
    """A caller may read the head (no lock) in a statement it sends anyway and hand it over
    as the guess (`head_read_sql`, `guess_head`: the onboarding's submit). Right: the append
    is one statement on PostgreSQL. Stale (another writer appended since the read): the
    append still chains on the real end, by the locked way."""
    from portal.audit import events

    def read_head() -> tuple[int, str]:
        sql, params = events.head_read_sql(contoso.pk)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()

    sql, params = events.head_read_sql(contoso.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.fetchone() is None  # no chain yet
    events.guess_head(contoso.pk, None, None)  # nothing to guess: the locked way
    record("tenant.create", actor=alice, tenant=contoso)
    stale = read_head()
    other = record("tenant.update", actor="system", tenant=contoso)
    forget_known_heads()
    events.guess_head(contoso.pk, *stale)
    with CaptureQueriesContext(connection) as missed:
        event = record("tenant.update", actor=alice, tenant=contoso)

    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.seq, stored.prev_hash) == (3, other.hash)
    forget_known_heads()
    events.guess_head(contoso.pk, *read_head())
    with CaptureQueriesContext(connection) as guessed:
        last = record("tenant.update", actor=alice, tenant=contoso)

    assert AuditEvent.objects.get(pk=last.pk).prev_hash == event.hash
    sent = [
        [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")]
        for queries in (missed, guessed)
    ]
    assert [len(s) for s in sent] == ([2, 1] if is_postgres() else [4, 2])
    assert verify_all().ok


@pytest.mark.django_db(transaction=True)
def test_an_append_looks_the_connection_up_as_often_for_one_event_as_for_four(alice, contoso):
    """The events' values are prepared on the connection looked up once, not through
    `django.db.connection` per value (tests/test_bulk_rows.py, `connection_lookups`)."""
    record("tenant.create", actor=alice, tenant=contoso)  # this process knows the head
    record("tenant.update", actor=alice, tenant=contoso)  # the append's shapes made
    lookups = []
    for n in (1, 4, 1):
        events = [
            event_for("tenant.update", actor=alice, tenant=contoso, after={"n": i})
            for i in range(n)
        ]
        with connection_lookups() as counted:
            record_all(events)
        lookups.append(counted[0])
    assert lookups[0] == lookups[1] == lookups[2]
    assert verify_all().ok
