"""Deliveries to receivers in the sandbox: signed, retried with back-off, Retry-After
honoured, sent once when the task runs twice, an endpoint switched off after a day of
failures, private addresses refused."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.audit.models import AuditEvent
from provisioning.events.publish import emit
from provisioning.outbound import deliveries, services, signing
from provisioning.outbound.models import Delivery, WebhookEndpoint
from tests.outbound.support import delivery_of, make_due, make_endpoint, received, receiver

pytestmark = pytest.mark.django_db


def seconds_until(delivery: Delivery) -> float:
    return (delivery.next_attempt_at - timezone.now()).total_seconds()


def test_a_delivery_is_signed_with_the_endpoints_secret(on_sandbox, alpha):
    url = receiver(on_sandbox)
    endpoint, secret = make_endpoint(alpha.tenant, url)
    delivery = delivery_of(alpha.tenant, endpoint)
    assert deliveries.attempt(delivery.pk).status == Delivery.Status.DELIVERED
    (got,) = received(on_sandbox, url)
    signing.verify(secret, got["headers"], got["body"])
    body = json.loads(got["body"])
    assert got["headers"]["webhook-id"] == body["id"] == str(delivery.event_id)
    assert body["type"] == "job.failed"
    assert body["tenant"] == {"slug": "alpha", "name": "Alpha Ltd"}
    assert body["ticket"]["dedupe_key"] == "msp-portal:alpha:job:7"


def test_a_failing_receiver_is_retried_with_back_off_until_delivered(on_sandbox, alpha):
    url = receiver(on_sandbox, statuses=[500, 500, 200])
    endpoint, secret = make_endpoint(alpha.tenant, url)
    delivery = delivery_of(alpha.tenant, endpoint)

    first = deliveries.attempt(delivery.pk)
    assert (first.status, first.attempts, first.last_response_code) == ("failed", 1, 500)
    assert 54 <= seconds_until(first) <= 66  # 1 min +-10 %
    assert deliveries.attempt(delivery.pk) is None, "not due yet: nothing is sent"

    make_due(delivery)
    second = deliveries.attempt(delivery.pk)
    assert (second.status, second.attempts) == ("failed", 2)
    assert 270 <= seconds_until(second) <= 330  # 5 min +-10 %

    make_due(delivery)
    third = deliveries.attempt(delivery.pk)
    assert (third.status, third.attempts, third.last_response_code) == ("delivered", 3, 200)
    got = received(on_sandbox, url)
    assert len(got) == 3 and len({g["headers"]["webhook-id"] for g in got}) == 1
    signing.verify(secret, got[-1]["headers"], got[-1]["body"])
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None


def test_the_payload_names_the_events_time_timestamp_as_standard_webhooks_does(on_sandbox, alpha):
    """Standard Webhooks, *Payload structure*: `type`, `timestamp` (when the event occurred,
    not when this attempt was sent) and `data`, a recommendation. `occurred_at` stays: it is
    the documented envelope's (docs/webhooks.md), which may gain keys, never lose them."""
    url = receiver(on_sandbox, statuses=[500, 200])
    endpoint, _ = make_endpoint(alpha.tenant, url)
    delivery = delivery_of(alpha.tenant, endpoint)
    deliveries.attempt(delivery.pk)
    make_due(delivery)
    deliveries.attempt(delivery.pk)
    first, second = (json.loads(got["body"]) for got in received(on_sandbox, url))
    occurred = delivery.event.occurred_at.astimezone(UTC)
    assert first["timestamp"] == second["timestamp"] == first["occurred_at"]
    assert datetime.fromisoformat(first["timestamp"]) == occurred


def test_the_back_off_table():
    waits = [deliveries.backoff_s(n) for n in range(1, deliveries.MAX_ATTEMPTS)]
    for wait, base in zip(waits, (60, 300, 1800, 7200, 21600, 43200, 86400), strict=True):
        assert base * 0.9 <= wait <= base * 1.1


def test_retry_after_of_a_429_is_honoured(on_sandbox, alpha):
    url = receiver(on_sandbox, statuses=[429], retry_after="120")
    endpoint, _ = make_endpoint(alpha.tenant, url)
    delivery = deliveries.attempt(delivery_of(alpha.tenant, endpoint).pk)
    assert (delivery.status, delivery.last_response_code) == ("failed", 429)
    assert 115 <= seconds_until(delivery) <= 121


def test_a_task_that_runs_twice_posts_once(on_sandbox, alpha):
    url = receiver(on_sandbox)
    endpoint, _ = make_endpoint(alpha.tenant, url)
    delivery = delivery_of(alpha.tenant, endpoint)
    assert deliveries.attempt(delivery.pk) is not None
    assert deliveries.attempt(delivery.pk) is None
    assert len(received(on_sandbox, url)) == 1
    assert Delivery.objects.get(pk=delivery.pk).attempts == 1


