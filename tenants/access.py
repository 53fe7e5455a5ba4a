"""Which tenants a person may see and change, and every tenant-owned fetch through it.

Views never fetch a tenant-owned object by primary key alone: they call a `get_*_for`
helper here, which 404s for anything outside the person's tenants, and `require_role`,
which 403s for a role that may not act.
"""

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from portal.models import Role, StaffProfile, role_of
from tenants.models import DirectoryConnection, RoleTemplate, Tenant

READ_ROLES = (Role.MSP_ADMIN, Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN)
STAFF_ROLES = (Role.MSP_ADMIN, Role.TECHNICIAN, Role.ACCOUNT_MANAGER)
OPERATOR_ROLES = (Role.MSP_ADMIN, Role.TECHNICIAN)


def tenants_for(user) -> QuerySet[Tenant]:
    """The tenants this person may see."""
    role = role_of(user)
    if role is None:
        return Tenant.objects.none()
    if role == Role.MSP_ADMIN or (role != Role.CLIENT_ADMIN and user.profile.all_tenants):
        return Tenant.objects.all()
    return Tenant.objects.filter(tenantassignment__user=user)


def may_see(user, tenant: Tenant) -> bool:
    """Whether this person, active, may see `tenant` now: for what reaches them outside a
    request (an e-mail about something they did there earlier)."""
    return user.is_active and tenants_for(user).filter(pk=tenant.pk).exists()


def bound_tenants(user) -> list[Tenant]:
    """The tenants whose audit trail records events about this person (their sign-ins, their
    staff changes): a client admin's tenant, an account manager's assigned tenants (none when
    they see every tenant); none for anyone else. Read from the database, not from cached
    relations, so it holds right after a staff change. Registered with
    ``portal.audit.people`` in ``tenants.apps``."""
    profile = StaffProfile.objects.filter(user_id=user.pk).values_list("role", "all_tenants")
    role, all_tenants = profile.first() or (None, False)
    if role == Role.CLIENT_ADMIN or (role == Role.ACCOUNT_MANAGER and not all_tenants):
        return list(Tenant.objects.filter(tenantassignment__user_id=user.pk).order_by("pk"))
    return []


def require_role(user, roles: Iterable[str]) -> str:
    """The person's role, or PermissionDenied (403) when it is not one of `roles`."""
    role = role_of(user)
    if role not in tuple(roles):
        raise PermissionDenied("Your role may not do this.")
    return role


def get_tenant_for(user, slug: str, roles: Iterable[str] = READ_ROLES) -> Tenant:
    """A tenant the person may see (else 404) and act on in one of `roles` (else 403).

    The 404 comes first, so a person learns nothing about tenants that are not theirs. A
    slug with a NUL (from a form field or a query string) is no tenant's: PostgreSQL would
    refuse the query.
    """
    if "\x00" in slug:
        raise Http404("No such tenant.")
    tenant = get_object_or_404(tenants_for(user), slug=slug)
    require_role(user, roles)
    return tenant


def get_connection_for(
    user, tenant_slug: str, connection_id: int, roles: Iterable[str] = READ_ROLES
) -> DirectoryConnection:
    tenant = get_tenant_for(user, tenant_slug, roles)
    return get_object_or_404(DirectoryConnection, tenant=tenant, pk=connection_id)


def get_role_template_for(
    user, tenant_slug: str, template_id: int, roles: Iterable[str] = READ_ROLES
) -> RoleTemplate:
    tenant = get_tenant_for(user, tenant_slug, roles)
    return get_object_or_404(RoleTemplate, tenant=tenant, pk=template_id)


def get_msp_template_for(user, template_id: int) -> RoleTemplate:
    require_role(user, (Role.MSP_ADMIN,))
    try:
        return RoleTemplate.objects.get(tenant__isnull=True, pk=template_id)
    except RoleTemplate.DoesNotExist:
        raise Http404("No such MSP-wide template.") from None
