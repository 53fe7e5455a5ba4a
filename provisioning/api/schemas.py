"""Shapes shared by several endpoints."""

from typing import Literal

from django.conf import settings
from ninja import Schema
from pydantic import Field

from provisioning.models import Job

# Literal, not the models' TextChoices: the schema names an enum by its class, and several
# models have a `Status` and a `Kind`, which would share one component.
JobKind = Literal[tuple(Job.Kind.values)]
JobStatus = Literal[tuple(Job.Status.values)]


class ProblemOut(Schema):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict] | None = Field(None, description="Validation errors, on a 422.")


ERRORS = {
    400: ProblemOut,
    401: ProblemOut,
    403: ProblemOut,
    404: ProblemOut,
    422: ProblemOut,
    429: ProblemOut,
}


def absolute(path: str) -> str:
    """A link a PSA can put in a ticket: the portal's own address (PORTAL_URL), this path."""
    return settings.PORTAL_URL.rstrip("/") + path
