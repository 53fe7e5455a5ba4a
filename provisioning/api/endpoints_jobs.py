"""Jobs and their steps (read). `JobOut` is also the body of every POST that starts a job."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from ninja import Query, Router, Schema
from pydantic import Field

from provisioning import step_counts
from provisioning.api import scope
from provisioning.api.filters import Id, PathId, When, slug
from provisioning.api.paging import Page, PageQuery, page_of
from provisioning.api.schemas import ERRORS, JobKind, JobStatus, absolute
from provisioning.models import Job, Step
from tenants import access

router = Router(tags=["Jobs"])


class StepOut(Schema):
    order: int
    action: str = Field(description="What the step does, e.g. create_user.")
    intent: str = Field(description="The same, in words, with its target.")
    target: str
    connection_id: int
    connection: str
    status: str
    message: str = Field(description="The directory's message when the step failed.")
    error_kind: str
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def of(step: Step) -> dict:
        return {
            "order": step.order,
            "action": step.action,
            "intent": str(step),
            "target": step.target_name,
            "connection_id": step.connection_id,
            "connection": step.connection.label,
            "status": step.status,
            "message": step.last_error,
            "error_kind": step.error_kind,
            "attempts": step.attempts,
            "started_at": step.started_at,
            "finished_at": step.finished_at,
        }


class JobOut(Schema):
    id: int
    tenant: str
    kind: JobKind
    status: JobStatus
    person_id: int | None = Field(description="The person it is for (GET /people/{id}).")
    requested_by: str = Field(description="Who asked for it; empty for the system.")
    steps_total: int
    steps_done: int
    steps_failed: int
    error: str
    waiting_reason: str
    not_before: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[StepOut]
    url: str = Field(description="The job's page on the portal.")
    api_url: str = Field(description="This job in the API.")

    @staticmethod
    def of(job: Job) -> dict:
        return {
            "id": job.pk,
            "tenant": job.tenant.slug,
            "kind": job.kind,
            "status": job.status,
            "person_id": job.identity_id,
            "requested_by": job.requested_by.get_username() if job.requested_by else "",
            "steps_total": job.steps_total,
            "steps_done": job.steps_done,
            "steps_failed": job.steps_failed,
            "error": job.error,
            "waiting_reason": job.waiting_reason,
            "not_before": job.not_before,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "steps": [StepOut.of(step) for step in job.steps.all()],
            "url": absolute(reverse("job_detail", args=[job.pk])),
            "api_url": absolute(reverse("api_v1:job", args=[job.pk])),
        }


class JobsQuery(Schema):
    tenant: str | None = slug()
    status: JobStatus | None = None
    kind: JobKind | None = None
    person: Id | None = Field(None, description="Only the jobs of this person (their id).")
    created_since: When | None = Field(None, description="Created at or after this time.")
    created_until: When | None = Field(None, description="Created before this time.")


def _with_details(jobs: QuerySet[Job]) -> QuerySet[Job]:
    return jobs.select_related("tenant", "requested_by").prefetch_related("steps__connection")


@router.get("/jobs", response={200: Page[JobOut], **ERRORS}, summary="Jobs")
def list_jobs(request: HttpRequest, filters: Query[JobsQuery], page: Query[PageQuery]):
    """The jobs of the tenants you may see, newest first, with their steps."""
    scope.require(request.auth, access.READ_ROLES, writes=False)
    jobs = scope.jobs_of(request.auth)
    if filters.tenant:
        jobs = jobs.filter(tenant=scope.tenant_for(request.auth, filters.tenant))
    conditions = {
        "status": filters.status,
        "kind": filters.kind,
        "identity_id": filters.person,
        "created_at__gte": filters.created_since,
        "created_at__lt": filters.created_until,
    }
    jobs = jobs.filter(**{name: value for name, value in conditions.items() if value})
    return page_of(_with_details(jobs), page, JobOut.of, step_counts.read_so_far)


@router.get("/jobs/{id}", response={200: JobOut, **ERRORS}, summary="One job", url_name="job")
def get_job(request: HttpRequest, id: PathId):
    """A job with its steps: what each step does, its status and the directory's message."""
    job = scope.job_for(request.auth, id, jobs=_with_details(Job.objects))
    return JobOut.of(step_counts.read_so_far([job])[0])
