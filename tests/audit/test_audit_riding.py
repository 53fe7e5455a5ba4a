"""Writes that ride in an append's statement (`events.Riding`, PostgreSQL): they run, and
take their locks, before the chain's head is locked, the order every writer takes (the head
last), so a writer holding one of their rows and waiting for the head cannot deadlock."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction

from portal.audit.events import Riding, event_for, record, record_all
from portal.audit.models import AuditChainHead, AuditEvent
from portal.audit.verify import verify_all

from .conftest import StubTenant


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks between concurrent writers exist on PostgreSQL; SQLite serialises writers",
)
@pytest.mark.django_db(transaction=True)
def test_riding_writes_lock_their_rows_before_the_chain_head():
    tenant = StubTenant(pk=303, name="Riders")
    held = User.objects.create_user("held")
    record("tenant.update", actor="system", tenant=tenant)  # this process knows the head now
    locked, release, errors = threading.Event(), threading.Event(), []
    riding = Riding(
        ctes="shared AS (SELECT id FROM auth_user WHERE id = %s FOR SHARE)",
        params=[held.pk],
        last="shared",
        select="(SELECT count(*) FROM shared)",
        select_params=[],
        width=1,
    )
    rider_pid = []

    def holder() -> None:  # another writer holds the row the riding write locks
        try:
            with transaction.atomic():
                User.objects.select_for_update().filter(pk=held.pk).exists()
                locked.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    def rider() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                rider_pid.append(cursor.fetchone()[0])
            with transaction.atomic():
                record_all([event_for("tenant.update", actor="system", tenant=tenant)], riding)
        except BaseException as error:  # reported to the main thread below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=holder), threading.Thread(target=rider)]
    threads[0].start()
    assert locked.wait(timeout=30)
    threads[1].start()
    try:
        assert waits_for_a_lock(rider_pid)
        with transaction.atomic():  # the head is free while the rider waits for the row
            head = AuditChainHead.objects.select_for_update(nowait=True).get(tenant_id=tenant.pk)
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == [] and riding.answer == (1,)
    assert head.seq == 1
    assert AuditEvent.objects.filter(tenant_id=tenant.pk).count() == 2
    assert verify_all().ok


def waits_for_a_lock(pid: list[int]) -> bool:
    for _ in range(3000):
        if pid:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted", pid)
                if cursor.fetchone() is not None:
                    return True
        time.sleep(0.01)
    return False
