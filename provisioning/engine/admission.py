"""Pacing a job's calls by reservation, and admitting a throttled connection's jobs a few at
a time, in arrival order.

A call takes its tokens from the connection's bucket when the job gets there, even into debt
(`throttle.reserve`, at most a few seconds of the connection's rate ahead). A job whose tokens
are due later parks once, the reservation kept in `job.options`, and its next run sends the
calls when they are due without asking again. A reservation kept long past its time (a
killed worker, a job resumed late) is dropped unused: a crash loses at most those tokens.
A round's first call reserves for the round's calls to come as well (`pace_calls`); a
joiner's first read, before its round is planned, for about an onboarding's first round
(`TOKENS_PER_JOB`), and the plan gives back what it paid beyond its round (`round_calls`).

While a connection is short of tokens, or jobs wait their turn at it, a job's first read is
admitted only for the tenant's few oldest unfinished jobs; the others wait their turn, in the
order they arrived (job id). Each job that went through the connection's pacing admits the
first in line when it ends, with its first read's tokens reserved, so that job's next run
sends them; the come-back time each waiting job sets itself is the fallback for a wake-up
lost with a killed worker, and one timer for the tenant's line (`arm_line`) sends the
waiting jobs whose come-back time has come, instead of a task of each job's own.
A joiner asked for while its tenant's jobs wait their turn joins the line at its submit
(`in_line_at_submit`): it is written waiting its turn, and no task runs it before the job
that ends ahead of it admits it, only its line's timer (a first run would claim it, find
its turn not come and park it: three statements more).
So a throttled connection's own jobs finish one after another at its rate instead of all
spending its calls on their first reads, and other tenants' jobs are not slowed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from provisioning import throttle
from provisioning.engine import memo
from provisioning.engine.parking import Outcome, lease_seconds, make_due, wait
from provisioning.models import Job
from tenants.models import DirectoryConnection

RESERVED = "reserved"  # job.options: {connection id: when its tokens are due, epoch seconds}
ADMITTED = "admitted"  # job.options: admitted while its connection was short of tokens
TURN_LOOKS = "turn_looks"  # job.options: how often it has waited its turn
# job.options, while it waits its turn: {"connection": id, "tokens": n}, what its first read
# asked for there, reserved for it by the job that wakes it (`next_in_turn`).
TURN_WANTS = "turn_wants"
# job.options, per connection id: the round's calls still to send (its steps and the read
# that verifies them), and the tokens reserved for them and not spent yet.
ROUND_CALLS, PAID = "round_calls", "paid"
TURN = "Waiting its turn at"
# A reservation due this soon is sent now; one this long overdue is stale.
DUE_NOW_S = 0.02
STALE_AFTER_S = 60.0
# About the tokens an onboarding takes (its lookups with the catalogues, the create, two
# `$batch`es of writes, the read that verifies): how many jobs the reservations ahead carry,
# and what a joiner's first read reserves for its first round.
TOKENS_PER_JOB = 15
# What a joiner's first read reserves beyond TOKENS_PER_JOB, where the bucket holds it: an
# onboarding's round is 15 or 16 calls as the plan finds it (a lookup more, a read more in
# its verification), and its read 4 more where the worker that sends it has the catalogues
# to read again (groups, apps, licences, domains) while the run that reserved for it (its
# own earlier run in another worker, the job that woke it) had them cached: 2 left 8 of 300
# jobs short at the read that verifies their round, a task run more each. The plan gives
# back what it did not need.
ROUND_SLACK = 4
# An onboarding's first read with the connector's catalogues cached (Entra: the user by
# name, the group holding its address, its manager), as TOKENS_PER_JOB counts it. A read
# that costs more (the catalogues read again: a worker's first job of a tenant, a cache gone
# stale) reserves the difference on top: paid for a warm read, its round came up short and
# parked again at the read that verifies it (a task run more, the first job of each tenant
# in each worker: 17 of 300 jobs in a bench run at the ceiling).
WARM_READ = 3
# job.options, per connection id: how many tokens its reservation (RESERVED) holds, where
# the run that reserved them knew; the run that sends counts those paid, not what it asks.
RESERVED_TOKENS = "reserved_tokens"
MIN_ADMITTED = 2
TURN_MIN_S, TURN_MAX_S = 2.0, 60.0
TURN_ETA_FACTOR = 2.0
# How long a job that waited its turn is known to have succeeded, for its fallback timer
# (`fallback_after_the_end`): that comes at most TURN_MAX_S after the job's last look.
ENDED_KEPT_S = 2 * int(TURN_MAX_S)
# A tenant's line timer (`arm_line`): one armed to come this much later than a job's
# come-back time stands for it all the same; its mark outlives its time by as much.
LINE_TIMER_SLACK_S = 2.0
# A come-back time this close counts as come (a task may be delivered a little early).
LINE_TIMER_EARLY_S = 0.25

UNFINISHED = (Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.WAITING)


def pace(
    job: Job, connection: DirectoryConnection, tokens: int, *, first_read: bool = False
) -> Outcome | None:
    """Before the job's calls to `connection`: None to send them now; else the Outcome that
    parks the job (its tokens reserved, or its turn not come)."""
    due_at, held = _take_reservation(job, connection)
    if due_at is not None:
        return _send_at(job, connection, due_at - time.time(), held)
    if first_read and _needs_admission(job):
        taken, due = _reserve_as_newcomer(connection, tokens)
        if taken:
            return _send_at(job, connection, due, tokens)
        ahead, at_once = jobs_ahead(job), admitted_at_once(connection)
        if ahead >= at_once:
            return _wait_turn(job, connection, ahead, tokens)
        job.options = {**job.options, ADMITTED: True}
        if ahead + 1 == at_once:
            # The last admitted at once while the connection is short: the tenant's next
            # joiners wait their turn, from their submit on (not from a first run of theirs
            # that finds it so: on a loaded machine the first runs come late, and every job
            # asked for until then ran to park).
            _line_for_submits(job, connection, _turn_eta(connection, at_once, 0))
    taken, seconds = throttle.reserve(connection, tokens, throttle.reserve_ahead_s(connection))
    if not taken:
        return wait(job, f"Pacing calls to {connection}", seconds)
    return _send_at(job, connection, seconds, tokens)


def turn_first(job: Job, connections: list[DirectoryConnection]) -> Outcome | None:
    """Before a job that waited its turn reads or plans anything: the park `pace` would give
    its first read at the connection it waits at, where its turn has still not come (its
    come-back time before the wake-up, on a loaded machine), without the accounts, the
    desired state and the plan built first for nothing. None to go on, its first read paced
    as usual; tokens found free for it are reserved here (as `reserve_for` would have) for
    that read to spend. `connections`: the tenant's, as the run holds them."""
    wants = job.options.get(TURN_WANTS)
    if not wants or not _needs_admission(job):
        return None
    connection = next((c for c in connections if c.pk == wants["connection"]), None)
    if connection is None or str(connection.pk) in job.options.get(RESERVED, {}):
        return None
    ahead, at_once = jobs_ahead(job), admitted_at_once(connection)
    if ahead < at_once:  # its turn may have come: its first read's `pace` decides
        memo.keep(("jobs_ahead", job.pk), (ahead,))  # counted once all the same
        return None
    tokens = int(wants["tokens"])
    taken, due = _reserve_as_newcomer(connection, tokens)
    if not taken:
        return _wait_turn(job, connection, ahead, tokens)
    _reserved(job, connection, time.time() + due, tokens)  # kept even if due now: the read's
    return _send_at(job, connection, due, tokens)


