"""Property-based tests generated from the API's own OpenAPI schema (schemathesis, through
the Django WSGI app, in-process): for every operation in the schema, whatever it is and
whoever added it, generated requests (valid and invalid) never get a 5xx, every answer
matches the schema (its status is documented, its body, content type and headers fit), an
invalid request is refused, and methods, Allow and missing headers are answered as HTTP asks.

Run as an MSP admin (who may do everything) and as a technician with a read-only token (who
meets the 403s). The examples are bounded so the file runs in about a minute."""

from __future__ import annotations

import zlib

import jsonschema_rs  # schemathesis's own validator
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

from .conftest import token_for

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    response_headers_conformance,
    use_after_free,
    ensure_resource_availability,
]
# Every check schemathesis has but positive_data_acceptance ("schema-valid request rejected"),
# whose findings here are each a rule no OpenAPI schema can state, checked against the data:
# a `cursor` must be a next_cursor this API signed (400 problem-cursor for any other string of
# the pattern); a start date more than 30 days back, or an `at`/`ends_at` already past, is
# judged against the tenant's clock at the time of the call; `period=custom` needs `start`
# and `end` (a dependency between query parameters, which OpenAPI 3.1 cannot express outside
# a body); an access request's `resource` must be one this tenant lets people request. What
# the schema can say (the forms' rules on names, the days' bounds) it says: tests below.
EXAMPLES = 20


@pytest.fixture
def keep_the_test_connection():
    """The WSGI handler closes the database connection after each request; Django's test
    client unhooks that (the test's transaction lives on it), and so does this."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def callers(alpha, bravo, msp_admin, keep_the_test_connection, settings, on_sandbox) -> dict:
    """The two tokens, and tenant A's real objects to aim some of the requests at."""
    settings.API_REQUESTS_PER_MINUTE = 100_000  # a 429 would hide the answer it stands for
    # A's directories are on the sandbox, which does not know them: an onboarding's dry run
    # is refused there at once (409 blocked), not after a name look-up for Microsoft's hosts
    # that this machine cannot make.
    alpha.connection.login_base_url = alpha.connection.graph_base_url = on_sandbox.url
    alpha.connection.save()
    alpha.okta_connection.org_url = f"{on_sandbox.url}/okta/alpha"
    alpha.okta_connection.save()
    return {
        "msp admin": token_for(msp_admin),
        "read-only technician": token_for(alpha.technician, read_only=True),
        "objects": {
            "slug": alpha.tenant.slug,
            "id": {"people": alpha.identity.pk, "jobs": alpha.job.pk},
        },
    }


def aim_at_real_objects(case, objects: dict) -> None:
    """Every other case names tenant A's real objects, so that the 200 answers are checked
    too and not only the 404s of made-up ids."""
    if not case.path_parameters or zlib.crc32(repr(case.path_parameters).encode()) % 2:
        return
    if case.meta and case.meta.is_negative_at(ParameterLocation.PATH):
        return  # a made-up id kept as generated, or the negative check would judge a real one
    first = case.operation.path.removeprefix("/api/v1/").split("/")[0]
    if "slug" in case.path_parameters:
        case.path_parameters["slug"] = objects["slug"]
    if "id" in case.path_parameters and first in objects["id"]:
        case.path_parameters["id"] = objects["id"][first]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["msp admin", "read-only technician"])
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_schema(case, callers, who):
    aim_at_real_objects(case, callers["objects"])
    case.call_and_validate(headers={"Authorization": f"Bearer {callers[who]}"}, checks=CHECKS)


# (field, value): the onboarding form's verdicts on names and attributes, which the schema
# must say too: a client generating bodies from it (a checker's "schema-valid request
# rejected") learns the form's rules there, not from a 422.
ONBOARDING_VALUES = [
    ("first_name", "Ada"),
    ("first_name", " Ada "),
    ("first_name", ""),
    ("first_name", "   "),
    ("first_name", "Ada\t"),
    ("first_name", "Ada\x81"),
    ("department", "Sales\x07"),
    ("last_name", "<b>Lovelace</b>"),
    ("last_name", "=HYPERLINK(1)"),
    ("last_name", " -1"),
    ("department", ""),
    ("department", "R&D"),
    ("department", "+44"),
    ("username", ""),
    ("username", " Ada.Lovelace@alpha.test "),
    ("username", "Not A Name"),
    ("username", "ada.@alpha.test"),
    ("username", "-ada@alpha.test"),
    ("usage_location", ""),
    ("usage_location", "gb"),
    ("usage_location", "G1"),
    ("extra_groups", ["Sales"]),
    ("extra_groups", ["<script>"]),
    ("extra_groups", ["Sales\x9c"]),
]


@pytest.mark.django_db
@pytest.mark.parametrize("field,value", ONBOARDING_VALUES)
def test_the_schema_refuses_what_the_onboarding_form_refuses(alpha, field, value):
    from provisioning.api.endpoints_lifecycle import OnboardIn, _onboarding_form

    body = {"first_name": "Ada", "last_name": "Lovelace", "role_templates": [alpha.template.pk]}
    form = _onboarding_form(alpha.tenant, OnboardIn(**body | {field: value}))
    form_takes = field not in form.errors
    prop = schema.raw_schema["components"]["schemas"]["OnboardIn"]["properties"][field]
    assert jsonschema_rs.is_valid(prop, value) == form_takes


@pytest.mark.parametrize(
    "day", ["0213-09-18", "1999-12-31", "2000-01-01", "2100-12-31", "2101-01-01"]
)
def test_the_schema_bounds_a_day_as_the_api_does(day):
    from datetime import date

    from provisioning.api.filters import MAX_DATE, MIN_DATE

    operation = schema.raw_schema["paths"]["/api/v1/tenants/{slug}/report"]["get"]
    start = next(p for p in operation["parameters"] if p["name"] == "start")["schema"]
    assert jsonschema_rs.is_valid(start, day) == (MIN_DATE <= date.fromisoformat(day) <= MAX_DATE)


@pytest.mark.parametrize(
    "time",
    [
        "0086-02-14T05:37:36-09:28",
        "1999-12-31T23:59:59Z",
        "2000-01-01T00:00:00+05:00",
        "2050-06-01T10:00:00Z",
        "2100-12-31T12:00:00Z",
        "2100-12-31T23:59:59-12:00",
        "2101-01-01T00:00:00Z",
        "3847-08-08T13:10:40-23:52",
    ],
)
@pytest.mark.parametrize(
    "path,name",
    [("/api/v1/jobs", "created_since"), ("/api/v1/audit-events", "until")],
)
def test_the_schema_bounds_a_time_as_the_api_does(path, name, time):
    """A time filter takes the years 2000 to 2100 as written, whatever its offset, and the
    schema says so: a checker's schema-valid 3847-08-08 (or 2100-12-31 noon) was refused."""
    from pydantic import TypeAdapter, ValidationError

    from provisioning.api.filters import When

    operation = schema.raw_schema["paths"][path]["get"]
    param = next(p for p in operation["parameters"] if p["name"] == name)["schema"]
    try:
        TypeAdapter(When).validate_python(time)
        taken = True
    except ValidationError:
        taken = False
    assert jsonschema_rs.is_valid(param, time) == taken
