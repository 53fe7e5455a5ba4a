"""A job that stops for a person's choice instead of failing.

When every blocking problem of a round is one a person answers in the desired state (a
licence without a free seat: another licence, or none, through `Identity.license_choices`),
failing the job would only invite a retry that fails the same way. The job stops *Needs a
choice*, having sent nothing this round, with the question kept on it (`Job.options
["choices"]`). The answer is a change of the person's desired state, made from above
(`services.choose_licences`), which asks for the same job again: the engine converges as for
any other change.
"""

from __future__ import annotations

import contextlib

from django.db import transaction

from portal.audit.events import record
from provisioning.connectors import bridge
from provisioning.connectors.errors import ConnectorError
from provisioning.connectors.factory import connector_for, connector_type
from provisioning.engine import planner
from provisioning.engine.parking import LeaseLost, held
from provisioning.models import Job, Step
from tenants.crypto import CredentialError

NO_SEAT = "no_seat"  # a plan's Problem kind, and a failed step's error_kind
CHOOSABLE = (NO_SEAT,)


def choices_in(connection, plan: planner.Plan) -> list[dict]:
    """The plan's blocking problems a choice answers, as the job keeps them."""
    return [
        {
            "kind": problem.kind,
            "subject": problem.subject,
            "message": f"{connection.label}: {problem.message}",
            "connection": connection.pk,
            "availability": dict(plan.license_availability),
        }
        for problem in plan.problems
        if problem.blocking and problem.kind in CHOOSABLE
    ]


def replan_for_seats(job: Job, failed: int) -> bool:
    """True when every failed step of the job is a licence that found no free seat: the
    seat counts read again, those steps are marked replaced, and the job plans anew. The
    marks only while no other run has claimed the job since this one (the read may outlive
    the run's lease): the run that took over has replanned, maybe written a round whose
    steps are pending, which `planned = false` would orphan."""
    seatless = list(
        job.steps.filter(status=Step.Status.FAILED, error_kind=NO_SEAT).select_related("connection")
    )
    if not seatless or len(seatless) != failed:
        return False
    read_seats_afresh({step.connection for step in seatless})
    with transaction.atomic():
        if not Job.objects.filter(held(job)).update(planned=False):
            raise LeaseLost
        Step.objects.filter(pk__in=[step.pk for step in seatless]).update(
            status=Step.Status.REPLACED
        )
    job.planned = False
    return True


def read_seats_afresh(connections) -> None:
    """Read the seat counts of those of `connections` that hold licences again, past the
    connectors' brief cache: a replan, or a submit's dry run, judges the licences against
    the seats as they are now. A directory that cannot be read (no answer in time included)
    is left to the plan or dry run that follows, which reads it and says so."""
    for connection in connections:
        if not connector_type(connection).supports_licences:
            continue
        with contextlib.suppress(ConnectorError, CredentialError, TimeoutError):
            bridge.run(connector_for(connection).licenses(fresh=True))


def ask_for_choice(job: Job, choices: list[dict], version: int) -> None:
    """Stop the job, nothing sent this round, until someone chooses."""
    reason = " ".join(choice["message"] for choice in choices)
    job.options = {**job.options, "choices": choices, "choice_version": version}
    job.status, job.waiting_reason = Job.Status.NEEDS_CHOICE, reason[:300]
    job.steps_done = job.steps.filter(status=Step.Status.SUCCEEDED).count()
    with transaction.atomic():
        if not Job.objects.filter(held(job)).update(
            steps_done=job.steps_done,
            status=job.status,
            waiting_reason=job.waiting_reason,
            options=job.options,
            lease_until=None,
            resume_at=None,
        ):
            raise LeaseLost  # claimed by another run meanwhile: that one asks, if need be
        record(
            "job.needs_choice",
            actor="system",
            tenant=job.tenant,
            target=job.identity,
            after={"choices": [{k: c[k] for k in ("kind", "subject")} for c in choices]},
            result="failure",
            job_id=job.pk,
        )
