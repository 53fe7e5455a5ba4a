"""The page each problem's `type` names (RFC 9457 §3.1.1: dereferenced, a type SHOULD give
documentation a person can read): one section per kind the API answers with, at the
fragment its `type` ends with. docs/api.md says more of each."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

# kind -> (status, title, what to do)
TYPES: dict[str, tuple[int, str, str]] = {
    "400": (400, "The body is not JSON", "Send Content-Type: application/json and an object."),
    "malformed": (400, "The request is malformed", "Send what the schema describes."),
    "cursor": (400, "Not a cursor of ours", "Send a next_cursor this API gave, or none."),
    "unauthenticated": (401, "No live token", "Send Authorization: Bearer mpp_… of a token."),
    "forbidden": (403, "Not allowed", "The token, or its person, may not do this."),
    "not-found": (404, "No such thing, or not yours", "Check the id or slug."),
    "no-route": (404, "No such route", "See the reference at /api/v1/docs."),
    "method": (405, "Not a method this route takes", "Allow names the ones it takes."),
    "conflict": (409, "Not in a state for that", "Read the object again, then decide."),
    "blocked": (409, "The dry run found something to settle", "Answer it and send again."),
    "precondition": (
        412,
        "No version matches the precondition",
        "This API keeps no ETags: send If-Match: * or none.",
    ),
    "too-large": (413, "The body is too large", "Send less."),
    "media-type": (415, "The body is not sent as JSON", "Send Content-Type: application/json."),
    "invalid": (422, "The request did not validate", "errors names each field and why."),
    "idempotency-key-reused": (
        422,
        "This Idempotency-Key was used for another request",
        "Use a new key for a new request.",
    ),
    "rate-limited": (429, "Too many requests", "Wait the seconds Retry-After says."),
    "500": (500, "Something went wrong on our side", "Send it again later; tell us if it stays."),
}


@require_GET
def page(request: HttpRequest) -> HttpResponse:
    kinds = [
        {"kind": kind, "status": status, "title": title, "todo": todo}
        for kind, (status, title, todo) in TYPES.items()
    ]
    return render(request, "api/problem_types.html", {"kinds": kinds})
