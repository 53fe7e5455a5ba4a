"""Running a Job: rounds of plan (read every directory, compare with the person's desired
state), apply (steps.py) and read again, until a read finds nothing to do: then, and only
then, the job succeeds, with that read as its verification.

Safe to run twice and after a crash: a job is claimed under its person's row lock and a
lease (serial.py); a Step row records intent before its call and the outcome after; a round
that a crash interrupted is finished, then read back like any other. Throttling and
transient failures never sleep in the worker: `execute` returns when to try again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db import connection as db
from django.db.models import Count, Exists, Q
from django.utils import timezone

from portal import bulk_rows, kept_sql
from portal.audit.events import Riding, event_for, record_all
from portal.audit.models import AuditEvent
from provisioning import quarantine, throttle
from provisioning.connectors import bridge
from provisioning.connectors.errors import (
    ConnectorError,
    ReplicationLagError,
    ThrottledError,
    TransientError,
)
from provisioning.connectors.factory import connector_for
from provisioning.engine import (
    admission,
    choosing,
    crashes,
    create_groups,
    elsewhere,
    guards,
    memo,
    outcomes,
    planner,
    recent_writes,
    serial,
)
from provisioning.engine import plans as plans_of
from provisioning.engine.accounts import (
    account_for,
    account_to_apply,
    accounts_of,
    link_account,
    save_held,
)
from provisioning.engine.desired import desired_for, leaving
from provisioning.engine.parking import (
    LeaseLost,
    Outcome,
    backoff,
    held,
    held_as,
    lease_seconds,
    wait,
)
from provisioning.engine.steps import (
    NO_ANSWER,
    WAITING_OUT_LOST_CALLS,
    apply_batch,
    given_up_unanswered,
    next_batch,
    pending_steps,
)
from provisioning.events import publish
from provisioning.models import DirectoryAccount, Identity, Job, Step
from tenants.crypto import CredentialError

# A plan is several reads that must all succeed in one go (the verification alone is four
# GETs in one `$batch`), so an unsteady directory fails a whole plan far more often than a
# single step: more tries, and a back-off that stops growing early (about 8 s).
MAX_PLAN_ATTEMPTS = 20
# A job chases asks made while it runs (rounds_at) for at most this many times the rounds of
# one desired state.
CHASED_ROUNDS = 3
PLAN_BACKOFF_STEPS = 4
# A round's runs of reads that failed, found no account or lagged: each round counts afresh.
READ_COUNTS = ("plan_failures", "missing_reads", "lag_reads", "lagging_since")


def execute(job_id: int) -> Outcome:
    with memo.one_run(), quarantine.successes_held():
        return _execute(job_id)


def _execute(job_id: int) -> Outcome:
    job, blocker = serial.claim(job_id, lease_seconds())
    if job is None:
        # Done already, claimed elsewhere, or behind another job of the person (which
        # starts this one when it ends).
        return Outcome(then=blocker)
    try:
        outcome = _run(job)
    except CredentialError as exc:
        fail_job(job, str(exc))
        outcome = Outcome()
    except LeaseLost:
        # Claimed by another run meanwhile: that one goes on from what the directories hold.
        return Outcome()
    except (OperationalError, InterfaceError):
        raise  # the database itself is away: the lease runs out and the job is sent again
    except throttle.Unavailable as exc:  # the rate buckets' Redis is away: waited for
        outcome = crashes.pacing_away(job, exc)
    except Exception as exc:  # no rule foresaw it: counted, and failed after a few
        outcome = crashes.after(job, exc, fail_job)
    if job.is_done:
        return Outcome(then=serial.next_job(job))
    return outcome


def _run(job: Job) -> Outcome:
    """Rounds of plan (read, compare), apply, until a read finds nothing to do."""
    _person_read(job)  # the claim has just read the person with the job
    while not job.is_done:
        outcome = run_steps(job) if job.planned else plan_job(job)
        if outcome is not None:
            return outcome
    return Outcome()


class NewerPerson(Exception):
    """The job's end found the person changed since the plan that verified it (a newer ask
    while the read was on its way): nothing was written; `person` is the row it read."""

    def __init__(self, person: Identity) -> None:
        super().__init__(person.pk)
        self.person = person


# What the engine itself, or the periodic check, writes on a person: no change of the state.
_NOT_DESIRED = {"last_reconciled_at", "updated_at"}


def _differs(planned: Identity, stored: Identity) -> bool:
    """Whether the stored person is not the one the run planned with (any field of theirs
    but the engine's own times): a newer ask raises the version, and a change of a field
    no ask made (a deleted connection off `directories`) counts too."""
    before, now = outcomes.person_as_read(planned), outcomes.person_as_read(stored)
    return any(before[name] != now[name] for name in before if name not in _NOT_DESIRED)


def _person_read(job: Job) -> None:
    """job.identity was just read from the database: the next plan reads it no more."""
    memo.keep(("person_read", job.pk), True)


def _newer_person(job: Job) -> bool:
    """Read the person again after a plan made without a fresh read of them: whether they
    changed (job.identity is then the row read, for the plan again)."""
    stored = Identity.objects.get(pk=job.identity_id)
    if not _differs(job.identity, stored):
        return False
    job.identity = stored
    _person_read(job)
    return True


def plan_job(job: Job, *, identity_read: bool = False) -> Outcome | None:
    """A round: read every directory of the tenant, compare with the desired state now, and
    write the steps. No steps anywhere: the read was the verification and the job succeeds.
    A directory that cannot be read (down, quarantined, throttling) stops the round before
    anything is written, except for a leaver (whatever the job: a move asked before the
    leave reads them too): it writes to the directories it read, then waits for, or fails
    on, the one it could not (the leaver's access goes where it can at once).
    None when the job goes on (its steps, or done); an Outcome when it must wait.
    `identity_read`: job.identity was read from the database just now (by the claim).

    A later round of the run (the verifying read) plans with the person as the run holds
    them, not read again: the job's end reads them under lock and, if they changed
    meanwhile (a newer ask), writes nothing and the run reads again (`NewerPerson`). A round
    that finds steps or problems reads the person before it acts on them, and plans again
    if they changed: what it sends or fails on is the state as it is now."""
    identity_read = memo.take(("person_read", job.pk)) or identity_read
    identity = job.identity
    identity.tenant = job.tenant  # read with the job: the desired state needs it, unread again
    rounds = job.options.get("round", 0)
    connections = connections_of(job)
    if rounds == 0 and (turn := admission.turn_first(job, connections)) is not None:
        return turn  # its turn not come: nothing read or planned for it
    accounts = accounts_of(identity)
    read = _Round(cuts=leaving(identity))
    for connection in connections:
        stop = _read_directory(job, connection, accounts.get(connection.pk), read)
        if stop is not _READ:
            return stop
    return _act_on(job, identity, read, rounds, identity_read)


_READ = object()  # a directory read, or set aside for later: the round goes on


class _Round:
    """What a round has read so far: each directory's plan, its problems and choices, and a
    leaver's directories that could not be read (their wait or failure, for after the rest).
    `cuts`: the person is leaving, so the round only takes access away and writes what it
    could read at once."""

    def __init__(self, *, cuts: bool):
        self.cuts = cuts
        self.plans: list = []
        self.problems: list[str] = []
        self.choices: list = []
        self.verify_costs: dict = {}
        self.unread: list[Callable[[], Outcome | None]] = []

    def add(self, connection, plan) -> None:
        self.plans.append(plan)
        self.problems += [f"{connection.label}: {p.message}" for p in plan.problems if p.blocking]
        self.choices += choosing.choices_in(connection, plan)

    def later(self, stop: Callable[[], Outcome | None]):
        """A directory not read: a leaver's round sets it aside and writes the others first;
        any other round stops here, before anything is written (nothing half-made)."""
        if not self.cuts:
            return stop()
        self.unread.append(stop)
        return _READ


def _read_directory(job: Job, connection, account, read: _Round):
    """Read one directory and plan for it into `read`: `_READ` when the round goes on, else
    what `plan_job` returns (the job must wait, or it has ended)."""
    identity = job.identity
    desired = desired_for(identity, connection)
    if not desired.managed_here:  # no account of theirs is read or changed there
        read.plans.append(planner.not_managed(connection.pk, connection.kind))
        return _READ
    stored_id = account.remote_id if account else ""
    protected = guards.protected(connection.pk, stored_id)
    if protected:
        read.plans.append(guards.left_alone(connection, stored_id, protected))
        return _READ
    connector = connector_for(connection)
    if account and account.created_remotely_at and hasattr(connector, "note_created"):
        age = (timezone.now() - account.created_remotely_at).total_seconds()
        connector.note_created(account.remote_id, age)  # a 404 soon after is lag
    planning, read_cost, verify_cost = plans_of.plan_for(
        job, connector, connection, account, desired
    )
    if connection.quarantined_at:
        planning.close()
        held = f"{connection} is quarantined: {connection.quarantine_reason}"
        return read.later(functools.partial(wait, job, held, None))
    # The plan's reads count against the pace too: each operation, as the directory counts.
    joiner = not stored_id  # its plan creates the account
    paced = admission.pace_calls(job, connection, read_cost, first_read=True, joiner=joiner)
    if paced is not None:
        planning.close()
        return paced
    try:
        plan = bridge.run(planning)
    except ThrottledError as exc:  # pacing: no plan try spent, nothing for quarantine
        admission.forfeit(job, connection)  # a joiner's round, paid with this read
        pause = throttle.throttled(connection, exc.retry_after)
        # A 429 storm in Okta holds no leaver's Entra ID.
        return read.later(functools.partial(wait, job, f"Throttled by {connection}", pause))
    except (TransientError, TimeoutError, ConnectorError) as exc:
        return read.later(_read_failed(job, connection, exc))
    quarantine.record_outcome(connection, ok=True)
    keep_lease(job)  # a plan reads the directories one after another: each may be slow
    read.verify_costs[connection.pk] = verify_cost()
    if plan.user is not None:
        outcomes.account_read(connection, plan.user, plan.access)
    if plan.missing:
        return wait_for_replication(job, account_for(job, connection))
    if not guards.refuse_found(plan, stored_id) and not guards.refuse_someone_elses(
        plan, identity.pk, stored_id
    ):
        found(job, connection, account, plan)
    read.add(connection, plan)
    return _READ


def _act_on(job: Job, identity, read: _Round, rounds: int, identity_read: bool):
    """The round read every directory it could: fail on its problems, ask for a choice,
    succeed (the read was the verification), or write its steps."""
    plans, problems = read.plans, read.problems
    acting = problems or any(plan.steps for plan in plans)
    if read.unread and not acting:
        return read.unread[0]()  # what a leaver's job could read is as asked: now the rest
    if acting and not identity_read and _newer_person(job):
        return None  # planned with a person since changed: plan again with them as they are
    elsewhere.keep(job, plans)  # work for AD or Exchange, shown on the job, never a step
    if problems and len(read.choices) == len(problems):
        choosing.ask_for_choice(job, read.choices, identity.desired_version)
        return Outcome(then=serial.next_job(job))
    if problems:
        first = "Nothing was sent. " if rounds == 0 else "Stopped before the next changes. "
        fail_job(job, first + " ".join(problems))
        return None
    if (lagging := read_lag(job, plans)) is not None:
        return lagging
    if not any(plan.steps for plan in plans):
        try:
            succeed_verified(job, plans, identity.desired_version)
        except NewerPerson as newer:  # nothing written: read again against them
            job.identity = newer.person
            _person_read(job)
        return None
    if rounds_at(job, identity.desired_version) >= max_rounds():
        fail_still_differs(job)
        return None
    if rounds >= max_rounds() * CHASED_ROUNDS:
        fail_still_asked(job, rounds)
        return None
    write_steps(job, plans, identity.desired_version, read.verify_costs)
    return None


def connections_of(job: Job) -> list:
    """The tenant's connections, once per run: as kept across runs for the tenant's
    configuration version its claim read (memo.across_runs), else read."""
    return memo.remembered(("connections", job.tenant_id), lambda: _connections(job.tenant))


def _connections(tenant) -> list:
    read = lambda: list(tenant.connections.order_by("kind"))  # noqa: E731
    connections = memo.across_runs(tenant.pk, "connections", read)
    for connection in connections:
        connection.tenant = tenant  # as the tenant's related manager gives them
    return connections


def max_rounds() -> int:
    return getattr(settings, "RECONCILE_MAX_ROUNDS", 4)


def rounds_at(job: Job, version: int) -> int:
    """The rounds the job has applied for the desired state `version`: a newer ask while it
    ran (its read-back finds the newer ask to do) starts the count again, so a job chases
    the state last asked for (up to CHASED_ROUNDS times max_rounds in all); only rounds of
    one desired state that do not converge fail it. A count since a retry reset the rounds
    (`round` gone, `version_since` kept) is none."""
    rounds, since = job.options.get("round", 0), job.options.get("version_since", 1)
    if job.options.get("planned_version", version) != version or since > rounds:
        return 0
    return rounds - since + 1


def _read_failed(job: Job, connection, exc: Exception) -> Callable[[], Outcome | None]:
    """What a failed read of `connection` does to the job, to be done now or, for a leave,
    once the directories it could read are as asked: a leaver's access goes from them at
    once, not after the one directory that is down comes back (converge25)."""
    if isinstance(exc, TransientError):
        return functools.partial(plan_failed, job, connection, exc)
    if isinstance(exc, TimeoutError):  # the bridge stopped waiting: as transient as a 503
        return functools.partial(plan_failed, job, connection, TransientError(NO_ANSWER))

    def could_not_read() -> None:
        fail_job(job, f"Could not read {connection}: {exc.message}")

    return could_not_read


def plan_failed(job: Job, connection, exc: TransientError) -> Outcome | None:
    tries = job.options.get("plan_failures", 0) + 1
    if tries >= MAX_PLAN_ATTEMPTS:
        if not isinstance(exc, ReplicationLagError):  # lag says nothing of the connection
            quarantine.record_outcome(connection, ok=False, reason=exc.message)
        given_up = f"Gave up reading {connection} after {tries} tries: {exc.message}"
        fail_job(job, given_up + _nothing_sent(job))
        return None
    job.options = {**job.options, "plan_failures": tries}  # written by the park, fenced
    return wait(job, f"Reading {connection}: {exc.message}", _plan_retry_in(exc, tries))


def _nothing_sent(job: Job) -> str:
    """A job stopped at a read before it wrote a step left every directory untouched, which
    its technician needs to know (a joiner half-made nowhere). A leave writes what it could
    read before it stops at what it could not (`_read_failed`): its steps show what went."""
    return " Nothing was sent to any directory." if job.steps_total == 0 else ""


def wait_for_replication(job: Job, account: DirectoryAccount) -> Outcome:
    """The stored id answered 404: lag, or gone. Absent only once confirmed past the window."""
    if account.missing_since is None:
        account.missing_since = timezone.now()
        save_held(job, account, ["missing_since"])
    tries = job.options.get("missing_reads", 0) + 1
    job.options = {**job.options, "missing_reads": tries}  # written by the park, fenced
    window = plans_of.replication_window().total_seconds()
    return wait(
        job,
        f"{account.connection} does not show the account yet: waiting out replication",
        min(backoff(tries), window),
    )


def found(job: Job, connection, account: DirectoryAccount | None, plan) -> None:
    """What the read told the database: the id of an account found by username, a stored id
    that answers again, the exceptions a leave is about to strip. A stored id confirmed gone
    stays, marked so, as long as no account replaces it: that is how the portal knows it had
    one (a leaver's gone account is not created again)."""
    if account is not None and account.missing_since is not None:
        if not plans_of.confirmed_gone(account):
            account.missing_since = None  # it answered again: replication lag it was
            save_held(job, account, ["missing_since"])
        elif plan.user is not None:
            account.remote_id = ""  # replaced by the account its username finds now
    linked_by_step = any(s.action == planner.LINK_USER for s in plan.steps)
    someone_else = any(p.kind == "conflict" for p in plan.problems)
    if plan.user and not (account and account.remote_id) and not (linked_by_step or someone_else):
        # Found by username (linked outside the portal's own onboarding).
        link_account(account_for(job, connection), plan.user.id, created=False, job=job)
    if plan.exceptions:
        record_exceptions(job, connection.pk, plan.exceptions)


def record_exceptions(job: Job, connection_id: int, exceptions: dict) -> None:
    """Access a leave strips that no template or grant explains: kept in the desired state,
    so a restore gives it back. Only while this run holds the job: a stale run's record of
    the person (read before the run that took over wrote its own) would drop theirs."""
    identity = job.identity
    saved = dict(identity.access_exceptions or {})
    mine = {kind: list(refs) for kind, refs in saved.get(str(connection_id), {}).items()}
    for kind, refs in exceptions.items():
        known = {r["id"] for r in mine.get(kind, [])}
        mine.setdefault(kind, []).extend(r for r in refs if r["id"] not in known)
    saved[str(connection_id)] = mine
    held_by_run = Exists(Job.objects.filter(held(job)))
    if not Identity.objects.filter(held_by_run, pk=identity.pk).update(access_exceptions=saved):
        raise LeaseLost
    identity.access_exceptions = saved


def read_lag(job: Job, plans) -> Outcome | None:
    """The read does not show what the job's last round has just done to an account (a
    group it added missing, one it removed still there), or, in a job's first read, what
    the person's previous jobs wrote lately (recent_writes.py): the directory took those
    writes, and the read came from a replica that has not caught up (Entra is eventually
    consistent: an accepted write may not show in a read for a while). Such a read can
    neither verify the job (it may match a newer ask by showing the old state) nor plan
    those steps again: the job reads again after a back-off, for at most the replication
    window; past it, the read counts as it is. None: the read shows those writes."""
    if recent_writes.shown(plans, _writes_to_show(job, plans)):
        return None
    now = timezone.now()
    since = job.options.get("lagging_since") or now.isoformat()
    left = (plans_of.replication_window() - (now - datetime.fromisoformat(since))).total_seconds()
    if left <= 0:
        return None
    tries = job.options.get("lag_reads", 0) + 1
    job.options = {**job.options, "lag_reads": tries, "lagging_since": since}
    reason = "The directories do not show the latest changes yet: waiting out replication"
    return wait(job, reason, min(backoff(tries), left))


def _writes_to_show(job: Job, plans) -> recent_writes.Wanted:
    """The job's last round's writes; in its first read, the person's jobs' writes of the
    replication window, a retried job's own earlier runs' included (only where an account
    was read: a joiner has none)."""
    if job.options.get("round"):
        done = [s for s in round_steps(job) if s.status == Step.Status.SUCCEEDED]
        return recent_writes.wanted_after(done)
    if not any(plan.user is not None for plan in plans):
        return {}
    since = timezone.now() - plans_of.replication_window()
    return recent_writes.wanted_after(recent_writes.settled_since(job, since))


def round_steps(job: Job) -> list[Step]:
    """The steps of the job's last round, as this run applied them, else as stored."""
    first = job.options.get("round_from", 1)
    return memo.remembered(
        ("round_steps", job.pk, first), lambda: list(job.steps.filter(order__gte=first))
    )


def _plan_retry_in(error: TransientError, tries: int) -> float:
    return max(error.retry_after or 0.0, backoff(min(tries, PLAN_BACKOFF_STEPS)))


def write_steps(job: Job, plans, version: int, verify_costs: dict[int, int]) -> None:
    """The round's steps, and the calls each connection has to come in it: the steps and
    the read that verifies them (`verify_costs`), for the pacing. Tokens paid ahead for
    them are kept, those paid beyond them given back."""
    first = job.steps_total + 1  # orders run 1..steps_total: only this writes steps
    rows = [
        bulk_rows.new_row(
            Step,
            job=job,
            connection_id=plan.connection_id,
            order=order,
            action=step.action,
            target_name=step.target_name,
            params=step.params,
        )
        for order, (plan, step) in enumerate(
            ((plan, step) for plan in plans for step in plan.steps), start=first
        )
    ]
    warnings = [p.message for plan in plans for p in plan.problems if not p.blocking]
    rounds = job.options.get("round", 0) + 1
    # A read that went through ends the run of failed reads: the next one backs off afresh.
    kept = {k: v for k, v in job.options.items() if k not in READ_COUNTS}
    paced, surplus = admission.round_calls(
        job,
        {
            plan.connection_id: create_groups.requests(plan.steps)
            + verify_costs.get(plan.connection_id, 0)
            for plan in plans
            if plan.steps
        },
    )
    options = {
        **kept,
        "warnings": list(dict.fromkeys([*job.options.get("warnings", []), *warnings])),
        "round": rounds,
        "round_from": first,  # the round's first step (read_lag)
        "planned_version": version,
        "version_since": _version_since(job, version, rounds),
        **paced,
    }
    total = job.steps_total + len(rows)
    # Only while no other run has claimed the job: two runs would each write a round.
    events = plan_events(job, rows, rounds, version)
    _write_round(job, rows, events, planned=True, steps_total=total, options=options)
    job.planned, job.steps_total, job.options = True, total, options
    _hand_over(job, rows)
    # After the commit: a crash in between loses the surplus, never spends it twice.
    admission.give_back(connections_of(job), surplus)


def _version_since(job: Job, version: int, rounds: int) -> int:
    """The first round planned for `version` (rounds_at)."""
    if rounds_at(job, version) == 0:
        return rounds
    return job.options.get("version_since", 1)


def _write_round(job: Job, rows: list[Step], events: list[AuditEvent], **values) -> None:
    """The job's `values` set, the round's step `rows` inserted and the plan's `events`
    appended, in one transaction, only while the run still holds the job (`held`);
    `LeaseLost` (nothing written) when it does not. PostgreSQL: the job's UPDATE in a
    data-modifying `WITH` in front of the steps' INSERT, which inserts only if the UPDATE
    matched (both built from the models: Django's compiler, `bulk_rows.insert_sql`), riding
    in the events' append (`events.Riding`: one statement where this process knows the
    chain's head, as a run does from its claim's read). The job's row is written first as
    before (the UPDATE's lock, then the steps' references to it, checked at the commit; the
    head's row last). SQLite: the UPDATE, the INSERT, then the append."""
    with transaction.atomic():
        if db.vendor != "postgresql":
            if not Job.objects.filter(held(job)).update(**values):
                raise LeaseLost
            Step.objects.bulk_create(rows)
            record_all(events)
            return
        riding = _round_riding(job, rows, values)
        record_all(events, riding=riding)
        ids = riding.answer[0] if riding.answer else None
        if not ids:  # the fence missed: the events go with the rollback
            raise LeaseLost
    bulk_rows.saved(rows, ids)  # the ids in the steps' order, as the rows are


def _round_riding(job: Job, rows: list[Step], values: dict) -> Riding:
    """The job's fenced UPDATE and the steps' INSERT behind it, as writes that ride in an
    append (`events.Riding`); its answer: the new steps' ids in their order (None when the
    fence missed)."""
    update_sql, update_params = _fenced_update("round written", job, values)
    insert_sql, insert_params = bulk_rows.insert_sql(
        Step, rows, "WHERE EXISTS (SELECT FROM fenced_job)", returning=("id", "order")
    )
    return Riding(
        ctes=f"fenced_job AS ({update_sql} RETURNING 1), round_steps AS ({insert_sql})",
        params=[*update_params, *insert_params],
        last="round_steps",
        select='(SELECT array_agg(id ORDER BY "order") FROM round_steps)',
        select_params=[],
        width=1,
    )


def _hand_over(job: Job, rows: list[Step]) -> None:
    """The steps just written are the round's pending steps, in order (a round is planned
    only once the last has none left): this run applies them without reading them back.
    Only when the insert gave every row its id (PostgreSQL; SQLite 3.35 and later)."""
    if all(row.pk for row in rows):
        by_id = {connection.pk: connection for connection in connections_of(job)}
        for row in rows:
            row.connection = by_id[row.connection_id]
        memo.keep(("written_steps", job.pk), rows)
        _written_this_run(job).extend(rows)
        # read_lag checks the read-back against them (run_steps consumes the list above)
        memo.keep(("round_steps", job.pk, rows[0].order), list(rows))


def plan_events(job: Job, rows: list[Step], rounds: int, version: int) -> list[AuditEvent]:
    """The round's plan; a reconciliation's first round also says the person had drifted."""
    changes = [f"{s.get_action_display()} {s.target_name}".strip() for s in rows]
    events = [
        event_for(
            "job.plan",
            actor="system",
            tenant=job.tenant,
            target=job.identity,
            after={"round": rounds, "desired_version": version, "steps": changes},
            job_id=job.pk,
        )
    ]
    if job.kind == Job.Kind.RECONCILE and rounds == 1:
        events.append(
            event_for(
                "identity.drift",
                actor="system",
                tenant=job.tenant,
                target=job.identity,
                after={"differs": changes},
                result="failure",
                job_id=job.pk,
            )
        )
    return events


def run_steps(job: Job) -> Outcome | None:
    """Apply the round's steps; then the job goes back to planning: its next read verifies."""
    pending = memo.take(("written_steps", job.pk)) or pending_steps(job)
    while True:
        batch = next_batch(pending)
        if not batch:
            return end_round(job)
        connection = batch[0].connection
        if connection.quarantined_at:
            return wait(job, f"{connection} is quarantined: {connection.quarantine_reason}", None)
        paced = admission.pace_calls(job, connection, create_groups.requests(batch))
        if paced is not None:
            return paced
        retry = apply_batch(job, batch, account_to_apply(job, connection))
        if retry is not None:
            return retry
        if any(step.status == Step.Status.FAILED for step in batch):
            pending = pending_steps(job)  # a failed create skips the directory's other steps
        else:  # a group step its create did not carry stays, to be sent on its own
            pending = [s for s in pending if s not in batch or s.status == Step.Status.PENDING]
        keep_lease(job)


def keep_lease(job: Job) -> None:
    """Extend the job's lease once a quarter of it is spent, so a long round keeps its
    person: a short job (most) writes no lease after its batches, and a long one is never
    more than three quarters of a lease from its last extension."""
    now = timezone.now()
    lease = timedelta(seconds=lease_seconds())
    if job.lease_until is None or job.lease_until - now < lease * 3 / 4:
        job.lease_until = now + lease
        if not Job.objects.filter(held(job)).update(lease_until=job.lease_until):
            raise LeaseLost


def end_round(job: Job) -> Outcome | None:
    """Every step of the round is settled: a failed one ends the job (once the calls of
    steps given up unanswered can no longer arrive); else read again.
    Licences that had no free seat any more are not a failure of the job: it reads the
    seats again and plans anew, which asks for a choice (choosing.py) if none is free."""
    counts = step_counts(job)
    if counts["failed"] and (unanswered := given_up_unanswered(job)) is not None:
        return wait(job, WAITING_OUT_LOST_CALLS, unanswered)
    if counts["failed"] and not choosing.replan_for_seats(job, counts["failed"]):
        finish_job(job, counts)
        return None
    # `planned = false`: a replan for seats has written it; else it is written with the next
    # round's steps or the job's end. A run that stops before either finds nothing pending,
    # comes back here and plans, as this one does.
    job.planned = False
    return None


def step_counts(job: Job) -> dict[str, int]:
    """The job's steps done and failed (skipped counts as failed), in one aggregate; read
    once per run for as many steps as the job has. Not read when this run wrote every step
    of the job and each succeeded: their outcomes were written under the run's lease
    (steps.write_outcomes), so the rows say what the run holds."""
    mine = _written_this_run(job)
    if len(mine) == job.steps_total and all(s.status == Step.Status.SUCCEEDED for s in mine):
        return {"done": len(mine), "failed": 0}
    failed = Q(status__in=[Step.Status.FAILED, Step.Status.SKIPPED])
    return memo.remembered(
        ("step_counts", job.pk, job.steps_total),
        lambda: job.steps.aggregate(
            done=Count("pk", filter=Q(status=Step.Status.SUCCEEDED)),
            failed=Count("pk", filter=failed),
        ),
    )


def _written_this_run(job: Job) -> list[Step]:
    """Every step this run wrote for `job` (handed over, `_hand_over`), as it applied them;
    outside a run, none."""
    return memo.remembered(("steps_written_this_run", job.pk), list)


def finish_job(job: Job, counts: dict[str, int]) -> None:
    """A round ended with failed steps: the job ends unverified, failed or partial."""
    failed, done = counts["failed"], counts["done"]
    status = Job.Status.PARTIAL if done else Job.Status.FAILED
    end(
        job,
        status,
        {"steps_done": done, "steps_failed": failed},
        error=failed_steps(failed, job.steps_total),
    )


def failed_steps(failed: int, total: int) -> str:
    if total == 1:
        return "Its one step did not succeed."
    if failed == total:
        return f"None of its {total} steps succeeded."
    return f"{failed} of {total} steps did not succeed."


def succeed_verified(job: Job, plans, version: int) -> None:
    """The read found every directory equal to the desired state of `version`, planned with
    the person as `job.identity` holds them: `NewerPerson` when the end finds them changed."""
    done = step_counts(job)["done"] if job.steps_total else 0
    verification = {
        "read_at": timezone.now().isoformat(),
        "desired_version": version,
        "directories": {str(p.connection_id): p.readback() for p in plans},
    }
    end(
        job,
        Job.Status.SUCCEEDED,
        {"steps_done": done, "steps_failed": 0},
        converged_version=version,
        verification=verification,
        planned_with=job.identity,
    )


def fail_still_differs(job: Job) -> None:
    fail_job(
        job,
        f"The directories still differ from the desired state after {max_rounds()} rounds of "
        "changes and read-backs; see the last round's steps.",
    )


def fail_still_asked(job: Job, rounds: int) -> None:
    fail_job(
        job,
        f"The person was asked for again after each of {rounds} rounds of changes and "
        "read-backs; the newest ask is left to their next job.",
    )


def fail_job(job: Job, reason: str) -> None:
    end(job, Job.Status.FAILED, {}, error=reason)


def end(
    job: Job,
    status: str,
    counts: dict,
    *,
    error: str = "",
    planned_with: Identity | None = None,
    **fields,
) -> None:
    """The job's outcome, its audit event and what follows (registered from above), at once.
    `planned_with`: the person as the verifying plan had them; a person changed since ends
    nothing (`NewerPerson`)."""
    with transaction.atomic():
        # The person first, as a claim locks them: the same order, so no deadlock between
        # this job ending and the next one starting. Read whole, as it is now, for what
        # follows a job (outcomes.job_finished), and to tell a newer ask.
        person = _locked_person(job.identity_id)
        if person is not None and planned_with is not None and _differs(planned_with, person):
            raise NewerPerson(person)  # before any write: the transaction ends empty
        if person is not None:
            job.identity = person
        ended = {
            "status": status,
            "finished_at": timezone.now(),
            "lease_until": None,
            "error": error,
            "planned": job.planned,
            **counts,
            **fields,
        }
        for name, value in ended.items():
            setattr(job, name, value)
        as_read = outcomes.person_as_read(person) if person is not None else None
        settled = serial.ended(job)  # the jobs it settled: their events appended with its own
        with publish.held() as told:  # what follows the job tells: in the append's statement
            changed_before, changed_after = outcomes.job_finished(job, status)
        # Written after what follows the job (all in this transaction: a run that lost the
        # job rolls it all back), so that the person's row goes with the job's.
        # A run that lost the job ends nothing: the run that holds it (or ended it) decides.
        if not _ended_with_person(job, ended, person, as_read, _reconciled(status)):
            raise LeaseLost
        finish = event_for(
            "job.finish",
            actor="system",
            tenant=job.tenant,
            target=job.identity,
            before=changed_before or None,
            after={**_finish_record(job, status, counts, error, fields), **changed_after},
            result="success" if status == Job.Status.SUCCEEDED else "failure",
            job_id=job.pk,
        )
        record_all([*settled, finish], riding=told.riding())
        told.ridden()
    if unspent := admission.unspent(job):  # after the commit, as write_steps gives back
        admission.give_back(connections_of(job), unspent)


def _locked_person(identity_id: int | None) -> Identity | None:
    """The person locked and read whole (its statement kept: portal/kept_sql.py)."""
    if identity_id is None:
        return None
    found = kept_sql.instances("end: the person locked", _person_locked, identity_id)
    return found[0] if found else None


def _person_locked(identity_id: int):
    return kept_sql.first_of(Identity.objects.select_for_update().filter(pk=identity_id))


def _ended_with_person(
    job: Job, ended: dict, person: Identity | None, as_read: dict | None, engine_fields: dict
) -> bool:
    """The job's `ended` fields written while the run holds it (`held`), and the person's
    row as what followed the job left it (`outcomes.person_changes`); whether the run held it.
    PostgreSQL: one statement, the job's fenced UPDATE in a `WITH` in front of the person's,
    which writes only if it matched (both compiled by Django, as `_round_riding`). The
    person's row is locked already (the end's first statement). SQLite: the UPDATE, then
    the person's save."""
    fenced = Job.objects.filter(held(job))
    values, saved = (
        outcomes.person_changes(person, as_read, **engine_fields)
        if person is not None
        else ({}, False)
    )
    if db.vendor != "postgresql" or not values:
        if not fenced.update(**ended):
            return False
        if person is not None:
            outcomes.write_person(person, values, saved)
        return True
    job_sql, job_params = _fenced_update("ended", job, ended)
    of_person = kept_sql.update("ended: the person", Identity, _the_person, values, person.pk)
    with db.cursor() as cursor:
        cursor.execute(
            f"WITH fenced_job AS ({job_sql} RETURNING 1) {of_person.sql}"
            " AND EXISTS (SELECT FROM fenced_job)",
            (*job_params, *of_person.params),
        )
        if cursor.rowcount != 1:
            return False
    if saved:
        outcomes.person_saved(person, list(values))
    return True


def _fenced_update(shape: str, job: Job, values: dict) -> tuple[str, list]:
    """The job's UPDATE of `values` while the run holds it (`held`), its text kept per
    shape (portal/kept_sql.py)."""
    built = kept_sql.update(shape, Job, held_as, values, job.pk, job.runs)
    return built.sql, built.params


def _the_person(person_id: int) -> Q:
    return Q(pk=person_id)


def _reconciled(status: str) -> dict:
    """A verified job reconciled the person: when, saved with the person."""
    return {"last_reconciled_at": timezone.now()} if status == Job.Status.SUCCEEDED else {}


def _finish_record(job: Job, status: str, counts: dict, error: str, fields: dict) -> dict:
    after = {"status": status, **counts}
    if error:
        after["error"] = error
    if "converged_version" in fields:
        after["desired_version"] = fields["converged_version"]
    if verification := fields.get("verification"):
        after["read_back"] = _read_back_record(job, verification)
    return after


def _read_back_record(job: Job, verification: dict) -> dict:
    """The read that verified the job, in the trail: an audit export is the proof an auditor
    keeps (what each directory held when it was read), not the portal's page. The labels
    from the connections the run read already."""
    labels = {c.pk: c.label for c in connections_of(job)}
    return {
        "at": verification["read_at"],
        "directories": [
            {"connection_id": int(cid), "directory": labels.get(int(cid), ""), **readback}
            for cid, readback in verification["directories"].items()
        ],
    }
