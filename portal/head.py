"""HEAD answered wherever GET is (RFC 9110 §9.3.2): the same view runs, as for GET, so the
same authentication and scoping decide the answer; the client gets its status and headers,
Content-Length included, without the body.

Django's function views answer HEAD by accident of not checking the method; views that
dispatch on it (the API's routes, the SCIM endpoint) are wrapped with ``answers_head``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest
from django.http.response import HttpResponseBase


def answers_head(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)  # keeps a csrf_exempt mark
    def view_answering_head(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if request.method != "HEAD":
            return _allowing_head(view(request, *args, **kwargs))
        request.method = "GET"
        try:
            response = view(request, *args, **kwargs)
        finally:
            request.method = "HEAD"
        return _without_body(_allowing_head(response))

    return view_answering_head


def _allowing_head(response: HttpResponseBase) -> HttpResponseBase:
    """A 405's Allow names HEAD beside GET (RFC 9110 §10.2.1: the methods supported)."""
    allowed = [m.strip() for m in response.get("Allow", "").split(",") if m.strip()]
    if response.status_code == 405 and "GET" in allowed and "HEAD" not in allowed:
        allowed.insert(allowed.index("GET") + 1, "HEAD")
        response["Allow"] = ", ".join(allowed)
    return response


def _without_body(response: HttpResponseBase) -> HttpResponseBase:
    if response.streaming:
        response.streaming_content = []
        return response
    response["Content-Length"] = str(len(response.content))
    response.content = b""
    return response
