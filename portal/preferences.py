"""A person's own settings (e-mail), each change audited like any other."""

from __future__ import annotations

from django.db import transaction

from portal.audit.people import record_about
from portal.models import StaffProfile


def set_optional_emails(user, wanted: bool, *, http_request=None) -> bool:
    """Opt in to or out of non-essential e-mail; whether anything changed. Requests waiting
    for the person's decision are sent whatever this says."""
    with transaction.atomic():
        profile = StaffProfile.objects.select_for_update().get(user=user)
        if profile.optional_emails == wanted:
            return False
        profile.optional_emails = wanted
        profile.save(update_fields=["optional_emails"])
        record_about(
            user,
            "staff.email_settings",
            actor=user,
            target=user,
            before={"optional_emails": not wanted},
            after={"optional_emails": wanted},
            request=http_request,
        )
    return True
