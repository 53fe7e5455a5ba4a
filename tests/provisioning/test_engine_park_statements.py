"""What a job at the ceiling of a throttled connection costs the database, task run by task
run: its first run parks (for its tokens, or its turn), the job that ends before it admits
it, its next run sends, and a task that comes after it has ended finds nothing to do.
Counted as tests/provisioning/test_engine_statements.py counts a warm onboarding; the
figures are deterministic (the test stands in for the time a reservation waits)."""

from __future__ import annotations

import time

import pytest
from celery.exceptions import Retry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.audit.events import forget_known_heads
from provisioning import throttle
from provisioning.engine import admission, executor, tasks
from provisioning.engine.parking import make_due
from provisioning.engine.tasks import run_job
from provisioning.models import Job
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import STATEMENTS, listing, onboard, statements

# Per task run of a job at the ceiling (worker statements; the warm onboarding's own run is
# test_engine_statements.STATEMENTS' second figure):
# - "parks": its first run, which parks for its tokens (admitted) or waits its turn;
# - "wakes": what the job that ends before it pays on top of its own run to admit it
#   (admission.next_in_turn: the first in line read, its reservation written);
# - "none waits": the same look when no job waits its turn;
# - "after": a task of a job that has ended (its turn's fallback timer, say).
# SQLite's claim reads the job and the person's rows in statements of their own (its park
# 9). Before the evening of 6 December 2026 (`ceiling12`): parks 4 on PostgreSQL (the count
# of the jobs ahead a statement of its own), wakes 4 (the waiting job's connection and its
# tenant read again), after 2 (the claim sent for a job the lock's read showed ended).
PARKED = {
    "postgresql": {"parks": 3, "wakes": 2, "none waits": 1, "after": 1},
    "sqlite": {"parks": 9, "wakes": 2, "none waits": 1, "after": 1},
}


def run(job: Job) -> list[str]:
    """One task run of `job` in this process, as a worker's that did not append to the
    tenant's audit chain last; its statements, as the bench counts them."""
    forget_known_heads()
    with CaptureQueriesContext(connection) as ran:
        executor.execute(job.pk)
    return statements(ran)


def tokens_due_now(job: Job) -> None:
    """Stand in for the wait until the job's reserved tokens are due (as `make_due` stands
    in for a countdown): the bucket keeps them spent."""
    job.refresh_from_db()
    options = {**job.options, admission.RESERVED: dict.fromkeys(job.options[admission.RESERVED])}
    for key in options[admission.RESERVED]:
        options[admission.RESERVED][key] = time.time()
    Job.objects.filter(pk=job.pk).update(options=options)
    make_due(job.pk)


