"""A month of past work in the demo tenants, so that the dashboard and the reports look alive.

History rows only: people, jobs, steps, access requests and their audit events, all dated in
the last 30 days. No directory is called and nothing is queued here: once the sandbox runs,
`provisioning.demo_accounts` gives these people the accounts their history ends with. They
live on the tenant's domain with employee ids ``H-…`` and names the sandbox's own people and
the live demo joiners do not have. A tenant that has history already is left alone, so
running the demo twice does not double it.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from portal.audit.bulk import append_events, history_event
from provisioning.engine.planner import built_in_note
from provisioning.models import AccessRequest, Identity, Job, RequestableResource, Step
from tenants.models import Tenant

DAYS = 30
SLUGS = ("contoso", "fabrikam", "northwind")
FIRST = [
    *("Amara", "Bruno", "Chloe", "Dmitri", "Elena", "Farah", "Gideon", "Hanna", "Idris", "Jana"),
    *("Kofi", "Lena", "Mateo", "Nora", "Oskar", "Paula", "Quentin", "Rosa", "Samir", "Tessa"),
    *("Umar", "Vera", "Wilhelm", "Yara", "Zane", "Alba", "Cyrus", "Delia", "Emeka", "Freya"),
]
LAST = [
    *("Abbott", "Barros", "Castell", "Dietz", "Eklund", "Fontaine", "Grewal", "Hollis"),
    *("Ivanova", "Halvorsen", "Kaur", "Lindgren", "Moreau", "Nakashima", "Oyelaran", "Petrov"),
    *("Quinlan", "Rinaldi", "Sandoval", "Thorne", "Ulloa", "Szabo", "Whitlock"),
]
ERRORS = {
    "entra": ("assign_license", "License assignment failed because no licenses are available."),
    "okta": ("assign_app", "Api validation failed: the app's assignment limit has been reached."),
}


@dataclass
class Ctx:
    """One tenant's seeding: its connections, templates, people to act, and events so far."""

    tenant: Tenant
    rng: random.Random
    now: datetime
    zone: ZoneInfo
    connections: list
    templates: list
    tech: object
    approver: object
    names: set[str] = field(default_factory=set)
    events: list = field(default_factory=list)
    figures: Counter = field(default_factory=Counter)


EMPLOYEE_PREFIX = "H-"


def has_history(tenant: Tenant) -> bool:
    return Identity.objects.filter(tenant=tenant, employee_id__startswith=EMPLOYEE_PREFIX).exists()


def seed_history(now: datetime | None = None) -> dict[str, Counter]:
    """Seed the demo tenants that have no history yet; what was made, per tenant."""
    made = {}
    for slug in SLUGS:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None or has_history(tenant) or not tenant.role_templates.exists():
            continue
        with transaction.atomic():
            made[slug] = _seed_tenant(tenant, now or timezone.now())
    return made


def _seed_tenant(tenant: Tenant, now: datetime) -> Counter:
    users = get_user_model().objects
    ctx = Ctx(
        tenant,
        random.Random(f"history-{tenant.slug}"),
        now,
        ZoneInfo(tenant.time_zone),
        list(tenant.connections.order_by("kind")),
        list(tenant.role_templates.all()),
        users.filter(username="tech").first() or "system",
        users.filter(username=f"ca.{tenant.slug}").first() or "system",
    )
    moments = sorted(_moments(ctx, 26))
    kinds = ["leave" if i % 3 == 0 else "change" if i % 5 == 2 else "join" for i in range(26)]
    joins = [i for i, kind in enumerate(kinds) if kind == "join"]
    # A recent partial failure (the dashboard's "needs attention"), an older one retried.
    outcomes = {joins[-2]: "partial", joins[4]: "retried"}
    joined = []
    for i, (when, kind) in enumerate(zip(moments, kinds, strict=True)):
        if kind == "leave":
            _leaver(ctx, when, throttled=i == 9)
        elif kind == "change":
            _mover(ctx, when)
        else:
            outcome = outcomes.get(i, "ok")
            joined.append(_joiner(ctx, when, outcome=outcome, ahead=i in (7, 16)))
    _access_requests(ctx, [p for p in joined if p is not None])
    append_events(sorted(ctx.events, key=lambda e: e.timestamp))
    ctx.figures["events"] = len(ctx.events)
    return ctx.figures