def _reserve_as_newcomer(connection: DirectoryConnection, tokens: int) -> tuple[bool, float]:
    """A first read not admitted yet takes tokens only from the bucket's surplus, and none
    while jobs wait their turn at the connection (`throttle.hold_line`)."""
    surplus_only = -throttle.bucket_capacity(connection) / 2 / throttle.rate_per_s(connection)
    return throttle.reserve(connection, tokens, surplus_only, newcomer=True)


def pace_calls(
    job: Job,
    connection: DirectoryConnection,
    tokens: int,
    *,
    first_read: bool = False,
    joiner: bool = False,
) -> Outcome | None:
    """`pace` for the calls of a round: the first reserves as many of the round's calls as
    the connection's bucket holds and parks once for them all; the calls after it spend
    what it reserved, without a park each (a joiner's create, its `$batch`es and the read
    that verifies them). A `joiner`'s first read (no account in the connection yet) comes
    before its round is planned: it reserves for about an onboarding's first round."""
    key, capacity = str(connection.pk), int(throttle.bucket_capacity(connection))
    paid = job.options.get(PAID, {}).get(key, 0)
    to_come = job.options.get(ROUND_CALLS, {}).get(key, 0)
    if joiner and job.options.get("round", 0) == 0 and capacity >= TOKENS_PER_JOB:
        # The bench's onboardings take it exactly; `round_calls` gives back a surplus, and a
        # round that needs more reserves the rest at its first step. A round a bucket cannot
        # hold parks again anyway: paying part of it ahead would only delay the read. A read
        # dearer than a warm one (its catalogues read again) adds what it costs more.
        to_come = max(to_come, TOKENS_PER_JOB + ROUND_SLACK + max(0, tokens - WARM_READ))
    if paid < tokens:
        # As many as a full bucket: the directory takes them at once when they are due.
        wanted = max(tokens, min(to_come, capacity))
        held = _reserved_tokens(job, connection)
        outcome = pace(job, connection, wanted - paid, first_read=first_read)
        if outcome is not None:
            return outcome
        # A reservation someone made for it (the job that woke it: `joiner_reservation`,
        # before its read's cost was known) pays what it holds, not what this run asks.
        paid = wanted if held is None else max(tokens, paid + held)
    job.options = {
        **job.options,
        PAID: {**job.options.get(PAID, {}), key: paid - tokens},
        ROUND_CALLS: {**job.options.get(ROUND_CALLS, {}), key: max(0, to_come - tokens)},
    }
    return None


