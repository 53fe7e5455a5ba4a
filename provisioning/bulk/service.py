"""The bulk actions: store a validated upload, start its valid rows, report its progress.

Like `services.py`, each action is one transaction with its audit event; the jobs are
enqueued on commit by the services that create them.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count
from django.db.models.functions import Lower

from portal.audit.events import record
from portal.plain_text import printable
from provisioning import services
from provisioning.bulk import columns, dry_run, parse, validate
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, BatchRow, Identity, Job
from tenants.models import RoleTemplate, Tenant

LEFT_SINCE = "This person has left since the file was checked."
LEFT_OR_DELETED = (Identity.Status.LEFT, Identity.Status.DELETED)
KIND_OF = {columns.ONBOARD: Batch.Kind.CSV_ONBOARD, columns.OFFBOARD: Batch.Kind.CSV_OFFBOARD}
BadFile = parse.BadFile


class BatchError(ValueError):
    """The batch cannot do that now (started already, nothing valid ...)."""


def file_kind(batch: Batch) -> str:
    return columns.ONBOARD if batch.kind == Batch.Kind.CSV_ONBOARD else columns.OFFBOARD


# -- upload -----------------------------------------------------------------------------------


def shown_name(filename: str) -> str:
    """The file's name as kept and shown: its last part, without control or invisible
    characters (a right-to-left override would turn it around on every page that shows it),
    else "upload.csv"."""
    name = printable(os.path.basename(filename or "")).strip()[:255]
    return name or "upload.csv"


def upload(
    tenant: Tenant,
    kind: str,
    filename: str,
    data: bytes,
    *,
    actor,
    offboarding: lifecycle.OffboardingOptions | None = None,
    http_request=None,
) -> Batch:
    """Parse and validate a file; store it as a batch to preview. Raises BadFile (nothing
    stored) when the file as a whole cannot be read. Nothing is queued here."""
    parsed = parse.parse(data, kind)
    checked = validate.validate(tenant, parsed)
    options: dict = {"header": parsed.header}
    if kind == columns.OFFBOARD:
        options["offboard"] = (
            offboarding or lifecycle.OffboardingOptions.preset_for(tenant)
        ).as_dict()
        dry_notes = dry_run.check_leavers(tenant, checked.rows, options["offboard"])
    else:
        dry_notes = dry_run.check(tenant, checked.rows)
    options["notes"] = parsed.notes + checked.notes + dry_notes
    with transaction.atomic():
        batch = Batch.objects.create(
            tenant=tenant,
            kind=KIND_OF[kind],
            filename=shown_name(filename),
            rows_total=len(checked.rows),
            rows_valid=sum(1 for row in checked.rows if dry_run.ready(row)),
            options=options,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        BatchRow.objects.bulk_create(
            [
                BatchRow(
                    batch_id=batch.pk,
                    line=row.line,
                    data=row.data,
                    errors=row.errors,
                    identity_id=row.identity_id,
                )
                for row in checked.rows
            ],
            batch_size=500,
        )
        record(
            "batch.upload",
            actor=actor,
            tenant=tenant,
            target=("batch", batch.pk, str(batch)),
            after={
                "kind": batch.kind,
                "filename": batch.filename,
                "rows": batch.rows_total,
                "valid": batch.rows_valid,
                "offboarding": options.get("offboard"),
            },
            request=http_request,
        )
    return batch


# -- start ------------------------------------------------------------------------------------


@dataclass
class Started:
    jobs: int
    held: bool
    skipped: int  # rows valid at upload that something changed since


def start(batch: Batch, *, actor, http_request=None) -> Started:
    """Queue every valid row, in one transaction: onboardings through
    `services.request_onboarding`, offboardings through `lifecycle.request_offboarding`,
    held together when they are more than the tenant's circuit breaker allows."""
    with transaction.atomic():
        # The batch's row only: its tenant's would stop every job and event of the tenant.
        locked = Batch.objects.select_for_update(of=("self",)).select_related("tenant")
        batch = locked.get(pk=batch.pk)
        if batch.status != Batch.Status.VALIDATED:
            raise BatchError(f"This batch is {batch.get_status_display().lower()} already.")
        rows = [row for row in batch.rows.order_by("line") if dry_run.ready(row)]
        skipped = _recheck(batch, rows)
        rows = [row for row in rows if not row.errors]
        if not rows:
            raise BatchError("No row of this file can be queued: fix the errors and upload again.")
        held, reason = False, ""
        if batch.kind == Batch.Kind.CSV_ONBOARD:
            _start_onboarding(batch, rows, actor, http_request)
        else:
            lifecycle.lock_leaves_of(batch.tenant)
            left = _lock_leavers(rows)
            if left:
                BatchRow.objects.bulk_update(left, ["errors"])
                skipped += len(left)
                rows = [row for row in rows if not row.errors]
                if not rows:
                    raise BatchError(
                        "No row of this file can be queued: fix the errors and upload again."
                    )
            reason = hold_reason(batch, {row.identity_id for row in rows})
            held = bool(reason)
            _start_offboarding(batch, rows, actor, http_request, held)
        BatchRow.objects.bulk_update(rows, ["job", "identity"], batch_size=500)
        batch.rows_valid = len(rows)
        batch.status = Batch.Status.STARTED
        batch.save(update_fields=["rows_valid", "status"])
        if held:
            lifecycle.hold_batch(batch, reason)
        record(
            "batch.start",
            actor=actor,
            tenant=batch.tenant,
            target=("batch", batch.pk, str(batch)),
            before={"status": Batch.Status.VALIDATED},
            after={
                "status": batch.status,
                "jobs": len(rows),
                "not_queued": batch.rows_total - len(rows),
                "hold_reason": batch.hold_reason,
            },
            request=http_request,
        )
    return Started(len(rows), held, skipped)


