"""The demo tenants' managed people: onboarded through the normal service when the demo
starts, so that a technician can move, offboard and rehire them straight away."""

import logging
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from provisioning import services
from provisioning.access import queries as queries_access
from provisioning.access import services as access_requests
from provisioning.models import Identity, RequestableResource
from tenants.models import OffboardingPreset, Tenant

# tenant slug -> (first, last, role template). Nobody takes the demo directories' last
# O365_BUSINESS_PREMIUM seat (the Sales roles' licence), so a technician's first Sales joiner
# gets it and the next one shows the "no free seat" choice.
JOINERS = {
    "contoso": [
        ("Imogen", "Hartley", "Engineering"),
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
        ("Greta", "Vogel", "Office"),
        ("Jonas", "Brandt", "Operations"),
        ("Mira", "Kovac", "Office"),
        ("Emil", "Sauer", "Operations"),
    ],
}
logger = logging.getLogger(__name__)
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


# -- access requests (seeded once the sandbox runs: its ids exist only then) -------------------

# tenant slug -> (directory kind, "group" | "app", name as the demo directory has it, settings)
REQUESTABLES = {
    "contoso": [
        ("entra", "group", "VPN Users", {"time_bound": True, "max_days": 30}),
        ("entra", "group", "Engineering Team", {"description": "Engineering shares and channels"}),
        (
            "entra",
            "app",
            "ServiceNow",
            {"auto_approve_attribute": "department", "auto_approve_value": "Support"},
        ),
    ],
    "fabrikam": [
        ("okta", "group", "VPN Users", {"time_bound": True, "max_days": 14}),
        ("okta", "group", "Finance", {"description": "Finance folders and reports"}),
        (
            "okta",
            "app",
            "Zoom",
            {"auto_approve_attribute": "department", "auto_approve_value": "Support"},
        ),
    ],
    "northwind": [
        ("entra", "group", "Managers", {"description": "People managers"}),
        ("okta", "group", "VPN Users", {"time_bound": True, "max_days": 30}),
        ("okta", "app", "Workday", {}),
    ],
}
# tenant slug -> (first name of a demo joiner, requestable name, reason, days until it ends):
# access their role does not give them (every Contoso role already gives VPN Users).
PENDING = {
    "contoso": [
        ("Imogen", "ServiceNow", "Covers the support queue during the release weeks", 14),
        ("Tobias", "Engineering Team", "Joining the API support rota", None),
    ],
    "fabrikam": [
        ("Nadia", "Finance", "Checks the quarter-end commissions", None),
        ("Owen", "VPN Users", "Working from the Boston office next week", 10),
    ],
    "northwind": [
        ("Jonas", "Managers", "Leads the warehouse team from next month", None),
        ("Emil", "VPN Users", "On call for the warehouse systems", 21),
    ],
}
REQUESTER = "tech"  # the demo technician files them, so the client admins may decide


def seed_access(wait_seconds: float = 60.0) -> tuple[int, int]:
    """Make the demo groups and apps requestable and file a couple of pending requests per
    demo tenant that has none yet; (resources, requests). The remote ids are read from the
    directories, so the sandbox must be running: `rundemo` calls this once it is up."""
    from django.contrib.auth import get_user_model

    requester = get_user_model().objects.filter(username=REQUESTER).first()
    made = filed = 0
    for slug, wanted in REQUESTABLES.items():
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None or tenant.requestables.exists():
            continue
        resources = _requestables(tenant, wanted, wait_seconds)
        made += len(resources)
        for first, name, reason, days in PENDING[slug] if requester else []:
            identity = tenant.identities.filter(first_name=first).first()
            if identity is None or name not in resources:
                continue
            if held := queries_access.held_already(identity, resources[name]):
                logger.warning("Demo %s: %s has %s %s already", slug, first, name, held)
                continue
            ends = timezone.now() + timedelta(days=days) if days else None
            access_requests.file_request(
                identity, resources[name], reason=reason, ends_at=ends, actor=requester
            )
            filed += 1
    return made, filed


def _requestables(tenant, wanted, wait_seconds: float) -> dict:
    listings = {listing.connection.kind: listing for listing in _read(tenant, wait_seconds)}
    made = {}
    for kind, what, name, options in wanted:
        listing = listings.get(kind)
        found = listing and next(
            (r for r in (listing.groups if what == "group" else listing.apps) if r.name == name),
            None,
        )
        if not found:
            logger.warning(
                "Demo %s: no %s %s in %s to make requestable", tenant.slug, what, name, kind
            )
            continue
        resource = RequestableResource(
            tenant=tenant,
            connection=listing.connection,
            kind=what,
            remote_id=found.id,
            name=found.name,
            **options,
        )
        made[name] = access_requests.save_requestable(resource, actor="system")
    return made


def _read(tenant, wait_seconds: float) -> list:
    """The tenant's groups and apps, once every directory answers (or the wait is over)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        listings = queries_access.directory_resources(tenant)
        if all(not listing.error for listing in listings) or time.monotonic() > deadline:
            return listings
        time.sleep(1.0)
