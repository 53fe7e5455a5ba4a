"""The single onboarding form's dry run (`services.preview_onboarding`), for every row of a
file at once: each directory's lookups for all rows in one read (a SCIM app's from one
listing of its users, where that is cheaper than a lookup per row), its catalogues and the
tenant's attribute mappings read once, and the seats of each licence counted across the
rows in file order — five rows wanting the last three seats leave two rows without one, as
the directory would.

A row whose plan has a blocking problem (no free seat, an unknown group or app, an address
that someone in the directory holds) is not ready: it shows the problem and the choices the
single form offers, and waits for one (`row.data["choice"]`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from provisioning import seats, services
from provisioning.connectors import bridge
from provisioning.connectors.base import Answered, Resource
from provisioning.connectors.errors import ConnectorError
from provisioning.connectors.factory import connector_for
from provisioning.engine import licences, memo, planner, upn_domains
from provisioning.engine.planner import AccountView
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity
from tenants.crypto import CredentialError
from tenants.models import RoleTemplate, Tenant

READ_TIMEOUT_S = 120.0
SKIP = "skip"


@dataclass
class RowChoice:
    """What the technician chose for a row: licences (SKU -> replacement, "" to go without),
    or to leave the row out."""

    licenses: dict[str, str] = field(default_factory=dict)
    skip: bool = False

    @classmethod
    def of(cls, data: dict) -> RowChoice:
        stored = data.get("choice") or {}
        return cls(dict(stored.get("licenses", {})), bool(stored.get("skip")))

    def as_dict(self) -> dict:
        return {"licenses": self.licenses, "skip": self.skip}


class _Directory:
    """One connection for the whole file: its connector, what it answered for every row's
    lookups, and the seats earlier rows took."""

    def __init__(self, connection):
        self.connection = connection
        self.answers: dict = {}
        self.error: ConnectorError | TimeoutError | None = None
        self.taken: Counter = Counter()
        try:
            self.connector = connector_for(connection)
        except CredentialError:
            self.connector = None

    def prefetch(self, desired_states: list) -> None:
        """The reads of every row's plan, made now; `desired_states`: the rows in this
        connection (its mappings applied; in an app, present only where a template gives it)."""
        if self.connector is None:
            return
        reads = list(
            dict.fromkeys(
                read
                for desired in desired_states
                for read in planner.reads_for(self.connector, desired, AccountView())
            )
        )
        if not reads:
            return
        try:
            self.answers = bridge.run(self._read(reads), timeout=READ_TIMEOUT_S)
        except (ConnectorError, TimeoutError) as exc:  # a big app's listing may take long
            self.error = exc  # every row's dry run says it, as the form's would

    async def _read(self, reads: list) -> dict:
        if getattr(self.connector, "read_ahead", None) is not None:
            return await self.connector.read_ahead(reads)
        if getattr(self.connector, "find_users", None) is not None:
            return await _listed(self.connector, reads)
        return {}

    def for_row(self, _connection):
        if self.connector is None:
            return connector_for(self.connection)  # raises the CredentialError for the row
        return _RowConnector(self)

    def take_seats(self, plan: planner.Plan) -> None:
        for step in plan.steps:
            if step.action == planner.ASSIGN_LICENSE:
                self.taken[step.target_name] += 1
            elif step.action == licences.SET_LICENSES:
                self.taken.update(step.params.get("added", []))


class _RowConnector(Answered):
    """The connector as one row's plan sees it: lookups answered from the file's read, and
    seats less those that earlier rows of the file take."""

    def __init__(self, directory: _Directory):
        super().__init__(directory.connector, directory.answers)
        self._directory = directory

    async def read_ahead(self, reads: list) -> dict:
        if self._directory.error is not None:
            raise self._directory.error
        known = {read: self._answers[read] for read in reads if read in self._answers}
        rest = [read for read in reads if read not in known]
        # A connector that reads as it is asked (a SCIM app whose listing would cost more
        # than its lookups) answers the rest when the plan calls its methods.
        if rest and getattr(self._connector, "read_ahead", None) is not None:
            known |= await self._connector.read_ahead(rest)
        return known

    async def licenses(self, fresh: bool = False) -> list[Resource]:
        taken = self._directory.taken
        skus = await self._connector.licenses(fresh)
        return [
            Resource(sku.id, sku.name, {**sku.detail, "consumed": used + taken[sku.name]})
            for sku in skus
            for used in [sku.detail["consumed"]]
        ]


async def _listed(connector, reads: list) -> dict:
    """A SCIM app's lookups (`find_user`, and `access_of` for whom it finds) answered from one
    listing of its users; none where the listing would cost more (each row asks)."""
    usernames = [read[1] for read in reads if read[0] == "find_user"]
    found = await connector.find_users(usernames) if usernames else None
    answers: dict = {}
    for username, held in (found or {}).items():
        user, access = held or (None, None)
        answers[("find_user", username)] = user
        if user is not None:
            answers[("access_of", user.id)] = access
    return answers


def needs_choice(row) -> bool:
    """The row's dry run found a problem and no choice has set it aside yet."""
    return not row.errors and bool(row.data.get("problems")) and not RowChoice.of(row.data).skip