def _moments(ctx: Ctx, count: int) -> list[datetime]:
    """Working hours on weekdays of the last 30 days, a few of them today and this week."""
    found = []
    while len(found) < count:
        days = ctx.rng.choice([0, 1, 2, 3]) if len(found) < 4 else ctx.rng.randint(1, DAYS - 1)
        day = (ctx.now - timedelta(days=days)).astimezone(ctx.zone).date()
        if day.weekday() >= 5:
            continue
        local = datetime(
            day.year, day.month, day.day, ctx.rng.randint(8, 17), ctx.rng.randint(0, 59)
        )
        when = local.replace(tzinfo=ctx.zone)
        if when < ctx.now - timedelta(minutes=30):
            found.append(when)
    return found


# -- people ------------------------------------------------------------------------------------


def _person(ctx: Ctx, status: str, created: datetime, template, by=None) -> Identity:
    """`by`: who onboarded them in the history (movers and leavers joined before it)."""
    while True:
        first, last = ctx.rng.choice(FIRST), ctx.rng.choice(LAST)
        if (first, last) not in ctx.names:
            ctx.names.add((first, last))
            break
    username = f"{first}.{last}@{ctx.tenant.primary_domain}".lower()
    identity = Identity.objects.create(
        tenant=ctx.tenant,
        first_name=first,
        last_name=last,
        display_name=f"{first} {last}",
        username=username,
        email=username,
        employee_id=f"{EMPLOYEE_PREFIX}{ctx.rng.randint(10000, 99999)}",
        attributes={"department": template.department} if template.department else {},
        status=status,
        start_date=created.date(),
        created_by=by if getattr(by, "pk", None) else None,
    )
    identity.role_templates.set([template])
    # Their accounts come later (provisioning.demo_accounts): not among the first people the
    # periodic reconciliation checks after the demo starts.
    Identity.objects.filter(pk=identity.pk).update(
        created_at=created, last_reconciled_at=timezone.now()
    )
    ctx.figures["people"] += 1
    return identity


def _joiner(ctx: Ctx, when: datetime, *, outcome: str, ahead: bool) -> Identity | None:
    template = ctx.rng.choice(ctx.templates)
    person = _person(ctx, Identity.Status.ACTIVE, when, template, by=ctx.tech)
    _event(ctx, "identity.onboard", when, ctx.tech, person, {"role_templates": [template.name]})
    plan = [s for c in ctx.connections for s in _join_steps(c, template, person)]
    failing = None
    if outcome != "ok":
        action, error = ERRORS[ctx.connections[0].kind]
        failing = next((i for i, s in enumerate(plan) if s[1] == action), len(plan) - 1)
    status = Job.Status.PARTIAL if outcome == "partial" else Job.Status.SUCCEEDED
    job = _job(
        ctx,
        person,
        Job.Kind.JOIN,
        when,
        plan,
        status=status,
        failing=failing,
        retried=outcome == "retried",
        held=_read_back(ctx, person, template, enabled=not ahead),
    )
    ctx.figures["joiners"] += 1
    if ahead:  # created ahead, disabled, and enabled on the first working morning after
        start = (when + timedelta(days=1)).astimezone(ctx.zone).replace(hour=8, minute=0)
        if start < ctx.now:
            enable = [(c, Step.Action.ENABLE_USER, person.username) for c in ctx.connections]
            _job(
                ctx,
                person,
                Job.Kind.CHANGE,
                when,
                enable,
                not_before=start,
                options={"enable": True},
                actor="system",
                held=_read_back(ctx, person, template),
            )
    return person if job.status == Job.Status.SUCCEEDED else None


def _mover(ctx: Ctx, when: datetime) -> None:
    old, new = ctx.rng.sample(ctx.templates, 2) if len(ctx.templates) > 1 else ctx.templates * 2
    person = _person(ctx, Identity.Status.ACTIVE, when - timedelta(days=400), new)
    _event(ctx, "identity.change", when, ctx.tech, person, {"role_templates": [new.name]})
    plan = []
    for c in ctx.connections:
        had, has = _given(c, old), _given(c, new)
        if had is None or has is None:  # an app the move gives or takes away
            plan += [] if has is None else _join_steps(c, new, person)
            plan += [] if had is None else [(c, Step.Action.DISABLE_USER, person.username)]
            continue
        plan += [(c, Step.Action.REMOVE_GROUP, g) for g in had.groups if g not in has.groups]
        plan += [(c, Step.Action.ADD_GROUP, g) for g in has.groups if g not in had.groups]
        plan += [(c, Step.Action.REMOVE_LICENSE, s) for s in had.licenses if s not in has.licenses]
        plan += [(c, Step.Action.ASSIGN_LICENSE, s) for s in has.licenses if s not in had.licenses]
        plan.append((c, Step.Action.UPDATE_USER, "department"))
    _job(ctx, person, Job.Kind.CHANGE, when, plan, held=_read_back(ctx, person, new, before=old))
    ctx.figures["movers"] += 1