def test_a_claimed_delivery_is_not_sent_by_a_second_run(on_sandbox, alpha):
    url = receiver(on_sandbox)
    endpoint, _ = make_endpoint(alpha.tenant, url)
    delivery = delivery_of(alpha.tenant, endpoint)
    assert deliveries.claim(delivery.pk)  # another worker holds it, mid-request
    assert deliveries.attempt(delivery.pk) is None
    assert received(on_sandbox, url) == []


def test_the_last_attempt_gives_up(on_sandbox, alpha):
    url = receiver(on_sandbox, then=500)
    endpoint, _ = make_endpoint(alpha.tenant, url)
    delivery = delivery_of(alpha.tenant, endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(attempts=deliveries.MAX_ATTEMPTS - 1)
    assert deliveries.attempt(delivery.pk).status == Delivery.Status.GIVEN_UP


def test_an_endpoint_failing_for_a_day_is_switched_off_with_an_alert(
    on_sandbox, alpha, msp_admin, mailoutbox, django_capture_on_commit_callbacks
):
    url = receiver(on_sandbox, then=500)
    endpoint, _ = make_endpoint(alpha.tenant, url, name="Alpha Ltd HaloPSA")
    since = timezone.now().astimezone(UTC) - timedelta(days=1, minutes=1)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=deliveries.SWITCH_OFF_FAILURES - 1,
        failing_since=since,
    )
    delivery = delivery_of(alpha.tenant, endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        deliveries.attempt(delivery.pk)
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None
    # the page shows the reason: its time as every page tells one (portal time_tags)
    assert endpoint.disabled_reason == (
        f"8 attempts in a row failed since {since.day} {since:%b %Y %H:%M} UTC"
    )
    assert sorted(m.to[0] for m in mailoutbox) == sorted([msp_admin.email, alpha.technician.email])
    assert "switched off" in mailoutbox[0].subject and endpoint.url in mailoutbox[0].body
    audit = AuditEvent.objects.get(action="webhook.endpoint_switch_off")
    assert audit.tenant_id == alpha.tenant.pk and audit.result == "failure"
    assert deliveries.create_for_event(delivery.event) == [], "switched off: not chosen"


def test_failures_within_the_first_day_do_not_switch_off(on_sandbox, alpha):
    url = receiver(on_sandbox, then=500)
    endpoint, _ = make_endpoint(alpha.tenant, url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=20)
    deliveries.attempt(delivery_of(alpha.tenant, endpoint).pk)
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None and endpoint.consecutive_failures == 21


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://[::1]/hook",
        "https://localhost/x",
    ],
)
def test_private_and_loopback_addresses_are_never_posted_to(on_sandbox, alpha, url):
    endpoint, _ = make_endpoint(alpha.tenant, url)
    delivery = deliveries.attempt(delivery_of(alpha.tenant, endpoint).pk)
    assert delivery.status == Delivery.Status.FAILED and delivery.last_response_code is None
    assert "may not go to" in delivery.last_error or "private or loopback" in delivery.last_error


def test_a_redirect_is_not_followed(on_sandbox, alpha):
    url = receiver(on_sandbox, statuses=[307])
    endpoint, _ = make_endpoint(alpha.tenant, url)
    delivery = deliveries.attempt(delivery_of(alpha.tenant, endpoint).pk)
    assert (delivery.status, delivery.last_response_code) == ("failed", 307)
    assert "redirect" in delivery.last_error


def test_a_tenant_endpoint_hears_only_its_tenant_and_the_msp_endpoint_hears_all(
    on_sandbox, alpha, bravo
):
    url = receiver(on_sandbox)
    alpha_endpoint, _ = make_endpoint(alpha.tenant, url)
    msp_endpoint, _ = make_endpoint(None, url, kinds=["job.failed"])
    event = delivery_of(bravo.tenant, msp_endpoint).event
    assert set(Delivery.objects.filter(event=event).values_list("endpoint", flat=True)) == {
        msp_endpoint.pk
    }
    assert not Delivery.objects.filter(endpoint=alpha_endpoint).exists()


def test_a_pending_delivery_of_a_switched_off_endpoint_is_given_up_unsent(on_sandbox, alpha):
    url = receiver(on_sandbox)
    endpoint, _ = make_endpoint(alpha.tenant, url)
    delivery = delivery_of(alpha.tenant, endpoint)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(disabled_at=timezone.now())
    done = deliveries.attempt(delivery.pk)
    assert done.status == Delivery.Status.GIVEN_UP and "switched off" in done.last_error
    assert received(on_sandbox, url) == []


