"""What the beat forgets: events past EVENT_RETENTION_DAYS (their delivery log and alert
records with them) and Idempotency-Key answers past a day; nothing newer."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.api import idempotency
from provisioning.api.models import ApiToken, IdempotentResponse
from provisioning.api.tokens import digest
from provisioning.events.models import Event
from provisioning.events.publish import emit
from provisioning.events.retention import forget_old_events
from provisioning.outbound.models import Delivery
from tests.api.conftest import token_for
from tests.outbound.support import delivery_of, make_endpoint

pytestmark = pytest.mark.django_db


def test_old_events_go_with_their_deliveries_and_newer_ones_stay(alpha, settings):
    settings.EVENT_RETENTION_DAYS = 30
    endpoint, _ = make_endpoint(None, "https://psa.example.com/hooks")
    old = delivery_of(alpha.tenant, endpoint)
    Event.objects.filter(pk=old.event_id).update(occurred_at=timezone.now() - timedelta(days=31))
    new = delivery_of(alpha.tenant, endpoint)

    assert forget_old_events() == 1
    assert list(Event.objects.values_list("pk", flat=True)) == [new.event_id]
    assert list(Delivery.objects.values_list("pk", flat=True)) == [new.pk]


def test_an_event_within_the_retention_stays(alpha, settings):
    settings.EVENT_RETENTION_DAYS = 30
    event = emit(Event.Kind.JOB_FAILED, tenant=alpha.tenant, data={})
    Event.objects.filter(pk=event.pk).update(occurred_at=timezone.now() - timedelta(days=29))
    assert forget_old_events() == 0
    assert Event.objects.filter(pk=event.pk).exists()


def test_idempotency_answers_are_forgotten_after_a_day(alpha):
    token = ApiToken.objects.get(token_sha256=digest(token_for(alpha.technician)))
    kept = dict(token=token, request_fingerprint="f", status=202, body={})
    old = IdempotentResponse.objects.create(key="old", **kept)
    IdempotentResponse.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    IdempotentResponse.objects.create(key="new", **kept)
    assert idempotency.forget_old() == 1
    assert list(IdempotentResponse.objects.values_list("key", flat=True)) == ["new"]