def _leaver(ctx: Ctx, when: datetime, *, throttled: bool = False) -> None:
    template = ctx.rng.choice(ctx.templates)
    person = _person(
        ctx, Identity.Status.LEFT, when - timedelta(days=ctx.rng.randint(90, 900)), template
    )
    Identity.objects.filter(pk=person.pk).update(end_date=when.date())
    _event(ctx, "identity.offboard", when, ctx.tech, person, {"at": "now", "remove_licenses": True})
    plan = [s for c in ctx.connections for s in _leave_steps(c, template, person)]
    held = _read_back(ctx, person, template, leaving=True)
    _job(ctx, person, Job.Kind.LEAVE, when, plan, slow_step=2 if throttled else None, held=held)
    ctx.figures["leavers"] += 1


@dataclass(frozen=True)
class Given:
    """What a role template gives in one connection."""

    groups: list[str]
    licenses: list[str]
    apps: list[str]


def _given(connection, template) -> Given | None:
    """As the engine's desired state has it: in a directory, the template's groups, apps and
    (Entra) licences; in a SCIM app, an account with the app's groups only where the template
    gives the app, else none (None)."""
    if connection.assigned_by_template:
        groups = template.scim_groups_for(connection.pk)
        return None if groups is None else Given(groups, [], [])
    licenses = template.licenses if connection.kind == "entra" else []
    return Given(template.groups, licenses, template.apps)


def _join_steps(connection, template, person) -> list[tuple]:
    given = _given(connection, template)
    if given is None:
        return []
    steps = [(connection, Step.Action.CREATE_USER, person.username)]
    steps += [(connection, Step.Action.ASSIGN_LICENSE, s) for s in given.licenses]
    steps += [(connection, Step.Action.ADD_GROUP, g) for g in given.groups]
    steps += [(connection, Step.Action.ASSIGN_APP, a) for a in given.apps]
    return steps


def _leave_steps(connection, template, person) -> list[tuple]:
    given = _given(connection, template)
    if given is None:
        return []
    steps = [(connection, Step.Action.DISABLE_USER, person.username)]
    if not connection.assigned_by_template:  # a SCIM app has no sessions or password
        steps.append((connection, Step.Action.REVOKE_SESSIONS, person.username))
    if connection.kind == "entra":
        steps.append((connection, Step.Action.RESET_PASSWORD, person.username))
    steps += [(connection, Step.Action.REMOVE_LICENSE, s) for s in given.licenses]
    steps += [(connection, Step.Action.REMOVE_GROUP, g) for g in given.groups]
    steps += [(connection, Step.Action.UNASSIGN_APP, a) for a in given.apps]
    return steps


EVERYONE = built_in_note("Everyone")


def _read_back(
    ctx: Ctx, person, template, *, leaving=False, enabled=True, granted=None, before=None
) -> dict:
    """What the engine's read-back records (engine/planner.py, `readback`) as the job ends:
    per directory, the person's account and the counts of what it holds, `template`'s access
    (and `granted`, one more group or app) or, `leaving`, none and sign-in blocked; an Okta
    account is in Everyone as well (told why); no account in a SCIM app the template does not
    give (blocked and emptied where the `before` template of a move gave one). The account is
    named by the username the steps name it by: the sandbox accounts come later
    (provisioning.demo_accounts)."""
    held = {}
    for connection in ctx.connections:
        given = _given(connection, template)
        dropped = given is None and before is not None and _given(connection, before)
        if given is None and not dropped:
            held[str(connection.pk)] = {"account": "absent"}
            continue
        counts = {"groups": 0, "licenses": 0, "apps": 0}
        if given is not None and not leaving:
            counts = {"groups": len(given.groups), "licenses": len(given.licenses)}
            counts["apps"] = len(given.apps)
        if granted is not None and granted.connection_id == connection.pk:
            counts["groups" if granted.kind == "group" else "apps"] += 1
        row = {"account": person.username, "enabled": enabled and not leaving and not dropped}
        row |= counts
        row["roles"] = 0 if leaving else None  # only a leave reads directory roles
        if connection.kind == "okta":
            row["groups"] += 1
            row["by_rule"] = [EVERYONE]
        held[str(connection.pk)] = row
    return held


