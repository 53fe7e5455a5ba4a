"""The cross-tenant dashboard's figures: one row per tenant, in a constant number of queries.

Each source is read once for all tenants, grouped by tenant in the database (GROUP BY with
filtered counts), and the rows are put together here. Jobs are read only from the recent
window through the (tenant, created_at) index, and the failed ones ended in it through the
status index; the audit table is not read at all. Licence seats come from the snapshots
cache (reports/licences.py), never from a directory.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Case, Count, Exists, IntegerField, Max, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from portal.licences import licence_words
from provisioning.inventory import queries_drift
from provisioning.inventory.models import Drift, Person
from provisioning.lifecycle import leave_retries
from provisioning.lifecycle.leave_retries import AutoRetry
from provisioning.models import (
    AccessRequest,
    ActionRequest,
    ConnectionBucket,
    Identity,
    Job,
    Step,
)
from provisioning.models_throttle import ConnectionBreaker
from provisioning.quarantine import BreakerState, breaker_state
from reports.licences import SkuSeats, snapshots_for
from tenants import access
from tenants.models import DirectoryConnection

FAILURE_WINDOW_DAYS = 14
EXPIRY_WINDOW_DAYS = 30
SCHEDULE_WINDOW_DAYS = 7
ATTENTION_LIMIT = 8
IN_PROGRESS = (Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.WAITING)
FAILED = (Job.Status.FAILED, Job.Status.PARTIAL)

# The table's columns: (sort key, heading, cell class).
COLUMNS = (
    ("name", "Tenant", ""),
    ("today", "Jobs today", "num"),
    ("week", "This week", "num"),
    ("failures", "Failures", "num"),
    ("connections", "Connections", ""),
    ("expiring", "Credentials", ""),
    ("licences", "Licences free", ""),
    ("approvals", "Approvals", "num"),
    ("joiners", "Next 7 days", "num"),
)
# Sort keys of the table: name -> how a row sorts (ascending; "-name" sorts descending).
SORTS = {
    "name": lambda r: r.name.casefold(),
    "attention": lambda r: (-r.attention, r.name.casefold()),
    "today": lambda r: r.today_total,
    "week": lambda r: r.week_total,
    "failures": lambda r: r.failures,
    "connections": lambda r: len(r.quarantined) + r.throttled,
    "expiring": lambda r: min((c.days for c in r.expiring), default=10_000),
    "licences": lambda r: r.min_free if r.min_free is not None else 10_000,
    "approvals": lambda r: r.pending_approvals,
    "joiners": lambda r: r.joiners_next,
    "leavers": lambda r: r.leavers_next,
}
DEFAULT_SORT = "attention"
# The Sort by list a phone shows instead of the column headers, each in its first click's order.
SORT_CHOICES = (
    ("attention", "Needs attention first"),
    ("name", "Tenant name"),
    ("-today", "Most jobs today"),
    ("-week", "Most jobs this week"),
    ("-failures", "Most failures"),
    ("-connections", "Connection problems first"),
    ("expiring", "Credentials expiring first"),
    ("licences", "Fewest licences free"),
    ("-approvals", "Most approvals waiting"),
    ("-joiners", "Most joiners next 7 days"),
)


def sort_choices(current: str) -> list[tuple[str, str]]:
    """SORT_CHOICES, with the order a second click on a header gave when that is the current."""
    choices = list(SORT_CHOICES)
    if current not in dict(choices):
        headings = {key: heading for key, heading, _ in COLUMNS}
        heading = headings.get(current.lstrip("-"), current.lstrip("-"))
        choices.append(
            (current, f"{heading}, {'highest' if current[0] == '-' else 'lowest'} first")
        )
    return choices


@dataclass
class FailedStep:
    job_id: int
    order: int
    action: str
    target: str
    error: str


@dataclass
class FailedJob:
    id: int
    tenant_name: str
    tenant_slug: str
    kind: str
    status: str
    person: str
    created_at: datetime
    step: FailedStep | None = None
    retry: AutoRetry | None = None  # a failed leave's automatic retries


@dataclass
class ConnectionState:
    kind: str
    since: datetime | None = None
    reason: str = ""
    expires_on: date | None = None
    days: int = 0
    breaker: BreakerState | None = None  # quarantined connections only


@dataclass
class TenantRow:
    id: int
    slug: str
    name: str
    tags: list[str]
    today: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    week: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failures: int = 0
    latest_failure: int | None = None
    failed_step: FailedStep | None = None
    quarantined: list[ConnectionState] = field(default_factory=list)
    throttled: int = 0  # jobs waiting, plus connections paused by a 429
    held: int = 0
    expiring: list[ConnectionState] = field(default_factory=list)
    entra_ids: list[int] = field(default_factory=list)
    licences: list[SkuSeats] = field(default_factory=list)
    licences_read_at: datetime | None = None
    licences_error: str = ""
    pending_approvals: int = 0
    asks_open: int = 0
    joiners_next: int = 0
    movers_next: int = 0
    leavers_next: int = 0
    drift_open: int = 0
    drift_converging: int = 0
    unmanaged: int = 0  # people with in-scope accounts whom nobody manages
    unread: int = 0  # directories not read yet (nothing known of their drift)

    # Links of the row, built from one reversed pattern each: 200 rows x 6 {% url %} tags
    # were a third of the page's time.
    @property
    def detail_url(self) -> str:
        return _by_slug("tenant_detail", self.slug)

    @property
    def report_url(self) -> str:
        return _by_slug("client_report", self.slug)

    @property
    def schedule_url(self) -> str:
        return _by_slug("tenant_schedule", self.slug)

    @property
    def refresh_url(self) -> str:
        return _by_slug("licences_refresh", self.slug)

    @property
    def drift_url(self) -> str:
        return _by_slug("drift_report", self.slug)

    @property
    def asks_url(self) -> str:
        return _by_slug("action_request_list", self.slug)

    @property
    def failure_url(self) -> str:
        if self.latest_failure is None:
            return ""
        anchor = f"#step-{self.failed_step.order}" if self.failed_step else ""
        return _job_pattern().replace(_JOB_PLACEHOLDER, str(self.latest_failure)) + anchor

    @property
    def today_breakdown(self) -> list[tuple[str, int, str]]:
        return _breakdown(self.today)

    @property
    def week_breakdown(self) -> list[tuple[str, int, str]]:
        return _breakdown(self.week)

    @property
    def today_total(self) -> int:
        return sum(self.today.values())

    @property
    def week_total(self) -> int:
        return sum(self.week.values())

    @property
    def min_free(self) -> int | None:
        return min((s.free for s in self.licences), default=None)

    @property
    def attention(self) -> int:
        """A rough weight for the default order: broken things first."""
        return (
            10 * len(self.quarantined)
            + 5 * self.failures
            + 3 * len(self.expiring)
            + 2 * self.pending_approvals
            + self.throttled
            + self.held
        )


def _per_tenant(queryset) -> Coalesce:
    """A count of `queryset`'s rows of each tenant, as a column of the tenants' query."""
    counted = queryset.filter(tenant=OuterRef("pk")).order_by().values("tenant")
    counted = counted.annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


DRIFT_FIGURES = {
    "drift_open": _per_tenant(Drift.objects.filter(status=Drift.Status.OPEN)),
    "drift_converging": _per_tenant(Drift.objects.filter(status=Drift.Status.CONVERGING)),
    "unmanaged": _per_tenant(Person.objects.filter(queries_drift.UNMANAGED)),
    # what the tenant's client admins asked the MSP to do (onboard, offboard), not yet handled
    "asks_open": _per_tenant(ActionRequest.objects.filter(status=ActionRequest.Status.OPEN)),
    # directories with no finished full read: their drift and unmanaged people are unknown
    "unread": _per_tenant(
        DirectoryConnection.objects.filter(inventory_cursor__full_read_at__isnull=True)
    ),
}


# How a count of jobs by status reads in a cell: (label, statuses, badge class).
BUCKETS = (
    ("done", (Job.Status.SUCCEEDED,), "ok"),
    ("failed", FAILED, "bad"),
    ("needs a choice", (Job.Status.NEEDS_CHOICE,), "warn"),
    ("in progress", IN_PROGRESS, "info"),
    ("planned", (Job.Status.SCHEDULED, Job.Status.HELD), ""),
    ("cancelled", (Job.Status.CANCELLED,), ""),
)


_SLUG_PLACEHOLDER, _JOB_PLACEHOLDER = "slug-placeholder", "987654321"


@functools.cache
def _slug_pattern(name: str) -> str:
    return reverse(name, kwargs={"tenant": _SLUG_PLACEHOLDER})


@functools.cache
def _job_pattern() -> str:
    return reverse("job_detail", kwargs={"job_id": int(_JOB_PLACEHOLDER)})


def _by_slug(name: str, slug: str) -> str:
    return _slug_pattern(name).replace(_SLUG_PLACEHOLDER, slug)


def _breakdown(counts: dict[str, int]) -> list[tuple[str, int, str]]:
    found = [
        (label, sum(counts.get(s, 0) for s in statuses), css) for label, statuses, css in BUCKETS
    ]
    return [b for b in found if b[1]]


@dataclass
class Dashboard:
    rows: list[TenantRow]
    attention: list[FailedJob]
    tags: list[str]
    tag: str | None
    sort: str
    generated_at: datetime
    today_start: datetime
    week_start: datetime

    @property
    def quarantines(self) -> list[tuple[TenantRow, ConnectionState]]:
        return [(r, c) for r in self.rows for c in r.quarantined]

    def _sum(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.rows)

    @property
    def today_total(self) -> int:
        return self._sum("today_total")

    @property
    def week_total(self) -> int:
        return self._sum("week_total")

    @property
    def failure_total(self) -> int:
        return self._sum("failures")

    @property
    def approval_total(self) -> int:
        return self._sum("pending_approvals")

    @property
    def asks_total(self) -> int:
        return self._sum("asks_open")

    @property
    def ask_rows(self) -> list[TenantRow]:
        """Tenants whose client admins asked for something not yet handled, most first."""
        found = [r for r in self.rows if r.asks_open]
        return sorted(found, key=lambda r: (-r.asks_open, r.name.casefold()))

    @property
    def joiner_total(self) -> int:
        return self._sum("joiners_next")

    @property
    def leaver_total(self) -> int:
        return self._sum("leavers_next")

    @property
    def drift_rows(self) -> list[TenantRow]:
        """Tenants with open drift or unmanaged in-scope people, most open drift first."""
        found = [r for r in self.rows if r.drift_open or r.drift_converging or r.unmanaged]
        return sorted(found, key=lambda r: (-r.drift_open, -r.unmanaged, r.name.casefold()))

    @property
    def drift_total(self) -> int:
        return self._sum("drift_open")

    @property
    def unmanaged_total(self) -> int:
        return self._sum("unmanaged")

    @property
    def unread_total(self) -> int:
        return self._sum("unread")


def build_dashboard(user, tag: str | None = None, sort: str | None = None) -> Dashboard:
    """The dashboard of the tenants `user` may see, optionally only those tagged `tag`."""
    now = timezone.now()
    local = timezone.localtime(now)
    today_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week_start = today_start - timedelta(days=today_start.weekday())
    visible = list(access.tenants_for(user).values("id", "slug", "name", "tags", **DRIFT_FIGURES))
    tags = sorted({t for row in visible for t in (row["tags"] or [])}, key=str.casefold)
    chosen = [r for r in visible if not tag or tag in (r["tags"] or [])]
    rows = {
        r["id"]: TenantRow(r["id"], r["slug"], r["name"], list(r["tags"] or [])) for r in chosen
    }
    sees_all = _sees_all(user) and not tag
    scope = Q() if sees_all else Q(tenant_id__in=list(rows))
    board = Dashboard([], [], tags, tag, sort or DEFAULT_SORT, now, today_start, week_start)
    if rows:
        _add_recent_jobs(rows, scope, now, today_start, week_start)
        _add_open_jobs(rows, scope, now)
        _add_connections(rows, scope, now)
        _add_approvals(rows, scope)
        _add_drift(rows, chosen)
        board.attention = _attention(rows, scope, now)
        _add_licences(rows)
    board.rows = _sorted(list(rows.values()), board.sort)
    return board


def _sees_all(user) -> bool:
    return access.sees_every_tenant(user)


def _add_recent_jobs(rows, scope, now, today_start, week_start) -> None:
    """Jobs made today and this week, by status, and the failures of the window: a failed
    job made or ended in it, as "Failures needing attention" lists them (a hard delete is
    made a grace period before it runs and fails)."""
    # The failure window is the longer one (a week starts at most 7 days back).
    since = min(week_start, now - timedelta(days=FAILURE_WINDOW_DAYS))
    ended_failed = Q(status__in=FAILED, finished_at__gte=since)
    grouped = (
        Job.objects.filter(scope)
        .filter(Q(created_at__gte=since) | ended_failed)
        .values("tenant_id", "status")
        .annotate(
            today=Count("id", filter=Q(created_at__gte=today_start)),
            week=Count("id", filter=Q(created_at__gte=week_start)),
            failed=Count("id"),
            latest=Max("id"),
        )
        .order_by()
    )
    for g in grouped:
        row = rows.get(g["tenant_id"])
        if row is None:
            continue
        if g["today"]:
            row.today[g["status"]] += g["today"]
        if g["week"]:
            row.week[g["status"]] += g["week"]
        if g["status"] in FAILED and g["failed"]:
            row.failures += g["failed"]
            row.latest_failure = max(row.latest_failure or 0, g["latest"])


def _add_open_jobs(rows, scope, now) -> None:
    """Waiting (throttled or quarantined) and held jobs, and the next week's schedule."""
    soon = now + timedelta(days=SCHEDULE_WINDOW_DAYS)
    grouped = (
        Job.objects.filter(scope)
        .filter(
            Q(status__in=[Job.Status.WAITING, Job.Status.HELD])
            | Q(status=Job.Status.SCHEDULED, not_before__lte=soon)
        )
        .values("tenant_id", "status", "kind")
        .annotate(n=Count("id"), enabling=Count("id", filter=Q(options__enable=True)))
        .order_by()
    )
    for g in grouped:
        row = rows.get(g["tenant_id"])
        if row is None:
            continue
        if g["status"] == Job.Status.WAITING:
            row.throttled += g["n"]
        elif g["status"] == Job.Status.HELD:
            row.held += g["n"]
        elif g["kind"] == Job.Kind.JOIN:
            row.joiners_next += g["n"]
        elif g["kind"] == Job.Kind.CHANGE:
            row.joiners_next += g["enabling"]  # a joiner created ahead starts by enabling
            row.movers_next += g["n"] - g["enabling"]
        elif g["kind"] == Job.Kind.LEAVE:
            row.leavers_next += g["n"]


