"""The demo tenants' managed people: onboarded through the normal service when the demo
starts, so that a technician can move, offboard and rehire them straight away."""

from django.db import transaction

from provisioning import services
from provisioning.models import Identity
from tenants.models import OffboardingPreset, Tenant

# tenant slug -> (first, last, role template)
JOINERS = {
    "contoso": [
        ("Imogen", "Hartley", "Sales"),
        ("Rafael", "Quintero", "Support"),
        ("Priya", "Raman", "Engineering"),
        ("Tobias", "Lindqvist", "Support"),
    ],
    "fabrikam": [
        ("Nadia", "Okafor", "Sales"),
        ("Henrik", "Dahl", "Support"),
        ("Lucia", "Ferraro", "Finance"),
        ("Owen", "Gallagher", "Sales"),
    ],
    "northwind": [
        ("Greta", "Vogel", "Sales"),
        ("Jonas", "Brandt", "Operations"),
        ("Mira", "Kovac", "Office"),
        ("Emil", "Sauer", "Operations"),
    ],
}
PRESETS = {"fabrikam": {"okta_mode": "deactivate", "delete_after_days": 14}}


def seed_people() -> int:
    """Onboard the demo joiners of tenants that have no managed people yet; how many."""
    queued = 0
    for slug, people in JOINERS.items():
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None or Identity.objects.filter(tenant=tenant).exists():
            continue
        OffboardingPreset.objects.get_or_create(tenant=tenant, defaults=PRESETS.get(slug, {}))
        with transaction.atomic():
            for first, last, role in people:
                template = tenant.role_templates.get(name=role)
                request = services.OnboardingRequest(first, last, [template])
                username = f"{first}.{last}@{tenant.primary_domain}".lower()
                services.request_onboarding(tenant, request, username=username, actor="system")
                queued += 1
    return queued