def round_calls(job: Job, calls: dict[int, int]) -> tuple[dict, dict[int, int]]:
    """A new round's job.options for `pace_calls`: its calls by connection, and the tokens
    already paid for them (a joiner's first read pays ahead); and, by connection, the tokens
    paid beyond them, for `give_back` once the options are written."""
    kept, surplus = {}, {}
    for key, paid in job.options.get(PAID, {}).items():
        kept[key] = min(paid, calls.get(int(key), 0))
        if paid > kept[key]:
            surplus[int(key)] = paid - kept[key]
    return {ROUND_CALLS: {str(pk): n for pk, n in calls.items()}, PAID: kept}, surplus


def give_back(connections: list[DirectoryConnection], surplus: dict[int, int]) -> None:
    """The tokens a job paid for and will not spend, back to their connections' buckets."""
    for connection in connections:
        if surplus.get(connection.pk, 0) > 0:
            throttle.refund(connection, surplus[connection.pk])


def unspent(job: Job) -> dict[int, int]:
    """By connection, the tokens the job paid for and did not send: at its end, what it
    gives back (a joiner found with nothing to do, a job that failed before its calls)."""
    return {int(key): paid for key, paid in job.options.get(PAID, {}).items() if paid > 0}


def forfeit(job: Job, connection: DirectoryConnection) -> None:
    """After a throttled answer from `connection`: the tokens the job paid ahead there are
    void (the pause empties the bucket, the directory's budget is spent), so after the pause
    its calls reserve afresh instead of sending at once what was paid before it."""
    paid = job.options.get(PAID, {})
    if paid.get(str(connection.pk)):
        job.options = {**job.options, PAID: {**paid, str(connection.pk): 0}}


