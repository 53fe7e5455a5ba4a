"""The engine's read of an account (`service.record_account_read`): its upsert is the
statement Django's `bulk_create(update_conflicts=True)` sends, with the same values, and
after the first read of a shape it is sent again without being built by Django's
compilers (`portal.kept_sql`)."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest.mock import patch

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.db.models.sql.compiler import SQLInsertCompiler
from django.test.utils import CaptureQueriesContext

from portal import kept_sql
from provisioning.connectors.base import AccessState, DirectoryUser
from provisioning.inventory import scope, service
from provisioning.inventory.models import Account
from provisioning.models import DirectoryAccount

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh():
    kept_sql.forget()
    yield
    kept_sql.forget()


def _comparable(params) -> list:
    # psycopg's Jsonb has no equality of its own: its object and dumps function, and the type
    return [(type(p), p.obj, p.dumps) if hasattr(p, "dumps") else (type(p), p) for p in params]


def _sent(call) -> list[tuple[str, list]]:
    sent = []

    def capture(execute, sql, params, many, context):
        sent.append((sql, _comparable(params)))
        return execute(sql, params, many, context)

    with patch("django.utils.timezone.now", lambda: NOW), connection.execute_wrapper(capture):
        call()
    return sent


def _as_django_sends(conn, user: DirectoryUser, access: AccessState) -> None:
    """What `record_account_read` sent before its statement was kept: the same row through
    the manager's `bulk_create`."""
    values = {
        "username": user.username,
        "enabled": user.enabled,
        "group_ids": sorted(access.groups),
        "licence_ids": sorted(access.licenses),
        "app_ids": sorted(access.apps),
        "deleted": False,
        "last_seen": NOW,
        "updated_at": NOW,
    }
    values |= {
        field: str(user.attributes[name])
        for name, field in service.READ_FIELDS.items()
        if user.attributes.get(name) is not None
    }
    linked = service.Person.objects.filter(
        identity__accounts__connection_id=conn.pk, identity__accounts__remote_id=user.id
    ).values("pk")[:1]
    row = Account(
        tenant_id=conn.tenant_id,
        connection_id=conn.pk,
        remote_id=user.id,
        first_seen=NOW,
        person_id=models.Subquery(linked),
        **values,
    )
    row.in_scope, row.scope_reason = scope.account_in_scope(
        scope.current_policy(conn.tenant_id), row
    )
    Account.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["connection", "remote_id"],
        update_fields=list(values),
    )


READS = [
    (DirectoryUser("u-1", "pat@alpha.example", True, {"display_name": "Pat"}), AccessState()),
    (
        DirectoryUser("u-2", "sam@alpha.example", True, {"display_name": "Sam"}),
        AccessState(groups=frozenset({"g2", "g1"}), licenses=frozenset({"sku"})),
    ),
    (
        DirectoryUser("u-1", "pat@alpha.example", False, {"display_name": "Pat", "email": "p@x"}),
        AccessState(apps=frozenset({"a1"})),
    ),
    (DirectoryUser("u-3", "svc-backup@alpha.example", True, {}), AccessState()),
]


def test_each_read_sends_what_djangos_bulk_create_sends(alpha):
    DirectoryAccount.objects.create(
        identity=alpha.identity, connection=alpha.connection, remote_id="u-1"
    )
    for user, access in READS * 2:  # the second time round, from the kept text
        mine = _sent(lambda u=user, a=access: service.record_account_read(alpha.connection, u, a))
        theirs = _sent(lambda u=user, a=access: _as_django_sends(alpha.connection, u, a))
        assert [s for s in mine if "inventory_account" in s[0]] == [
            s for s in theirs if "inventory_account" in s[0]
        ]
    pat = Account.objects.get(connection=alpha.connection, remote_id="u-1")
    assert (pat.enabled, pat.mail, pat.app_ids) == (False, "p@x", ["a1"])
    assert pat.person is not None


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's backend turns JSON into text: its upsert is built on every read",
)
def test_a_read_of_a_shape_read_before_is_not_built_again(alpha):
    user, access = READS[1]
    service.record_account_read(alpha.connection, user, access)
    compiled = []
    original = SQLInsertCompiler.as_sql

    def counting(self, *args, **kwargs):
        compiled.append(self.query.model)
        return original(self, *args, **kwargs)

    with patch.object(SQLInsertCompiler, "as_sql", counting):
        service.record_account_read(alpha.connection, user, AccessState())
        service.record_account_read(alpha.connection, READS[0][0], access)
    assert compiled == []
    assert Account.objects.get(remote_id="u-2").group_ids == []


@pytest.mark.django_db(transaction=True)
def test_a_read_outside_a_transaction_sends_its_statement_alone(alpha):
    """A job's plan and its verifying read are in no transaction: the upsert is one
    statement, its own transaction, with no BEGIN and COMMIT round trips around it."""
    user, access = READS[0]
    with CaptureQueriesContext(connection) as sent:
        service.record_account_read(alpha.connection, user, access)
    upserts = [q["sql"] for q in sent if 'INSERT INTO "inventory_account"' in q["sql"]]
    assert len(upserts) == 1
    # before cpu21: BEGIN and COMMIT (bulk_create's atomic block)
    assert [q["sql"] for q in sent if q["sql"].startswith(("BEGIN", "COMMIT"))] == []
    assert Account.objects.filter(connection=alpha.connection, remote_id="u-1").exists()


def test_a_failed_read_inside_a_transaction_marks_it_for_rollback(alpha):
    """In a caller's transaction the upsert is part of it; its failure leaves the
    transaction to roll back, as Django's atomic block around it did."""
    user = DirectoryUser("u-4", None, True, {})  # a username is NOT NULL
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            service.record_account_read(alpha.connection, user, AccessState())
        assert transaction.get_rollback()