BREAKER_FIELDS = tuple(
    f"breaker__{name}"
    for name in ("held", "probe_failures", "last_probe_at", "last_probe_ok", "last_probe_message")
)


def _breaker(values: dict) -> ConnectionBreaker:
    """The breaker row read along with its connection (an unsaved default when it has none)."""
    fields = {name.removeprefix("breaker__"): values[name] for name in BREAKER_FIELDS}
    return ConnectionBreaker(**{k: v for k, v in fields.items() if v is not None})


def _add_connections(rows, scope, now) -> None:
    today = timezone.localdate(now)
    paused = set(
        ConnectionBucket.objects.filter(paused_until__gt=now).values_list(
            "connection_id", flat=True
        )
    )
    connections = DirectoryConnection.objects.filter(scope).values(
        "id",
        "tenant_id",
        "kind",
        "quarantined_at",
        "quarantine_reason",
        "secret_expires_on",
        "credential_expiry_read",
        *BREAKER_FIELDS,
    )
    labels = dict(DirectoryConnection.Kind.choices)
    for c in connections:
        row = rows.get(c["tenant_id"])
        if row is None:
            continue
        kind = labels.get(c["kind"], c["kind"])
        if c["kind"] == DirectoryConnection.Kind.ENTRA:
            row.entra_ids.append(c["id"])
        if c["quarantined_at"]:
            row.quarantined.append(
                ConnectionState(
                    kind,
                    since=c["quarantined_at"],
                    reason=c["quarantine_reason"],
                    breaker=breaker_state(c["quarantined_at"], c["quarantine_reason"], _breaker(c)),
                )
            )
        if c["id"] in paused:
            row.throttled += 1
        read = c["credential_expiry_read"]  # the directory's date wins over the typed-in one
        expires = timezone.localdate(read) if read else c["secret_expires_on"]
        if expires and (expires - today).days <= EXPIRY_WINDOW_DAYS:
            row.expiring.append(
                ConnectionState(kind, expires_on=expires, days=(expires - today).days)
            )


