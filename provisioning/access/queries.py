"""Read-only look-ups for the access pages: scoped fetches, the directory's live groups and
apps to make requestable, and what the client admin's home shows. Changes go through
provisioning/access/services.py and provisioning/access/action_requests.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning import step_counts
from provisioning.connectors import bridge
from provisioning.connectors.base import Resource
from provisioning.connectors.errors import ConnectorError
from provisioning.connectors.factory import connector_for
from provisioning.engine.elsewhere import owner_of
from provisioning.models import (
    AccessRequest,
    ActionRequest,
    Identity,
    Job,
    RequestableResource,
    without_the_deleted,
)
from tenants import access
from tenants.crypto import CredentialError
from tenants.models import DirectoryConnection, Tenant

READ_TIMEOUT_S = 20.0
ACTIVE_PEOPLE = (Identity.Status.JOINER, Identity.Status.ACTIVE)


# -- scoped fetches ---------------------------------------------------------------------------


def get_resource_for(
    user, tenant_slug: str, resource_id: int, roles: Iterable[str] = access.READ_ROLES
) -> RequestableResource:
    tenant = access.get_tenant_for(user, tenant_slug, roles)
    return get_object_or_404(
        RequestableResource.objects.select_related("tenant", "connection"),
        tenant=tenant,
        pk=resource_id,
    )


def get_action_request_for(
    user, tenant_slug: str, action_request_id: int, roles: Iterable[str] = access.READ_ROLES
) -> ActionRequest:
    tenant = access.get_tenant_for(user, tenant_slug, roles)
    return get_object_or_404(
        ActionRequest.objects.select_related("tenant", "identity", "requested_by", "job"),
        tenant=tenant,
        pk=action_request_id,
    )


def requestables_of(tenant: Tenant) -> QuerySet[RequestableResource]:
    return tenant.requestables.select_related("connection").prefetch_related("named_approvers")


def requests_of(tenant: Tenant) -> QuerySet[AccessRequest]:
    return tenant.access_requests.select_related(
        "identity", "resource__connection", "requested_by", "decided_by", "grant_job"
    )


def active_people(tenant: Tenant) -> QuerySet[Identity]:
    return tenant.identities.filter(status__in=ACTIVE_PEOPLE)


def client_admins_of(tenant: Tenant) -> QuerySet:
    return (
        get_user_model()
        .objects.filter(
            is_active=True, profile__role=Role.CLIENT_ADMIN, tenantassignment__tenant=tenant
        )
        .order_by("first_name", "username")
        .distinct()
    )


# -- the directory's groups and apps ----------------------------------------------------------


@dataclass
class DirectoryListing:
    """One connection's groups and apps that may be made requestable, or why not."""

    connection: DirectoryConnection
    groups: list[Resource] = field(default_factory=list)
    apps: list[Resource] = field(default_factory=list)
    error: str = ""


def directory_resources(tenant: Tenant) -> list[DirectoryListing]:
    """Each connection's groups and apps, read live."""
    return [_listing(c) for c in tenant.connections.order_by("kind")]


def _listing(connection: DirectoryConnection) -> DirectoryListing:
    """Groups the directory or another system fills (Entra dynamic groups, Okta's built-in
    "Everyone", imported, synced and Exchange groups) are left out: nobody can be added."""
    try:
        groups, apps = bridge.run(_read(connector_for(connection)), READ_TIMEOUT_S)
    except CredentialError as exc:
        return DirectoryListing(connection, error=f"The stored secret is unusable: {exc}")
    except ConnectorError as exc:
        return DirectoryListing(connection, error=exc.message or "No answer.")
    except TimeoutError:
        return DirectoryListing(connection, error=f"No answer within {READ_TIMEOUT_S:.0f} s.")
    assignable = [g for g in groups if not _filled_elsewhere(g)]
    return DirectoryListing(connection, groups=_sorted(assignable), apps=_sorted(apps))


def _filled_elsewhere(group: Resource) -> bool:
    """Rule-based, built in, imported (Okta's APP_GROUP), synced from AD or an Exchange
    list: the portal could never grant it, so nobody may ask for it."""
    detail = group.detail
    return bool(
        detail.get("dynamic") or detail.get("builtin") or detail.get("imported") or owner_of(group)
    )


async def _read(connector) -> tuple[list[Resource], list[Resource]]:
    return await connector.groups(), await connector.apps()


def _sorted(resources: list[Resource]) -> list[Resource]:
    return sorted(resources, key=lambda r: r.name.casefold())


# -- the client admin's home ------------------------------------------------------------------


def people_with_access(tenant: Tenant) -> QuerySet[Identity]:
    """The tenant's people, each with `live_requests`: the access they hold from requests."""
    live = AccessRequest.objects.filter(
        status__in=(*AccessRequest.LIVE, AccessRequest.Status.ENDING)
    ).select_related("resource")
    return without_the_deleted(tenant.identities.all()).prefetch_related(
        "role_templates", Prefetch("access_requests", queryset=live, to_attr="live_requests")
    )


def recent_jobs(tenant: Tenant, limit: int = 10) -> list[Job]:
    """The tenant's latest jobs, a running one's steps counted so far."""
    return step_counts.read_so_far(tenant.jobs.select_related("identity", "requested_by")[:limit])


def audit_trail(tenant: Tenant, limit: int = 15) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(tenant_id=tenant.pk)[:limit])


def open_action_requests(tenant: Tenant) -> QuerySet[ActionRequest]:
    return tenant.action_requests.filter(status=ActionRequest.Status.OPEN)


def jobs_to_link(action_request: ActionRequest, limit: int = 20) -> QuerySet[Job]:
    """Jobs a technician may name as the one that carried out the request: the tenant's
    recent joins (for onboarding) or the person's leaves (for offboarding)."""
    jobs = Job.objects.filter(tenant=action_request.tenant).select_related("identity")
    if action_request.kind == ActionRequest.Kind.OFFBOARD:
        jobs = jobs.filter(kind=Job.Kind.LEAVE, identity=action_request.identity)
    else:
        jobs = jobs.filter(kind=Job.Kind.JOIN, created_at__gte=action_request.created_at)
    return jobs.order_by("-created_at")[:limit]


# -- access a person holds already -------------------------------------------------------------


def held_already(identity: Identity, resource: RequestableResource) -> str:
    """How `identity` already holds `resource` in the portal's own records ("" when not): a
    role template (or the person's extra groups) that gives it, or a live grant of it."""
    names = {resource.name.casefold(), resource.remote_id.casefold()}
    kind = "groups" if resource.kind == RequestableResource.Kind.GROUP else "apps"
    for template in identity.role_templates.all():
        refs = template.groups if kind == "groups" else [_app_of(r) for r in template.apps]
        if names & {ref.casefold() for ref in refs}:
            return f"through the role {template.name}"
    if kind == "groups" and names & {ref.casefold() for ref in identity.extra_groups}:
        return "through the groups set on their profile"
    live = AccessRequest.objects.filter(
        identity=identity,
        status__in=AccessRequest.LIVE,
        resource__connection=resource.connection,
        resource__remote_id=resource.remote_id,
    )
    if live.exists():
        return "through an access request granted earlier"
    return ""


def _app_of(ref: str) -> str:
    """A template's app reference "Name / Role" names the app."""
    return ref.split(" / ", 1)[0].strip()
