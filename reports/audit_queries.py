"""The audit trail as its pages read it: who may see which events, the filters, keyset pages.

Every read of the audit pages and the export starts from ``scoped_events``: MSP admins see
every event, the MSP-wide (global) chain included; everyone else only the events of the
tenants ``tenants.access.tenants_for`` gives them, never the global chain. The filter selects
the MSP-wide chain with ``GLOBAL``, a value no slug can take ("@" fails the slug validator
and the URL converter): when it was "global", a tenant slugged "global" opened the MSP-wide
chain to its client admin.

Pages are keyset pages on (timestamp, id), newest first: a cursor names the last row seen,
so page 500 costs what page 1 costs, and events appended meanwhile never shift a page.
There is no COUNT(*): a page says only whether there is more.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404

from portal.audit.models import AuditEvent
from portal.fields import KeysetPosition
from tenants import access

PAGE_SIZE = 50
GLOBAL = "@msp"  # the tenant filter's value for the MSP-wide chain: never a tenant's slug


@dataclass(frozen=True)
class TenantRef:
    id: int
    slug: str
    name: str
    time_zone: str = ""  # the zone its trail is told in (reports/views_audit.py)


@dataclass(frozen=True)
class Scope:
    """The events a person may see: the tenants (all, for an MSP admin) and the global chain."""

    tenants: tuple[TenantRef, ...]
    msp_admin: bool

    def tenant(self, slug: str) -> TenantRef | None:
        return next((t for t in self.tenants if t.slug == slug), None)

    @property
    def only_tenant(self) -> TenantRef | None:
        """The one tenant of a person bound to one (a client admin's, an account manager's):
        all they read is its trail."""
        return self.tenants[0] if len(self.tenants) == 1 and not self.msp_admin else None


@dataclass(frozen=True)
class AuditFilters:
    tenant: str = ""  # a tenant's slug, GLOBAL, or "" for every event in scope
    actor: str = ""  # a username, or "system" / "webhook"
    action: str = ""  # exact ("job.retry"), or a prefix ("directory." / "directory")
    target_type: str = ""
    target_id: str = ""
    text: str = ""  # contained in the target's name, any case
    result: str = ""
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive
    job_id: str = ""


@dataclass(frozen=True)
class Cursor:
    """A position in the trail: the (timestamp, id) of a row, and which way to read from it."""

    timestamp: dt.datetime
    id: int
    newer: bool = False

    @classmethod
    def at(cls, event: AuditEvent, newer: bool = False) -> Cursor:
        return cls(event.timestamp, event.pk, newer)

    @property
    def token(self) -> str:
        """For a page link; reports.audit_forms.CursorForm reads it back, within bounds."""
        return KeysetPosition(self.timestamp, self.id).token


@dataclass
class AuditPage:
    events: list[AuditEvent]
    older: Cursor | None  # where the next, older page starts; None at the end of the trail
    newer: Cursor | None  # where the previous, newer page starts; None on the first page


def scope_for(user) -> Scope:
    """The person's scope (403 for a person without a reading role): one query."""
    access.require_role(user, access.READ_ROLES)
    rows = access.tenants_for(user).order_by("name")
    rows = rows.values_list("id", "slug", "name", "time_zone")
    return Scope(tuple(TenantRef(*row) for row in rows), access.is_msp_admin(user))


def scoped_events(scope: Scope, tenant: str = "") -> QuerySet[AuditEvent]:
    """The one way the audit pages read events: only what the scope may see.

    ``tenant`` narrows to one tenant's slug (404 when it is not in the scope) or to GLOBAL
    (MSP admins only, else 404).
    """
    events = AuditEvent.objects.order_by()
    if tenant == GLOBAL:
        require_tenant(scope, tenant)
        return events.filter(tenant_id__isnull=True)
    if tenant:
        return events.filter(tenant_id=require_tenant(scope, tenant).id)
    if scope.msp_admin:
        return events
    # A literal list (not a subquery): the planner sees how many tenants and which.
    return events.filter(tenant_id__in=[t.id for t in scope.tenants])


def require_tenant(scope: Scope, slug: str) -> TenantRef | None:
    """The tenant filter's tenant (None for GLOBAL), or 404 when the scope may not see it."""
    if slug == GLOBAL:
        if scope.msp_admin:
            return None
        raise Http404("No such tenant.")
    ref = scope.tenant(slug)
    if ref is None:
        raise Http404("No such tenant.")
    return ref


def filtered_events(scope: Scope, filters: AuditFilters) -> QuerySet[AuditEvent]:
    events = scoped_events(scope, filters.tenant)
    conditions = {
        "actor_username": filters.actor,
        "target_type": filters.target_type,
        "target_id": filters.target_id,
        "result": filters.result,
        "job_id": filters.job_id,
        "timestamp__gte": filters.since,
        "timestamp__lt": filters.until,
        "target_display__icontains": filters.text,
    }
    events = events.filter(**{k: v for k, v in conditions.items() if v})
    if filters.action:
        events = events.filter(_action_condition(filters.action))
    return events


def _action_condition(action: str) -> Q:
    """ "job.retry" is exact; "directory." / "directory.*" / "directory" are a prefix."""
    action = action.rstrip("*")
    if "." not in action:
        action += "."
    return Q(action__startswith=action) if action.endswith(".") else Q(action=action)


def newest_first(events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    return events.order_by("-timestamp", "-id")


def audit_page(
    user, filters: AuditFilters, cursor: Cursor | None = None, *, scope: Scope | None = None
) -> AuditPage:
    """One page of the events the person may see that match ``filters``, from ``cursor``."""
    scope = scope or scope_for(user)
    rows = list(page_query(scope, filters, cursor))
    if cursor is None:
        return _page(rows, newer=None)
    if not cursor.newer:
        return _page(rows, newer=Cursor.at(rows[0], newer=True) if rows else None)
    if len(rows) <= PAGE_SIZE:
        # Back at the top: the first page, with whatever was appended meanwhile.
        return audit_page(user, filters, None, scope=scope)
    rows = rows[:PAGE_SIZE][::-1]
    return AuditPage(rows, older=Cursor.at(rows[-1]), newer=Cursor.at(rows[0], newer=True))


def page_query(scope: Scope, filters: AuditFilters, cursor: Cursor | None) -> QuerySet:
    """The one query behind a page (one row more than a page, to know if there is more)."""
    events = filtered_events(scope, filters)
    if cursor is None:
        return newest_first(events)[: PAGE_SIZE + 1]
    if not cursor.newer:
        return newest_first(events.filter(_older_than(cursor)))[: PAGE_SIZE + 1]
    return events.filter(_newer_than(cursor)).order_by("timestamp", "id")[: PAGE_SIZE + 1]


def _page(rows: list[AuditEvent], newer: Cursor | None) -> AuditPage:
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return AuditPage(rows, older=Cursor.at(rows[-1]) if more else None, newer=newer)


# (timestamp, id) < (t, i), written so that "timestamp <= t" is the index range and the OR
# only sorts out rows of the same microsecond.
def _older_than(cursor: Cursor) -> Q:
    return Q(timestamp__lte=cursor.timestamp) & (
        Q(timestamp__lt=cursor.timestamp) | Q(id__lt=cursor.id)
    )


def _newer_than(cursor: Cursor) -> Q:
    return Q(timestamp__gte=cursor.timestamp) & (
        Q(timestamp__gt=cursor.timestamp) | Q(id__gt=cursor.id)
    )