def at_the_ceiling(on_sandbox, monkeypatch, name: str):
    """A tenant whose connection paces at 1 call/s with a bucket that holds a joiner's
    round, emptied after a warm-up onboarding; a job of the tenant's that arrived first and
    is not under way; two joiners behind it. The directories and the joiners."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    monkeypatch.setattr(run_job, "apply_async", lambda *args, **kwargs: None)
    dirs = make_directories(
        on_sandbox,
        name,
        rate_limit_per_s=1,
        groups=["Staff", "Sales", "Finance", "VPN Users", "Managers"],
        apps=["Salesforce"],
    )
    paced = dirs.tenant.connections.get()
    paced.rate_burst = admission.TOKENS_PER_JOB  # a bucket that holds a joiner's round
    paced.save()
    throttle.reset(paced)
    assert drive(onboard(dirs, "Warm", "Up")).status == Job.Status.SUCCEEDED
    throttle.reset(paced)
    assert throttle.reserve(paced, admission.TOKENS_PER_JOB, 0.0)[0]  # at the ceiling now
    # A job of the tenant's that arrived first and is not under way: the two after it are
    # admitted at most (admission.MIN_ADMITTED), so the second waits its turn.
    Job.objects.create(tenant=dirs.tenant, kind=Job.Kind.JOIN)
    return dirs, paced, onboard(dirs, "Ada", "Lovelace"), onboard(dirs, "Grace", "Hopper")


@pytest.mark.django_db(transaction=True)
def test_a_job_at_the_ceiling_stays_within_its_statements_per_task_run(on_sandbox, monkeypatch):
    _, _, first, second = at_the_ceiling(on_sandbox, monkeypatch, "parks")
    ceilings = PARKED[connection.vendor]
    figures = {}

    figures["first parks"] = run(first)
    first.refresh_from_db()
    assert first.waiting_reason.startswith("Pacing calls"), first.waiting_reason
    figures["second parks"] = run(second)
    second.refresh_from_db()
    assert second.waiting_reason.startswith(admission.TURN), second.waiting_reason

    tokens_due_now(first)
    figures["first runs, wakes the second"] = run(first)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Job.Status.SUCCEEDED, first.error
    assert second.waiting_reason.startswith("Pacing calls"), second.waiting_reason

    tokens_due_now(second)
    figures["second runs, none waits"] = run(second)
    second.refresh_from_db()
    assert second.status == Job.Status.SUCCEEDED, second.error
    figures["a task after the end"] = run(second)

    print("\n" + "\n\n".join(f"{k} {len(v)}:\n{listing(v)}" for k, v in figures.items()))
    warm = STATEMENTS[connection.vendor][1]  # the run that sends: a warm onboarding's
    assert len(figures["first parks"]) <= ceilings["parks"], listing(figures["first parks"])
    assert len(figures["second parks"]) <= ceilings["parks"], listing(figures["second parks"])
    woke = figures["first runs, wakes the second"]
    assert len(woke) <= warm + ceilings["wakes"], listing(woke)
    alone = figures["second runs, none waits"]
    assert len(alone) <= warm + ceilings["none waits"], listing(alone)
    after = figures["a task after the end"]
    assert len(after) <= ceilings["after"], listing(after)


@pytest.mark.django_db(transaction=True)
def test_a_job_woken_where_the_reservations_run_far_ahead_sends_in_one_run(on_sandbox, monkeypatch):
    """The job that ends admits the first in line with its tokens reserved even where the
    reservations ahead run past the connection's usual horizon (a pause after a 429, a round
    that paid more): as many jobs are under way as before, so the debt stays bounded. It
    used to bring the woken job's come-back time forward instead: that run found its tokens
    refused and parked, the next parked for them, a third sent them (3 + 3 + 17)."""
    _, paced, first, second = at_the_ceiling(on_sandbox, monkeypatch, "far")
    run(first)
    run(second)
    # Five seconds of calls more than the horizon (`reserve_ahead_s`, a bucket's worth here).
    assert throttle.reserve(paced, 5, 600.0)[0]
    tokens_due_now(first)
    run(first)
    second.refresh_from_db()
    ran, runs = [], 0
    while second.status != Job.Status.SUCCEEDED and runs < 5:
        if second.options.get(admission.RESERVED):
            tokens_due_now(second)
        else:
            make_due(second.pk)
        ran += run(second)
        runs += 1
        second.refresh_from_db()
    warm = STATEMENTS[connection.vendor][1]  # the run that sends: a warm onboarding's
    assert (second.status, runs) == (Job.Status.SUCCEEDED, 1), (runs, len(ran), listing(ran))
    assert len(ran) <= warm + PARKED[connection.vendor]["none waits"], listing(ran)


@pytest.mark.django_db(transaction=True)
def test_a_joiner_asked_for_while_its_tenants_jobs_wait_their_turn_runs_once(
    on_sandbox, monkeypatch
):
    """A joiner asked for while the tenant's jobs wait their turn at its connection joins
    the line at its submit: written waiting its turn with what its first read reserves, no
    task sent but its fallback timer, admitted by the job that ends ahead of it, and sent in
    one run of a warm onboarding's statements. It used to be queued and run at once: that
    run claimed it, found its turn not come (or its tokens due later) and parked it, 3
    statements and a run more (3 + 17 in two runs)."""
    dirs, _, first, second = at_the_ceiling(on_sandbox, monkeypatch, "line")
    run(first)
    run(second)  # waits its turn: the line is held
    sent, lines = [], []
    monkeypatch.setattr(run_job, "delay", lambda job_id: sent.append((job_id, 0.0)))
    monkeypatch.setattr(
        run_job, "apply_async", lambda args, countdown=0.0: sent.append((args[0], countdown))
    )
    monkeypatch.setattr(
        tasks.line_fallback, "apply_async", lambda args, countdown=0.0: lines.append(args[0])
    )
    third = onboard(dirs, "Alan", "Turing")
    third.refresh_from_db()
    assert (third.status, third.runs) == (Job.Status.WAITING, 0), third.status
    assert third.waiting_reason.startswith(admission.TURN), third.waiting_reason
    assert sent == [], sent  # no task of its own: the line's timer is its fallback
    assert lines == [dirs.tenant.pk], lines

    for job in (first, second):  # each ends, and admits the first in line
        tokens_due_now(job)
        run(job)
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, job.error
    ran, runs = [], 0
    third.refresh_from_db()
    while third.status != Job.Status.SUCCEEDED and runs < 5:
        if third.options.get(admission.RESERVED):
            tokens_due_now(third)
        else:
            make_due(third.pk)
        ran += run(third)
        runs += 1
        third.refresh_from_db()
    warm = STATEMENTS[connection.vendor][1]  # the run that sends: a warm onboarding's
    assert (third.status, runs) == (Job.Status.SUCCEEDED, 1), (runs, len(ran), listing(ran))
    assert len(ran) <= warm + PARKED[connection.vendor]["none waits"], listing(ran)


@pytest.mark.django_db(transaction=True)
def test_a_turns_fallback_after_its_job_succeeded_sends_no_statement(on_sandbox, monkeypatch):
    """A job that waited its turn was admitted by the job ahead and sent by the task of its
    wake-up; its own fallback timer (the task of its turn's park) comes after it succeeded
    and is dropped before any statement: it used to take the person's lock to find the job
    ended (1 statement, about one job in two at the ceiling)."""
    _, _, first, second = at_the_ceiling(on_sandbox, monkeypatch, "fallback")
    run(first)
    run(second)  # waits its turn: its fallback timer is set
    for job in (first, second):  # the first ends and admits the second, which is sent
        tokens_due_now(job)
        run(job)
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, job.error
    forget_known_heads()
    with CaptureQueriesContext(connection) as ran:
        run_job.apply(args=(second.pk,))  # the turn's fallback timer, as a worker runs it
    assert statements(ran) == [], listing(statements(ran))


@pytest.mark.django_db(transaction=True)
def test_the_jobs_waiting_their_turn_send_one_timer_for_the_line_not_one_each(
    on_sandbox, monkeypatch
):
    """The joiners asked for while the tenant's jobs wait their turn, and a job whose run
    finds its turn not come: one timer for the tenant's line stands for all of their
    fallbacks. Each used to send its own, which after the job ahead woke it came after its
    end, a task run for nothing (0.30 to 0.36 a job at the ceiling, about 2.5 ms of a
    worker's CPU each)."""
    dirs, _, first, second = at_the_ceiling(on_sandbox, monkeypatch, "onetimer")
    run(first)
    timers, lines = [], []
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    monkeypatch.setattr(run_job, "apply_async", lambda args, countdown=0.0: timers.append(args[0]))
    line_task = getattr(tasks, "line_fallback", None)
    if line_task is not None:
        monkeypatch.setattr(line_task, "apply_async", lambda args, countdown=0.0: lines.append(1))
    try:
        run_job(second.pk)  # its run as a worker's task: waits its turn
    except Retry:
        timers.append(second.pk)  # a task of its own, after its come-back time
    second.refresh_from_db()
    assert second.waiting_reason.startswith(admission.TURN), second.waiting_reason
    joiners = [onboard(dirs, f"Joiner{n}", "Later") for n in range(3)]
    assert all(j.waiting_reason.startswith(admission.TURN) for j in joiners)
    assert timers == [], timers
    assert len(lines) == 1, lines


@pytest.mark.django_db(transaction=True)
def test_a_lost_wake_up_is_made_good_by_the_lines_timer(on_sandbox, monkeypatch):
    """The job ahead ends and its wake-up of the first in line is lost (its worker killed
    between its end and the look): the tenant's line timer, when the first in line's
    come-back time has come, runs it, and it goes through."""
    _, _, first, second = at_the_ceiling(on_sandbox, monkeypatch, "lostwake")
    run(first)
    run(second)  # waits its turn
    monkeypatch.setattr(tasks, "_wake_next_in_turn", lambda job, status: None)  # lost
    tokens_due_now(first)
    run(first)
    first.refresh_from_db()
    assert first.status == Job.Status.SUCCEEDED, first.error
    second.refresh_from_db()
    assert second.waiting_reason.startswith(admission.TURN), second.waiting_reason
    assert admission.line_due(second.tenant_id) == (
        [],
        pytest.approx((second.resume_at - timezone.now()).total_seconds(), abs=1.0),
    )  # not come yet: the timer is armed again for it
    Job.objects.filter(pk=second.pk).update(resume_at=timezone.now())  # its time has come
    due, next_in = admission.line_due(second.tenant_id)
    assert (due, next_in) == ([second.pk], None)
    for _ in range(3):  # its run, and one for the tokens it reserves, as its own timer's
        second.refresh_from_db()
        if second.status == Job.Status.SUCCEEDED:
            break
        if second.options.get(admission.RESERVED):
            tokens_due_now(second)
        run(second)
    second.refresh_from_db()
    assert second.status == Job.Status.SUCCEEDED, (second.status, second.waiting_reason)