def ready(row) -> bool:
    """The row will be queued: no error, no problem left, not left out by choice."""
    return not row.errors and not row.data.get("problems") and not RowChoice.of(row.data).skip


def onboarding_request(row_data: dict, templates: dict[int, RoleTemplate]):
    """The single form's request for a checked row, with the row's licence choices."""
    cells = row_data["input"]
    attributes = {
        name: cells[name].upper() if name == "usage_location" else cells[name]
        for name in ("department", "job_title", "office", "usage_location")
        if cells.get(name)
    }
    return services.OnboardingRequest(
        first_name=cells["first_name"],
        last_name=cells["last_name"],
        role_templates=[templates[pk] for pk in row_data["role_ids"]],
        start_date=date.fromisoformat(row_data["start_date"]),
        username=row_data["username"],
        attributes=attributes,
        employee_id=cells.get("employee_id", ""),
        license_choices=RowChoice.of(row_data).licenses,
    )


def check(tenant: Tenant, rows: list) -> list[str]:
    """Dry-run every row without errors that is not left out by choice; each gets
    `data["problems"]` (blocking, with the connection's kind) and `data["availability"]` (the
    free seats its plan saw, for the choices). `rows`: objects with `.data` and `.errors`.
    Returns the file's notes: a directory that could not be read does not block the rows
    (as for usernames, each job checks again before it creates anything)."""
    templates = {t.pk: t for t in RoleTemplate.objects.filter(tenant=tenant)}
    checked = [r for r in rows if not r.errors and not RowChoice.of(r.data).skip]
    for row in rows:
        row.data.pop("problems", None)
        row.data.pop("availability", None)
        row.data.pop("plan", None)
        row.data.pop("plan_summary", None)
        row.data.pop("seats_counted", None)
    connections = list(tenant.connections.order_by("kind"))
    if not checked or not connections:
        return []
    requests = [onboarding_request(row.data, templates) for row in checked]
    directories = {c.pk: _Directory(c) for c in connections}
    with memo.one_run():  # the tenant's mappings and settings: read once for the file
        for directory in directories.values():
            directory.prefetch(
                [services.joiner_in(tenant, r, r.username, directory.connection) for r in requests]
            )
        unread, warned = _preview_rows(tenant, checked, requests, connections, directories)
    return [
        f"{kind} could not be read ({error}), so seats, groups and apps were not checked there; "
        "each job checks again before it changes anything."
        for kind, error in unread.items()
    ] + [f"{kind}: {message}" for kind, message in warned.items()]


