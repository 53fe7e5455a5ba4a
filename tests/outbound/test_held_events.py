"""Events held by the end of a change (`publish.held`, as a job's end holds its job.succeeded)
ride in the statement of its audit append on PostgreSQL: each is written with the change,
and each subscriber is told after the commit exactly when its rows could hear that event,
as an event written on its own. docs/benchmarks.md, engine19."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from portal.audit.events import event_for, forget_known_heads, record, record_all
from provisioning.events import publish
from provisioning.events.models import Event
from tenants.models import Tenant

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="an INSERT rides in a WITH on PostgreSQL only"
)


@pytest.fixture
def told(monkeypatch) -> list[tuple[str, int]]:
    """A subscriber that hears an event of its tenant only when the tenant is alpha's."""
    heard: list[tuple[str, int]] = []

    def hears(kind: str, tenant_id: int | None):
        return Tenant.objects.filter(pk=tenant_id, slug="alpha")

    def subscriber(event: Event) -> None:
        heard.append((event.kind, event.tenant_id))

    monkeypatch.setattr(publish, "_subscribers", [*publish._subscribers, (subscriber, hears)])
    return heard


@pytest.mark.parametrize("head_known", [True, False])
def test_held_events_ride_in_the_append_and_tell_whom_their_rows_say(
    alpha, bravo, told, head_known, django_capture_on_commit_callbacks
):
    record("warm.up", actor="system", tenant=alpha.tenant)  # this process knows the head
    if not head_known:
        forget_known_heads()  # the events go in a statement of their own, before the append
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic(), CaptureQueriesContext(connection) as sent:
            with publish.held() as held:
                publish.emit(Event.Kind.JOB_SUCCEEDED, tenant=alpha.tenant, data={"n": 1})
                publish.emit(Event.Kind.JOB_FAILED, tenant=bravo.tenant, data={"n": 2})
            assert told == [] and not Event.objects.exists()  # held: nothing written yet
            record_all(
                [event_for("job.finish", actor="system", tenant=alpha.tenant)],
                riding=held.riding(),
            )
            held.ridden()
        assert told == []  # told only after the commit
    inserts = [q["sql"] for q in sent.captured_queries if 'INSERT INTO "events_event"' in q["sql"]]
    assert len(inserts) == 1, inserts
    assert ('INSERT INTO "audit_auditevent"' in inserts[0]) is head_known
    assert sorted(Event.objects.values_list("kind", "tenant_id")) == [
        (Event.Kind.JOB_FAILED, bravo.tenant.pk),
        (Event.Kind.JOB_SUCCEEDED, alpha.tenant.pk),
    ]
    # Every other subscriber (outbound's: no endpoint anywhere) was asked and is not told.
    assert told == [(Event.Kind.JOB_SUCCEEDED, alpha.tenant.pk)]


def test_an_event_held_by_a_change_rolled_back_is_never_written_nor_told(alpha, told):
    with pytest.raises(RuntimeError), transaction.atomic():
        with publish.held() as held:
            publish.emit(Event.Kind.JOB_SUCCEEDED, tenant=alpha.tenant, data={})
        record_all(
            [event_for("job.finish", actor="system", tenant=alpha.tenant)], riding=held.riding()
        )
        held.ridden()
        raise RuntimeError("the change failed")
    assert not Event.objects.exists() and told == []