def test_an_event_no_endpoint_can_hear_reads_no_endpoints_after_its_commit(
    alpha, bravo, monkeypatch, django_capture_on_commit_callbacks
):
    """The event's INSERT asks, in the same statement, whether an endpoint could hear it (the
    tenant's own or the MSP's, switched on): with none, its commit reads no endpoint. Nothing
    is remembered between events, so an endpoint switched on by a queryset update (which no
    signal sees) hears the next one."""
    enqueued = []
    monkeypatch.setattr(deliveries, "enqueue", enqueued.append)
    make_endpoint(bravo.tenant, "https://hooks.example.com/bravo")  # another tenant's
    url = "https://hooks.example.com/alpha"
    wanted = services.EndpointSettings("PSA", url, ["job.failed"], active=False)
    off, _ = services.create_endpoint(alpha.tenant, wanted, actor="system")

    on_commit = django_capture_on_commit_callbacks(execute=True)
    with CaptureQueriesContext(connection) as sent, on_commit:
        emit("job.failed", tenant=alpha.tenant, data={})
    assert [q["sql"].split()[0] for q in sent.captured_queries] == ["INSERT"], sent.captured_queries
    assert enqueued == []

    WebhookEndpoint.objects.filter(pk=off.pk).update(active=True)
    with django_capture_on_commit_callbacks(execute=True):
        event = emit("job.failed", tenant=alpha.tenant, data={})
    (delivery,) = Delivery.objects.filter(event=event)
    assert delivery.endpoint_id == off.pk and enqueued == [delivery.pk]


def test_an_events_insert_is_sent_from_its_kept_text_with_each_events_own_values(
    alpha, bravo, monkeypatch, django_capture_on_commit_callbacks
):
    """The INSERT asking who hears is kept per shape (portal/kept_sql.py): each event's
    statement is the one compiled for its own values, and it asks afresh."""
    import uuid

    from portal import kept_sql
    from provisioning.events import publish

    kept_sql.forget()
    monkeypatch.setattr(deliveries, "enqueue", lambda delivery_id: None)
    make_endpoint(alpha.tenant, "https://hooks.example.com/alpha")
    listening = tuple((s, h) for s, h in publish._subscribers if h)
    for n, tenant in enumerate([alpha.tenant, bravo.tenant, alpha.tenant]):
        values = (uuid.uuid4(), timezone.now(), {"n": n})
        build = publish._insert_asking(listening, "job.failed")
        shape = ("event inserted", listening, "job.failed", True)
        sent = kept_sql.kept(shape, build, *values, tenant.pk)
        own = build(*values, tenant.pk)
        assert (sent.sql, sent.extra) == (own.sql, own.extra)
        assert [getattr(p, "obj", p) for p in sent.params] == [
            getattr(p, "obj", p) for p in own.params
        ]
        assert [type(p) for p in sent.params] == [type(p) for p in own.params]
        with django_capture_on_commit_callbacks(execute=True):
            event = emit("job.failed", tenant=tenant, data={"n": n})
        heard = Delivery.objects.filter(event=event).exists()
        assert heard == (tenant == alpha.tenant)
    kept = [v for k, v in kept_sql._kept.items() if k[1][0] == "event inserted"]
    assert [v is not None for v in kept] == [connection.vendor == "postgresql"]


def test_a_410_gone_switches_the_endpoint_off_at_once_with_an_alert(
    on_sandbox, alpha, msp_admin, mailoutbox, django_capture_on_commit_callbacks
):
    """Standard Webhooks (spec/standard-webhooks.md, *Delivery success and failure*): "410
    Gone: ... it's no longer interested in receiving webhooks from this source. Sender should
    disable the webhook endpoint, and stop sending it messages." It was a failure like a 500:
    retried seven times over two days, to a receiver that had said it wants none."""
    url = receiver(on_sandbox, statuses=[410], then=410)
    endpoint, _ = make_endpoint(alpha.tenant, url)

    with django_capture_on_commit_callbacks(execute=True):
        delivery = deliveries.attempt(delivery_of(alpha.tenant, endpoint).pk)

    assert (delivery.status, delivery.last_response_code) == ("given_up", 410)
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None and "410" in endpoint.disabled_reason
    assert msp_admin.email in [m.to[0] for m in mailoutbox]
    assert "switched off" in mailoutbox[0].subject
    assert AuditEvent.objects.filter(action="webhook.endpoint_switch_off").exists()
    assert deliveries.create_for_event(delivery.event) == [], "switched off: not chosen"
