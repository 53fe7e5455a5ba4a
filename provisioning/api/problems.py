"""Errors as RFC 9457 problem details (`application/problem+json`), for every failure the
API can answer with, so a client parses one shape."""

from __future__ import annotations

import json
import logging
from functools import wraps

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt
from ninja.errors import AuthenticationError, HttpError, ValidationError

from portal.middleware import note_refusal

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
# The page that documents each type, a fragment per type (problem_types.py): a client that
# follows a `type` reads what it means (RFC 9457 §3.1.1); it was docs/api.md's fragment, which
# the portal does not serve.
TYPE_BASE = "/api/problems#problem-"

TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal error",
}


class Problem(Exception):
    """Raise from an endpoint to answer with a problem of this status."""

    def __init__(self, status: int, detail: str, *, kind: str = "", headers=None, **extra) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind = status, detail, kind
        self.headers, self.extra = headers or {}, extra


def require_json_body(request: HttpRequest) -> None:
    """A body must say it is JSON (application/json, or a +json type), or say nothing (RFC
    9110 §8.3 lets the recipient examine it then): another media type is refused with 415
    (§15.5.16), naming what is taken, rather than read as JSON whatever it said."""
    if request.method != "POST" or not request.body or not request.META.get("CONTENT_TYPE"):
        return  # only a POST reads a body here, and only its operations document the 415
    declared = request.content_type or ""
    if declared == "application/json" or declared.endswith("+json"):
        return
    raise Problem(
        415,
        "Send the body as JSON (Content-Type: application/json).",
        kind="media-type",
        headers={"Accept": "application/json"},
    )


def require_no_version_asked(request: HttpRequest) -> None:
    """RFC 9110 §13.1.1-2: a server that gets If-Match "MUST evaluate the condition" before
    the method. The API keeps no ETags, so If-Match holds only as `*`, and If-None-Match `*`
    never does for what exists: a read is then 304, a write 412, and a write guarded
    against a lost update is refused rather than applied unguarded. Checked with the token,
    before the route's own checks (an id that does not exist is 412 too)."""
    if_match = request.headers.get("If-Match")
    if if_match is not None and if_match.strip() != "*":
        raise Problem(
            412,
            "No version matches If-Match: this API keeps no ETags.",
            kind="precondition",
        )
    if (request.headers.get("If-None-Match") or "").strip() == "*":
        if request.method == "GET":  # HEAD is run as GET (portal.head)
            raise Problem(304, "")  # answered without content, no problem (on_problem)
        raise Problem(412, "It exists (If-None-Match: *).", kind="precondition")


