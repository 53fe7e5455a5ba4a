"""Whom a joiner's first sign-in goes to: their manager's e-mail, or the policy's named person."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q

from provisioning.models import Identity


def manager_email(tenant, manager: str) -> str:
    """The e-mail of the manager the person's record names (their username, e-mail or display
    name among the tenant's people, exactly one of them), or the address itself when the
    manager is named by an address nobody in the portal has; either only at one of the
    tenant's domains; "" when unknown, ambiguous or elsewhere. The field is free text that a
    technician, the HR feed or a SCIM client sets, and so is a person's e-mail (SCIM's
    `emails`): an address elsewhere could take the joiner's pass out of the client (a named
    recipient in the policy is the way to send it elsewhere)."""
    address, _person = _named_address(tenant, manager)
    return address if _at_the_tenants_domains(tenant, address) else ""


def _named_address(tenant, manager: str) -> tuple[str, bool]:
    """The address the manager field names, and whether a person of the tenant gave it: the
    one person's e-mail, else the text itself."""
    name = (manager or "").strip()
    if not name:
        return "", False
    people = (
        Identity.objects.filter(tenant=tenant)
        .exclude(status=Identity.Status.DELETED)
        .filter(Q(username__iexact=name) | Q(email__iexact=name) | Q(display_name__iexact=name))
    )
    emails = {person.email.casefold() for person in people if person.email}
    if len(emails) == 1:
        return emails.pop(), True
    if emails:
        return "", True  # two people answer to that name: never guess
    return name.casefold(), False


def _at_the_tenants_domains(tenant, address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    domain = address.rpartition("@")[2]
    return domain in {d.casefold() for d in tenant.domains}


def recipient_of(policy, tenant, manager: str) -> tuple[str, str]:
    """(e-mail, how the dry run says whom) for the policy's recipient; ("", why) if none."""
    if policy.recipient == policy.Recipient.NAMED:
        return policy.named_recipient, policy.named_recipient
    email = manager_email(tenant, manager)
    if email:
        return email, f"the manager {email}"
    address, person = _named_address(tenant, manager)
    if "@" in address and not _at_the_tenants_domains(tenant, address):
        domains = ", ".join(tenant.domains)
        whose = (
            f"’s e-mail {address} is" if person else " is not in the portal, and that address is"
        )
        return "", f"the manager “{manager}”{whose} not at the tenant's domains ({domains})"
    if manager:
        return "", f"the manager “{manager}” has no e-mail the portal knows (or several)"
    return "", "the joiner has no manager"
