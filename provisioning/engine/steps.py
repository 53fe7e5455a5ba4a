"""Applying a round's steps: in order, a directory's licence, group and app steps in one
request where it can carry them (Entra's `$batch`), each step's intent recorded before its
call and its outcome after, idempotently (a step that already happened counts as done)."""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import BooleanField, F, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from portal import bulk_rows, kept_sql
from portal.audit.events import event_for, record_all, ride
from portal.audit.models import AuditEvent
from portal.bulk_rows import set_many
from provisioning import quarantine, throttle
from provisioning.connectors import bridge
from provisioning.connectors.base import NewUser
from provisioning.connectors.errors import (
    EMAIL,
    ConflictError,
    ConnectorError,
    NoAnswerError,
    NoSeatError,
    NotFoundError,
    PermanentError,
    ReplicationLagError,
    ThrottledError,
    TransientError,
    UnreadableAnswerError,
)
from provisioning.connectors.factory import connector_for, connector_type
from provisioning.engine import (
    accounts,
    choosing,
    create_groups,
    first_sign_in,
    licences,
    mailbox,
    manager,
    planner,
    roles,
)
from provisioning.engine.parking import LeaseLost, Outcome, backoff, lease_seconds, wait
from provisioning.models import DirectoryAccount, Job, Step

MAX_TRANSIENT_ATTEMPTS = 8
# How long after its start a call may still reach the directory: the bridge gives it up after
# CALL_TIMEOUT_S, and a request the directory has received by then may still be processed.
ON_ITS_WAY_S = bridge.CALL_TIMEOUT_S + 5.0
WAITING_OUT_LOST_CALLS = "Waiting out calls that got no answer: they may still arrive"
NO_ANSWER = "No answer from the directory in time."
NO_ANSWER_KIND = "no_answer"  # a step's error_kind: its last call may still be carried out
UNREADABLE_ATTEMPTS = 2  # a garbled success: once more in case it came in passing, then stop
MIN_NAME_PART = 3  # shorter parts of a name a generated password may hold (random_password)
_NOT_A_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def pending_steps(job: Job) -> list[Step]:
    """The job's steps still to run, in order: read once per run of the round."""
    return list(
        job.steps.filter(status__in=[Step.Status.PENDING, Step.Status.RUNNING])
        .select_related("connection")
        .order_by("order")
    )


def on_its_way(steps: list[Step]) -> float | None:
    """Seconds until the calls an earlier run made for these steps can no longer reach the
    directory, or None. A step still *running* when a run comes to it was sent by a run that
    recorded no outcome (it lost the job to this one, or its worker died), or got no answer
    in time (`NoAnswerError`): its request may still be on its way. Sent again and verified
    now, the job could succeed, and a later job undo the step, before that request arrives
    and does it again under both (or replaces the first sign-in pass this run keeps and
    mails). No database fence stops a request already sent; waiting it out does, and after
    a killed worker's lease it has mostly passed. The lease bounds the wait too: it is meant
    to outlast any call (a lease shorter than the bridge's call time, as the tests' workers
    have, is trusted as that bound)."""
    now = timezone.now()
    window = min(ON_ITS_WAY_S, lease_seconds())
    left = max(
        (
            window - (now - step.started_at).total_seconds()
            for step in steps
            if _may_still_arrive(step) and step.started_at
        ),
        default=0.0,
    )
    return left if left > 0 else None


def _may_still_arrive(step: Step) -> bool:
    """Its last call's outcome is unknown: a run recorded none (running), or the step gave
    up after its last try got no answer (failed, `NO_ANSWER_KIND`)."""
    return step.status == Step.Status.RUNNING or step.error_kind == NO_ANSWER_KIND


def given_up_unanswered(job: Job) -> float | None:
    """`on_its_way` for the job's steps that failed with no answer to their last try: a job
    ends only once those calls can no longer arrive, so that the person's next job (which
    runs once this one ends) reads what they did, never has them land after its read."""
    failed = job.steps.filter(status=Step.Status.FAILED, error_kind=NO_ANSWER_KIND)
    return on_its_way(list(failed.only("status", "error_kind", "started_at")))


def time_left(steps: list[Step]) -> float:
    """What is left of the steps' call time since their intent was recorded (`started_at`):
    a run frozen between the record and the call does not send it after the run that took
    over has waited out `on_its_way`."""
    call_time = _call_time()
    starts = [step.started_at for step in steps if step.started_at]
    if not starts:
        return call_time
    return call_time - (timezone.now() - min(starts)).total_seconds()


