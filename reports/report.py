"""A client's provisioning report for a period, read in a constant number of queries.

A period runs from the start of its first day to the end of its last, in the tenant's time
zone. Jobs count in the period they finished in; access requests in the period they were
decided in. Every figure is worked out here, in Python, over the rows read once.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from math import floor
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.utils import timezone

from provisioning.inventory.stale import LicenceWaste, licence_waste
from provisioning.models import AccessRequest, Job, Step
from reports.licences import SkuSeats, Snapshot, snapshots_for
from tenants.clock import start_of_day, tenant_date, tenant_zone
from tenants.models import DirectoryConnection, Tenant

GRANTED = (
    AccessRequest.Status.GRANTED,
    AccessRequest.Status.ENDING,
    AccessRequest.Status.ENDED,
    AccessRequest.Status.REVOKED,
)
FAILED = (Job.Status.FAILED, Job.Status.PARTIAL)
LICENCE_ACTIONS = (Step.Action.ASSIGN_LICENSE, Step.Action.REMOVE_LICENSE, Step.Action.SET_LICENSES)
JOB_LABELS = dict(Job.Kind.choices)
JOB_STATUS = dict(Job.Status.choices)
REQUEST_STATUS = dict(AccessRequest.Status.choices)
STEP_LABELS = dict(Step.Action.choices)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th quantile (0..1) by linear interpolation between the nearest ranks, as
    PostgreSQL's percentile_cont computes it; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Stats:
    """Durations in seconds."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, seconds: list[float]) -> Stats:
        return cls(len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.9))


@dataclass
class JobRow:
    id: int
    kind: str
    status: str
    person: str
    requested_at: datetime
    finished_at: datetime
    seconds: float
    runs: int
    asked_by: str = ""  # who asked for it ("" for the system: a schedule, the HR feed)
    read_back_at: datetime | None = None  # the read that found every directory so


@dataclass
class RequestRow:
    id: int
    person: str
    resource: str
    status: str
    requested_at: datetime
    decided_at: datetime | None
    decided_by: str
    seconds: float | None  # request -> grant job done, for granted requests
    granted: bool = False  # the access was given (a request revoked before is not)


@dataclass
class FailureRow:
    job_id: int
    job_kind: str
    person: str
    order: int
    action: str
    target: str
    error: str
    finished_at: datetime


@dataclass
class WeekBar:
    start: date
    joiners: int = 0
    leavers: int = 0


@dataclass
class LicenceSeries:
    sku: str
    points: list[tuple[date, int]]
    total: int | None = None
    used_now: int | None = None
    at_start: int = 0

    @property
    def free_now(self) -> int | None:
        return None if self.total is None or self.used_now is None else self.total - self.used_now

    @property
    def over(self) -> int:
        """Seats in use beyond those bought (0 when there are free ones or nothing is known)."""
        return max(0, -(self.free_now or 0))

    @property
    def change(self) -> int | None:
        return self.points[-1][1] - self.at_start if self.points else None


@dataclass
class Report:
    tenant: Tenant
    start: date
    end: date
    generated_at: datetime
    joiners: list[JobRow] = field(default_factory=list)
    movers: list[JobRow] = field(default_factory=list)
    leavers: list[JobRow] = field(default_factory=list)
    failed_jobs: list[JobRow] = field(default_factory=list)
    retried_jobs: list[JobRow] = field(default_factory=list)
    failed_steps: list[FailureRow] = field(default_factory=list)
    retried_steps: int = 0
    requests: list[RequestRow] = field(default_factory=list)
    requests_received: int = 0
    requests_waiting: int = 0  # made in the period, no decision yet (not in `requests`)
    job_times: Stats = Stats(0, None, None)
    request_times: Stats = Stats(0, None, None)
    weeks: list[WeekBar] = field(default_factory=list)
    licences: list[LicenceSeries] = field(default_factory=list)
    licences_read_at: datetime | None = None
    # Directories that sell licence SKUs (Entra); Okta bills per person and has none.
    licence_directories: int = 0
    # Seats nobody uses, as the inventory's last reads show them now (not over the period).
    licence_waste: LicenceWaste | None = None

    @property
    def licence_note(self) -> str:
        """Why the licence card has no line, in one sentence; "" when it has one."""
        if any(s.points for s in self.licences):
            return ""
        if self.licences:
            return "No licences to show: the period has not started yet."
        if not self.licence_directories:
            return (
                "No licences to show: this client's directories sell no licence SKUs "
                "(Okta bills per person)."
            )
        if self.licences_read_at is None:
            return (
                "No licences to show yet: the directory's licences have not been read, "
                "and the portal assigned none in this period."
            )
        return "No licences to show: the directory has no licence SKUs."

    @property
    def people(self) -> list[JobRow]:
        return sorted(self.joiners + self.movers + self.leavers, key=lambda r: r.finished_at)

    @property
    def people_not_read_back(self) -> bool:
        """Some joiner, mover or leaver ended before the engine read its directories back."""
        return any(row.read_back_at is None for row in self.people)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def requests_with(self, *statuses: str) -> int:
        labels = {REQUEST_STATUS[s] for s in statuses}
        return sum(1 for r in self.requests if r.status in labels)

    @property
    def granted(self) -> int:
        return sum(1 for r in self.requests if r.granted)

    @property
    def denied(self) -> int:
        return self.requests_with(AccessRequest.Status.DENIED)

    @property
    def expired(self) -> int:
        return self.requests_with(AccessRequest.Status.EXPIRED)

    @property
    def grant_failed(self) -> int:
        return self.requests_with(AccessRequest.Status.FAILED)


