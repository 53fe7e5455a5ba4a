"""PostgreSQL: a job's claim and the reads its first round needs, in one statement, sent
once the claim holds the person's row lock (serial.claim; the lock stays a statement of its
own: a statement's snapshot is taken before its lock wait).

    WITH claimed AS (UPDATE job SET running ... WHERE claimable AND NOT EXISTS (ahead)
                     RETURNING job.*)
    SELECT ahead.*, claimed.*, tenant.*, person.*, requester.*, the tenant's feature rows,
           the person's template ids, live grants and accounts, the tenant's jobs ahead
           (counted for a job neither admitted nor planned: admission.jobs_ahead)
    FROM (SELECT 1) one LEFT JOIN (ahead) ON TRUE LEFT JOIN claimed ON TRUE LEFT JOIN ...

The job's columns come from the UPDATE's RETURNING (the row as claimed, whatever another
transaction wrote to it while the UPDATE waited for it), the rest from the statement's
snapshot, taken under the person's lock. Every part is built by Django's compiler (the
look at the jobs ahead, the UPDATE, the person's reads) or from the models' fields (the
columns, quoted by the backend), and every value is converted as Django converts it. The
text is the same for every claim of a shape (a job with a person or without): it is kept,
with its column readers, and sent with each claim's values (portal/kept_sql.py), so a run
does not build and compile the querysets behind it. SQLite keeps its separate statements
(serial.claim)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from django.contrib.auth import get_user_model
from django.db import connection as db
from django.db.models import Exists, Model, QuerySet

from portal import bulk_rows, kept_sql
from portal.audit import events as audit_events
from portal.audit.models import chain_key_for
from provisioning.engine import admission, desired, memo
from provisioning.models import DirectoryAccount, Identity, Job
from tenants.models import Tenant


@dataclass
class Claimed:
    ahead: tuple | None = None  # (pk, status, kind) of a job ahead: nothing claimed
    job: Job | None = None  # claimed, with its tenant, person and requester
    person_reads: dict = field(default_factory=dict)  # memo keys -> what the run reads
    head: tuple = (None, None)  # the tenant's audit chain head (seq, hash), read unlocked


def lock_person(job_id: int) -> tuple:
    """The job's person locked (FOR UPDATE; SQLite has no row locks): their id and tenant's,
    and the job's status and come-back time as the statement saw them; all None for a job
    with no person. Its text kept (portal/kept_sql.py)."""
    found = kept_sql.rows("claim_lock", _locked_person, job_id)
    return tuple(found[0]) if found else (None, None, None, None)


def _locked_person(job_id: int) -> QuerySet:
    person = Identity.objects.select_for_update(of=("self",)).filter(jobs__pk=job_id)
    person = (person if person.ordered else person.order_by("pk"))[:1]  # as first() reads
    return person.values_list("pk", "tenant_id", "jobs__status", "jobs__resume_at")


def claim(ask, identity_id: int | None, tenant_id: int | None, claiming) -> Claimed:
    """The job of `ask` (serial.Claim) claimed unless a job ahead of it (the person's, when
    it has one) is found; the job read as claimed. With `tenant_id` (the person's), the head
    of its audit chain too, unlocked: the guess of the run's first append
    (events.head_read_sql). `claiming(ask, identity_id)` gives the querysets and values of
    the claim (serial.claiming); the statement made of them is kept per shape and sent with
    this claim's values (portal/kept_sql.py)."""
    chain_key = None if tenant_id is None else chain_key_for(tenant_id)
    extras = [v for v in (identity_id, tenant_id, chain_key) if v is not None]
    shape = (
        "claim",
        identity_id is not None,
        chain_key is not None,
        tuple(memo.registered_tenant_rows()),
    )

    def build(job_id, now, lease_until, due_by, *more) -> kept_sql.Built:
        more = list(more)
        person = more.pop(0) if identity_id is not None else None
        tenant = more.pop(0) if tenant_id is not None else None
        key = more.pop(0) if chain_key is not None else None
        values = replace(ask, job_id=job_id, now=now, lease_until=lease_until, due_by=due_by)
        return _statement(*claiming(values, person), person, key, (job_id, tenant))

    built = kept_sql.kept(shape, build, ask.job_id, ask.now, ask.lease_until, ask.due_by, *extras)
    with db.cursor() as cursor:
        cursor.execute(built.sql, built.params)
        row = list(cursor.fetchone())
    return _read(built.extra, row, tenant_id)


@dataclass
class _Reader:
    """The columns of the claim's row, in order, and the instances they make."""

    jobs: _Columns
    parts: list[_Columns]  # tenant, person, requester
    rows: list[tuple]  # (accessor name, relation, columns) of the tenant's feature rows


def _statement(
    claimable: QuerySet,
    ahead,
    values: dict,
    identity_id: int | None,
    chain_key: str | None,
    job_in_tenant: tuple[int, int | None],
) -> kept_sql.Built:
    """`claimable` (the job, when it may be claimed) set to `values` unless `ahead` (the
    jobs ahead of it, ordered: None without a person) finds one, and the reads with it;
    `job_in_tenant` (the job's id, the person's tenant) for the tenant's jobs ahead."""
    quote = db.ops.quote_name
    if ahead is not None:
        claimable = claimable.filter(~Exists(ahead.order_by()))
    update_sql, update_params = bulk_rows.update_sql(claimable, values)
    jobs = _Columns(Job, "claimed")
    returning = ", ".join(
        f"{quote(Job._meta.db_table)}.{quote(f.column)}" for f in Job._meta.concrete_fields
    )
    related = [
        ("t", Tenant, "tenant"),
        ("i", Identity, "identity"),
        ("u", get_user_model(), "requested_by"),
    ]
    parts = [_Columns(model, alias) for alias, model, _ in related]
    joins = [
        (alias, model, model._meta.pk.column, "claimed", Job._meta.get_field(name).column)
        for alias, model, name in related
    ]
    rows = []  # (accessor name, relation, columns) of the tenant's registered feature rows
    for n, name in enumerate(memo.registered_tenant_rows()):
        rel = Tenant._meta.get_field(name)
        alias = f"r{n}"
        rows.append((name, rel, _Columns(rel.related_model, alias)))
        joins.append((alias, rel.related_model, rel.field.column, "t", Tenant._meta.pk.column))
    extras, extra_params = _person_reads(identity_id)
    older, older_params = _jobs_ahead(*job_in_tenant)

    ahead_cols = "NULL, NULL, NULL"
    ahead_join, ahead_params = "", []
    if ahead is not None:
        ahead_sql, ahead_params = _sql(ahead.values_list("pk", "status", "kind")[:1])
        ahead_cols = "ahead.*"
        ahead_join = f"LEFT JOIN ({ahead_sql}) AS ahead ON TRUE"
    head_cols, head_join, head_params = "NULL, NULL", "", []
    if chain_key is not None:
        head_sql, head_params = audit_events.chain_head_read_sql(chain_key)
        head_cols = "head.*"
        head_join = f"LEFT JOIN ({head_sql}) AS head ON TRUE"
    columns = ", ".join(
        [
            ahead_cols,
            jobs.sql,
            *(p.sql for p in parts),
            *(c.sql for _, _, c in rows),
            *extras,
            older,
            head_cols,
        ]
    )
    join_sql = " ".join(
        f"LEFT JOIN {quote(model._meta.db_table)} AS {quote(alias)}"
        f" ON {quote(alias)}.{quote(column)} = {quote(to)}.{quote(to_column)}"
        for alias, model, column, to, to_column in joins
    )
    sql = (
        # Compiled by Django, quoted by the backend; every value a parameter.
        f"WITH claimed AS ({update_sql} RETURNING {returning}) "  # noqa: S608
        f"SELECT {columns} FROM (SELECT 1) AS one {ahead_join} {head_join} "
        f"LEFT JOIN claimed ON TRUE {join_sql}"
    )
    params = [*update_params, *extra_params, *older_params, *ahead_params, *head_params]
    return kept_sql.Built(sql, params, _Reader(jobs, parts, rows))


def _read(reader: _Reader, row: list, tenant_id: int | None) -> Claimed:
    found, row, jobs_ahead, head = row[:3], row[3:-3], row[-3], tuple(row[-2:])
    if found[0] is not None:
        return Claimed(ahead=tuple(found))
    job, row = reader.jobs.read(row)
    if job is None:
        return Claimed()
    tenant, row = reader.parts[0].read(row)
    job.tenant = tenant
    person, row = reader.parts[1].read(row)
    job.identity = person
    job.requested_by, row = reader.parts[2].read(row)
    for _name, rel, columns in reader.rows:
        feature_row, row = columns.read(row)
        rel.set_cached_value(tenant, feature_row)  # as select_related leaves it
        if feature_row is not None:
            rel.field.set_cached_value(feature_row, tenant)
    reads = {}
    if jobs_ahead is not None and job.tenant_id == tenant_id:
        reads[("jobs_ahead", job.pk)] = (jobs_ahead,)
    if person is not None:
        template_ids, grants, accounts = row
        version = (person.pk, person.desired_version)
        reads[("template_ids", *version)] = list(template_ids)
        reads[("live_grants", *version)] = desired.grants_by_person(
            tuple(g.values()) for g in _json(grants)
        )
        reads[("accounts", person.pk)] = {
            a.connection_id: a for a in (_account(values, person) for values in _json(accounts))
        }
    return Claimed(job=job, person_reads=reads, head=head)


def _person_reads(identity_id: int | None) -> tuple[list[str], list]:
    """The person's template ids (in order), live grants and directory accounts, as
    expressions of the SELECT list; each only when the job was claimed."""
    if identity_id is None:
        return [], []
    templates, t_params = _sql(desired.person_templates(identity_id))
    grants, g_params = _sql(desired.live_grants(identity_id=identity_id))
    accounts_sql, a_params = _sql(DirectoryAccount.objects.filter(identity_id=identity_id))
    claimed_pk = f"claimed.{db.ops.quote_name(Job._meta.pk.column)}"
    when = f"CASE WHEN {claimed_pk} IS NULL THEN NULL ELSE {{}} END"
    return [
        when.format(f"ARRAY({templates})"),
        when.format(f"(SELECT json_agg(g) FROM ({grants}) AS g)"),  # noqa: S608 (compiled)
        when.format(f"(SELECT json_agg(a) FROM ({accounts_sql}) AS a)"),  # noqa: S608
    ], [*t_params, *g_params, *a_params]


def _jobs_ahead(job_id: int, tenant_id: int | None) -> tuple[str, list]:
    """The tenant's unfinished jobs older than the job (admission.jobs_ahead), as an
    expression of the SELECT list: counted only for a job claimed that has been neither
    admitted nor planned (its first read may wait its turn)."""
    if tenant_id is None:
        return "NULL", []
    older, params = _sql(admission.older_unfinished(tenant_id, job_id).values("pk"))
    options = f"claimed.{db.ops.quote_name(Job._meta.get_field('options').column)}"
    claimed_pk = f"claimed.{db.ops.quote_name(Job._meta.pk.column)}"
    counted = (  # compiled by Django; the names quoted by the backend, the keys constants
        f"CASE WHEN {claimed_pk} IS NULL OR ({options} -> '{admission.ADMITTED}') IS NOT NULL"  # noqa: S608
        f" OR COALESCE(({options} ->> 'round')::int, 0) <> 0 THEN NULL"
        f" ELSE (SELECT COUNT(*) FROM ({older}) AS older) END"
    )
    return counted, list(params)


def _sql(queryset: QuerySet) -> tuple[str, tuple]:
    return queryset.query.get_compiler(connection=db).as_sql()


def _json(value) -> list:
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else value


def _account(values: dict, person: Identity) -> DirectoryAccount:
    """A person's account from its row as `json_agg` gives it (its columns by name): each
    value as its field makes it from text (a time's ISO text), JSON as it is."""
    fields = DirectoryAccount._meta.concrete_fields
    made = [
        values[f.column] if f.get_internal_type() == "JSONField" else f.to_python(values[f.column])
        for f in fields
    ]
    account = DirectoryAccount.from_db(db.alias, [f.attname for f in fields], made)
    account.identity = person  # as the person's related manager gives them
    return account


class _Columns:
    """A model's concrete columns under `alias` in a SELECT list, and its instance made from
    them as Django's compiler makes it (the backend's converters, then the field's)."""

    def __init__(self, model: type[Model], alias: str) -> None:
        quote = db.ops.quote_name
        self.model, self.fields = model, model._meta.concrete_fields
        self.sql = ", ".join(f"{quote(alias)}.{quote(f.column)}" for f in self.fields)
        self.attnames = [f.attname for f in self.fields]
        self.converters = []
        for f in self.fields:
            col = f.get_col(alias)
            self.converters.append(
                (col, [*db.ops.get_db_converters(col), *col.get_db_converters(db)])
            )

    def read(self, row: list) -> tuple[Model | None, list]:
        """The instance (None when the row's primary key is NULL), and the rest of `row`."""
        values, rest = row[: len(self.fields)], row[len(self.fields) :]
        pk_index = self.fields.index(self.model._meta.pk)
        if values[pk_index] is None:
            return None, rest
        for n, (col, converters) in enumerate(self.converters):
            for convert in converters:
                values[n] = convert(values[n], col, db)
        return self.model.from_db(db.alias, self.attnames, values), rest
