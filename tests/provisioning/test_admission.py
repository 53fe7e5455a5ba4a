"""A throttled connection's jobs: paced by reservation (one park per paced call at most),
admitted to their first read a few at a time in arrival order, the next one started when an
admitted one ends. Every test that uses the bucket runs on both backends."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning import throttle
from provisioning.engine import admission, executor, serial
from provisioning.engine.parking import wait
from provisioning.engine.tasks import run_job
from provisioning.models import Job
from tests.provisioning.conftest import run_now, wait_for_job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import onboard
from tests.provisioning.test_engine_read_rounds import own_requests, reset_stats
from tests.provisioning.throttle_support import limiter_backend  # noqa: F401 - the fixture

BURST = 10


@pytest.fixture
def slow(alpha, limiter_backend):  # noqa: F811
    """One call a second, a bucket of ten, emptied: every call from now on is paced."""
    connection = alpha.connection
    connection.rate_limit_per_s, connection.rate_burst = 1.0, BURST
    connection.save()
    throttle.reset(connection)
    connection.emptied_at = time.monotonic()
    assert throttle.reserve(connection, BURST, 0.0)[0]
    return connection


class Refilled:
    """An answer of the bucket in seconds, where the model is a bucket that does not refill:
    the real one refills as time passes, which only brings an answer forward, by at most the
    time passed since it was emptied. So `==` holds within that, however slow the machine."""

    def __init__(self, expected: float, connection) -> None:
        self.expected, self.connection = expected, connection

    def __eq__(self, answer: object) -> bool:
        passed = time.monotonic() - self.connection.emptied_at
        earliest = max(0.0, self.expected - passed)
        return isinstance(answer, float | int) and earliest - 0.01 <= answer <= self.expected + 0.01

    def __repr__(self) -> str:
        return f"{self.expected} less the seconds since the bucket was emptied"


def new_jobs(tenant, count: int) -> list[Job]:
    return [Job.objects.create(tenant=tenant, kind=Job.Kind.JOIN) for _ in range(count)]


def probe_due(connection) -> float:
    """When one more token would be due: how much the connection has reserved so far."""
    taken, due = throttle.reserve(connection, 1, 600.0)
    assert taken
    return due


def test_only_the_oldest_jobs_are_admitted_whatever_order_they_ask_in(alpha, slow):
    jobs = new_jobs(alpha.tenant, 6)
    admitted = admission.admitted_at_once(slow)
    assert admitted == admission.MIN_ADMITTED
    parked = {job.pk: admission.pace(job, slow, 1, first_read=True) for job in reversed(jobs)}
    reasons = dict(Job.objects.filter(pk__in=parked).values_list("pk", "waiting_reason"))
    in_turn = [job.pk for job in jobs if not reasons[job.pk].startswith(admission.TURN)]
    assert in_turn == [job.pk for job in jobs[:admitted]]
    comes_back = [parked[job.pk].retry_in for job in jobs[admitted:]]
    assert comes_back == sorted(comes_back)  # the later in line, the later it looks again


def test_an_admitted_job_that_ends_starts_the_first_in_line(alpha, slow):
    jobs = new_jobs(alpha.tenant, 4)
    for job in reversed(jobs):
        admission.pace(job, slow, 1, first_read=True)
    first, _, third, _ = (Job.objects.get(pk=job.pk) for job in jobs)
    assert admission.next_in_turn(first)[0] == third.pk
    Job.objects.filter(pk=first.pk).update(status=Job.Status.SUCCEEDED)
    outcome = admission.pace(third, slow, 1, first_read=True)
    third.refresh_from_db()
    assert not third.waiting_reason.startswith(admission.TURN)
    assert outcome is not None and outcome.retry_in > 0  # admitted, its read reserved


def test_the_next_run_sends_its_reserved_calls_without_asking_again(alpha, slow):
    (job,) = new_jobs(alpha.tenant, 1)
    outcome = admission.pace(job, slow, 1)
    assert 0.0 < outcome.retry_in <= 1.0
    job.refresh_from_db()
    (due_at,) = job.options[admission.RESERVED].values()
    assert due_at > time.time()
    job.options[admission.RESERVED] = {str(slow.pk): time.time()}  # its time has come
    assert admission.pace(job, slow, 1) is None
    assert admission.RESERVED not in job.options or not job.options[admission.RESERVED]
    assert probe_due(slow) == Refilled(2.0, slow)  # its token and this one: no more


def test_a_run_that_comes_early_parks_again_and_keeps_its_reservation(alpha, slow):
    (job,) = new_jobs(alpha.tenant, 1)
    admission.pace(job, slow, 1)
    job.refresh_from_db()
    outcome = admission.pace(job, slow, 1)  # woken before its time
    assert outcome is not None and 0.0 < outcome.retry_in <= 1.0
    job.refresh_from_db()
    assert list(job.options[admission.RESERVED]) == [str(slow.pk)]
    assert probe_due(slow) == Refilled(2.0, slow)  # reserved once only


def test_a_killed_workers_stale_reservation_is_not_spent(alpha, slow):
    (job,) = new_jobs(alpha.tenant, 1)
    long_ago = time.time() - admission.STALE_AFTER_S - 60
    job.options = {admission.RESERVED: {str(slow.pk): long_ago}}
    outcome = admission.pace(job, slow, 1)
    assert outcome is not None and outcome.retry_in > 0  # reserved afresh, at the rate


@pytest.mark.django_db(transaction=True)
def test_at_the_ceiling_a_job_runs_a_bounded_number_of_times(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "paced", rate_limit_per_s=4)
    connection = dirs.tenant.connections.get()
    connection.rate_burst = admission.TOKENS_PER_JOB  # holds a joiner's first round
    connection.save()
    assert throttle.reserve(connection, connection.rate_burst, 0.0)[0]  # at the ceiling now
    reset_stats(dirs)
    jobs = [onboard(dirs, first=f"Person{n}", last="Paced") for n in range(6)]
    finished = [wait_for_job(job.pk, timeout=60) for job in jobs]
    assert [j.status for j in finished] == [Job.Status.SUCCEEDED] * len(jobs)
    round_trips = sum(own_requests(dirs.stats("entra")).values()) / len(jobs)
    assert round_trips >= 4  # the lookups, the create, the writes, the read-back
    # A job parks once for its whole first round: its read, its steps and the read that
    # verifies them, reserved at once. The first few park for those tokens; those after them
    # wait their turn, and the job that ends before them admits them with the tokens
    # reserved (admission.next_in_turn), so their next run sends (they ran three times
    # before: the turn, the tokens, the round). A later round parks once for its calls. A
    # job whose fallback timer found its turn not come (a loaded machine) runs once more; a
    # job parked per call comes back once per round trip.
    runs = [j.runs for j in finished]
    bound = [j.options["round"] + 1 for j in finished]
    assert all(r <= b + 1 for r, b in zip(runs, bound, strict=True)), (runs, bound)
    assert sum(runs) <= sum(bound) + len(jobs) // 3, (runs, bound)
    # Admitted in arrival order: the first half is through, on the whole, before the second.
    order = [j.pk for j in sorted(finished, key=lambda j: j.finished_at)]
    ranks = [order.index(j.pk) for j in finished]
    half = len(ranks) // 2
    assert sum(ranks[:half]) < sum(ranks[half:]), order


def test_a_task_before_the_jobs_come_back_time_is_dropped_unrun(alpha):
    (job,) = new_jobs(alpha.tenant, 1)
    wait(job, "Pacing calls", 30.0)
    assert serial.claim(job.pk, lease_seconds=60) == (None, None)  # an earlier park's task
    job.refresh_from_db()
    assert (job.status, job.runs) == (Job.Status.WAITING, 0)
    Job.objects.filter(pk=job.pk).update(resume_at=timezone.now())  # its time has come
    claimed, _ = serial.claim(job.pk, lease_seconds=60)
    assert claimed is not None and claimed.runs == 1 and claimed.resume_at is None


def test_a_job_parked_without_a_time_runs_whenever_it_is_enqueued(alpha):
    (job,) = new_jobs(alpha.tenant, 1)
    wait(job, "The connection is quarantined", None)  # released: its jobs enqueued again
    claimed, _ = serial.claim(job.pk, lease_seconds=60)
    assert claimed is not None and claimed.status == Job.Status.RUNNING


def line_up(alpha, slow, tokens: int = 1) -> tuple[Job, list[Job]]:
    """A job that went through the pacing, and three behind it asking for their first
    read: the first of them admitted, the two others waiting their turn."""
    first, *waiting = new_jobs(alpha.tenant, 4)
    first.options = {admission.RESERVED: {}}  # parked for tokens once, not let in by the gate
    for job in reversed(waiting):
        admission.pace(job, slow, tokens, first_read=True)
    in_line = Job.objects.filter(pk__in=[j.pk for j in waiting]).order_by("pk")
    turn = [j for j in in_line if j.waiting_reason.startswith(admission.TURN)]
    assert len(turn) == 2 and all(j.resume_at > timezone.now() for j in turn)
    return first, turn


def test_a_paced_job_that_ends_admits_the_first_in_line_with_its_read_reserved(alpha, slow):
    """The first in line is woken with its first read's tokens reserved: its next run, when
    they are due, sends the read at once. (It used to run at once, find its turn come, park
    for its tokens, and send them in a third run.)"""
    first, turn = line_up(alpha, slow, tokens=3)
    # Times are bounded by the clock read before and after a call, not by a slack: the
    # machine may be slow.
    before, since = time.time(), timezone.now()
    next_id, due_in = admission.next_in_turn(first)
    after, until = time.time(), timezone.now()
    assert next_id == turn[0].pk and 0 < due_in <= throttle.reserve_ahead_s(slow) + 3
    woken = Job.objects.get(pk=next_id)
    assert woken.waiting_reason == f"Pacing calls to {slow}"
    wait_for = timedelta(seconds=due_in)
    assert since + wait_for <= woken.resume_at <= until + wait_for
    assert serial.claim(next_id, lease_seconds=60) == (None, None)  # its own early task
    Job.objects.filter(pk=next_id).update(resume_at=timezone.now())  # its time has come
    claimed, _ = serial.claim(next_id, lease_seconds=60)
    assert claimed is not None and claimed.runs == 1
    (due_at,) = claimed.options[admission.RESERVED].values()
    assert before + due_in <= due_at <= after + due_in
    claimed.options[admission.RESERVED] = {str(slow.pk): time.time()}  # its time has come
    assert admission.pace(claimed, slow, 3, first_read=True) is None  # sent, no park
    # Its 3 tokens taken once: one more is due a second after them, less the time passed.
    probed = probe_due(slow)
    assert due_in + 1 - (time.time() - before) - 0.01 <= probed <= due_in + 1 + 0.01
    # The next ender wakes the next in line, not the one already woken.
    assert admission.next_in_turn(first)[0] == turn[1].pk
    assert admission.next_in_turn(Job(tenant=alpha.tenant, options={})) is None  # never paced


def test_where_the_reservations_ahead_are_full_the_first_in_line_runs_now(alpha, slow):
    first, turn = line_up(alpha, slow)
    ahead = 60
    assert ahead > admission.wake_ahead_s(slow)
    assert throttle.reserve(slow, ahead, 600.0)[0]  # 60 s of calls reserved ahead: beyond it
    assert admission.next_in_turn(first) == (turn[0].pk, 0.0)
    claimed, _ = serial.claim(turn[0].pk, lease_seconds=60)
    assert claimed is not None  # runs now, not at the time it set itself
    assert probe_due(slow) == Refilled(1 + ahead + 1, slow)  # nothing reserved for it


def test_a_job_woken_past_the_usual_horizon_is_reserved_for_all_the_same(alpha, slow):
    """Reservations ahead beyond `reserve_ahead_s` (a pause after a 429, say) but within
    what the jobs under way hold: the first in line is admitted with its tokens reserved,
    not brought forward to find them refused (`wake_ahead_s`)."""
    first, turn = line_up(alpha, slow)
    horizon = throttle.reserve_ahead_s(slow)
    assert throttle.reserve(slow, int(horizon) + 5, 600.0)[0]
    next_id, due_in = admission.next_in_turn(first)
    assert next_id == turn[0].pk and due_in > horizon
    woken = Job.objects.get(pk=next_id)
    assert woken.waiting_reason == f"Pacing calls to {slow}" and woken.resume_at is not None


def fifth_in_line(alpha, slow) -> Job:
    """A job with four of the tenant's jobs ahead of it paced on `slow` at 6 calls/s: 10 s
    of the rate, two admitted at once."""
    slow.rate_limit_per_s = 6.0
    slow.save()
    jobs = new_jobs(alpha.tenant, 5)
    for job in jobs[:-1]:
        admission.pace(job, slow, 1, first_read=True)
    return Job.objects.get(pk=jobs[-1].pk)


def test_a_job_that_finds_its_turn_not_come_comes_back_later_each_time(alpha, slow):
    last = fifth_in_line(alpha, slow)
    waits = []
    for _ in range(3):
        waits.append(admission.pace(last, slow, 1, first_read=True).retry_in)
        last.refresh_from_db()
    assert waits[0] < waits[1] < waits[2] <= admission.TURN_MAX_S, waits


def test_a_waiting_jobs_fallback_comes_well_after_its_turn_is_due(alpha, slow):
    """Its own come-back time is the fallback for a wake-up lost with a killed worker: twice
    the time the jobs ahead take at the rate, so that a machine slower than the rate does
    not bring it back before the wake-up to find its turn not come (a claim and a park)."""
    last = fifth_in_line(alpha, slow)
    outcome = admission.pace(last, slow, 1, first_read=True)
    assert outcome.retry_in == 2 * 4 * admission.TOKENS_PER_JOB / 6.0


def test_a_rounds_calls_park_once_for_all_of_them(alpha, slow):
    (job,) = new_jobs(alpha.tenant, 1)
    # A round of 4 steps (the create, then a $batch of 3) and a read of 2 that verifies it.
    job.options = {"round": 1, **admission.round_calls(job, {slow.pk: 6})[0]}
    parked = admission.pace_calls(job, slow, 1)
    assert parked is not None and parked.retry_in == Refilled(6.0, slow)
    job.refresh_from_db()
    job.options[admission.RESERVED] = {str(slow.pk): time.time()}  # its time has come
    assert admission.pace_calls(job, slow, 1) is None  # the create
    assert admission.pace_calls(job, slow, 3) is None  # the $batch, without a park
    assert admission.pace_calls(job, slow, 2, first_read=True) is None  # the read-back
    assert probe_due(slow) == Refilled(7.0, slow)  # the round's 6 tokens, taken once
    assert admission.pace_calls(job, slow, 1) is not None  # a call beyond them is paced


def test_a_joiners_first_read_pays_for_its_round_and_gives_back_the_rest(alpha, slow):
    slow.rate_burst = 2 * BURST  # holds an onboarding's first round
    slow.save()
    throttle.reset(slow)
    assert throttle.reserve(slow, 2 * BURST, 0.0)[0]  # emptied
    (job,) = new_jobs(alpha.tenant, 1)
    parked = admission.pace_calls(job, slow, 3, first_read=True, joiner=True)
    paid = admission.TOKENS_PER_JOB + admission.ROUND_SLACK
    assert parked.retry_in == Refilled(paid, slow)  # one park
    job.refresh_from_db()
    job.options[admission.RESERVED] = {str(slow.pk): time.time()}  # its time has come
    assert admission.pace_calls(job, slow, 3, first_read=True, joiner=True) is None
    # Its plan: the create, a $batch of 4 and a read of 4 that verifies them; 5 paid too many.
    options, surplus = admission.round_calls(job, {slow.pk: 9})
    assert surplus == {slow.pk: paid - 3 - 9}
    admission.give_back([slow], surplus)
    job.options = {**job.options, "round": 1, **options}
    assert admission.pace_calls(job, slow, 1) is None  # the create
    assert admission.pace_calls(job, slow, 4) is None  # the $batch, without a park
    assert admission.pace_calls(job, slow, 4, first_read=True) is None  # the read-back
    assert probe_due(slow) == Refilled(3 + 9 + 1, slow)  # the surplus given back


def test_a_job_that_ends_without_its_calls_gives_back_what_it_paid_for_them(alpha, slow):
    """A joiner whose read finds the account as asked (nothing to do), or that fails before
    its round: the tokens its first read paid for the round go back to the bucket."""
    slow.rate_burst = 2 * BURST
    slow.save()
    throttle.reset(slow)  # a full bucket of 20
    (job,) = new_jobs(alpha.tenant, 1)
    assert admission.pace_calls(job, slow, 3, first_read=True, joiner=True) is None  # now
    paid = admission.TOKENS_PER_JOB + admission.ROUND_SLACK
    assert admission.unspent(job) == {slow.pk: paid - 3}  # 3 left in the bucket
    executor.fail_job(job, "Stopped before its round.")
    # Those paid for and never sent are back: 17 are due at once (16 s from now without).
    taken, due = throttle.reserve(slow, 2 * BURST - 3, 600.0)
    assert taken and due == Refilled(0.0, slow)


def test_a_joiners_round_a_call_longer_than_usual_parks_once(alpha, slow):
    """An onboarding's round one call longer than TOKENS_PER_JOB (a lookup more, a read more
    in its verification), on a bucket that holds it: its first read's reservation carries
    it, so its last read does not park again for one token (a claim and a park's three
    statements, and a task more)."""
    slow.rate_burst = 2 * BURST
    slow.save()
    throttle.reset(slow)
    assert throttle.reserve(slow, 2 * BURST, 0.0)[0]  # emptied
    (job,) = new_jobs(alpha.tenant, 1)
    assert admission.pace_calls(job, slow, 3, first_read=True, joiner=True) is not None
    job.refresh_from_db()
    job.options[admission.RESERVED] = {str(slow.pk): time.time()}  # its time has come
    assert admission.pace_calls(job, slow, 3, first_read=True, joiner=True) is None
    # The create, a $batch of 7 and a read of 5 that verifies them: 16 with the lookups.
    options, surplus = admission.round_calls(job, {slow.pk: 13})
    admission.give_back([slow], surplus)
    job.options = {**job.options, "round": 1, **options}
    sent = [admission.pace_calls(job, slow, n) for n in (1, 7)]
    sent.append(admission.pace_calls(job, slow, 5, first_read=True))
    assert sent == [None, None, None]  # no park


def test_a_joiners_cold_read_pays_for_its_round_as_well(alpha, slow):
    """A joiner's first read that costs more than a warm one (the connector's catalogues
    read again: a worker's first job of a tenant, a cache gone stale): its reservation adds
    what the read costs more, so its round does not come up short and park again at the
    read that verifies it (a task run more: 17 of 300 jobs at the ceiling, the first of
    each tenant in each worker)."""
    slow.rate_burst = 2 * BURST
    slow.save()
    throttle.reset(slow)
    assert throttle.reserve(slow, 2 * BURST, 0.0)[0]  # emptied
    (job,) = new_jobs(alpha.tenant, 1)
    cold = admission.WARM_READ + 4  # the groups, apps, licences and domains read again
    assert admission.pace_calls(job, slow, cold, first_read=True, joiner=True) is not None
    job.refresh_from_db()
    job.options[admission.RESERVED] = {str(slow.pk): time.time()}  # its time has come
    assert admission.pace_calls(job, slow, cold, first_read=True, joiner=True) is None
    # The bench's onboarding: the create, a $batch of 7 and a read of 4 that verifies them.
    options, surplus = admission.round_calls(job, {slow.pk: 12})
    admission.give_back([slow], surplus)
    job.options = {**job.options, "round": 1, **options}
    sent = [admission.pace_calls(job, slow, n) for n in (1, 7)]
    sent.append(admission.pace_calls(job, slow, 4, first_read=True))
    assert sent == [None, None, None]  # no park
    assert probe_due(slow) == Refilled(cold + 12 + 1, slow)  # the rest given back


def test_a_joiner_reserved_for_by_a_warm_worker_sends_a_cold_read_and_its_round(alpha, slow):
    """A joiner's reservation made by a run whose worker had the catalogues cached (a warm
    read: its own first run, the job that woke it), sent by a worker that reads them again:
    the reservation carries the dearer read and the round all the same, so the read that
    verifies the round does not park again (8 of 300 jobs at the ceiling did, with a slack
    of 2)."""
    slow.rate_burst = 2 * BURST
    slow.save()
    throttle.reset(slow)
    assert throttle.reserve(slow, 2 * BURST, 0.0)[0]  # emptied
    (job,) = new_jobs(alpha.tenant, 1)
    warm, cold = admission.WARM_READ, admission.WARM_READ + 4
    assert admission.pace_calls(job, slow, warm, first_read=True, joiner=True) is not None
    job.refresh_from_db()
    job.options[admission.RESERVED] = {str(slow.pk): time.time()}  # its time has come
    assert admission.pace_calls(job, slow, cold, first_read=True, joiner=True) is None
    options, surplus = admission.round_calls(job, {slow.pk: 12})  # as the bench's onboarding
    admission.give_back([slow], surplus)
    job.options = {**job.options, "round": 1, **options}
    sent = [admission.pace_calls(job, slow, n) for n in (1, 7)]
    sent.append(admission.pace_calls(job, slow, 4, first_read=True))
    assert sent == [None, None, None]  # no park


def test_a_woken_joiner_pays_with_what_was_reserved_for_it_not_what_it_asks(alpha, slow):
    """The job that wakes the first in line reserves a warm read's round for it
    (`joiner_reservation`): its run, whose read turns out dearer, counts those tokens as
    paid, not the more it asks (tokens the bucket never gave), and its round reserves the
    rest when it gets there."""
    slow.rate_burst = 2 * BURST
    slow.save()
    first, turn = line_up(alpha, slow, tokens=admission.joiner_reservation(slow))
    next_id, _ = admission.next_in_turn(first)
    woken = Job.objects.get(pk=next_id)
    woken.options[admission.RESERVED] = {str(slow.pk): time.time()}  # its time has come
    cold = admission.WARM_READ + 4
    assert admission.pace_calls(woken, slow, cold, first_read=True, joiner=True) is None
    assert admission.unspent(woken) == {slow.pk: admission.joiner_reservation(slow) - cold}


def test_a_throttled_read_voids_what_the_joiner_paid_ahead(alpha, slow):
    slow.rate_burst = 2 * BURST
    slow.save()
    throttle.reset(slow)
    (job,) = new_jobs(alpha.tenant, 1)
    assert admission.pace_calls(job, slow, 3, first_read=True, joiner=True) is None  # now
    admission.forfeit(job, slow)  # the read was answered 429: the bucket is emptied
    throttle.throttled(slow, 2.0)
    parked = admission.pace_calls(job, slow, 3, first_read=True, joiner=True)
    assert parked is not None and parked.retry_in > 2.0  # reserved afresh, after the pause


def test_a_joiner_reserves_its_read_alone_where_a_bucket_cannot_hold_its_round(alpha, slow):
    assert slow.rate_burst < admission.TOKENS_PER_JOB
    (job,) = new_jobs(alpha.tenant, 1)
    parked = admission.pace_calls(job, slow, 3, first_read=True, joiner=True)
    assert parked.retry_in == Refilled(3.0, slow)


def test_a_rounds_reservation_is_at_most_a_bucket(alpha, slow):
    (job,) = new_jobs(alpha.tenant, 1)
    job.options = {"round": 1, **admission.round_calls(job, {slow.pk: 3 * BURST})[0]}
    parked = admission.pace_calls(job, slow, 2)
    assert parked.retry_in == Refilled(BURST, slow)  # a bucket's worth, due at once


def test_a_paced_job_wakes_the_first_in_line_only_once_its_end_has_committed(
    alpha, slow, django_capture_on_commit_callbacks, monkeypatch
):
    """The transaction that ends a job holds its person and its tenant's audit chain. The
    first in line's row must not be taken inside it: another job's end that woke the same
    one holds that row and waits for the chain (a deadlock, seen with two workers on
    PostgreSQL, which rolled one end back). It is woken once the end has committed."""
    first, *waiting = new_jobs(alpha.tenant, 4)
    first.options = {admission.RESERVED: {}}  # parked for tokens once
    for job in reversed(waiting):
        admission.pace(job, slow, 1, first_read=True)
    turn = (
        Job.objects.filter(pk__in=[j.pk for j in waiting])
        .filter(waiting_reason__startswith=admission.TURN)
        .order_by("pk")
        .first()
    )
    sent = []
    monkeypatch.setattr(run_job, "apply_async", lambda args, countdown: sent.append(args[0]))
    with django_capture_on_commit_callbacks() as after_commit:
        executor.fail_job(first, "Stopped before its round.")
        turn.refresh_from_db()
        assert turn.waiting_reason.startswith(admission.TURN) and sent == []  # not inside
    for callback in after_commit:
        callback()
    turn.refresh_from_db()
    assert not turn.waiting_reason.startswith(admission.TURN) and sent == [turn.pk]


def test_each_joiner_in_line_at_its_submit_comes_back_a_round_later_than_the_one_before(
    alpha, slow
):
    """Joiners asked for while a job waits its turn join the line at their submit, each
    with its fallback a joiner's round at the rate (twice, as `_wait_turn`'s) after the one
    before it, and each keeps the line held that long: it used to last only as long as the
    fallback of the last job that parked for its turn, so the joiners after that were
    queued, ran and parked for their turn (3 statements each)."""
    slow.rate_burst = admission.TOKENS_PER_JOB  # a bucket that holds a joiner's round
    waiting = fifth_in_line(alpha, slow)
    outcome = admission.pace(waiting, slow, admission.TOKENS_PER_JOB, first_read=True)
    assert waiting.options.get(admission.TURN_WANTS), waiting.options
    joiners = [Job(tenant=alpha.tenant, kind=Job.Kind.JOIN) for _ in range(3)]
    comes_back = [admission.in_line_at_submit(joiner) for joiner in joiners]
    assert [joiner.status for joiner in joiners] == [Job.Status.WAITING] * 3
    per_job = admission.TURN_ETA_FACTOR * admission.TOKENS_PER_JOB / throttle.rate_per_s(slow)
    first = outcome.retry_in + per_job
    expected = [first, first + per_job, first + 2 * per_job]
    assert comes_back == pytest.approx(expected, abs=1.0), comes_back


def test_the_last_job_admitted_at_once_puts_the_next_joiners_in_line_at_their_submit(alpha, slow):
    """While the connection is short of tokens, the job that takes the last of the places
    admitted at once makes the tenant's next joiners wait their turn from their submit on.
    It used to be the first job that ran and found its turn not come: on a loaded machine
    the first runs come seconds after the submits, and every joiner asked for until then
    ran only to park for its turn (154 of 300 in a bench run at the ceiling)."""
    slow.rate_burst = admission.TOKENS_PER_JOB  # a bucket that holds a joiner's round
    slow.save()
    at_once = admission.admitted_at_once(slow)
    for job in new_jobs(alpha.tenant, at_once):
        assert admission.pace(job, slow, 1, first_read=True) is not None  # paced, admitted
        assert job.options.get(admission.ADMITTED), job.options
    joiner = Job(tenant=alpha.tenant, kind=Job.Kind.JOIN)
    assert admission.in_line_at_submit(joiner) is not None
    assert joiner.status == Job.Status.WAITING
    assert joiner.options[admission.TURN_WANTS]["connection"] == slow.pk


@pytest.mark.django_db(transaction=True)
def test_a_joiner_whose_turn_has_not_come_parks_again_before_reading_the_directory(
    on_sandbox, monkeypatch
):
    """A joiner waiting its turn whose own come-back time comes before the job ahead woke
    it (a loaded machine): its run finds the turn not come before it reads its accounts and
    builds its desired state and its plan (it used to build them, then ask the pacing: 1 to
    3 ms of a worker's CPU in a run that parks anyway), and still parks for its turn."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)  # the jobs ahead stay queued
    dirs = make_directories(on_sandbox, "turnfirst", rate_limit_per_s=4)
    connection = dirs.tenant.connections.get()
    connection.rate_burst = admission.TOKENS_PER_JOB
    connection.save()
    throttle.reset(connection)
    assert throttle.reserve(connection, connection.rate_burst, 0.0)[0]  # at the ceiling now
    ahead = admission.admitted_at_once(connection)
    for n in range(ahead):
        onboard(dirs, first=f"Ahead{n}", last="Paced")
    joiner = onboard(dirs, first="Ada", last="Lovelace")
    run_now(joiner.pk)  # its first run: the turn not come
    joiner.refresh_from_db()
    assert joiner.waiting_reason.startswith(admission.TURN), joiner.waiting_reason
    reset_stats(dirs)
    planned = []
    plan_for = executor.plans_of.plan_for
    monkeypatch.setattr(
        executor.plans_of, "plan_for", lambda *args: planned.append(args) or plan_for(*args)
    )
    run_now(joiner.pk)  # its come-back time, before any job ahead has ended
    joiner.refresh_from_db()
    assert joiner.waiting_reason.startswith(admission.TURN), joiner.waiting_reason
    assert joiner.runs == 2 and joiner.options[admission.TURN_LOOKS] == 2
    assert planned == []  # no plan built (nor the desired state it is built from)
    assert own_requests(dirs.stats("entra")) == {}  # nothing sent to the directory