def build_report(tenant: Tenant, start: date, end: date) -> Report:
    """The report of `tenant` from the first moment of `start` to the last of `end`."""
    begin, until = start_of_day(tenant, start), start_of_day(tenant, end + timedelta(days=1))
    report = Report(tenant, start, end, timezone.now())
    _add_jobs(report, begin, until)
    _add_steps(report, begin, until)
    _add_requests(report, begin, until)
    report.weeks = _weeks(report, tenant_zone(tenant))
    report.licence_waste = licence_waste(tenant)
    _add_licences(report, begin, until)
    return report


def _add_jobs(report: Report, begin: datetime, until: datetime) -> None:
    jobs = (
        Job.objects.filter(
            tenant=report.tenant,
            created_at__lt=until,  # lets the (tenant, created_at) index bound the scan
            finished_at__gte=begin,
            finished_at__lt=until,
        )
        .values(
            "id",
            "kind",
            "status",
            "created_at",
            "not_before",
            "finished_at",
            "runs",
            "options__enable",
            "identity__display_name",
            "requested_by__username",
            "requested_by__first_name",
            "requested_by__last_name",
            "verification__read_at",
        )
        .order_by("finished_at", "id")
    )
    for j in jobs:
        # A scheduled job is timed from when it was due, not from when it was booked.
        asked = max(j["created_at"], j["not_before"] or j["created_at"])
        row = JobRow(
            j["id"],
            JOB_LABELS.get(j["kind"], j["kind"]),
            JOB_STATUS.get(j["status"], j["status"]),
            j["identity__display_name"] or "",
            asked,
            j["finished_at"],
            max(0.0, (j["finished_at"] - asked).total_seconds()),
            j["runs"],
            _asker(j),
            _moment(j["verification__read_at"]),
        )
        succeeded = j["status"] == Job.Status.SUCCEEDED
        if succeeded and j["kind"] == Job.Kind.JOIN:
            report.joiners.append(row)
        elif succeeded and j["kind"] == Job.Kind.CHANGE and not j["options__enable"]:
            report.movers.append(row)
        elif succeeded and j["kind"] == Job.Kind.LEAVE:
            report.leavers.append(row)
        if j["status"] in FAILED:
            report.failed_jobs.append(row)
        if j["runs"] > 1 or j["kind"] == Job.Kind.RETRY:
            report.retried_jobs.append(row)
    done = report.joiners + report.movers + report.leavers
    report.job_times = Stats.of([r.seconds for r in done])


def _asker(job: dict) -> str:
    # A job nobody asked for (a schedule, the HR feed) joins no user: every name is None.
    name = f"{job['requested_by__first_name'] or ''} {job['requested_by__last_name'] or ''}".strip()
    return name or job["requested_by__username"] or ""