def _call_time() -> float:
    """How long after its intent a step's call may be sent and waited for: the bridge's call
    time, or with a lease shorter than `ON_ITS_WAY_S` the same share of the lease, since
    `on_its_way` then waits a lease only (the run that takes over sends again by then, and
    a call sent later could land after its verification); the rest is the call's transit."""
    return bridge.CALL_TIMEOUT_S * min(1.0, lease_seconds() / ON_ITS_WAY_S)


def next_batch(pending: list[Step]) -> list[Step]:
    """The next step of `pending`, or the run of steps its directory can carry in one
    request (Entra's `$batch` of licence/group/app steps)."""
    if not pending:
        return []
    first = pending[0]
    if (with_groups := create_groups.batch_of(first, pending)) is not None:
        return with_groups
    batchable = connector_type(first.connection).batchable
    if first.action not in batchable:
        return [first]
    # At most half the connection's burst, so a batch never waits for a full bucket.
    limit = max(1, first.connection.rate_burst // 2)
    batch = []
    for step in pending:
        if step.connection_id != first.connection_id or step.action not in batchable:
            break
        if len(batch) == limit:
            break
        batch.append(step)
    return batch


def apply_batch(job: Job, steps: list[Step], account: DirectoryAccount) -> Outcome | None:
    """Run a batch of steps against `account` (its row, fetched once for the run): their
    intent is written before the call, their outcomes after it, together."""
    connector = connector_for(steps[0].connection)
    if account.created_remotely_at and hasattr(connector, "note_created"):
        age = (timezone.now() - account.created_remotely_at).total_seconds()
        connector.note_created(account.remote_id, age)
    still_on_its_way = on_its_way(steps)
    if still_on_its_way is not None:
        return wait(job, WAITING_OUT_LOST_CALLS, still_on_its_way)
    mark_running(job, steps, account)
    started = time.monotonic()
    if steps[0].action == planner.CREATE_USER:  # with the group steps it carries
        results = create_groups.outcomes(apply_one(connector, steps[0], account), steps[1:])
    elif len(steps) > 1:
        results = apply_many(connector, steps, account)
    else:
        results = [apply_one(connector, steps[0], account)]
    elapsed_ms = int((time.monotonic() - started) * 1000)
    settled = Settled()
    for step, (error, result) in zip(steps, results, strict=True):
        settle(job, account, step, error, result, elapsed_ms, settled)
    quarantine.record_outcomes(steps[0].connection, settled.health)
    write_outcomes(job, account, steps, settled)
    if (unanswered := on_its_way(steps)) is not None:  # given up, maybe still carried out
        return wait(job, WAITING_OUT_LOST_CALLS, max(unanswered, settled.retry_in or 0.0))
    if settled.retry_in:
        return wait(job, "Retrying after a temporary failure", settled.retry_in)
    return None


@dataclass
class Settled:
    """What a batch's steps came to, beyond the steps themselves: written by
    `write_outcomes` in one go."""

    events: list[AuditEvent] = field(default_factory=list)
    # For the connection's breaker (quarantine.py): (ok, why not), oldest first.
    health: list[tuple[bool, str]] = field(default_factory=list)
    account_fields: set[str] = field(default_factory=set)  # the account's, changed by steps
    skip_rest: str = ""  # why the connection's remaining steps are skipped
    retry_in: float | None = None

    def retry_after(self, seconds: float) -> None:
        self.retry_in = max(self.retry_in or 0.0, seconds)


def write_outcomes(
    job: Job, account: DirectoryAccount, steps: list[Step], settled: Settled
) -> None:
    """The batch's outcomes at once: the step rows, the account's record (the access the
    portal gave, its id) and their audit events (`_outcomes_written`). The rows and the
    record only while no other run has claimed the job since this one: a call that outlived
    the run's lease answers late, and the run that took over has re-sent the step and
    recorded its own outcome (and maybe more since), which a stale record of the account
    must not overwrite. The events are written either way: the calls were made."""
    with transaction.atomic():
        fields = sorted(settled.account_fields)
        current = _outcomes_written(job, account, steps, fields, settled.events)
        if current and settled.skip_rest:
            skip_rest(job, steps[0].connection, settled.skip_rest)
    if not current:
        raise LeaseLost


def _outcomes_written(
    job: Job,
    account: DirectoryAccount,
    steps: list[Step],
    fields: list[str],
    events: list[AuditEvent],
) -> bool:
    """The steps' outcome rows and the account's `fields`, only while the run holds the
    job, and the `events` (written either way); whether the rows were. PostgreSQL: the rows,
    the record and the features' questions about a new remote id are one statement's
    (`accounts.record_of`), which rides in the events' append (`events.Riding`: one
    statement where this process appended last, as a run does after its plan). SQLite: the
    outcomes, the account's save (whose `post_save` asks the same questions), the events."""
    rows = [(s.pk, *(getattr(s, f) for f in OUTCOME_FIELDS)) for s in steps]
    fits = len(rows) <= bulk_rows.rows_per_statement(Step, OUTCOME_FIELDS)
    fence = _still_held(job.pk, job.runs)
    if connection.vendor == "postgresql" and fits:
        outcomes = bulk_rows.set_many_sql(Step, OUTCOME_FIELDS, rows, where=fence)
        record = accounts.record_of(account, fields, outcomes, len(steps))
        if events:
            record_all(events, riding=record.riding)
        else:
            ride(record.riding)
        return record.written(account)
    current = set_many(Step, OUTCOME_FIELDS, rows, where=fence) == len(steps)
    if current and fields:
        account.save(update_fields=fields)
    if events:
        record_all(events)
    return current


def _still_held(job_id: int, runs: int, *, lock: bool = True) -> tuple[str, list]:
    """The condition on a step row that its job is still this run's (parking.held). The
    job's row is locked with it (PostgreSQL): a claim (an update of the row) waits until the
    transaction has written the account's record too, so the run that takes over reads that
    record; without the lock a claim could commit between this statement and the record.
    The lock is the job's first in the transaction, as in every other write of a job (the
    job's row, then its steps), so it cannot deadlock with one. SQLite writes one at a time.
    `lock=False`: the condition alone (the intent's fence, as the join it replaced)."""
    jobs = Job._meta.db_table
    share = " FOR SHARE" if lock and connection.features.has_select_for_update else ""
    return (
        f"job_id IN (SELECT id FROM {jobs} WHERE id = %s AND runs = %s{share})",  # noqa: S608
        [job_id, runs],
    )


def apply_many(connector, steps: list[Step], account: DirectoryAccount) -> list[tuple]:
    ops = [(s.action, s.params) for s in steps]
    try:
        timeout = time_left(steps)
        if timeout <= 0:
            raise TimeoutError  # sent now, it could arrive after the next run's writes
        errors = bridge.run(connector.apply_many(account.remote_id, ops), timeout=timeout)
    except TimeoutError:
        errors = [NoAnswerError(NO_ANSWER)] * len(steps)
    except ConnectorError as exc:  # the whole batch failed, e.g. a 503 or throttled
        errors = [exc] * len(steps)
    return [(error, {}) for error in errors]


def apply_one(connector, step: Step, account: DirectoryAccount):
    """(error or None, result) of one step; conflicts on create are resolved here. Writes
    nothing: the caller records the outcome (`write_outcomes`, fenced by the run's lease)."""
    try:
        if step.action == first_sign_in.FIRST_SIGN_IN:  # the secret goes no further than this
            return None, first_sign_in.issue(step, lambda: _send(connector, step, account))
        return None, _send(connector, step, account)
    except TimeoutError:
        return NoAnswerError(NO_ANSWER), {}
    except ConflictError as exc:
        existing = exc.existing
        if existing is not None and (_our_create(exc, step) or _ours(existing, step)):
            # Linked as a create's account is: recorded by `write_outcomes`, only while
            # this run still holds the job (`accounts.applied`).
            made = {"created": True} if _our_create(exc, step) else {}
            return None, {"user_id": existing.id, "linked": True, **made}
        if existing is None and step.attempts > 1:
            # A create sent before (its answer lost: a timeout, a killed worker) clashes with
            # an account the directory cannot show yet: most likely that attempt's, not
            # replicated. Tried again like lag, it links the account once a read shows it.
            return ReplicationLagError(f"Not replicated yet: {exc.message}", retry_after=1), {}
        return exc, {}
    except ConnectorError as exc:
        return exc, {}


def _send(connector, step: Step, account: DirectoryAccount) -> dict:
    timeout = time_left([step])
    if timeout <= 0:
        raise TimeoutError  # sent now, it could arrive after the next run's writes
    return bridge.run(_call(connector, step, account), timeout=timeout)


def _our_create(exc: ConflictError, step: Step) -> bool:
    """The clash is with the account an earlier attempt of this step made (its answer lost):
    a retried create finds its own username taken, or its own mail held by that username."""
    if exc.field == EMAIL:
        return exc.existing.username.casefold() == step.params["username"].casefold()
    return step.attempts > 1


def _ours(existing, step: Step) -> bool:
    params = step.params
    names = (existing.attributes.get("first_name", ""), existing.attributes.get("last_name", ""))
    return [n.casefold() for n in names] == [
        params["first_name"].casefold(),
        params["last_name"].casefold(),
    ]


async def _call(connector, step: Step, account: DirectoryAccount) -> dict:
    params, user_id = step.params, account.remote_id
    match step.action:
        case planner.CREATE_USER if params.get("group_ids"):  # create_groups.py
            user, carried = await connector.create_in_groups(_new_user(params), params["group_ids"])
            return {"user_id": user.id, "created": True, "in_groups": carried}
        case planner.CREATE_USER:
            user = await connector.create_user(_new_user(params))
            return {"user_id": user.id, "created": True}
        case planner.LINK_USER:
            return {"user_id": params["user_id"], "linked": True}
        case planner.UPDATE_USER:
            await connector.update_user(user_id, params["attributes"])
        case planner.ENABLE_USER:
            await connector.enable_user(user_id)
        case planner.ASSIGN_LICENSE:
            await connector.set_licenses(user_id, [params["sku_id"]], [])
        case planner.ADD_GROUP:
            await connector.add_to_group(user_id, params["group_id"])
        case planner.ASSIGN_APP if params.get("app_role_id"):  # chosen at planning
            await connector.assign_app(user_id, params["app_id"], params["app_role_id"])
        case planner.ASSIGN_APP:
            await connector.assign_app(user_id, params["app_id"])
        case planner.REMOVE_LICENSE:
            await connector.set_licenses(user_id, [], [params["sku_id"]])
        case licences.SET_LICENSES:
            await connector.set_licenses(user_id, params["add"], params["remove"])
        case planner.REMOVE_GROUP:
            await connector.remove_from_group(user_id, params["group_id"])
        case roles.REMOVE_ROLE:
            await connector.remove_role(user_id, roles.held_role(params))
        case roles.REMOVE_ADMIN_UNIT:
            await connector.leave_admin_unit(user_id, params["unit_id"])
        case planner.UNASSIGN_APP:
            await connector.unassign_app(user_id, params["app_id"])
        case planner.RESET_PASSWORD:
            await connector.reset_password(user_id, random_password(params.get("names", ())))
        case planner.DISABLE_USER if connector.disable_modes:
            mode = params.get("mode", connector.disable_modes[0])
            await connector.disable_user(user_id, mode=mode)
        case planner.DISABLE_USER:
            await connector.disable_user(user_id)
        case planner.REVOKE_SESSIONS:
            await connector.revoke_sessions(user_id)
        case planner.DELETE_USER:
            await connector.delete_user(params.get("user_id") or user_id)
        case planner.PURGE_USER:
            await connector.purge_user(params.get("user_id") or user_id)
        case manager.SET_MANAGER | manager.REASSIGN_REPORT:
            return await manager.apply(connector, step.action, params, user_id)
        case mailbox.AUTO_REPLY | mailbox.FORWARD_MAIL | mailbox.SHARE_FILES:
            return await mailbox.apply(connector, step.action, params, user_id)
        case first_sign_in.FIRST_SIGN_IN:
            issued = await connector.issue_first_sign_in(user_id, params["method"], params)
            return {"issued": issued}
        case _:
            raise PermanentError(f"The engine cannot run {step.action} steps yet.")
    return {}


def _names(params: dict) -> tuple[str, ...]:
    return (params["username"], params["first_name"], params["last_name"])


def _new_user(params: dict) -> NewUser:
    return NewUser(
        username=params["username"],
        first_name=params["first_name"],
        last_name=params["last_name"],
        display_name=params["display_name"],
        email=params["email"],
        password="" if params.get("passwordless") else random_password(_names(params)),
        enabled=params.get("enabled", True),
        attributes=params.get("attributes", {}),
    )


def random_password(names: Iterable[str] = ()) -> str:
    """A throwaway password: never shown, never stored; people reset it at first use. It
    holds no part of `names` (the account's username and names), whatever the case: Okta's
    default policy refuses "parts of your username" (excludeUsername) and may refuse the
    first and last name (excludeAttributes), and a draw that held a three-letter username
    (once in some 1,600) failed the step for good. Such a draw is drawn again."""
    parts = name_parts(names)
    while True:
        password = _drawn_password()
        if not any(part in password.casefold() for part in parts):
            return password


def _drawn_password() -> str:
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(20))
    return f"{core}!{secrets.choice(string.digits)}aA"


