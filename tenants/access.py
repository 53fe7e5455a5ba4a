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

from portal.models import Role, StaffProfile, has_role, role_of
from tenants.models import DirectoryConnection, RoleTemplate, Tenant

READ_ROLES = (Role.MSP_ADMIN, Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN)
STAFF_ROLES = (Role.MSP_ADMIN, Role.TECHNICIAN, Role.ACCOUNT_MANAGER)
OPERATOR_ROLES = (Role.MSP_ADMIN, Role.TECHNICIAN)
# Who may file an access request (an account manager changes nothing).
FILE_ROLES = (Role.MSP_ADMIN, Role.TECHNICIAN, Role.CLIENT_ADMIN)
# Who may revoke access given by an access request (approved or granted): the MSP's
# operators, and a client admin who is an approver of its resource (per request:
# provisioning.access.services.can_revoke), so an approval made by mistake is undone at once.
REVOKE_ROLES = (Role.MSP_ADMIN, Role.TECHNICIAN, Role.CLIENT_ADMIN)
# Who may issue a SCIM token, and whose tokens stay live only while they still may.
SCIM_ISSUER_ROLES = (Role.MSP_ADMIN,)


# -- questions about a person's role: every page, endpoint and tag asks here -------------------


def is_msp_admin(user) -> bool:
    return has_role(user, (Role.MSP_ADMIN,))


def is_client_admin(user) -> bool:
    return has_role(user, (Role.CLIENT_ADMIN,))


def is_account_manager(user) -> bool:
    return has_role(user, (Role.ACCOUNT_MANAGER,))


def may_operate(user) -> bool:
    """Whether the person may act on the tenants they see (onboard, retry, converge...)."""
    return has_role(user, OPERATOR_ROLES)


def may_revoke_requests(user) -> bool:
    """A role that may revoke an access request's grant (a client admin: as an approver)."""
    return has_role(user, REVOKE_ROLES)


def may_file_requests(user) -> bool:
    return has_role(user, FILE_ROLES)


def sees_every_tenant(user) -> bool:
    """An MSP admin, or MSP staff flagged for every tenant (never a client admin)."""
    role = role_of(user)
    if role is None:
        return False
    return role == Role.MSP_ADMIN or (role != Role.CLIENT_ADMIN and user.profile.all_tenants)


def stands_behind(user, roles: Iterable[str] = READ_ROLES) -> bool:
    """Whether a key this person issued is still good: they are active and hold one of
    `roles` (a token has its issuer's rights, and loses them with the issuer, as Okta's API
    tokens do). No issuer left (deleted): no."""
    return user is not None and user.is_active and has_role(user, roles)


def require_requester_or_operator(user, requested_by_id: int | None) -> None:
    """403 unless the person filed the thing (an access request) or may operate."""
    if not may_operate(user) and requested_by_id != user.pk:
        raise PermissionDenied("Only the requester or the MSP may cancel a request.")


def own_or_everyones(user, queryset: QuerySet, owner_field: str = "user") -> QuerySet:
    """The rows of `queryset` the person owns; an MSP admin's reach is everyone's."""
    if is_msp_admin(user):
        return queryset
    return queryset.filter(**{owner_field: user})


def tenants_for(user) -> QuerySet[Tenant]:
    """The tenants this person may see."""
    if role_of(user) is None:
        return Tenant.objects.none()
    if sees_every_tenant(user):
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
    if not has_role(user, roles):
        raise PermissionDenied("Your role may not do this.")
    return role_of(user)


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
