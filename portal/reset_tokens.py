"""The password reset link's token: Django's, which also covers how often the person's access
was taken away (``StaffProfile.access_withdrawals``). Django's covers the password, the last
sign-in and the address, none of which a deactivation changes, so a link mailed before one
worked again if the person was reactivated within its hour."""

from __future__ import annotations

from django.contrib.auth.tokens import PasswordResetTokenGenerator

from portal.models import StaffProfile


class ResetTokenGenerator(PasswordResetTokenGenerator):
    def _make_hash_value(self, user, timestamp: int) -> str:
        return f"{super()._make_hash_value(user, timestamp)}/{withdrawals_of(user)}"


def withdrawals_of(user) -> int:
    """How often `user`'s access was taken away, read afresh (a cached profile may be older
    than the deactivation); 0 for a person without a staff profile."""
    counts = StaffProfile.objects.filter(user=user).values_list("access_withdrawals", flat=True)
    return next(iter(counts), 0)


reset_tokens = ResetTokenGenerator()