def name_parts(names: Iterable[str]) -> frozenset[str]:
    """What a password policy may look for of each name: the name before any "@" and each
    run of letters and digits in it, case folded; those of three characters or more (as
    the Okta sandbox checks a username: sandbox/okta/org.py `check_password`)."""
    parts = set()
    for name in names:
        local = (name or "").split("@")[0].casefold()
        parts |= {local, *_NOT_A_LETTER_OR_DIGIT.split(local)}
    return frozenset(part for part in parts if len(part) >= MIN_NAME_PART)


def mark_running(job: Job, steps: list[Step], account: DirectoryAccount | None = None) -> None:
    """The steps' intent, written before their call; only while no other run has claimed
    the job since this one (a run whose lease ran out while it was slow must not send its
    round's steps after the run that took over has verified, or after a later job). The
    `account` the steps apply to, if it has no row yet, is inserted with the intent."""
    now = timezone.now()
    marking = _marking_statement(job, steps, now)
    if account is not None and account.pk is None:  # the person's first steps here
        marked = accounts.inserted_with(account, marking)
    else:
        with connection.cursor() as cursor:
            cursor.execute(marking.sql, marking.params)
            marked = cursor.rowcount
    if marked != len(steps):
        raise LeaseLost
    for step in steps:
        step.attempts += 1
        step.started_at = now