def hold_reason(batch: Batch, leavers: set[int]) -> str:
    """Why the circuit breaker holds this offboarding file of `leavers`, or "". The tenant's
    leavers of the breaker's window count with it, whichever path asked them (earlier files,
    person pages, the API, the HR webhook, SCIM, the scope, role template changes:
    `lifecycle.leavers_of_the_hour`): a file split in several, or a file after leaves asked
    one by one, is held as the whole would be."""
    earlier = lifecycle.leavers_of_the_hour(batch.tenant) - leavers
    total = len(leavers) + len(earlier)
    if not lifecycle.would_hold(batch.tenant, total):
        return ""
    return lifecycle.hold_reason(batch.tenant, total, len(earlier))


def _recheck(batch: Batch, rows: list[BatchRow]) -> int:
    """Rows that another technician's work made invalid since the upload get that error."""
    tenant, changed = batch.tenant, []
    if batch.kind == Batch.Kind.CSV_ONBOARD:
        # In any case, as the constraint the start's insert meets: an adoption keeps the
        # directory's Ada.Lovelace@…, a row's username is lower-case.
        usernames = {row.data.get("username", "").lower() for row in rows}
        taken = set(
            Identity.objects.annotate(lower=Lower("username"))
            .filter(tenant=tenant, lower__in=usernames)
            .values_list("lower", flat=True)
        )
        templates = set(RoleTemplate.objects.filter(tenant=tenant).values_list("pk", flat=True))
        for row in rows:
            if row.data.get("username", "").lower() in taken:
                row.errors = [f"{row.data['username']} was onboarded since this file was checked."]
            elif not set(row.data.get("role_ids", [])) <= templates:
                row.errors = ["A role template of this row was deleted since the file was checked."]
            else:
                continue
            changed.append(row)
    else:
        gone = set(
            Identity.objects.filter(
                pk__in=[row.identity_id for row in rows],
                status__in=LEFT_OR_DELETED,
            ).values_list("pk", flat=True)
        )
        for row in rows:
            if row.identity_id in gone or row.identity_id is None:
                row.errors = [LEFT_SINCE]
                changed.append(row)
    BatchRow.objects.bulk_update(changed, ["errors"])
    return len(changed)


def _start_onboarding(batch: Batch, rows: list[BatchRow], actor, http_request) -> None:
    """Each row as the single form would queue it, with the licence choices made for it.
    Every joiner is inserted before any is recorded: a row's INSERT waits for a form's
    onboarding of the same username until it commits, and that onboarding's record waited
    for the tenant's audit head the file's earlier rows held (a deadlock, the file's 500);
    now it commits and the file meets the taken username ("upload the file again")."""
    templates = {t.pk: t for t in RoleTemplate.objects.filter(tenant=batch.tenant)}
    records: list = []
    for row in rows:
        request = dry_run.onboarding_request(row.data, templates)
        row.job = services.request_onboarding(
            batch.tenant,
            request,
            username=row.data["username"],
            actor=actor,
            batch=batch,
            http_request=http_request,
            records=records,
        )
        row.identity_id = row.job.identity_id
    for onboarded in records:
        onboarded()


def _lock_leavers(rows: list[BatchRow]) -> list[BatchRow]:
    """Lock the file's people, in id order, before anything is recorded; the rows whose
    person left after `_recheck` read them (another channel's leave ended, a scheduled hard
    delete started) get its error and are returned. Locked one by one as each leave was
    recorded, a person a form or API leave held (and then waited for the tenant's audit
    head, which the file's first leave held) deadlocked the start; and the breaker counted
    a person who had left since, holding a file within its limit (converge18)."""
    people = Identity.objects.select_for_update().filter(pk__in=[r.identity_id for r in rows])
    status = dict(people.order_by("pk").values_list("pk", "status"))
    gone = {pk for pk, now in status.items() if now in LEFT_OR_DELETED}
    left = [row for row in rows if row.identity_id in gone]
    for row in left:
        row.errors = [LEFT_SINCE]
    return left


