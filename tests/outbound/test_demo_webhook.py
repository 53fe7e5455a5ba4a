"""The demo's PSA webhook: seeded once, it posts every event to the sandbox's receiver."""

import json

import pytest
from django.core.management import call_command

from provisioning.outbound import deliveries, signing
from provisioning.outbound.models import Delivery, WebhookEndpoint
from sandbox.seed import DEMO_RECEIVER, seed_state
from sandbox.server import make_state
from sandbox.state import SandboxState
from tests.outbound.support import delivery_of, received

pytestmark = pytest.mark.django_db


def test_the_sandboxs_demo_seed_has_the_psa_receiver():
    state = SandboxState()
    seed_state(state, "demo")
    assert DEMO_RECEIVER in state.webhook_receivers


def test_a_demo_started_again_from_its_state_file_still_has_the_receiver(tmp_path):
    """Receivers are not saved: the second `make demo` (its sandbox state loaded) answered
    every delivery to /hooks/psa with 404, 36 failures in a row on the Webhooks page."""
    state_file = tmp_path / "state.json"
    make_state(state_file, "demo")  # the first start seeds and saves
    again = make_state(state_file, "demo")
    assert again.entra and DEMO_RECEIVER in again.webhook_receivers
    assert DEMO_RECEIVER not in make_state(state_file, None).webhook_receivers


def test_the_demo_webhook_is_seeded_once_and_delivers_to_the_sandbox(on_sandbox, alpha):
    with on_sandbox.control() as control:  # as the sandbox's demo seed leaves it
        control.put(f"/_sandbox/webhook-receivers/{DEMO_RECEIVER}", json={}).raise_for_status()
    call_command("seed_demo_webhooks")
    call_command("seed_demo_webhooks")
    (endpoint,) = WebhookEndpoint.objects.all()
    assert endpoint.tenant is None and endpoint.url == f"{on_sandbox.url}/hooks/psa"

    delivery = delivery_of(alpha.tenant, endpoint)
    assert deliveries.attempt(delivery.pk).status == Delivery.Status.DELIVERED
    (got,) = received(on_sandbox, endpoint.url)
    signing.verify(endpoint.secrets()[0], got["headers"], got["body"])
    assert json.loads(got["body"])["tenant"]["slug"] == "alpha"