def _marking(job_id: int, runs: int, now, *step_ids: int) -> tuple[QuerySet, dict]:
    """The steps `step_ids` while their job is still the run's, and their intent."""
    # The job's fence as a condition of the step rows, not a join: an UPDATE through a join
    # is compiled by Django as a second query nested in it, twice the work for the same rows.
    fence, params = _still_held(job_id, runs, lock=False)
    held_yet = RawSQL(fence, params, output_field=BooleanField())  # noqa: S611 (values: params)
    marking = Step.objects.filter(held_yet, pk__in=step_ids)
    intent = {"status": Step.Status.RUNNING, "attempts": F("attempts") + 1, "started_at": now}
    return marking, intent


def _marking_statement(job: Job, steps: list[Step], now) -> kept_sql.Built:
    """`_marking`'s UPDATE, its text kept per number of steps (portal/kept_sql.py), whether
    it goes alone or with the account's row it inserts (`accounts.inserted_with`)."""
    values = (job.pk, job.runs, now, *(s.pk for s in steps))
    return kept_sql.kept(("mark_running", len(steps)), _marking_update, *values)


def _marking_update(*values) -> kept_sql.Built:
    sql, params = bulk_rows.update_sql(*_marking(*values))
    return kept_sql.Built(sql, list(params))