def _start_offboarding(batch: Batch, rows: list[BatchRow], actor, http_request, held: bool) -> None:
    """Each row's leave, its person locked by `_lock_leavers`."""
    people = Identity.objects.select_related("tenant").in_bulk([r.identity_id for r in rows])
    defaults = batch.options.get("offboard", {})
    for row in rows:
        options = lifecycle.OffboardingOptions.from_dict(defaults | row.data.get("overrides", {}))
        at = row.data.get("leave_at")
        row.job = lifecycle.request_offboarding(
            people[row.identity_id],
            options,
            actor=actor,
            at=datetime.fromisoformat(at) if at else None,
            batch=batch,
            hold=held,
            http_request=http_request,
        )


def choose(batch: Batch, choices: dict[int, dry_run.RowChoice], *, actor, http_request=None) -> int:
    """The technician's choices for rows that need one (another licence, none, or leave the
    row out), kept on the rows; then every row is dry-run again with them, since one row's
    choice takes seats another row may have counted on. How many rows still need one."""
    with transaction.atomic():
        # The batch's row only, as in `start`: the dry run below asks the directory, and the
        # tenant's row held meanwhile stopped every job and event of the tenant at commit.
        locked = Batch.objects.select_for_update(of=("self",)).select_related("tenant")
        batch = locked.get(pk=batch.pk)
        if batch.status != Batch.Status.VALIDATED:
            raise BatchError(f"This batch is {batch.get_status_display().lower()} already.")
        rows = list(batch.rows.order_by("line"))
        chosen = {}
        for row in rows:
            if row.pk in choices:
                row.data["choice"] = choices[row.pk].as_dict()
                chosen[row.line] = row.data["choice"]
        notes = dry_run.check(batch.tenant, rows)
        BatchRow.objects.bulk_update(rows, ["data"], batch_size=500)
        batch.rows_valid = sum(1 for row in rows if dry_run.ready(row))
        batch.options = {**batch.options, "choice_notes": notes}
        batch.save(update_fields=["rows_valid", "options"])
        record(
            "batch.choose",
            actor=actor,
            tenant=batch.tenant,
            target=("batch", batch.pk, str(batch)),
            after={"choices": chosen, "valid": batch.rows_valid},
            request=http_request,
        )
    return sum(1 for row in rows if dry_run.needs_choice(row))


def discard(batch: Batch, *, actor, http_request=None) -> None:
    """A validated batch the technician does not want: cancelled, nothing was queued."""
    if batch.status != Batch.Status.VALIDATED:
        raise BatchError("Only a batch that has not started can be discarded.")
    lifecycle.cancel_batch(batch, actor=actor, http_request=http_request)


# -- progress ---------------------------------------------------------------------------------


WAITING_FOR_TIME = (Job.Status.SCHEDULED, Job.Status.HELD)


@dataclass
class Progress:
    total: int
    counts: Counter

    @property
    def done(self) -> int:
        return sum(self.counts[s] for s in Job.DONE)

    @property
    def succeeded(self) -> int:
        return self.counts[Job.Status.SUCCEEDED]

    @property
    def failed(self) -> int:
        return self.counts[Job.Status.FAILED] + self.counts[Job.Status.PARTIAL]

    @property
    def later(self) -> int:
        """Jobs that wait for their time or for a confirmation, not for a worker."""
        return sum(self.counts[s] for s in WAITING_FOR_TIME)

    @property
    def choosing(self) -> int:
        """Jobs that stopped for a person's choice (their pages ask it)."""
        return self.counts[Job.Status.NEEDS_CHOICE]

    @property
    def active(self) -> int:
        return self.total - self.done - self.later - self.choosing

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        """Every job of the batch has ended (the batch itself stays "started")."""
        return self.total > 0 and self.done == self.total

    @property
    def live(self) -> bool:
        """Something is queued or running: the page keeps polling."""
        return self.active > 0


def progress(batch: Batch) -> Progress:
    return progresses([batch])[batch.pk]


def progresses(batches) -> dict[int, Progress]:
    """The progress of each batch, by its id, in one query (the list shows a page of them)."""
    counts: dict[int, Counter] = {batch.pk: Counter() for batch in batches}
    jobs = Job.objects.filter(batch__in=list(counts)).order_by()
    for row in jobs.values("batch", "status").annotate(n=Count("pk")):
        counts[row["batch"]][row["status"]] = row["n"]
    return {pk: Progress(sum(c.values()), c) for pk, c in counts.items()}
