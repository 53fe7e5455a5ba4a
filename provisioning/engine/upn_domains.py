"""Whether the directory will create an account under a username's domain, asked before a
create is planned, so that the dry run says it and a job stops before sending anything.

Graph refuses a userPrincipalName on a domain the tenant has not verified ("You must use one
of the verified domain names in your organization"), and one on a federated domain unless the
create carries `onPremisesImmutableId` (user-post-users.md: "Required only when creating a new
user account if you are using a federated domain for the user's userPrincipalName"): the
anchor of an account in on-premises AD, which only the sync (Entra Connect) knows. A
directory that lists its domains (a `domains` catalogue: entra.py) is asked; when the app may
not read them (no Domain.Read.All), the plan says so and the create goes ahead.
"""

from __future__ import annotations

from provisioning.connectors.base import Resource
from provisioning.connectors.errors import PermissionDeniedError
from provisioning.engine.planner import Problem

KIND = "upn_domain"
UNREAD = "domains_unread"  # a warning: the create goes ahead unchecked


async def create_problem(connector, username: str) -> Problem | None:
    """Why the directory would refuse to create `username`, or None."""
    read = getattr(connector, "domains", None)
    if read is None or "@" not in username:
        return None
    try:
        domains = await read()
    except PermissionDeniedError:
        message = (
            "Could not read the tenant's domains to check the username's (grant the app "
            "Domain.Read.All): a federated or unverified domain would only show at the create."
        )
        return Problem(UNREAD, message, username, blocking=False)
    domain = username.rsplit("@", 1)[1].lower()
    found = next((d for d in domains if d.id == domain), None)
    if found is None or not found.detail.get("verified"):
        return Problem(KIND, _not_verified(username, domain, domains), username)
    if found.detail.get("federated"):
        return Problem(KIND, _federated(username, domain, domains), username)
    return None


def _managed(domains: list[Resource]) -> str:
    names = [d.name for d in domains if d.detail.get("verified") and not d.detail.get("federated")]
    return ", ".join(names) or "none"


def _not_verified(username: str, domain: str, domains: list[Resource]) -> str:
    return (
        f"{domain} is not a verified domain of this Microsoft Entra tenant, so it would refuse "
        f"{username}. Choose a username on a verified domain ({_managed(domains)}), or verify "
        f"{domain} in the tenant first."
    )


def _federated(username: str, domain: str, domains: list[Resource]) -> str:
    return (
        f"{domain} is a federated domain in this Microsoft Entra tenant: an account there is "
        f"created by on-premises AD sync (Entra Connect), which holds its immutable ID, not by "
        f"the portal. Create {username} in on-premises AD, or choose a username on a managed "
        f"domain ({_managed(domains)})."
    )
