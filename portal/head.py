"""HEAD answered wherever GET is (RFC 9110 §9.3.2): the same view runs, as for GET, so the
same authentication and scoping decide the answer; the client gets its status and headers,
Content-Length included, without the body.

The portal's pages refuse a method they were not written for (``require_GET``,
``require_http_methods(["GET", "POST"])``), HEAD included: ``HeadAsGetMiddleware`` runs every
view of a HEAD request as a GET, after every check of the request (session, second factor,
CSRF) has run as for HEAD, a safe method, and before the view's own (role, tenant scope), which
are the GET's. Views that dispatch on the method themselves (the API's routes, the SCIM
endpoint) are wrapped with ``answers_head`` as well, for a call that does not come through
the middleware stack."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest
from django.http.response import HttpResponseBase


def answers_head(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)  # keeps a csrf_exempt mark
    def view_answering_head(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if request.method != "HEAD":
            return allowing_head(view(request, *args, **kwargs))
        request.method = "GET"
        try:
            response = view(request, *args, **kwargs)
        finally:
            request.method = "HEAD"
        return without_body(allowing_head(response))

    return view_answering_head


class HeadAsGetMiddleware:
    """Next to last in MIDDLEWARE: only the 405 page's middleware runs inside it, so its page
    loses its body too, and no process_view runs after the method is GET."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method != "HEAD":
            return allowing_head(self.get_response(request))
        try:
            response = self.get_response(request)
        finally:
            request.method = "HEAD"
        return without_body(allowing_head(response))

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        if request.method == "HEAD":
            request.method = "GET"


def allowing_head(response: HttpResponseBase) -> HttpResponseBase:
    """A 405's Allow names HEAD beside GET (RFC 9110 §10.2.1: the methods supported)."""
    allowed = [m.strip() for m in response.get("Allow", "").split(",") if m.strip()]
    if response.status_code == 405 and "GET" in allowed and "HEAD" not in allowed:
        allowed.insert(allowed.index("GET") + 1, "HEAD")
        response["Allow"] = ", ".join(allowed)
    return response


def without_body(response: HttpResponseBase) -> HttpResponseBase:
    if response.streaming:
        response.streaming_content = []
        return response
    response["Content-Length"] = str(len(response.content))
    response.content = b""
    return response


class NotModifiedWithoutLengthMiddleware:
    """Above CommonMiddleware, so after it on the way out: that one writes every response's
    Content-Length, a 304's as 0, while RFC 9110 §8.6 allows a 304 only the length of the
    200 it stands for (a cache could take 0 for it). A 304 is sent without one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.status_code == 304 and response.has_header("Content-Length"):
            del response["Content-Length"]
        return response
