"""The "waiting for you" count in the sidebar of a client admin's pages."""

from functools import cache

from portal.models import Role, role_of
from provisioning.access_requests import waiting_for


def waiting(request) -> dict:
    user = getattr(request, "user", None)
    if role_of(user) != Role.CLIENT_ADMIN:
        return {}

    @cache
    def count() -> int:  # one COUNT, only when a page shows it (not in htmx partials)
        return waiting_for(user).count()

    return {"show_waiting": True, "waiting_count": count}