def admitted_at_once(connection: DirectoryConnection) -> int:
    """How many of a throttled connection's jobs may be under way: as many as its
    reservations ahead can carry."""
    ahead_tokens = throttle.reserve_ahead_s(connection) * throttle.rate_per_s(connection)
    return max(MIN_ADMITTED, math.ceil(ahead_tokens / TOKENS_PER_JOB))


def jobs_ahead(job: Job) -> int:
    """The tenant's unfinished jobs that arrived before this one: as the run's claim counted
    them (PostgreSQL, engine/claim_read.py), else counted now. Jobs ahead only finish, so
    the claim's count is never fewer than one now: it admits no job that a count now would
    not."""
    kept = memo.take(("jobs_ahead", job.pk))
    return kept[0] if kept is not None else older_unfinished(job.tenant_id, job.pk).count()


def older_unfinished(tenant_id: int, job_id: int):
    return Job.objects.filter(tenant_id=tenant_id, status__in=UNFINISHED, pk__lt=job_id)


def next_in_turn(
    job: Job, connections: Callable[[], list[DirectoryConnection]] = list
) -> tuple[int, float] | None:
    """When a job that went through a throttled connection's pacing ends: the tenant's
    oldest job waiting its turn, and in how many seconds it runs. It is admitted here, its
    first read's tokens reserved for it (`reserve_for`), so that its next run sends the read
    (and the round paid with it) when they are due: one run, not a run that finds its turn
    come and parks for its tokens, then another that sends them. Only where the reservations
    ahead run past what the jobs under way hold (`wake_ahead_s`) is its come-back time
    brought forward to now instead. `connections`:
    the tenant's, as the ending run holds them (the waiting job's connection is one)."""
    if not (job.options.get(ADMITTED) or RESERVED in job.options):
        return None  # never parked for tokens: none were short, no one waits behind it
    # The submits' line is let go before the look (`in_line_at_submit`): a joiner written
    # into it and committed after the look finds it let go once committed, and runs.
    line = _let_line_go(job.tenant_id)
    waiting = Job.objects.filter(
        tenant_id=job.tenant_id, status=Job.Status.WAITING, waiting_reason__startswith=TURN
    )
    first = waiting.order_by("pk").values("pk", "runs", "options").first()
    if first is None:
        return None
    if line is not None:  # jobs still wait: the next joiners join them at their submit
        _hold_submit_line(job.tenant_id, line, line["until"] - time.time())
    due_in = reserve_for(first, connections)
    if due_in is not None:
        return first["pk"], due_in
    return (first["pk"], 0.0) if make_due(first["pk"]) else None


def reserve_for(
    waiting: dict, connections: Callable[[], list[DirectoryConnection]] = list
) -> float | None:
    """The first in line admitted and its first read's tokens reserved, written on its row
    (as its own run would write them) while it still waits its turn, unclaimed since it was
    read: the seconds until they are due. None where nothing was reserved (its row says
    nothing of what it wants, the reservations ahead are full, or it was claimed since).
    Its connection from `connections` (the tenant's, as a run holds them), else read."""
    wants = (waiting["options"] or {}).get(TURN_WANTS)
    if not wants:
        return None
    connection = next((c for c in connections() if c.pk == wants["connection"]), None)
    if connection is None:
        connection = DirectoryConnection.objects.filter(pk=wants["connection"]).first()
    if connection is None:
        return None
    tokens = int(wants["tokens"])
    taken, due_in = throttle.reserve(connection, tokens, wake_ahead_s(connection))
    if not taken:
        return None
    options = {k: v for k, v in waiting["options"].items() if k != TURN_WANTS}
    options[ADMITTED] = True
    options[RESERVED] = {**options.get(RESERVED, {}), str(connection.pk): time.time() + due_in}
    options[RESERVED_TOKENS] = {**options.get(RESERVED_TOKENS, {}), str(connection.pk): tokens}
    now = timezone.now()
    admitted = Job.objects.filter(
        pk=waiting["pk"],
        runs=waiting["runs"],  # not claimed since it was read (a claim counts a run)
        status=Job.Status.WAITING,
        waiting_reason__startswith=TURN,
    ).update(
        options=options,
        waiting_reason=f"Pacing calls to {connection}"[:300],
        resume_at=now + timedelta(seconds=due_in) if due_in > DUE_NOW_S else None,
        lease_until=now + timedelta(seconds=due_in + lease_seconds()),
    )
    if not admitted:
        throttle.refund(connection, tokens)
        return None
    return due_in


