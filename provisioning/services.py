"""Actions on identities and jobs: one transaction each (change + audit event), the Celery
task enqueued on commit. Views call these and nothing below them."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection as db
from django.db import transaction
from django.db.models.expressions import RawSQL
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.db.models.sql import InsertQuery
from django.utils import timezone

from portal import bulk_rows, kept_sql
from portal.audit import events as audit_events
from portal.audit.events import record, snapshot
from provisioning import quarantine
from provisioning.connectors import bridge
from provisioning.connectors.base import DirectoryUser
from provisioning.connectors.errors import ConnectorError
from provisioning.connectors.factory import connector_for
from provisioning.engine import choosing, crashes, first_sign_in, guards, memo, planner
from provisioning.engine.desired import (
    DesiredState,
    active_state,
    in_connection,
    licence_choices_with,
)
from provisioning.jobs import (
    ask,
    enqueue_on_commit,
    first_version,
    job_saved,
    joiner_in_line,
    new_job,
    status_for,
    unsaved_job,
)
from provisioning.models import AccessRequest, Identity, Job, Step
from provisioning.name_bounds import longest_local
from tenants import clock, naming
from tenants.crypto import CredentialError
from tenants.models import RoleTemplate, Tenant


@dataclass
class OnboardingRequest:
    first_name: str
    last_name: str
    role_templates: list[RoleTemplate]
    start_date: date | None = None
    username: str = ""  # blank: from the first template's naming rule
    attributes: dict = field(default_factory=dict)  # department, job_title, usage_location ...
    extra_groups: list[str] = field(default_factory=list)
    license_choices: dict[str, str] = field(default_factory=dict)  # SKU -> replacement or ""
    employee_id: str = ""
    create_ahead: bool = True  # future start: create disabled now, enable on the start date

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class Preview:
    username: str
    plans: list[tuple[object, planner.Plan | None, str]]  # (connection, plan, read error)
    # The naming rule's own choice when it was passed over for a numbered one, and who holds it
    passed_over: str = ""
    held: str = ""  # "in Microsoft Entra ID (Ada Byron)", "by someone in this portal"

    @property
    def blocking_problems(self) -> list[planner.Problem]:
        return [p for _, plan, _ in self.plans if plan for p in plan.problems if p.blocking]

    @property
    def read_errors(self) -> list[str]:
        return [error for _, _, error in self.plans if error]


HELD_IN_THE_PORTAL = "by someone in this portal"


@dataclass(frozen=True)
class Username:
    value: str
    passed_over: str = ""  # the rule's first choice, when it was taken
    held: str = ""  # where and by whom it is taken


def suggest_username(tenant: Tenant, request: OnboardingRequest) -> str:
    """The naming rule's username, with a suffix when the portal or a directory has it."""
    return numbered_username(tenant, request).value


def numbered_username(tenant: Tenant, request: OnboardingRequest) -> Username:
    """`suggest_username`'s username and, when it is not the rule's own first choice, who
    holds that address (the dry run says it, as the CSV preview does)."""
    template = request.role_templates[0]
    # The directories name people; an app downstream of them (a SCIM app) holds the same name
    # for the same person, and its account is linked, never a reason for another name.
    directories = [c for c in tenant.connections.all() if not c.assigned_by_template]
    connectors = [(c, _connector_or_none(c)) for c in directories]
    holders: dict[str, str] = {}

    def taken(candidate: str) -> bool:
        if Identity.objects.filter(tenant=tenant, username__iexact=candidate).exists():
            holders[candidate] = HELD_IN_THE_PORTAL
            return True
        for connection, connector in connectors:
            if connector is not None and (user := _in_directory(connector, candidate)):
                name = user.attributes.get("display_name") or ""
                holders[candidate] = f"in {connection.label}" + (f" ({name})" if name else "")
                return True
        return False

    username = naming.unique_username(
        template.username_rule,
        request.first_name,
        request.last_name,
        template.effective_domain,
        taken,
        longest_local=longest_local({c.kind for c in directories}, template.effective_domain),
    )
    first_choice = naming.render(
        template.username_rule, request.first_name, request.last_name, template.effective_domain
    )
    if username == first_choice:
        return Username(username)
    return Username(username, first_choice, holders[first_choice])