def _preview_rows(tenant, checked, requests, connections, directories):
    """Each row's dry run, in file order; the connections that could not be read, and those
    whose domains could not be read (a warning the form's dry run shows: once for the file)."""

    def connector_of(connection):
        return directories[connection.pk].for_row(connection)

    unread: dict[str, str] = {}
    warned: dict[str, str] = {}
    for row, request in zip(checked, requests, strict=True):
        preview = services.preview_onboarding(
            tenant, request, connections=connections, connector_of=connector_of
        )
        _note(row, preview)
        for connection, plan, error in preview.plans:
            if plan is None:
                unread.setdefault(connection.label, error)
                continue
            for problem in plan.problems:
                if problem.kind == upn_domains.UNREAD:
                    warned.setdefault(connection.label, problem.message)
            if not row.data["problems"]:
                directories[connection.pk].take_seats(plan)
    return unread, warned


def _note(row, preview: services.Preview) -> None:
    problems, availability, operations = [], {}, []
    seats_counted = False
    for connection, plan, _ in preview.plans:
        if plan is None:
            continue
        where = connection.label
        seats_counted = seats_counted or seats.counts_seats(plan)
        operations.append([where, seats.operations_in_words(plan), connection.kind])
        availability |= plan.license_availability
        problems += [
            {"kind": p.kind, "message": f"{where}: {p.message}", "subject": p.subject}
            for p in plan.problems
            if p.blocking
        ]
    row.data["problems"] = problems
    row.data["availability"] = availability
    row.data["seats_counted"] = seats_counted  # the page says why they can differ (polish2)
    _note_plan(row, operations)


def _note_plan(row, operations: list) -> None:
    """`operations`: [directory, [operation, ...], kind], as the form's dry run lists them."""
    row.data["plan"] = operations
    row.data["plan_summary"] = " · ".join(
        f"{where} ({len(steps)} step{'s' if len(steps) > 1 else ''})"
        for where, steps, _ in operations
        if steps
    )


def check_leavers(tenant: Tenant, rows: list, defaults: dict) -> list[str]:
    """The person page's offboarding dry run (`lifecycle.preview_offboarding`) for every row
    without errors: `data["plan"]` says per directory what the person loses (sign-in
    disabled, groups, apps and licences removed), as the onboarding rows' plans do. Each
    directory's connector is made once for the file; a person's account is read as their
    page's dry run reads it (with the rows' other reads where the directory batches them).
    `defaults`: the file's offboarding options, a row's own overrides on top. Returns the
    file's notes (a directory that could not be read)."""
    for row in rows:
        row.data.pop("plan", None)
        row.data.pop("plan_summary", None)
    checked = [r for r in rows if not r.errors and r.identity_id]
    connections = list(tenant.connections.order_by("kind"))
    if not checked or not connections:
        return []
    people = (
        Identity.objects.select_related("tenant")
        .prefetch_related("accounts")
        .in_bulk([r.identity_id for r in checked])
    )
    directories = {c.pk: _Directory(c) for c in connections}
    unread: dict[str, str] = {}
    with memo.one_run():
        for row in checked:
            options = lifecycle.OffboardingOptions.from_dict(
                defaults | row.data.get("overrides", {})
            )
            preview = lifecycle.preview_offboarding(
                people[row.identity_id],
                options,
                connections=connections,
                connector_of=lambda c: directories[c.pk].for_row(c),
            )
            _note_plan(row, _leavers_operations(preview))
            unread |= {c.label: error for c, plan, error in preview.plans if plan is None}
    return [
        f"{kind} could not be read ({error}), so what each person loses there is not shown; "
        "each job reads it again before it changes anything."
        for kind, error in unread.items()
    ]


def _leavers_operations(preview: services.Preview) -> list:
    """Each directory's plan in words; a directory the person is not managed in is left out
    (nothing is read or sent there), one that could not be read is the file's note."""
    return [
        [connection.label, seats.operations_in_words(plan), connection.kind]
        for connection, plan, _ in preview.plans
        if plan is not None and not plan.not_managed
    ]
