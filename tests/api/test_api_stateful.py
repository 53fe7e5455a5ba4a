"""schemathesis' stateful phase: sequences of calls chained by the document's OpenAPI links
(`provisioning/api/links.py`: a 202 to its job, a filed access request to its decision, a
person to their accounts), every answer checked as in `test_api_schema_properties`.

The run follows the document's own links only: schemathesis' dependency analysis also
guesses links from field names, and one of its guesses (an audit event's `job_id`, empty
for an event without a job) sends an empty path id, which its in-process WSGI client
collapses (`/jobs//cancel` becomes `/jobs/cancel`, a 405 of `GET /jobs/{id}`); over HTTP the
API answers `//` with its documented 404."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from .test_api_schema_properties import CHECKS, callers, keep_the_test_connection

__all__ = ["callers", "keep_the_test_connection"]  # fixtures

config = SchemathesisConfig.from_dict({"phases": {"stateful": {"inference": {"algorithms": []}}}})
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", get_wsgi_application(), config=config
)


def test_the_run_chains_what_the_answers_name():
    """What the stateful phase can follow: without the document's links it had no way from
    a 202 to its job (its guesses do not reach into `job`)."""
    transitions = schema.as_state_machine()._transitions.operations
    outgoing = {
        (label, link.status_code, link.target.label)
        for label, operation in transitions.items()
        for link in operation.outgoing
    }
    for source in ("POST /api/v1/tenants/{slug}/people", "POST /api/v1/jobs/{id}/retry"):
        assert (source, "202", "GET /api/v1/jobs/{id}") in outgoing
    decision = "POST /api/v1/access-requests/{id}/decision"
    assert ("POST /api/v1/tenants/{slug}/access-requests", "201", decision) in outgoing
    assert ("GET /api/v1/people/{id}", "200", "GET /api/v1/people/{id}/accounts") in outgoing


@pytest.mark.django_db
def test_linked_calls_answer_within_the_schema(callers):
    headers = {"Authorization": f"Bearer {callers['msp admin']}"}

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, headers=headers)

    Workflow.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