# -- jobs, steps and their events ------------------------------------------------------------


@dataclass
class Plan:
    """How one job went: which step failed (and stayed failed, or was retried), which was slow."""

    status: str = Job.Status.SUCCEEDED
    failing: int | None = None
    retried: bool = False
    slow_step: int | None = None
    not_before: datetime | None = None
    options: dict = field(default_factory=dict)
    # What each directory held when the job ended (_read_back); written only if it succeeded.
    held: dict | None = None


def _job(ctx: Ctx, person, kind, when, steps, *, actor=None, **how) -> Job:
    plan = Plan(**how)
    start = (plan.not_before or when) + timedelta(seconds=ctx.rng.randint(3, 25))
    requester = actor or ctx.tech
    job = Job.objects.create(
        tenant=ctx.tenant,
        identity=person,
        kind=kind,
        status=plan.status,
        created_at=when,
        not_before=plan.not_before,
        started_at=start,
        requested_by=requester if not isinstance(requester, str) else None,
        options=plan.options,
        planned=True,
        steps_total=len(steps),
        runs=2 if plan.retried else 1,
    )
    names = [f"{Step.Action(a).label} {t}" for _, a, t in steps]
    _event(ctx, "job.plan", start, "system", person, {"steps": names}, job_id=job.pk)
    rows, moment = _steps(ctx, job, person, steps, plan, start)
    Step.objects.bulk_create(rows)
    failed = sum(1 for r in rows if r.status == Step.Status.FAILED)
    verified = plan.status == Job.Status.SUCCEEDED and plan.held is not None
    Job.objects.filter(pk=job.pk).update(
        finished_at=moment,
        steps_done=len(rows) - failed,
        steps_failed=failed,
        error=f"{failed} step failed." if failed else "",
        verification={"read_at": moment.isoformat(), "directories": plan.held} if verified else {},
    )
    after = {"status": plan.status, "steps_done": len(rows) - failed, "steps_failed": failed}
    _event(ctx, "job.finish", moment, "system", person, after, job_id=job.pk)
    ctx.figures["jobs"] += 1
    return job


def _steps(ctx: Ctx, job: Job, person, steps, plan: Plan, start: datetime):
    rows, moment = [], start + timedelta(seconds=1)
    for order, (connection, action, target) in enumerate(steps, start=1):
        attempts, error = 1, ""
        if order - 1 == plan.slow_step:  # throttled twice, then through
            for attempt in (1, 2):
                _step_event(
                    ctx,
                    job,
                    person,
                    connection,
                    action,
                    target,
                    moment,
                    attempt,
                    "Too many requests (429): retrying in 20 s.",
                )
                moment += timedelta(seconds=20)
            attempts = 3
        if order - 1 == plan.failing:
            error = ERRORS[connection.kind][1]
            _step_event(ctx, job, person, connection, action, target, moment, 1, error)
        duration = timedelta(milliseconds=ctx.rng.randint(150, 1400))
        failed = bool(error) and not plan.retried
        if not failed:
            if error:  # the technician retried it after fixing the cause
                moment = _retry(ctx, job, person, moment)
            _step_event(ctx, job, person, connection, action, target, moment + duration, attempts)
        rows.append(
            Step(
                job=job,
                connection=connection,
                order=order,
                action=action,
                target_name=target,
                params=_params(action, target),
                status=Step.Status.FAILED if failed else Step.Status.SUCCEEDED,
                attempts=attempts,
                last_error=error if failed else "",
                error_kind="permanent" if failed else "",
                started_at=moment,
                finished_at=moment + duration,
                duration_ms=int(duration.total_seconds() * 1000),
            )
        )
        moment += duration
    return rows, moment


# The ids the engine's steps carry in their params (engine/planner.py, ACCESS_KINDS), which
# what a leave removed is read back from (engine/offboarding.py): the template's reference
# (a name or an id) stands for the directory's id.
PARAM_OF = {
    Step.Action.ADD_GROUP: "group_id",
    Step.Action.REMOVE_GROUP: "group_id",
    Step.Action.ASSIGN_LICENSE: "sku_id",
    Step.Action.REMOVE_LICENSE: "sku_id",
    Step.Action.ASSIGN_APP: "app_id",
    Step.Action.UNASSIGN_APP: "app_id",
}


def _params(action: str, target: str) -> dict:
    key = PARAM_OF.get(action)
    return {key: target} if key else {}