def _in_directory(connector, username: str) -> DirectoryUser | None:
    """Best effort: a directory that cannot answer now counts as "not taken"; the job's own
    plan checks again and links or refuses a clash before it creates anything."""
    try:
        return bridge.run(connector.find_user(username), timeout=30)
    except (ConnectorError, TimeoutError):
        return None


def _connector_or_none(connection):
    try:
        return connector_for(connection)
    except CredentialError:
        return None


def desired_for(
    tenant: Tenant, request: OnboardingRequest, username: str, connection=None
) -> DesiredState:
    """What the person of an onboarding form would have (the engine's own builder), in
    `connection`'s directory when given (its attribute mappings applied)."""
    person = {
        "username": username,
        "first_name": request.first_name,
        "last_name": request.last_name,
        "display_name": request.display_name,
        "email": username,
        "attributes": request.attributes,
        "extra_groups": request.extra_groups,
        "license_choices": request.license_choices,
        "employee_id": request.employee_id,
        "start_date": request.start_date,
    }
    return active_state(person, request.role_templates, tenant, connection=connection)


def joiner_in(
    tenant: Tenant, request: OnboardingRequest, username: str, connection
) -> DesiredState:
    """The joiner of an onboarding form as `connection`'s plan wants them: its attribute
    mappings applied and, in an app given by templates, the app's account and groups."""
    mapped = desired_for(tenant, request, username, connection)
    return in_connection(mapped, request.role_templates, connection)


def preview_onboarding(
    tenant: Tenant,
    request: OnboardingRequest,
    *,
    connections: list | None = None,
    connector_of=connector_for,
) -> Preview:
    """The dry run: the exact operations per directory, before anything is sent.
    `connections` and `connector_of` let a caller previewing many joiners at once (a bulk
    file) read the tenant's connections once and answer the lookups from one read."""
    chosen = Username(request.username) if request.username else numbered_username(tenant, request)
    username = chosen.value

    def plan(connector, connection, remote_id):
        manager = (request.attributes or {}).get("manager") or ""
        due = first_sign_in.wanted(first_sign_in.Joiner(tenant, connection, manager))
        wanted = joiner_in(tenant, request, username, connection)
        return first_sign_in.planned(
            lambda: planner.plan_onboarding(
                connector, connection.pk, wanted, tenant.link_existing_accounts
            ),
            wanted,
            planner.AccountView(),
            due,
        )

    preview = dry_run(tenant, username, plan, connections=connections, connector_of=connector_of)
    preview.passed_over, preview.held = chosen.passed_over, chosen.held
    return preview


def dry_run(
    tenant: Tenant,
    username: str,
    plan_of,
    remote_ids: dict | None = None,
    *,
    connections: list | None = None,
    connector_of=connector_for,
) -> Preview:
    """Each directory's plan from `plan_of(connector, connection, remote_id)`, or why it
    could not be read; nothing is sent."""
    plans = []
    if connections is None:
        connections = tenant.connections.order_by("kind")
    for connection in connections:
        remote_id = (remote_ids or {}).get(connection.pk, "")
        if reason := guards.protected(connection.pk, remote_id):
            plans.append((connection, guards.left_alone(connection, remote_id, reason), ""))
            continue
        try:
            connector = connector_of(connection)
            plan = bridge.run(plan_of(connector, connection, remote_id))
            guards.refuse_found(plan, remote_id)  # the job would refuse it: so does the preview
            plans.append((connection, plan, ""))
        except (ConnectorError, CredentialError, TimeoutError) as exc:
            plans.append((connection, None, getattr(exc, "message", str(exc)) or "No answer."))
    return Preview(username, plans)


def read_seats_afresh(tenant: Tenant) -> None:
    """Read the seat counts of the tenant's directories again, past the connectors' brief
    cache, for the dry run that follows: a submit judges its licence choices against the
    seats as they are now, not as a dry run some minutes ago found them. A directory that
    cannot be read is left to that dry run to report. The engine's re-read for a replan."""
    choosing.read_seats_afresh(tenant.connections.all())


