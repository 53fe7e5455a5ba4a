"""A client admin's sidebar: their organisation's pages and the "waiting for you" count.

MSP roles get nothing from here: their navigation is the portal's own (base.html).
"""

from functools import cache, cached_property

from django.http import HttpRequest

from provisioning.access.services import waiting_for
from tenants import access
from tenants.models import Tenant

# Path below /tenants/<slug>/ -> the sidebar entry it belongs to.
SECTIONS = {"home": "home", "people": "people", "access": "requests", "actions": "requests"}


class ClientNavigation:
    """The organisation a client admin is looking at, and their others (a client admin may be
    assigned more than one). Read only when a page shows the sidebar, not in htmx partials."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    @cached_property
    def organisations(self) -> list[Tenant]:
        return list(access.tenants_for(self.request.user).order_by("name"))

    @cached_property
    def current(self) -> Tenant | None:
        """The organisation of the page shown, else their first."""
        match = self.request.resolver_match
        slug = match.kwargs.get("tenant") if match else None
        found = next((t for t in self.organisations if t.slug == slug), None)
        return found or next(iter(self.organisations), None)

    @cached_property
    def others(self) -> list[Tenant]:
        return [t for t in self.organisations if t != self.current]

    @property
    def section(self) -> str:
        parts = self.request.path.strip("/").split("/")
        if parts[0] == "reports":
            return "reports"
        if parts[0] == "tenants" and len(parts) > 2:
            return SECTIONS.get(parts[2], "")
        return "home" if parts[0] == "home" else ""


def waiting(request) -> dict:
    user = getattr(request, "user", None)
    if not access.is_client_admin(user):
        return {}

    @cache
    def count() -> int:  # one COUNT, only when a page shows it (not in htmx partials)
        return waiting_for(user).count()

    return {"show_waiting": True, "waiting_count": count, "client_nav": ClientNavigation(request)}
