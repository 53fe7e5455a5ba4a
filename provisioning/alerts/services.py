"""A person changes their own alert choices: one transaction, the change and its audit event."""

from __future__ import annotations

from django.db import transaction

from portal.audit.events import record
from provisioning.alerts.models import AlertPreference
from provisioning.alerts.rules import ALL_PREFERENCES, offered, preferences_of

FIELDS = (*ALL_PREFERENCES, "delivery")


def set_preferences(user, chosen: dict, *, http_request=None) -> bool:
    """Store the person's choice (kinds their role is not offered stay off); whether anything
    changed."""
    with transaction.atomic():
        current = preferences_of(user)
        before = {name: getattr(current, name) for name in FIELDS}
        after = {name: bool(chosen.get(name)) and name in offered(user) for name in ALL_PREFERENCES}
        after["delivery"] = chosen["delivery"]
        if current.pk is not None and before == after:
            return False
        AlertPreference.objects.update_or_create(user=user, defaults=after)
        record(
            "staff.alert_settings",
            actor=user,
            target=user,
            before=before,
            after=after,
            request=http_request,
        )
    return True