def request_onboarding(
    tenant: Tenant,
    request: OnboardingRequest,
    *,
    username: str,
    actor,
    batch=None,
    http_request=None,
    records: list[Callable[[], object]] | None = None,
) -> Job:
    """Identity + Job + audit event in one transaction; the job runs once it is committed.

    A start date in the future: with `request.create_ahead` the account is created now,
    disabled, and a scheduled job enables it on the start date; without, the whole join
    waits for that day.

    `records`: the audit event is appended there, for the caller to record once it has
    inserted all its joiners (a file's start, `bulk.service`)."""
    future = request.start_date is not None and request.start_date > clock.tenant_today(tenant)
    enable_at = at = None
    if future:
        start = clock.start_of_day(tenant, request.start_date)
        if request.create_ahead:
            enable_at = start
        else:
            at = start
    identity = Identity(
        tenant=tenant,
        first_name=request.first_name,
        last_name=request.last_name,
        display_name=request.display_name,
        username=username,
        email=username,
        employee_id=request.employee_id,
        attributes=request.attributes,
        extra_groups=request.extra_groups,
        start_date=request.start_date,
        license_choices=request.license_choices,
        enable_at=enable_at,
        provision_from=at,
        desired_version=first_version(status_for(at=at, hold=False)),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    # The tenant's registered rows (the takeover policy that the inventory's hook reads for
    # the new person) as the identity's INSERT read them: kept for this transaction only.
    with transaction.atomic(), memo.one_run():
        job = unsaved_job(
            identity,
            Job.Kind.JOIN,
            {},
            actor=actor,
            at=at,
            batch=batch,
            hold=False,
            new_identity=True,
        )
        joiner_in_line(job)
        _insert_joiner(identity, request.role_templates, job)
        job = job_saved(job, new_identity=True)
        if future and request.create_ahead:
            _schedule_enable(identity, request.start_date, actor=actor)
        onboarded = functools.partial(
            record,
            "identity.onboard",
            actor=actor,
            tenant=tenant,
            target=identity,
            after=snapshot(identity) | {"role_templates": [t.name for t in request.role_templates]},
            request=http_request,
            job_id=job.pk,
        )
        if records is None:
            onboarded()
        else:
            records.append(onboarded)
    return job


def _insert_joiner(identity: Identity, templates: list[RoleTemplate], job: Job) -> None:
    """Insert a new `identity` with its role `templates` and its first `job`, as `create`,
    `role_templates.add` and `create` would, their signals sent.

    PostgreSQL: one statement, the identity's INSERT in a data-modifying `WITH` that the
    templates' and the job's INSERTs take its id from, and that also reads the tenant's
    registered one-row settings (`memo.read_with_tenant`: the inventory's takeover policy,
    which its hook on the identity's save reads next), kept for this run (`memo.one_run`),
    and writes the rows features ride in it (`ride_with_new_identity`: the inventory's person).
    The statements are Django's insert compilers'; the id is a subquery of the `WITH`.
    SQLite: the three INSERTs, and the hook reads the policy itself."""
    through = Identity.role_templates.through
    links = [through(roletemplate_id=t.pk) for t in templates]
    if db.vendor != "postgresql":
        identity.save(force_insert=True)  # post_save: the inventory's person
        identity.role_templates.add(*templates)  # one INSERT: a new identity has none
        job.identity = identity
        job.save(force_insert=True)
        return
    for instance in (identity, job):
        pre_save.send(
            sender=type(instance), instance=instance, raw=False, using=db.alias, update_fields=None
        )
    _templates_added("pre_add", identity, templates)
    pk = db.ops.quote_name(Identity._meta.pk.column)
    new_id = RawSQL(f"SELECT {pk} FROM new_identity", ())  # noqa: S608, S611 (no values)
    identity_sql, identity_params = _insert_sql(Identity, [identity], returning=True)
    for link in links:
        link.identity_id = new_id
    job.identity_id = new_id
    job_sql, job_params = _insert_sql(Job, [job], returning=True)
    parts = [f"new_identity AS ({identity_sql})", f"new_job AS ({job_sql})"]
    params = [*identity_params, *job_params]
    if links:
        links_sql, links_params = _insert_sql(through, links, returning=False)
        parts.append(f"templates AS ({links_sql})")
        params += links_params
    riders = [r for r in (row(identity, f"({new_id.sql})") for row in _new_identity_rows) if r]
    for n, rider in enumerate(riders):
        parts.append(f"rider{n} AS ({rider.sql})")
        params += rider.params
    # The chain head as it is (no lock): the audit append's guess, kept below.
    head_sql, head_params = audit_events.head_read_sql(identity.tenant_id)
    joins = [f"LEFT JOIN ({head_sql}) AS head ON TRUE"]
    columns = [f"EXISTS (SELECT FROM rider{n})" for n in range(len(riders))] + ["head.*"]
    params += head_params
    rows = _tenant_rows(identity.tenant_id)
    for n, (_, _, sql, row_params, _) in enumerate(rows):
        joins.append(f"LEFT JOIN ({sql}) AS row{n} ON TRUE")
        columns.append(f"row{n}.*")
        params += row_params
    with db.cursor() as cursor:
        cursor.execute(  # the pieces built by Django's compilers; values are parameters
            f"WITH {', '.join(parts)} SELECT new_identity.*, new_job.*, {', '.join(columns)}"  # noqa: S608
            f" FROM new_identity CROSS JOIN new_job {' '.join(joins)}",
            params,
        )
        identity_id, job_id, *row = cursor.fetchone()
    written, (seq, hash_, *values) = row[: len(riders)], row[len(riders) :]
    # The record below appends on it as after this process's own append: one statement, the
    # head's row lock taken by that statement's conditional UPDATE (last, as before) unless
    # another appender moved it since this read (then the locked way: one more).
    audit_events.guess_head(identity.tenant_id, seq, hash_)
    identity.pk, job.pk = identity_id, job_id
    for instance in (identity, job):
        instance._state.adding, instance._state.db = False, db.alias
    job.identity = identity
    _keep_tenant_rows(identity.tenant, rows, values)
    for rider, wrote in zip(riders, written, strict=True):
        if wrote:
            rider.written()
    post_save.send(
        sender=Identity,
        instance=identity,
        created=True,
        update_fields=None,
        raw=False,
        using=db.alias,
    )
    _templates_added("post_add", identity, templates)
    post_save.send(
        sender=Job, instance=job, created=True, update_fields=None, raw=False, using=db.alias
    )


@dataclass(frozen=True)
class RidingRow:
    """A row a feature writes for a new identity, in the statement that inserts the identity:
    a data-modifying statement (the identity's id as SQL in it) that returns a row when it
    wrote, and what to tell the feature then (before the identity's `post_save`)."""

    sql: str
    params: list
    written: Callable[[], None]


# The features' rows of a new identity, registered from above (`ride_with_new_identity`):
# each is given the unsaved identity and the SQL of its id, and answers None where its hook
# on the identity's save is to write the row instead.
_new_identity_rows: list[Callable[[Identity, str], RidingRow | None]] = []


def ride_with_new_identity(row: Callable[[Identity, str], RidingRow | None]) -> None:
    """On PostgreSQL, `row` rides in the joiner's INSERT statement (`_insert_joiner`)."""
    if row not in _new_identity_rows:
        _new_identity_rows.append(row)


def _templates_added(action: str, identity: Identity, templates: list[RoleTemplate]) -> None:
    """`m2m_changed` as `role_templates.add` sends it (nothing when nothing is added)."""
    if templates:
        m2m_changed.send(
            sender=Identity.role_templates.through,
            action=action,
            instance=identity,
            reverse=False,
            model=RoleTemplate,
            pk_set={t.pk for t in templates},
            using=db.alias,
        )


def _insert_sql(model, objs: list, *, returning: bool) -> tuple[str, list]:
    """Django's INSERT of `objs` (every concrete field but the primary key), returning the
    primary key when asked.

    Its text depends only on the model, the number of rows and which fields hold an
    expression (the new identity's id), never on the values: compiled by Django once a
    process per such shape and kept when the values prepared as `bulk_rows.prepared`
    prepares them (each field's `pre_save`, then `get_db_prep_save`) are the compiled
    parameters; a kept shape sends its text with the values so prepared."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    # Each row's fields that hold an expression, named with it (its SQL is in the text).
    held = tuple(
        tuple(
            (f.attname, repr(getattr(o, f.attname)))
            for f in fields
            if hasattr(getattr(o, f.attname), "resolve_expression")
        )
        for o in objs
    )
    key = (bulk_rows.database().alias, model._meta.label, returning, held)
    skipped = [dict(h) for h in held]
    sql = _inserts.get(key)
    if sql is not None:
        db_ = bulk_rows.database()
        return sql, [
            bulk_rows.prepared(model, f, o, db_)
            for o, skip in zip(objs, skipped, strict=True)
            for f in fields
            if f.attname not in skip
        ]
    query = InsertQuery(model)
    query.insert_values(fields, objs)
    compiler = query.get_compiler(connection=db)
    compiler.returning_fields = [model._meta.pk] if returning else None
    ((sql, params),) = compiler.as_sql()
    # What the compiler's `pre_save` left on the rows, prepared as a kept shape prepares it.
    ours = [
        f.get_db_prep_save(getattr(o, f.attname), db)
        for o, skip in zip(objs, skipped, strict=True)
        for f in fields
        if f.attname not in skip
    ]
    _inserts[key] = sql if kept_sql.same_params(ours, list(params)) else None
    return sql, list(params)


# (database alias, model, returning, the fields holding an expression in each row, with it):
# the INSERT's text, or None where the prepared values were not the compiled parameters.
_inserts: dict[tuple, str | None] = {}


def _tenant_rows(tenant_id: int) -> list[tuple[str, list[str], str, list, Any]]:
    """(name, column names, SELECT, parameters, converters) of each registered row of the
    tenant: the ORM's read of it, and what the ORM does to the values it reads (JSON). Each
    read's text is the same for every tenant: compiled once a process (`kept_sql`)."""
    rows = []
    for name in memo.registered_tenant_rows():
        built = kept_sql.kept(("submit_tenant_row", name), _tenant_row_of(name), tenant_id)
        names, converters = built.extra
        rows.append((name, names, built.sql, built.params, converters))
    return rows


@functools.cache
def _tenant_row_of(name: str):
    rel = Tenant._meta.get_field(name)
    names = [f.attname for f in rel.related_model._meta.concrete_fields]

    def build(tenant_id: int):
        rows_of = rel.related_model.objects.filter(**{rel.field.attname: tenant_id})
        return rows_of.order_by().values_list(*names)

    def built(tenant_id: int) -> kept_sql.Built:
        statement = kept_sql.values_statement_of(build(tenant_id))
        return kept_sql.Built(statement.sql, statement.params, (names, statement.extra))

    return built


def _keep_tenant_rows(tenant: Tenant, rows: list, values: list) -> None:
    carrier = copy.copy(tenant)  # the caller's tenant keeps its own cache
    for name, names, _, _, converters in rows:
        row, values = values[: len(names)], values[len(names) :]
        rel = Tenant._meta.get_field(name)
        found = None
        if row[0] is not None:
            (row,) = kept_sql.converted([row], converters)
            found = rel.related_model.from_db(db.alias, names, row)
        rel.set_cached_value(carrier, found)
    memo.keep_tenant_rows(carrier)


def _schedule_enable(identity: Identity, start: date, *, actor) -> Job:
    """A joiner created disabled ahead of time is enabled at the start of their first day."""
    return new_job(
        identity,
        Job.Kind.CHANGE,
        {"enable": True},
        actor=actor,
        at=clock.start_of_day(identity.tenant, start),
        batch=None,
        hold=False,
    )


def retry_failed_steps(job: Job, *, actor, http_request=None, note: dict | None = None) -> Job:
    """Failed and skipped steps back to pending; the job runs again from there. `note`: more
    for the audit event (an automatic retry's try and limit, lifecycle.leave_retries)."""
    with transaction.atomic():
        # The person's row before anything is recorded, as a leave or a job's end holds it
        # then the tenant's audit head: a grant's retry raises the desired version after its
        # record, and waited for the person a leave held while that leave waited for the head.
        Identity.objects.select_for_update().filter(pk=job.identity_id).exists()
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in (Job.Status.FAILED, Job.Status.PARTIAL):
            return job
        retried = job.steps.filter(status__in=[Step.Status.FAILED, Step.Status.SKIPPED]).update(
            status=Step.Status.PENDING, last_error="", error_kind="", attempts=0
        )
        job.status, job.error, job.finished_at = Job.Status.QUEUED, "", None
        # A fresh allowance of rounds and reads: the cause has been fixed, they say.
        job.options = {
            k: v
            for k, v in job.options.items()
            if k not in ("round", "plan_failures", "missing_reads", crashes.CRASHES)
        }
        job.save(update_fields=["status", "error", "finished_at", "options"])
        access = _access_asked_again(job)
        record(
            "job.retry",
            actor=actor,
            tenant=job.tenant,
            target=job.identity,
            after={
                "steps_retried": retried,
                "replanned": not job.planned,
                **({"access_request": access} if access else {}),
                **(note or {}),
            },
            request=http_request,
            job_id=job.pk,
        )
        if access:
            ask(job)  # the desired state has changed again: a new version for this job
        else:
            enqueue_on_commit(job.pk)
    return job


def _access_asked_again(job: Job) -> str:
    """A grant's or a removal's job retried: its access request back to the status that
    asks for that work, as when it was first asked (approved: the access is wanted;
    ending: it is not), and that status; "" when nothing changed. A failed grant's end put
    it to failed; planned against that, the retry would undo its own work and still say it
    succeeded. A failed removal now leaves its request ending; one that failed before that
    rule was put back to granted. Only the request whose job this is, as the job left it; a
    leaver's failed grant stays failed."""
    requests = AccessRequest.objects.filter(pk=job.options.get("access_request"))
    Status = AccessRequest.Status
    if job.kind == Job.Kind.GRANT:
        if job.identity is None or job.identity.status in Identity.LEAVING_OR_GONE:
            return ""
        moved = requests.filter(grant_job=job, status=Status.FAILED).update(status=Status.APPROVED)
        return Status.APPROVED if moved else ""
    if job.kind == Job.Kind.REVOKE:
        moved = requests.filter(end_job=job, status=Status.GRANTED).update(status=Status.ENDING)
        return Status.ENDING if moved else ""
    return ""


def choose_licences(job: Job, choices: dict[str, str], *, actor, http_request=None) -> Job:
    """A job that stopped for a choice (engine/choosing.py) gets its answer: each SKU
    without a free seat maps to another SKU, or "" to go without, in the person's desired
    state (`license_choices`, as the onboarding form sets it), and the same job is asked for
    the new state. Nothing happens if the job no longer waits for a choice."""
    with transaction.atomic():
        # The job's row only: its tenant's, locked with it, stopped every job and event of
        # the tenant at commit, a form's leave of the person too, while this waited for them.
        locked = Job.objects.select_for_update(of=("self",)).select_related("tenant")
        job = locked.get(pk=job.pk)
        if job.status != Job.Status.NEEDS_CHOICE or job.identity_id is None:
            return job
        identity = Identity.objects.select_for_update().get(pk=job.identity_id)
        before = dict(identity.license_choices or {})
        identity.license_choices = licence_choices_with(identity, choices)
        identity.save(update_fields=["license_choices"])
        asked = [c["subject"] for c in job.options.get("choices", [])]
        job.options = {k: v for k, v in job.options.items() if k not in ("choices", "round")}
        job.waiting_reason, job.error = "", ""
        job.save(update_fields=["options", "waiting_reason", "error"])
        record(
            "job.choose",
            actor=actor,
            tenant=job.tenant,
            target=identity,
            before={"license_choices": before, "asked": asked},
            after={"license_choices": identity.license_choices},
            request=http_request,
            job_id=job.pk,
        )
        ask(job)
    return job


def release_connection(connection, *, actor, http_request=None) -> int:
    """End a quarantine and re-enqueue the tenant's waiting jobs; how many were re-enqueued.
    The tenant's people are checked again soon (periodic reconciliation)."""
    with transaction.atomic():
        quarantine.release(connection, actor=actor, request=http_request)
        Identity.objects.filter(tenant=connection.tenant).update(last_reconciled_at=None)
        waiting = list(
            Job.objects.filter(tenant=connection.tenant, status=Job.Status.WAITING).values_list(
                "pk", flat=True
            )
        )
        for job_id in waiting:
            enqueue_on_commit(job_id)
    return len(waiting)


def start_date_is_sane(start: date | None, max_past_days: int = 30) -> bool:
    return start is None or (timezone.localdate() - start).days <= max_past_days
