"""The demo MSP's PSA webhook: an MSP-wide endpoint that hears every event and posts it to
the sandbox's receiver (`/hooks/psa`), so the demo's delivery log fills as its jobs end."""

from django.conf import settings
from django.core.management.base import BaseCommand

from provisioning.events.models import Event
from provisioning.outbound.models import WebhookEndpoint
from provisioning.outbound.services import EndpointSettings, create_endpoint

DEMO_RECEIVER_PATH = "/hooks/psa"


class Command(BaseCommand):
    help = "An MSP-wide webhook endpoint posting to the sandbox's PSA receiver (demo only)."

    def handle(self, *args, **options):
        if not settings.SANDBOX_URL:
            self.stdout.write("No sandbox: no demo webhook.")
            return
        url = settings.SANDBOX_URL.rstrip("/") + DEMO_RECEIVER_PATH
        if WebhookEndpoint.objects.filter(url=url).exists():
            return
        wanted = EndpointSettings(
            name="HaloPSA (the sandbox's receiver)", url=url, kinds=list(Event.Kind.values)
        )
        # The secret is not kept here: "Rotate secret" on the page shows a new one.
        create_endpoint(None, wanted, actor="system")
        self.stdout.write(f"Demo webhook: {url}")
