"""What the API's POST endpoints share: the objects they act on (scoped by the token, 404
before 403), the page's form errors as a 422 problem, a service's refusal as a problem, and
the `202 Accepted` answer that points at the job."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import wraps

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse
from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field

from provisioning.api import scope
from provisioning.api.auth import TokenAuth
from provisioning.api.filters import MAX_ID, SLUG
from provisioning.api.models import ApiToken
from provisioning.api.problems import Problem
from provisioning.api.schemas import JobKind, JobStatus, ProblemOut
from provisioning.models import Job
from tenants import clock
from tenants.models import Tenant

API_ROOT = "/api/v1"
CONFLICT = {409: ProblemOut}


class WriteIn(BaseModel):
    """A POST body: a JSON object of exactly these fields. (ninja's Schema would read a list
    or a string as an object with no fields, all defaults; and a misspelt option must not be
    dropped silently when the request changes something.)"""

    model_config = ConfigDict(extra="forbid")


def examples(*bodies: dict) -> ConfigDict:
    """A body's config with examples for the reference (and schemathesis' examples phase)."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(bodies)})


class JobRef(Schema):
    id: int = Field(description="The job's id.")
    kind: JobKind = Field(description="What the job does.")
    status: JobStatus = Field(description="Where it stands now; follow `url` until it is done.")
    url: str = Field(description="The job in this API: GET it to follow its status and steps.")
    portal_url: str = Field(description="The job's page in the portal, for a person.")


class JobAccepted(Schema):
    """The job that will do what was asked (it runs in the background)."""

    job: JobRef


def job_url(job_id: int) -> str:
    return f"{API_ROOT}/jobs/{job_id}"


def accepted(job: Job) -> tuple[int, dict]:
    """The `202 Accepted` answer for a job."""
    page = reverse("job_detail", kwargs={"job_id": job.pk})
    return 202, {
        "job": {
            "id": job.pk,
            "kind": job.kind,
            "status": job.status,
            "url": job_url(job.pk),
            "portal_url": settings.PORTAL_URL.rstrip("/") + page,
        }
    }


def located(view):
    """Outside `@idempotent`: a `Location` header pointing at the accepted job, on the first
    answer (through ninja's temporal response, which the view declares as `response`) and on
    a replay alike."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        result = view(request, *args, **kwargs)
        if isinstance(result, HttpResponseBase):  # a replayed answer, kept as JSON
            job = json.loads(result.content).get("job") if result.status_code == 202 else None
            if job:
                result["Location"] = job["url"]
        elif result[0] == 202:
            kwargs["response"]["Location"] = result[1]["job"]["url"]
        return result

    return wrapper


# -- scoped objects ---------------------------------------------------------------------------


class ScopedTokenAuth(TokenAuth):
    """The token, then `check(token, path)`: the object the path names (404) and the role
    (403), before ninja validates the body. So a POST on what is not yours is a 404 and a
    read-only token's POST a 403, whatever the body says; the view fetches the object again.
    A path value that is not well formed is left to the schema's 422."""

    def __init__(self, check) -> None:
        super().__init__()
        self.check = check

    def authenticate(self, request: HttpRequest, token: str):
        api_token = super().authenticate(request, token)
        match = request.resolver_match
        if api_token is not None and match is not None:
            self.check(api_token, match.kwargs)
        return api_token


# The schema names a security scheme by its class: this is the same bearer token.
ScopedTokenAuth.__name__ = TokenAuth.__name__


def path_id(path: dict) -> int | None:
    """The path's id, or None when it is no id (left to the schema's 422). Its length is
    checked before int() reads it: past 4,300 digits int() raises (a 500)."""
    value = str(path.get("id", ""))
    if not (value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID))):
        return None
    return int(value) if 0 < int(value) <= MAX_ID else None


def path_slug(path: dict) -> str | None:
    value = str(path.get("slug", ""))
    return value if re.match(SLUG, value) else None


def tenant_first(roles) -> ScopedTokenAuth:
    """For /tenants/{slug}/… writes."""

    def check(token: ApiToken, path: dict) -> None:
        if (slug := path_slug(path)) is not None:
            scope.tenant_for(token, slug, roles, writes=True)

    return ScopedTokenAuth(check)


def person_first(roles) -> ScopedTokenAuth:
    """For /people/{id}/… writes."""

    def check(token: ApiToken, path: dict) -> None:
        if (identity_id := path_id(path)) is not None:
            scope.person_for(token, identity_id, roles, writes=True)

    return ScopedTokenAuth(check)


def job_first(roles) -> ScopedTokenAuth:
    """For /jobs/{id}/… writes."""

    def check(token: ApiToken, path: dict) -> None:
        if (job_id := path_id(path)) is not None:
            scope.job_for(token, job_id, roles, writes=True)

    return ScopedTokenAuth(check)


# -- errors -----------------------------------------------------------------------------------


def invalid(form: forms.Form) -> Problem:
    """The page's form errors, as the 422 problem a schema error is (`errors`: where, what)."""
    errors = []
    for name, messages in form.errors.items():
        # As ninja places a body field's schema error: ["body", "body", field].
        loc = ["body", "body"] + ([] if name == forms.forms.NON_FIELD_ERRORS else [name])
        errors += [{"loc": loc, "msg": str(m), "type": "form"} for m in messages]
    first = errors[0]["msg"] if errors else "The request did not validate."
    return Problem(422, first, kind="invalid", errors=errors)


def conflict(message: str, **extra) -> Problem:
    """A service refused: the thing is not in a state where this can be done."""
    return Problem(409, message, kind="conflict", **extra)


def wall_clock(tenant: Tenant, at: datetime | None) -> datetime | None:
    """The forms take a wall-clock time in the tenant's zone, as a person types it: an
    instant with an offset is turned into that; one without is taken as that already."""
    if at is None or at.tzinfo is None:
        return at
    try:
        return at.astimezone(clock.tenant_zone(tenant)).replace(tzinfo=None)
    except OverflowError as exc:  # year 1 or 9999 moved past the calendar's end
        raise Problem(422, "That time is out of range.", kind="invalid", errors=[]) from exc