def _moment(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def _add_steps(report: Report, begin: datetime, until: datetime) -> None:
    """Failed steps, and steps that took more than one attempt, of the period's jobs."""
    steps = (
        Step.objects.filter(
            job__tenant=report.tenant,
            job__created_at__lt=until,
            job__finished_at__gte=begin,
            job__finished_at__lt=until,
        )
        .filter(Q(status=Step.Status.FAILED) | Q(attempts__gt=1))
        .values(
            "job_id",
            "order",
            "action",
            "status",
            "target_name",
            "last_error",
            "job__kind",
            "job__identity__display_name",
            "job__finished_at",
        )
        .order_by("job__finished_at", "job_id", "order")
    )
    for s in steps:
        if s["status"] != Step.Status.FAILED:
            report.retried_steps += 1
            continue
        report.failed_steps.append(
            FailureRow(
                s["job_id"],
                JOB_LABELS.get(s["job__kind"], s["job__kind"]),
                s["job__identity__display_name"] or "",
                s["order"],
                STEP_LABELS.get(s["action"], s["action"]),
                s["target_name"],
                s["last_error"],
                s["job__finished_at"],
            )
        )


def _add_requests(report: Report, begin: datetime, until: datetime) -> None:
    requests = (
        AccessRequest.objects.filter(tenant=report.tenant)
        .filter(
            Q(decided_at__gte=begin, decided_at__lt=until)
            | Q(created_at__gte=begin, created_at__lt=until)
        )
        .values(
            "id",
            "status",
            "created_at",
            "decided_at",
            "decided_by_rule",
            "decided_by__first_name",
            "decided_by__last_name",
            "decided_by__username",
            "resource__name",
            "identity__display_name",
            "grant_job__finished_at",
            "end_job__created_at",
        )
        .order_by("decided_at", "id")
    )
    times = []
    for r in requests:
        if begin <= r["created_at"] < until:
            report.requests_received += 1
            report.requests_waiting += r["decided_at"] is None
        if not r["decided_at"] or not begin <= r["decided_at"] < until:
            continue
        seconds, granted = None, _was_granted(r)
        if granted and r["grant_job__finished_at"]:
            seconds = max(0.0, (r["grant_job__finished_at"] - r["created_at"]).total_seconds())
            times.append(seconds)
        report.requests.append(
            RequestRow(
                r["id"],
                r["identity__display_name"],
                r["resource__name"],
                _outcome(r["status"], granted),
                r["created_at"],
                r["decided_at"],
                _decider(r),
                seconds,
                granted,
            )
        )
    report.request_times = Stats.of(times)


TAKEN_BACK = {
    AccessRequest.Status.ENDING: "Granted, ending",
    AccessRequest.Status.ENDED: "Granted, since ended",
    AccessRequest.Status.REVOKED: "Granted, since revoked",
}


def _outcome(status: str, granted: bool) -> str:
    """A grant taken back says it was given: its row's Decided and By are the approval's."""
    if granted and status in TAKEN_BACK:
        return TAKEN_BACK[status]
    return REQUEST_STATUS.get(status, status)


def _was_granted(r: dict) -> bool:
    """Given, not only approved: a revoke asked before its grant job ended (the request
    revoked while approved) took it back before it was given."""
    if r["status"] not in GRANTED:
        return False
    given, taken_back = r["grant_job__finished_at"], r["end_job__created_at"]
    return taken_back is None or (given is not None and given <= taken_back)


def _decider(r: dict) -> str:
    """In the words of the request's own page (templates/access/request_detail.html)."""
    if r["decided_by_rule"]:
        return f"the rule: {r['decided_by_rule']}"
    name = f"{r['decided_by__first_name'] or ''} {r['decided_by__last_name'] or ''}".strip()
    return name or r["decided_by__username"] or "the system"


def _weeks(report: Report, zone: ZoneInfo) -> list[WeekBar]:
    """Joiners and leavers per week (weeks start on Monday), every week of the period."""
    first = report.start - timedelta(days=report.start.weekday())
    bars = {}
    monday = first
    while monday <= report.end:
        bars[monday] = WeekBar(monday)
        monday += timedelta(days=7)
    for rows, attr in ((report.joiners, "joiners"), (report.leavers, "leavers")):
        for row in rows:
            day = row.finished_at.astimezone(zone).date()
            bar = bars.get(day - timedelta(days=day.weekday()))
            if bar is not None:
                setattr(bar, attr, getattr(bar, attr) + 1)
    for bar in bars.values():  # the first week is shown from the period's first day
        bar.start = max(bar.start, report.start)
    return list(bars.values())


def _add_licences(report: Report, begin: datetime, until: datetime) -> None:
    """Seats in use per SKU at the end of each day.

    Anchored on the last reading of the directory (the dashboard's snapshot) and walked back
    and forward through the licence assignments and removals the portal made; without a
    reading, the line is the portal's net change from 0 at the start of the period.
    Changes made outside the portal are not in it, so the page labels it as such.
    """
    ids = DirectoryConnection.objects.filter(
        tenant=report.tenant, kind=DirectoryConnection.Kind.ENTRA
    ).values_list("id", flat=True)
    report.licence_directories = len(ids)
    snapshots = [s for s in snapshots_for(list(ids)).values() if s.read_at]
    # A directory the dashboard has not read has its seats from the inventory's last read.
    read = {s.connection_id for s in snapshots}
    waste = report.licence_waste
    counted = [s for s in (waste.skus if waste else []) if s.connection_id not in read]
    if counted and waste.read_at:
        seats = tuple(SkuSeats(s.name, s.total, s.consumed) for s in counted)
        snapshots.append(Snapshot(counted[0].connection_id, waste.read_at, seats))
    read_at = min((s.read_at for s in snapshots), default=None)
    report.licences_read_at = read_at
    moves = _licence_moves(report.tenant, min(begin, read_at) if read_at else begin)
    seats = {sku.name: sku for s in snapshots for sku in s.skus}
    now = timezone.now()
    today = tenant_date(report.tenant, now)
    days = [report.start + timedelta(days=i) for i in range(report.days)]
    days = [d for d in days if d <= today]
    ends = [min(start_of_day(report.tenant, d + timedelta(days=1)), now) for d in days]
    for name in sorted(set(seats) | set(moves), key=str.casefold):
        net = _NetMoves(moves.get(name, []))
        sku = seats.get(name)
        # With a reading, seats at a moment = the reading, moved by the portal's changes
        # between the reading and that moment; without one, the net change from 0.
        anchor = sku.consumed - net.until(read_at) if sku else -net.until(begin)
        report.licences.append(
            LicenceSeries(
                name,
                [(d, anchor + net.until(e)) for d, e in zip(days, ends, strict=True)],
                sku.total if sku else None,
                sku.consumed if sku else None,
                at_start=anchor + net.until(begin),
            )
        )


class _NetMoves:
    """Seats assigned minus seats removed by the portal up to a moment (bisect on the times)."""

    def __init__(self, moves: list[tuple[datetime, int]]) -> None:
        self.times = [when for when, _ in moves]
        self.running = list(accumulate(delta for _, delta in moves))

    def until(self, moment: datetime) -> int:
        i = bisect_right(self.times, moment)
        return self.running[i - 1] if i else 0


def _licence_moves(tenant: Tenant, since: datetime) -> dict[str, list[tuple[datetime, int]]]:
    """SKU name -> (when, +1 assigned / -1 removed), in time order, for the portal's steps."""
    steps = (
        Step.objects.filter(
            job__tenant=tenant,
            job__finished_at__gte=since,  # implied by the step's, and lets the plan start at jobs
            action__in=LICENCE_ACTIONS,
            status=Step.Status.SUCCEEDED,
            finished_at__gte=since,
        )
        .order_by("finished_at")
        .values_list("target_name", "action", "finished_at", "params")
    )
    moves: dict[str, list[tuple[datetime, int]]] = {}
    for name, action, finished, params in steps:
        if action == Step.Action.SET_LICENSES:  # a swap in one call: each SKU moves
            for added in params.get("added", []):
                moves.setdefault(added, []).append((finished, 1))
            for removed in params.get("removed", []):
                moves.setdefault(removed, []).append((finished, -1))
            continue
        sign = 1 if action == Step.Action.ASSIGN_LICENSE else -1
        moves.setdefault(name, []).append((finished, sign))
    return moves


def month_headlines(tenants, month_start: date) -> dict[int, dict[str, int]]:
    """Tenant id -> joiners, movers and leavers done since `month_start`, in one query."""
    since = timezone.make_aware(datetime.combine(month_start, datetime.min.time()))
    grouped = (
        Job.objects.filter(
            tenant__in=tenants,
            status=Job.Status.SUCCEEDED,
            kind__in=[Job.Kind.JOIN, Job.Kind.CHANGE, Job.Kind.LEAVE],
            finished_at__gte=since,
        )
        .values("tenant_id", "kind")
        .annotate(n=Count("id"), enabling=Count("id", filter=Q(options__enable=True)))
        .order_by()
    )
    found: dict[int, dict[str, int]] = {}
    for g in grouped:
        # A joiner created ahead is enabled by a CHANGE on their first day: not a mover.
        found.setdefault(g["tenant_id"], {})[g["kind"]] = g["n"] - g["enabling"]
    return found