def settle(
    job: Job,
    account: DirectoryAccount,
    step: Step,
    error,
    result: dict,
    elapsed_ms: int,
    settled: Settled,
) -> None:
    """One step's outcome, on the step and in `settled`, for `write_outcomes` to write."""
    connection = step.connection
    if error == create_groups.NOT_SENT:  # its create did not carry it: sent on its own
        set_outcome(step, Step.Status.PENDING, attempts=step.attempts - 1)
        return
    if isinstance(error, ThrottledError):  # pacing: no attempt spent, nothing for quarantine
        settled.retry_after(throttle.throttled(connection, error.retry_after))
        set_outcome(step, Step.Status.PENDING, error, attempts=step.attempts - 1)
        return
    if isinstance(error, UnreadableAnswerError) and step.attempts < UNREADABLE_ATTEMPTS:
        set_outcome(step, Step.Status.PENDING, error)
        settled.events.append(step_event(job, step, "failure", error))
        settled.retry_after(backoff(step.attempts))
        return
    if isinstance(error, NoAnswerError) and step.attempts < MAX_TRANSIENT_ATTEMPTS:
        # Sent, and its outcome unknown: the directory may still carry it out. Running, as a
        # lost run's call is, so that it is sent again only once it can no longer arrive
        # (`on_its_way`): sent again at once, the job could verify, and a later job undo
        # the step, before this request lands and does it again under both.
        set_outcome(step, Step.Status.RUNNING, error)
        settled.events.append(step_event(job, step, "failure", error))
        settled.retry_after(backoff(step.attempts))
        return
    if isinstance(error, TransientError):
        if step.attempts < MAX_TRANSIENT_ATTEMPTS:
            set_outcome(step, Step.Status.PENDING, error)
            settled.events.append(step_event(job, step, "failure", error))
            settled.retry_after(max(error.retry_after or 0.0, backoff(step.attempts)))
            return
        # Only the give-up counts towards quarantine: a failure a retry absorbs says little.
        if not isinstance(error, ReplicationLagError):
            settled.health.append((False, error.message))
        if isinstance(error, NoAnswerError):  # its last try may still be carried out
            settled.account_fields.update(accounts.maybe_applied(account, step))
        gave_up = NoAnswerError if isinstance(error, NoAnswerError) else TransientError
        error = gave_up(f"Gave up after {step.attempts} attempts: {error.message}")
    elif error is None:
        settled.health.append((True, ""))
        settled.account_fields.update(accounts.applied(account, step, result))
    error = _group_named(step, error)
    status = Step.Status.FAILED if error else Step.Status.SUCCEEDED
    set_outcome(step, status, error, result=result, elapsed_ms=elapsed_ms)
    settled.events.append(step_event(job, step, "failure" if error else "success", error))
    # A purge after a refused soft delete finds nothing in deleted items and reads as done:
    # the retry of the delete would then leave the account soft-deleted, restorable.
    if error and step.action in (planner.CREATE_USER, planner.LINK_USER, planner.DELETE_USER):
        settled.skip_rest = f"Skipped: {step.get_action_display().lower()} failed."


