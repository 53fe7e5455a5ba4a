"""Which alert an event is, who may choose it, the defaults, and who hears of an event.

Staff hear only of tenants they may see (tenants.access.tenants_for). Client admins may
choose job failures of their own tenant only: connections and their credentials are the
MSP's to run, and a client admin can neither release a connection nor change a secret."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from portal.models import Role, role_of
from provisioning.alerts.models import AlertPreference, Delivery
from provisioning.events.models import Event
from tenants.access import tenants_for

Kind = Event.Kind
# The preference (an AlertPreference field) each event kind falls under.
PREFERENCE_OF = {
    Kind.JOB_FAILED: "job_failures",
    Kind.JOB_PARTIAL: "job_failures",
    Kind.CONNECTION_QUARANTINED: "connection_changes",
    Kind.CONNECTION_RELEASED: "connection_changes",
    Kind.CREDENTIAL_EXPIRING: "credential_expiry",
}
ALL_PREFERENCES = ("job_failures", "connection_changes", "credential_expiry")
OFFERED = {
    Role.MSP_ADMIN: ALL_PREFERENCES,
    Role.TECHNICIAN: ALL_PREFERENCES,
    Role.ACCOUNT_MANAGER: ALL_PREFERENCES,
    Role.CLIENT_ADMIN: ("job_failures",),
}
# Those who act on failures and quarantines hear of them at once unless they choose otherwise;
# MSP admins (who hold the credentials) hear of expiring ones too.
DEFAULTS = {
    Role.MSP_ADMIN: ALL_PREFERENCES,
    Role.TECHNICIAN: ("job_failures", "connection_changes"),
}


def offered(user) -> tuple[str, ...]:
    return OFFERED.get(role_of(user), ())


def preferences_of(user) -> AlertPreference:
    """The person's stored choice, or their role's defaults (unsaved)."""
    try:
        return user.alert_preference  # one query, or none after select_related
    except AlertPreference.DoesNotExist:
        pass
    chosen = DEFAULTS.get(role_of(user), ())
    return AlertPreference(user=user, **{name: name in chosen for name in ALL_PREFERENCES})


def wants(user, preference: AlertPreference, kind: str) -> bool:
    name = PREFERENCE_OF.get(kind)
    return name is not None and name in offered(user) and getattr(preference, name)


def kinds_wanted(user, preference: AlertPreference) -> list[str]:
    return [kind for kind in PREFERENCE_OF if wants(user, preference, kind)]


def may_see(user, event: Event) -> bool:
    return event.tenant_id is not None and tenants_for(user).filter(pk=event.tenant_id).exists()


def recipients(event: Event, delivery: str = Delivery.IMMEDIATE) -> list:
    """The people who chose this event's alert with this delivery and may see its tenant."""
    if event.kind not in PREFERENCE_OF:
        return []
    people = (
        get_user_model()
        .objects.filter(is_active=True, profile__isnull=False)
        .exclude(email="")
        .select_related("profile", "alert_preference")
        .order_by("pk")
    )
    found = []
    for person in people:
        preference = preferences_of(person)
        chosen = preference.delivery == delivery and wants(person, preference, event.kind)
        if chosen and may_see(person, event):
            found.append(person)
    return found
