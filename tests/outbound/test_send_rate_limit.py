""" "Send a test event" and "Redeliver" each make an outbound request to the endpoint's host:
past WEBHOOK_SENDS_PER_MINUTE of them a minute, a person gets 429 with Retry-After and a
message saying when to try again, and nothing is queued. Each person has their own count."""

import pytest

from provisioning.outbound.models import Delivery
from tests.factories import signed_in
from tests.outbound.support import delivery_of, make_endpoint
from tests.outbound.test_pages import HOOK, tenant_url

pytestmark = pytest.mark.django_db


def test_test_events_past_the_limit_get_429_and_send_nothing(client, alpha, settings):
    settings.WEBHOOK_SENDS_PER_MINUTE = 3
    endpoint, _ = make_endpoint(alpha.tenant, HOOK)
    signed_in(client, alpha.technician)
    url = tenant_url("test", alpha.tenant, endpoint_id=endpoint.pk)
    assert [client.post(url).status_code for _ in range(3)] == [302, 302, 302]
    refused = client.post(url)
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
    assert "Too many test events and redeliveries" in refused.content.decode()
    assert Delivery.objects.filter(endpoint=endpoint).count() == 3
    # Redelivery shares the count; another person has their own.
    delivery = Delivery.objects.filter(endpoint=endpoint).first()
    again = tenant_url("redeliver", alpha.tenant, endpoint_id=endpoint.pk, delivery_id=delivery.pk)
    assert client.post(again).status_code == 429


def test_redeliveries_past_the_limit_get_429(client, alpha, msp_admin, settings):
    settings.WEBHOOK_SENDS_PER_MINUTE = 2
    endpoint, _ = make_endpoint(alpha.tenant, HOOK)
    delivery = delivery_of(alpha.tenant, endpoint)
    url = tenant_url("redeliver", alpha.tenant, endpoint_id=endpoint.pk, delivery_id=delivery.pk)
    signed_in(client, alpha.technician)
    assert [client.post(url).status_code for _ in range(3)] == [302, 302, 429]
    assert Delivery.objects.filter(endpoint=endpoint).count() == 3  # the first and two again
    signed_in(client, msp_admin)  # someone else's count is their own
    assert client.post(url).status_code == 302