def wake_ahead_s(connection: DirectoryConnection) -> float:
    """How far ahead the job that ends may reserve for the first in line: the connection's
    horizon, and the first rounds of the jobs it admits at once on top. A job's end admits
    one job, so this keeps the number under way, not the debt, growing; beyond the horizon
    (a pause after a 429, a round that paid more) a woken job brought forward instead ran
    to find its tokens refused, parked, ran to park for them, and ran a third time to send
    them: two claims and a park's statements more for the same time of sending."""
    rounds = admitted_at_once(connection) * TOKENS_PER_JOB / throttle.rate_per_s(connection)
    return throttle.reserve_ahead_s(connection) + rounds


def _needs_admission(job: Job) -> bool:
    return job.options.get("round", 0) == 0 and not job.options.get(ADMITTED)


def _wait_turn(job: Job, connection: DirectoryConnection, ahead: int, tokens: int) -> Outcome:
    # Back when the jobs ahead have about gone through at the connection's rate (those under
    # way share it, so the first of them ends late), later each time it found its turn not
    # come (a loaded worker is slower than the rate): a fallback, as the job that ends before
    # this one's turn wakes it.
    looks = job.options.get(TURN_LOOKS, 0)
    wants = {"connection": connection.pk, "tokens": tokens}
    job.options = {**job.options, TURN_LOOKS: looks + 1, TURN_WANTS: wants}
    # Twice the time the jobs ahead take at the rate: at that time itself, the fallback
    # raced the wake-ups wherever the workers fell short of the rate (a loaded machine, the
    # pauses after a 429) and found its turn not come: a claim and a park more (42 of 300
    # jobs in a bench run at the ceiling). A wake-up lost with a killed worker costs the
    # difference in time.
    comes_back = _turn_eta(connection, ahead, looks)
    throttle.hold_line(connection, comes_back)
    _line_for_submits(job, connection, comes_back)
    parked = wait(job, f"{TURN} {connection}", comes_back)
    return Outcome(retry_in=parked.retry_in, in_line_of=job.tenant_id)


def _line_for_submits(job: Job, connection: DirectoryConnection, seconds: float) -> None:
    """The tenant's joiners asked for in the next `seconds` (extends, never shortens) join
    the line at `connection` at their submit (`in_line_at_submit`)."""
    if (joiners := joiner_reservation(connection)) is None:
        return
    per_job_s = TURN_ETA_FACTOR * TOKENS_PER_JOB / throttle.rate_per_s(connection)
    line = {"connection": connection.pk, "tokens": joiners, "name": str(connection)}
    held = cache.get(_submit_line_key(job.tenant_id)) or {"until": 0.0}
    seconds = max(seconds, held["until"] - time.time())
    _hold_submit_line(job.tenant_id, {**line, "per_job_s": per_job_s}, seconds)


def _turn_eta(connection: DirectoryConnection, ahead: int, looks: int) -> float:
    eta = TURN_ETA_FACTOR * ahead * TOKENS_PER_JOB / throttle.rate_per_s(connection)
    return min(TURN_MAX_S, max(TURN_MIN_S, eta) * 2**looks)