def problem_response(
    request: HttpRequest, status: int, detail: str, *, kind: str = "", headers=None, **extra
) -> HttpResponse:
    body = {
        "type": TYPE_BASE + (kind or str(status)),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.path,
        **extra,
    }
    if status == 403:
        note_refusal(request, detail)
    response = HttpResponse(json.dumps(body), status=status, content_type=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@csrf_exempt
def unknown_route(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any path under /api/v1/ that is no route: a problem, not the portal's HTML page."""
    return problem_response(request, 404, "No such route in this API.", kind="no-route")


def install(api) -> None:
    """Answer every error of `api` as a problem, and say so in its OpenAPI schema."""
    _document(api)
    _wrong_methods_as_problems(api)
    _root_as_no_route(api)

    @api.exception_handler(Problem)
    def on_problem(request, exc: Problem):
        if exc.status == 304:  # no content (RFC 9110 §15.4.5), so no Content-Type
            return HttpResponseNotModified()
        return problem_response(
            request, exc.status, exc.detail, kind=exc.kind, headers=exc.headers, **exc.extra
        )

    @api.exception_handler(ValidationError)
    def on_invalid(request, exc: ValidationError):
        errors = [_error(e) for e in exc.errors]
        return problem_response(
            request, 422, "The request did not validate.", kind="invalid", errors=errors
        )

    @api.exception_handler(AuthenticationError)
    def on_unauthenticated(request, exc):
        return problem_response(
            request,
            401,
            "Send a live API token: Authorization: Bearer mpp_…",
            kind="unauthenticated",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )

    @api.exception_handler(PermissionDenied)
    def on_forbidden(request, exc):
        return problem_response(request, 403, str(exc) or "Not allowed.", kind="forbidden")

    @api.exception_handler(Http404)
    def on_not_found(request, exc):
        return problem_response(request, 404, "No such resource, or not yours.", kind="not-found")

    @api.exception_handler(RequestDataTooBig)
    def on_too_big(request, exc):
        return problem_response(
            request, 413, "The request body is larger than this API takes.", kind="too-large"
        )

    @api.exception_handler(SuspiciousOperation)
    def on_suspicious(request, exc):
        return problem_response(request, 400, "The request is malformed.", kind="malformed")

    @api.exception_handler(HttpError)
    def on_http_error(request, exc: HttpError):
        # ninja's own 400 for a body that is not JSON, among others: the message is ninja's
        # (never the input), and it names no problem type of ours.
        return problem_response(request, exc.status_code, str(exc), kind=str(exc.status_code))

    @api.exception_handler(Exception)
    def on_crash(request, exc):
        log.exception("API request %s %s failed", request.method, request.path)
        return problem_response(request, 500, "Something went wrong on our side.", kind="500")


def _error(error: dict) -> dict:
    """One validation error, as the client needs it: where and what (never the input echoed
    back whole: it may be huge or a secret)."""
    return {
        "loc": [str(part) for part in error.get("loc", ())],
        "msg": str(error.get("msg", "invalid")),
        "type": str(error.get("type", "")),
    }


def _document(api) -> None:
    """Declare every 4xx answer of the schema as `application/problem+json` (ninja writes
    `application/json`), so a client, and a schema-conformance check, reads what is sent."""
    build = api.get_openapi_schema

    def schema_with_problems(*args, **kwargs):
        schema = build(*args, **kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if str(status).startswith("4") and "application/json" in content:
                        response["content"] = {MEDIA_TYPE: content["application/json"]}
            if "post" in operations:
                _document_body_refusals(operations["post"])
            for method, operation in operations.items():
                _document_preconditions(method, operation)
            for operation in operations.values():
                _document_headers(operation)
        return schema

    api.get_openapi_schema = schema_with_problems


BODY_REFUSALS = {
    "413": "The request body is larger than this API takes.",
    "415": "The request body is not JSON (Content-Type: application/json).",
}


def _document_body_refusals(operation: dict) -> None:
    """What any POST may be answered besides its own statuses: its body too large or of
    another media type."""
    problem = {"$ref": "#/components/schemas/ProblemOut"}
    for status, description in BODY_REFUSALS.items():
        operation["responses"].setdefault(
            status, {"description": description, "content": {MEDIA_TYPE: {"schema": problem}}}
        )


def _document_preconditions(method: str, operation: dict) -> None:
    """`require_no_version_asked`'s answers, which any operation may give."""
    problem = {"$ref": "#/components/schemas/ProblemOut"}
    operation["responses"].setdefault(
        "412",
        {
            "description": "If-Match other than *, or If-None-Match: * on a write: no ETags.",
            "content": {MEDIA_TYPE: {"schema": problem}},
        },
    )
    if method == "get":
        operation["responses"].setdefault(
            "304", {"description": "If-None-Match: *: it exists (no content)."}
        )


# The headers a refusal carries, which tell the client what to do next: how to authenticate
# (RFC 9110 §11.6.1), how long to wait (§10.2.3; always whole seconds here) and which media
# type to send (§15.5.16).
REFUSAL_HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "description": "The scheme to use: a bearer token.",
            "schema": {"type": "string", "const": 'Bearer realm="api"'},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds to wait before sending again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
    "415": {
        "Accept": {
            "description": "The media type a body must have.",
            "schema": {"type": "string", "const": "application/json"},
        }
    },
}


# And the one an accepted write carries: its job (RFC 9110 §10.2.2; `writing.located`).
ANSWER_HEADERS = {
    "202": {
        "Location": {
            "description": "The job that does it, in this API: the body's `job.url`.",
            "schema": {"type": "string", "format": "uri-reference", "pattern": "^/api/v1/jobs/"},
        }
    },
    **REFUSAL_HEADERS,
}


def _document_headers(operation: dict) -> None:
    responses = operation.get("responses", {})
    for status, headers in ANSWER_HEADERS.items():
        response = responses.get(status) or responses.get(int(status))
        if response is not None:
            response.setdefault("headers", {}).update(headers)


def wrap_views(api, wrapper) -> None:
    """Every route's view, as ninja builds its URL patterns, wrapped in `wrapper` (the last
    wrapper given is the outermost)."""
    build = api._get_urls

    def urls():
        patterns = build()
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                pattern.callback = wrapper(pattern.callback)
        return patterns

    api._get_urls = urls


def _root_as_no_route(api) -> None:
    """ninja's view at the API's root (`api-root`, which it reverses to find the prefix)
    raises a bare Http404 outside the exception handlers, naming its docs URL: the portal's
    HTML page answered it. The root is no route, as any unknown path under the API is."""
    build = api._get_urls

    def urls():
        patterns = build()
        for pattern in patterns:
            if isinstance(pattern, URLPattern) and pattern.name == "api-root":
                pattern.callback = unknown_route
        return patterns

    api._get_urls = urls


def _wrong_methods_as_problems(api) -> None:
    """ninja answers a method a route does not take with a bare 405 of its own, outside the
    exception handlers: wrap its views so that one is a problem too."""
    wrap_views(api, _problem_for_405)


def _problem_for_405(view):
    @wraps(view)  # keeps ninja's csrf_exempt mark
    def view_with_problems(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code != 405 or response.get("Content-Type") == MEDIA_TYPE:
            return response
        allowed = response.get("Allow", "")
        # Not the list itself: wrappers outside this one add to Allow (HEAD wherever GET is).
        return problem_response(
            request,
            405,
            f"This route does not take {request.method}: the Allow header names the ones it takes.",
            kind="method",
            headers={"Allow": allowed},
        )

    return view_with_problems
