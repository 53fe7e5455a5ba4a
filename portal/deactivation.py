"""What a person's deactivation takes away for good: reactivating them (a contractor back, an
investigation closed) gives them a fresh start, never what they held before.

Their open sessions and password reset links end here; what the layers above hold of a person
(API tokens, in ``provisioning.api``) they register with ``on_withdraw`` when ready, as the
audit trail's person look-ups are registered from above (``portal.audit.people``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import F
from django.http import HttpRequest

from portal.models import StaffProfile
from portal.sessions import end_sessions_of

# hook(person, actor=..., reason=..., request=...): take away what it holds of `person`,
# recording it on the audit trail.
Withdraw = Callable[..., Any]

DEACTIVATED = "person deactivated"
# A person deactivated before this was done on deactivation, or behind the pages' back.
LEFT_OVER = "issued before the person was deactivated"

_hooks: list[Withdraw] = []


def on_withdraw(hook: Withdraw) -> Withdraw:
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def withdraw_access(person, *, actor, reactivated: bool, request: HttpRequest | None = None):
    """End `person`'s sessions and run every registered hook, inside the caller's
    transaction. Called when they are deactivated, and again when they are reactivated, for
    whatever a deactivation of before left them."""
    end_sessions_of(person)
    # Password reset links mailed before now stop working (portal.reset_tokens).
    StaffProfile.objects.filter(user=person).update(access_withdrawals=F("access_withdrawals") + 1)
    reason = LEFT_OVER if reactivated else DEACTIVATED
    for hook in _hooks:
        hook(person, actor=actor, reason=reason, request=request)