def _group_named(step: Step, error):
    """A group gone from the directory since the plan chose it, named as the plan named it:
    the directory's answer names only its id."""
    if not (isinstance(error, NotFoundError) and error.group_gone):
        return error
    return NotFoundError(
        f"The group {step.target_name} is no longer in {step.connection.label}: it was deleted "
        "after this job was planned. Choose another group in the role template, or none.",
        status=error.status,
        request_id=error.request_id,
    )


# What `set_outcome` changes on a step: written for a whole batch in one statement.
OUTCOME_FIELDS = [
    "status",
    "last_error",
    "error_kind",
    "request_ids",
    "attempts",
    "result",
    "finished_at",
    "duration_ms",
]


def set_outcome(
    step: Step, status: str, error=None, *, attempts=None, result=None, elapsed_ms=None
) -> None:
    step.status = status
    step.last_error = error.message if error else ""
    step.error_kind = _error_kind(error)
    if error is not None and error.request_id:
        step.request_ids = [*step.request_ids, error.request_id][-10:]
    if attempts is not None:
        step.attempts = attempts
    if result is not None:
        step.result = result
    if status in (Step.Status.SUCCEEDED, Step.Status.FAILED):
        step.finished_at = timezone.now()
        step.duration_ms = elapsed_ms


def _error_kind(error) -> str:
    if error is None:
        return ""
    # Most specific first: a replication lag or an unexpected answer is still transient.
    kinds = (
        (ThrottledError, "throttled"),
        (NoAnswerError, NO_ANSWER_KIND),
        (TransientError, "transient"),
        (ConflictError, "conflict"),
        (NoSeatError, choosing.NO_SEAT),
        (PermanentError, "permanent"),
    )
    return next((name for cls, name in kinds if isinstance(error, cls)), "not_found")


def step_event(job: Job, step: Step, result: str, error) -> AuditEvent:
    return event_for(
        f"directory.{step.action}",
        actor="system",
        tenant=job.tenant,
        target=job.identity,
        after={
            "directory": step.connection.label,
            "target": step.target_name,
            "attempt": step.attempts,
            **({"error": error.message} if error else {}),
        },
        result=result,
        job_id=job.pk,
    )


def skip_rest(job: Job, connection, reason: str) -> None:
    job.steps.filter(connection=connection, status=Step.Status.PENDING).update(
        status=Step.Status.SKIPPED, last_error=reason
    )
