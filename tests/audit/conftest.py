from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.db import connection

from portal.audit.models import AuditEvent

TRIGGER = "audit_event_append_only"


@dataclass
class StubTenant:
    """Anything with a pk and a str() will do: the audit app never imports tenants."""

    pk: int
    name: str

    def __str__(self) -> str:
        return self.name


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice", first_name="Alice", last_name="Archer")


@pytest.fixture
def contoso() -> StubTenant:
    return StubTenant(pk=101, name="Contoso")


@pytest.fixture
def fabrikam() -> StubTenant:
    return StubTenant(pk=202, name="Fabrikam")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@contextlib.contextmanager
def raw_cursor() -> Iterator:
    """A cursor that can tamper with the events table: on PostgreSQL the append-only trigger
    is switched off for this test's transaction (rolled back with it)."""
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {TRIGGER}")
        yield cursor
        if is_postgres():
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {TRIGGER}")
