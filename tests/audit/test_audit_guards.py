from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from portal.audit.events import record
from portal.audit.models import AppendOnlyError, AuditChainHead, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(alice, contoso) -> AuditEvent:
    return record("tenant.update", actor=alice, tenant=contoso, after={"name": "Contoso"})


def test_saving_an_existing_event_is_refused(event):
    event.action = "tenant.delete"
    with pytest.raises(AppendOnlyError):
        event.save()
    loaded = AuditEvent.objects.get(pk=event.pk)
    with pytest.raises(AppendOnlyError):
        loaded.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "tenant.update"


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_and_delete_are_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="tenant.delete")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["action"])
    assert AuditEvent.objects.get(pk=event.pk).action == "tenant.update"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the database trigger exists on PostgreSQL only"
)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'tenant.delete' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_postgres_refuses_raw_update_and_delete(event, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.action == "tenant.update" and stored.hash == stored.compute_hash()


def test_admin_is_read_only(alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    request = RequestFactory().get("/admin/")
    request.user = alice
    for model in (AuditEvent, AuditChainHead):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
        assert model_admin.has_view_permission(request)