def _retry(ctx: Ctx, job: Job, person, moment: datetime) -> datetime:
    after = {"status": Job.Status.PARTIAL, "steps_failed": 1}
    _event(ctx, "job.finish", moment + timedelta(seconds=1), "system", person, after, job_id=job.pk)
    later = moment + timedelta(minutes=ctx.rng.randint(15, 50))
    retry = {"steps_retried": 1, "replanned": False}
    _event(ctx, "job.retry", later, ctx.tech, person, retry, job_id=job.pk)
    return later + timedelta(seconds=5)


def _step_event(ctx, job, person, connection, action, target, when, attempt, error=""):
    after = {"directory": connection.label, "target": target, "attempt": attempt}
    if error:
        after["error"] = error
    result = "failure" if error else "success"
    _event(ctx, f"directory.{action}", when, "system", person, after, job_id=job.pk, result=result)


def _event(ctx, action, when, actor, person, after, *, job_id=None, result="success") -> None:
    ctx.events.append(
        history_event(
            action,
            timestamp=when,
            actor=actor,
            tenant=ctx.tenant,
            target=("provisioning.identity", person.pk, str(person)),
            after=after,
            result=result,
            job_id=job_id,
        )
    )


# -- access requests --------------------------------------------------------------------------

OUTCOMES = (
    AccessRequest.Status.GRANTED,
    AccessRequest.Status.GRANTED,
    AccessRequest.Status.GRANTED,
    AccessRequest.Status.DENIED,
    AccessRequest.Status.EXPIRED,
)


def _access_requests(ctx: Ctx, people: list[Identity]) -> None:
    resources = _resources(ctx)
    for i, outcome in enumerate(OUTCOMES):
        if not people or not resources:
            return
        person, resource = ctx.rng.choice(people), resources[i % len(resources)]
        # Expired ones waited 7 days; decisions take up to 30 hours: all lie in the past.
        days_back = ctx.rng.randint(9, DAYS - 2) if outcome == "expired" else ctx.rng.randint(2, 20)
        created = ctx.now - timedelta(days=days_back, minutes=ctx.rng.randint(30, 600))
        request = AccessRequest.objects.create(
            tenant=ctx.tenant,
            identity=person,
            resource=resource,
            status=outcome,
            reason=f"Needs {resource.name} for their work.",
            requested_by=ctx.tech if not isinstance(ctx.tech, str) else None,
            created_at=created,
        )
        after = {"request": request.pk, "resource": resource.name, "reason": request.reason}
        _event(ctx, "access.request", created, ctx.tech, person, after)
        _decide(ctx, request, person, resource, created, outcome)
        ctx.figures["requests"] += 1


# Outcome -> (hours from request to decision (low, high), approver or system, reason, action).
DECISIONS = {
    AccessRequest.Status.GRANTED: ((0.2, 6), True, "Agreed with their manager.", "access.approve"),
    AccessRequest.Status.DENIED: ((1, 30), True, "Not needed for the role.", "access.deny"),
    AccessRequest.Status.EXPIRED: ((168, 168), False, "No decision in time.", "access.expired"),
}


def _decide(ctx: Ctx, request, person, resource, created: datetime, outcome: str) -> None:
    (low, high), by_person, reason, action = DECISIONS[outcome]
    decided = created + timedelta(hours=ctx.rng.uniform(low, high))
    who = ctx.approver if by_person else "system"
    grant = None
    if outcome == AccessRequest.Status.GRANTED:
        kind_action = Step.Action.ADD_GROUP if resource.kind == "group" else Step.Action.ASSIGN_APP
        grant = _job(
            ctx,
            person,
            Job.Kind.GRANT,
            decided,
            [(resource.connection, kind_action, resource.name)],
            actor=who,
            options={"access_request": request.pk},
            held=_read_back(ctx, person, person.role_templates.first(), granted=resource),
        )
    AccessRequest.objects.filter(pk=request.pk).update(
        decided_at=decided,
        decided_by=who if not isinstance(who, str) else None,
        decision_reason=reason,
        grant_job=grant,
        added_access=grant is not None,
    )
    after = {"request": request.pk, "status": outcome, "reason": reason}
    _event(ctx, action, decided, who, person, after, job_id=grant.pk if grant else None)


def _resources(ctx: Ctx) -> list[RequestableResource]:
    """The tenant's requestable groups and apps (`seed_demo_access` makes them). None are
    made here: a resource holds a live directory id, and a tenant with resources of any kind
    would be skipped by that seeding."""
    return list(ctx.tenant.requestables.filter(is_active=True).select_related("connection"))
