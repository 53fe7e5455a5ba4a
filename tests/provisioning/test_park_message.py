"""A parked job's task, as a worker runs it (Celery's tracer): it comes back after its
come-back time as one new message of its own, and the run ends as a success. It used to
come back by `self.retry`, which Celery handles as a failure that is retried: the worker
formatted the run's traceback, logged it and sent the `task_retry` signal for every park,
about 1.9 ms of a worker's CPU a park of the 2.6 (`docs/benchmarks.md`, session 30: cpu22);
a job at the rate ceiling of a loaded machine parks 0.3 to 0.8 times."""

from __future__ import annotations

import traceback

from celery import states
from celery.app.task import Task
from celery.app.trace import build_tracer
from celery.signals import task_retry

from provisioning.engine import admission, executor, tasks
from provisioning.engine.parking import Outcome
from provisioning.engine.tasks import run_job

JOB_ID = 7


def run_as_a_worker(job_id: int) -> str:
    """The task run as a worker's pool runs a message it took: its final state."""
    tracer = build_tracer(run_job.name, run_job, app=run_job.app, eager=False, propagate=False)
    request = {
        "id": "a-park",
        "retries": 0,
        "is_eager": False,
        "delivery_info": {"routing_key": "celery", "exchange": ""},
    }
    info = tracer("a-park", (job_id,), {}, request).info  # None for a success
    return states.SUCCESS if info is None else info.state


def test_a_parked_job_comes_back_as_one_new_message_and_its_run_succeeds(monkeypatch):
    """Parked for its tokens (or after a 429, a transient failure): one message of `run_job`
    for the job with its come-back time as countdown; the worker sees a success, no retry."""
    monkeypatch.setattr(admission, "fallback_after_the_end", lambda job_id: False)
    monkeypatch.setattr(executor, "execute", lambda job_id: Outcome(retry_in=4.5))
    sent, retried, formatted = [], [], []

    def send(task, args=None, kwargs=None, countdown=None, **options):  # as the broker takes it
        sent.append((task.name, tuple(args), countdown))

    monkeypatch.setattr(Task, "apply_async", send)
    format_exception = traceback.format_exception

    def counted(*args, **kwargs):
        formatted.append(1)
        return format_exception(*args, **kwargs)

    monkeypatch.setattr(traceback, "format_exception", counted)

    def on_retry(**kwargs):
        retried.append(kwargs["request"].id)

    task_retry.connect(on_retry, weak=False)
    try:
        state = run_as_a_worker(JOB_ID)
    finally:
        task_retry.disconnect(on_retry)
    assert (state, retried, formatted) == (states.SUCCESS, [], [])
    assert sent == [(run_job.name, (JOB_ID,), 4.5)]


def test_a_job_waiting_its_turn_sends_its_lines_timer_and_no_message_of_its_own(monkeypatch):
    """The other park (waiting its turn): the tenant's line timer stands for it, as before."""
    monkeypatch.setattr(admission, "fallback_after_the_end", lambda job_id: False)
    monkeypatch.setattr(executor, "execute", lambda job_id: Outcome(retry_in=3.0, in_line_of=11))
    sent, timers = [], []
    monkeypatch.setattr(run_job, "apply_async", lambda *args, **kwargs: sent.append(args))
    monkeypatch.setattr(tasks, "send_line_timer", lambda tenant, seconds: timers.append(tenant))
    assert run_as_a_worker(JOB_ID) == states.SUCCESS
    assert (sent, timers) == ([], [11])