def joiner_reservation(connection: DirectoryConnection) -> int | None:
    """What a joiner's first read reserves at `connection` (`pace_calls`): about an
    onboarding's first round, where the bucket holds it; None where it reserves the read
    alone (its cost known only once its plan is made)."""
    capacity = int(throttle.bucket_capacity(connection))
    if capacity < TOKENS_PER_JOB:
        return None
    return min(TOKENS_PER_JOB + ROUND_SLACK, capacity)


def in_line_at_submit(job: Job) -> float | None:
    """A new joiner (`services.request_onboarding`, not yet saved) of a tenant whose jobs
    wait their turn at a connection: set to wait its turn there behind them, with what its
    first read reserves (`joiner_reservation`: the person is new, so managed in every
    directory of the tenant, and has no account yet), as a first run of its own would have
    parked it. The seconds until its fallback timer; None where no line is held (it is
    queued as it was). The line is kept in the cache by the jobs that wait their turn and
    let go by the look of a job that ends (`next_in_turn`): no statement."""
    line = cache.get(_submit_line_key(job.tenant_id))
    if line is None:
        return None
    # Its fallback when the line ahead of it has about gone through, as `_wait_turn` sets
    # a waiting job's: the line lasts a joiner's round at the rate (twice) longer with it.
    line["until"] = max(line["until"], time.time()) + line["per_job_s"]
    _hold_submit_line(job.tenant_id, line, line["until"] - time.time())
    comes_back = max(TURN_MIN_S, line["until"] - time.time())
    now = timezone.now()
    wants = {"connection": line["connection"], "tokens": line["tokens"]}
    job.options = {**job.options, TURN_LOOKS: 1, TURN_WANTS: wants}
    job.status = Job.Status.WAITING
    job.waiting_reason = f"{TURN} {line['name']}"[:300]
    job.resume_at = now + timedelta(seconds=comes_back)
    job.lease_until = job.resume_at + timedelta(seconds=lease_seconds())
    return comes_back


def line_held_at_submit(tenant_id: int) -> bool:
    """After a joiner written into the line (`in_line_at_submit`) has committed: whether
    the line is still held. Let go meanwhile, the job that let it go may have looked for
    the first in line before the joiner was there: it is sent now instead."""
    return cache.get(_submit_line_key(tenant_id)) is not None


def _hold_submit_line(tenant_id: int, line: dict, seconds: float) -> None:
    if seconds > 0:
        line = {**line, "until": time.time() + seconds}
        cache.set(_submit_line_key(tenant_id), line, timeout=math.ceil(seconds))


def _let_line_go(tenant_id: int) -> dict | None:
    key = _submit_line_key(tenant_id)
    line = cache.get(key)
    if line is not None:
        cache.delete(key)
    return line


def _submit_line_key(tenant_id: int) -> str:
    return f"{_cache_prefix()}:line:{tenant_id}"


def arm_line(tenant_id: int, seconds: float) -> bool:
    """A job of the tenant waits its turn until `seconds` from now at the latest (its come-back
    time): whether the tenant's line timer is to be sent for then (the caller sends it,
    `tasks.send_line_timer`). Not where one is armed to come by then: one timer stands for
    the whole line, not one per job (a woken job's own timer came after its end, a task run
    for nothing: about one for every third job at the ceiling). The mark lasts a little past
    the timer's time, so that a timer lost with a killed worker is armed again by the next
    job that waits its turn; behind it, each waiting job's lease (`resume_stalled_jobs`)."""
    key, at = _line_timer_key(tenant_id), time.time() + max(0.0, seconds)
    armed = cache.get(key)
    if armed is not None and armed <= at + LINE_TIMER_SLACK_S:
        return False
    cache.set(key, at, timeout=math.ceil(max(0.0, seconds) + LINE_TIMER_SLACK_S))
    return True


