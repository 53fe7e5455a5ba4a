"""The portal's 400, 403, 404, 405 and 500 pages and its CSRF refusal, in the portal's layout.

They say what happened and what to do, never how: no traceback, URL patterns or settings,
whatever DEBUG is. An htmx request gets the message alone (`<page>#message`), the fragment
its target expects, instead of a whole page inside the target.
"""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from portal.logs import path_shown

log = logging.getLogger(__name__)

CSRF_REASON = (
    "This form had expired or came from another site, so nothing was changed. "
    "Reload the page and try again."
)
# Served when even the 500 template cannot be rendered.
PLAIN_500 = (
    "<!doctype html><title>Server error</title><h1>Something went wrong on our side</h1>"
    "<p>The error was logged. Try again in a moment.</p>"
)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Without the request's context processors: a 400 may come from a request (a bad Host
    # header, a broken cookie) that they would trip over again.
    return _render_plain(request, "400.html", 400)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The view's own reason (`PermissionDenied("Your role may not do this.")`), if it gave one."""
    reason = str(exception) if exception is not None else ""
    return _render(request, "403.html", 403, {"reason": reason})


@requires_csrf_token
def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # Django's `reason` is for developers ("CSRF cookie not set."); the person gets what to do.
    return _render(request, "403.html", 403, {"reason": CSRF_REASON})


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # The exception's message ("No Tenant matches the given query.") stays out of the page.
    return _render(request, "404.html", 404)


def method_not_allowed(request: HttpRequest, allowed: str) -> HttpResponse:
    """A button's address opened as a link (Django's 405 has no body: the browser showed its
    own blank error page)."""
    response = _render(request, "405.html", 405)
    response["Allow"] = allowed
    return response


def too_many(request: HttpRequest, reason: str, retry_after: int, back: str) -> HttpResponse:
    """A person's limit of an action a minute is used up (RFC 6585 §4: 429 with Retry-After);
    `back` is the page they came from (a path of this site)."""
    context = {"reason": reason, "back": back}
    response = _render(request, "429.html", 429, context)
    response["Retry-After"] = str(retry_after)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """Renders without the request's context processors, so it works with the database down."""
    log.error(
        "Server error on %s %s, request id %s",
        request.method,
        path_shown(request.path),
        _request_id(request),
    )
    try:
        return _render_plain(request, "500.html", 500)
    except Exception:  # the last page there is: a broken template must not end the response
        log.exception("The 500 page could not be rendered")
        return HttpResponse(PLAIN_500, status=500)


def _render(request: HttpRequest, template: str, status: int, context: dict | None = None):
    body = loader.render_to_string(_name(request, template), context or {}, request=request)
    return HttpResponse(body, status=status)


def _render_plain(request: HttpRequest, template: str, status: int) -> HttpResponse:
    context = {"msp_name": settings.MSP_NAME, "request_id": _request_id(request)}
    return HttpResponse(loader.render_to_string(_name(request, template), context), status=status)


def _name(request: HttpRequest, template: str) -> str:
    is_htmx = request.headers.get("HX-Request") == "true"
    return f"{template}#message" if is_htmx else template


def _request_id(request: HttpRequest) -> str:
    return str(getattr(request, "request_id", ""))
