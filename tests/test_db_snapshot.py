"""tests/db_snapshot.py: the rows a setup added, gone with its rollback, come back exactly as
they were (ids, secrets as stored, JSON, many-to-many rows, an audit chain), every time."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from provisioning.models import Identity, Job
from provisioning.services import OnboardingRequest, request_onboarding
from tenants.models import Tenant
from tests import db_snapshot
from tests.factories import make_tenant_world

pytestmark = pytest.mark.django_db(transaction=True)


def setup() -> None:
    world = make_tenant_world("alpha", "Alpha Ltd")
    ada = OnboardingRequest("Ada", "Byron", [world.template])
    request_onboarding(world.tenant, ada, username="ada.byron@alpha.test", actor="system")


def stored(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return sorted(cursor.fetchall(), key=repr)


def test_the_rows_a_setup_added_come_back_as_they_were():
    copied = db_snapshot.rows_added_by(setup)
    assert not Tenant.objects.exists() and not AuditEvent.objects.exists()  # rolled back
    tables = {rows.table for rows in copied}
    assert {"tenants_tenant", "provisioning_identity_role_templates", "audit_auditevent"} <= tables
    for _ in range(2):  # as for two tests, each after the other's flush
        db_snapshot.write(copied)
        for rows in copied:
            assert stored(rows.table) == sorted(rows.rows, key=repr), rows.table
        tenant = Tenant.objects.get(slug="alpha")
        assert tenant.connections.get(kind="entra").get_secret() == "alpha-SECRET-do-not-leak-7c1f"
        assert Identity.objects.get(first_name="Pat").attributes == {"department": "Sales"}
        assert Job.objects.filter(identity__first_name="Ada").count() == 1
        assert verify_all().ok and verify_all().events_checked > 0
        call_command("flush", interactive=False, verbosity=0)
