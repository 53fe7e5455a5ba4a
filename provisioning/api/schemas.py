"""Shapes shared by several endpoints."""

from django.conf import settings
from ninja import Schema
from pydantic import Field


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
