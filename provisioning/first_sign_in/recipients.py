"""Whom a joiner's first sign-in goes to: their manager's e-mail, or the policy's named person."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q

from provisioning.models import Identity


def manager_email(tenant, manager: str) -> str:
    """The e-mail of the manager the person's record names (their username, e-mail or display
    name among the tenant's people, exactly one of them), or the address itself when the
    manager is named by an address nobody in the portal has; "" when unknown or ambiguous."""
    name = (manager or "").strip()
    if not name:
        return ""
    people = (
        Identity.objects.filter(tenant=tenant)
        .exclude(status=Identity.Status.DELETED)
        .filter(Q(username__iexact=name) | Q(email__iexact=name) | Q(display_name__iexact=name))
    )
    emails = {person.email.casefold() for person in people if person.email}
    if len(emails) == 1:
        return emails.pop()
    if emails:
        return ""  # two people answer to that name: never guess
    try:
        validate_email(name)
    except ValidationError:
        return ""
    return name.casefold()


def recipient_of(policy, tenant, manager: str) -> tuple[str, str]:
    """(e-mail, how the dry run says whom) for the policy's recipient; ("", why) if none."""
    if policy.recipient == policy.Recipient.NAMED:
        return policy.named_recipient, policy.named_recipient
    email = manager_email(tenant, manager)
    if email:
        return email, f"the manager {email}"
    if manager:
        return "", f"the manager “{manager}” has no e-mail the portal knows (or several)"
    return "", "the joiner has no manager"