def _add_approvals(rows, scope) -> None:
    pending = (
        AccessRequest.objects.filter(scope, status=AccessRequest.Status.PENDING)
        .values("tenant_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for g in pending:
        if g["tenant_id"] in rows:
            rows[g["tenant_id"]].pending_approvals = g["n"]


def _add_drift(rows, tenants: list[dict]) -> None:
    """Open and converging drift items, and in-scope people nobody manages, per tenant (read
    with the tenants themselves: DRIFT_FIGURES)."""
    for figures in tenants:
        row = rows[figures["id"]]
        row.drift_open, row.drift_converging = figures["drift_open"], figures["drift_converging"]
        row.unmanaged, row.unread = figures["unmanaged"], figures["unread"]
        row.asks_open = figures["asks_open"]


def _attention(rows, scope, now) -> list[FailedJob]:
    """The newest failed jobs, and the first failed step of each (and of each row's latest).
    A job counts as recent when it was made or ended in the window: a hard delete is made when
    the leave is verified, the grace period (30 days by default) before it runs and fails.
    A failed hard delete that is still the person's newest comes first, whatever its age: the
    disabled account is still in the directory, and no periodic check looks at a person
    whose desired state is deleted (leftover1)."""
    since = now - timedelta(days=FAILURE_WINDOW_DAYS)
    newer_delete = Job.objects.filter(
        identity=OuterRef("identity"), kind=Job.Kind.DELETE, pk__gt=OuterRef("pk")
    )
    holding = Q(kind=Job.Kind.DELETE, identity__status=Identity.Status.DELETED, newer=False)
    recent = (
        Job.objects.filter(scope, status__in=FAILED)
        .annotate(newer=Exists(newer_delete))
        .filter(Q(created_at__gte=since) | Q(finished_at__gte=since) | holding)
        .annotate(holds=Case(When(holding, then=1), default=0, output_field=IntegerField()))
        .select_related("tenant", "identity")
        .order_by("-holds", "-created_at", "-pk")[:ATTENTION_LIMIT]
    )
    failed = [
        FailedJob(
            j.pk,
            j.tenant.name,
            j.tenant.slug,
            j.label,
            j.get_status_display(),
            j.identity.display_name if j.identity else "",
            j.created_at,
            retry=leave_retries.state_of(j),
        )
        for j in recent
        if j.tenant_id in rows
    ]
    wanted = {f.id for f in failed} | {r.latest_failure for r in rows.values() if r.latest_failure}
    steps = _first_failed_steps(wanted)
    for f in failed:
        f.step = steps.get(f.id)
    for row in rows.values():
        row.failed_step = steps.get(row.latest_failure)
    return failed


def _first_failed_steps(job_ids: set[int]) -> dict[int, FailedStep]:
    if not job_ids:
        return {}
    first: dict[int, FailedStep] = {}
    labels = dict(Step.Action.choices)
    failed = (
        Step.objects.filter(job_id__in=job_ids, status=Step.Status.FAILED)
        .order_by("job_id", "order")
        .values_list("job_id", "order", "action", "target_name", "last_error")
    )
    licences = (Step.Action.ASSIGN_LICENSE, Step.Action.REMOVE_LICENSE)
    for job_id, order, action, target, error in failed:
        if job_id in first:
            continue
        named = licence_words(target) if action in licences else target
        first[job_id] = FailedStep(job_id, order, labels.get(action, action), named, error)
    return first


def _add_licences(rows) -> None:
    snapshots = snapshots_for(pk for row in rows.values() for pk in row.entra_ids)
    for row in rows.values():
        for pk in row.entra_ids:
            snapshot = snapshots.get(pk)
            if snapshot is None:
                continue
            row.licences.extend(snapshot.skus)
            if snapshot.read_at and (
                row.licences_read_at is None or snapshot.read_at < row.licences_read_at
            ):
                row.licences_read_at = snapshot.read_at  # the oldest reading shown
            row.licences_error = row.licences_error or snapshot.error


def _sorted(rows: list[TenantRow], sort: str) -> list[TenantRow]:
    key = sort.lstrip("-")
    if key not in SORTS:
        key, sort = DEFAULT_SORT, DEFAULT_SORT
    return sorted(rows, key=SORTS[key], reverse=sort.startswith("-"))