def line_due(tenant_id: int) -> tuple[list[int], float | None]:
    """The tenant's line timer has come: the jobs waiting their turn whose come-back time
    has come (each runs, as its own timer used to send it: a lost wake-up, or a turn not come
    that it parks for again), and in how many seconds the next waiting job's come-back time
    comes (None: no job waits its turn), for the timer armed again."""
    cache.delete(_line_timer_key(tenant_id))
    now = timezone.now()
    latest = now + timedelta(seconds=LINE_TIMER_EARLY_S)
    line = Job.objects.filter(
        tenant_id=tenant_id, status=Job.Status.WAITING, waiting_reason__startswith=TURN
    )
    due = list(
        line.filter(Q(resume_at__lte=latest) | Q(resume_at=None))
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    later = (
        line.filter(resume_at__gt=latest).order_by("resume_at").values_list("resume_at", flat=True)
    ).first()
    return due, None if later is None else (later - now).total_seconds()


def _line_timer_key(tenant_id: int) -> str:
    return f"{_cache_prefix()}:line-timer:{tenant_id}"


def ended_after_its_turn(job: Job, status: str) -> None:
    """A job that waited its turn has succeeded (its end committed): its turn's fallback
    timer, still to come, finds it so in the cache (`fallback_after_the_end`), not by the
    person's lock. Only a success: a failed job may be retried (the same job queued
    again), a success never runs again."""
    if status == Job.Status.SUCCEEDED and job.options.get(TURN_LOOKS):
        cache.set(_ended_key(job.pk), True, timeout=ENDED_KEPT_S)


def fallback_after_the_end(job_id: int) -> bool:
    """Whether a task of the job comes after it succeeded having waited its turn: nothing
    to do, and no statement sent to find that out (one, the person's lock, otherwise: a
    task for about every second job at the ceiling)."""
    return cache.get(_ended_key(job_id)) is not None


def _ended_key(job_id: int) -> str:
    return f"{_cache_prefix()}:ended:{job_id}"


def _cache_prefix() -> str:  # read at call time: the tests switch the prefix
    return f"{settings.REDIS_KEY_PREFIX}:admission"


def _send_at(
    job: Job, connection: DirectoryConnection, due_in: float, tokens: int | None
) -> Outcome | None:
    """None to send now; else the job parked until its `tokens` reserved are due."""
    if due_in <= DUE_NOW_S:
        return None
    _reserved(job, connection, time.time() + due_in, tokens)
    return wait(job, f"Pacing calls to {connection}", due_in)


def _reserved(job: Job, connection: DirectoryConnection, due_at: float, tokens: int | None):
    """The job's reservation on `connection`, due at `due_at`, holding `tokens` (None: not
    known, a row written before they were kept)."""
    key = str(connection.pk)
    held = {k: v for k, v in job.options.get(RESERVED_TOKENS, {}).items() if k != key}
    if tokens is not None:
        held[key] = tokens
    job.options = {
        **job.options,
        RESERVED: {**job.options.get(RESERVED, {}), key: due_at},
        RESERVED_TOKENS: held,
    }


def _reserved_tokens(job: Job, connection: DirectoryConnection) -> int | None:
    """The tokens the job's reservation on `connection` holds, where it holds one still to
    be spent (not stale) and they are known; None otherwise."""
    key = str(connection.pk)
    due_at = job.options.get(RESERVED, {}).get(key)
    if due_at is None or time.time() >= due_at + STALE_AFTER_S:
        return None
    return job.options.get(RESERVED_TOKENS, {}).get(key)


def _take_reservation(job: Job, connection: DirectoryConnection) -> tuple[float | None, int | None]:
    """The due time of the job's reservation on `connection` and the tokens it holds, both
    removed from the job (spent by the calls that follow); (None, None) when it holds none,
    or a stale one."""
    key = str(connection.pk)
    reserved = dict(job.options.get(RESERVED, {}))
    held = dict(job.options.get(RESERVED_TOKENS, {}))
    due_at, tokens = reserved.pop(key, None), held.pop(key, None)
    if due_at is None:
        return None, None
    job.options = {**job.options, RESERVED: reserved, RESERVED_TOKENS: held}
    if time.time() >= due_at + STALE_AFTER_S:
        return None, None
    return due_at, tokens
