"""What a token may see and do: the person's own scope (tenants/access.py, as on the pages),
narrowed by the token (some tenants, read-only). Every endpoint fetches through here."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from provisioning.api.models import ApiToken
from provisioning.models import Identity, Job
from tenants import access
from tenants.models import Tenant


def names_tenants(token: ApiToken) -> bool:
    """Whether the token is limited to some tenants: it names any, or was made for some
    (`every_tenant` off), even once their rows are gone. Such a token reaches only those,
    and never the MSP-wide audit chain."""
    return not token.every_tenant or token.tenants.exists()


def tenants_of(token: ApiToken) -> QuerySet[Tenant]:
    """The tenants this token may see: its person's, and only the named ones if it names any
    or was made for some (none left if they are gone)."""
    tenants = access.tenants_for(token.user)
    if names_tenants(token):
        tenants = tenants.filter(pk__in=token.tenants.values("pk"))
    return tenants


def require(token: ApiToken, roles: Iterable[str], *, writes: bool) -> None:
    """403 when the person's role may not do this, or the token is read-only and this writes."""
    access.require_role(token.user, roles)
    if writes and token.read_only:
        raise PermissionDenied("This API token is read-only.")


def tenant_for(
    token: ApiToken,
    slug: str,
    roles: Iterable[str] = access.READ_ROLES,
    *,
    writes: bool = False,
) -> Tenant:
    """A tenant the token may see (else 404) and act on in one of `roles` (else 403): the
    404 first, so a caller learns nothing of tenants that are not theirs."""
    tenant = get_object_or_404(tenants_of(token), slug=slug)
    require(token, roles, writes=writes)
    return tenant


def people_of(token: ApiToken) -> QuerySet[Identity]:
    """Every person of the token's tenants."""
    return Identity.objects.filter(tenant__in=tenants_of(token)).select_related("tenant")


def jobs_of(token: ApiToken) -> QuerySet[Job]:
    """Every job of the token's tenants."""
    return Job.objects.filter(tenant__in=tenants_of(token)).select_related("tenant", "identity")


def person_for(
    token: ApiToken,
    identity_id: int,
    roles: Iterable[str] = access.READ_ROLES,
    *,
    writes: bool = False,
    people: QuerySet[Identity] | None = None,
) -> Identity:
    """A person of the token's tenants (else 404), for a role in `roles` (else 403).
    `people`: the same rows with what the caller reads of them joined."""
    rows = people_of(token) if people is None else people.filter(tenant__in=tenants_of(token))
    identity = get_object_or_404(rows, pk=identity_id)
    require(token, roles, writes=writes)
    return identity


def job_for(
    token: ApiToken,
    job_id: int,
    roles: Iterable[str] = access.READ_ROLES,
    *,
    writes: bool = False,
    jobs: QuerySet[Job] | None = None,
) -> Job:
    """A job of the token's tenants (else 404), for a role in `roles` (else 403)."""
    rows = jobs_of(token) if jobs is None else jobs.filter(tenant__in=tenants_of(token))
    job = get_object_or_404(rows, pk=job_id)
    require(token, roles, writes=writes)
    return job
