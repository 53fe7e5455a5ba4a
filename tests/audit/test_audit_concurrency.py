from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction

from portal.audit.events import record
from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all

from .conftest import StubTenant

WRITERS = 8
EVENTS_EACH = 10


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks between concurrent writers exist on PostgreSQL; SQLite serialises writers",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_share_a_sequence_number():
    actor = User.objects.create_user("alice")
    tenants = [StubTenant(pk=101, name="Contoso"), StubTenant(pk=202, name="Fabrikam")]
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(EVENTS_EACH):
                with transaction.atomic():
                    record("tenant.update", actor=actor, tenant=tenants[(n + i) % 2])
        except BaseException as error:  # reported to the main thread below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for tenant in tenants:
        seqs = list(
            AuditEvent.objects.filter(tenant_id=tenant.pk)
            .order_by("seq")
            .values_list("seq", flat=True)
        )
        assert seqs == list(range(1, WRITERS * EVENTS_EACH // 2 + 1))
    report = verify_all()
    assert report.ok and report.events_checked == WRITERS * EVENTS_EACH
