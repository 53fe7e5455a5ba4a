import re
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django_htmx.http import HttpResponseClientRedirect

from portal import errors, mfa, next_page, signin
from portal.audit.context import request_scope
from portal.client_address import use_client_address


class ClientAddressMiddleware:
    """REMOTE_ADDR becomes the client's address behind TRUSTED_PROXIES (portal/client_address.py),
    before anything reads it: the sign-in lockout, the rate limits, the audit trail; and
    X-Forwarded-Proto is dropped unless a trusted proxy sent it, before SecurityMiddleware
    and request.is_secure() read it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        use_client_address(request)
        return self.get_response(request)


class RequestIdMiddleware:
    """Gives every request an id of our own that the audit trail and the logs carry.

    A client's X-Request-ID is kept apart as ``client_request_id`` (visible ASCII only, at
    most 64 characters): a client must never choose the id our records are found by.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = uuid.uuid4().hex
        request.client_request_id = client_request_id(request.headers.get("X-Request-ID", ""))
        with request_scope():
            response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def client_request_id(value: str) -> str:
    return _NOT_VISIBLE_ASCII.sub("", value)[:CLIENT_REQUEST_ID_LENGTH]


CLIENT_REQUEST_ID_LENGTH = 64
_NOT_VISIBLE_ASCII = re.compile(r"[^\x21-\x7e]")


class SecondFactorMiddleware:
    """A signed-in person who has a second factor opens nothing but the two-step page (and
    sign-out) until this session passed it, whichever way the session was made; with
    REQUIRE_ADMIN_MFA an MSP admin without one is sent to set one up first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        step = mfa.missing_step(request)
        if step is not None and not _open_before(step, request.path):
            return _to_second_factor(request)
        return self.get_response(request)


def _open_before(step: str, path: str) -> bool:
    """The pages a session may open while it still owes `step`."""
    if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return True
    names = ["mfa", "logout"] + (["mfa_enrol", "reauth"] if step == mfa.ENROL else [])
    return path in {reverse(name) for name in names}


def _to_second_factor(request) -> HttpResponse:
    url = reverse("mfa")
    if request.method == "GET" and next_page.fits(request.get_full_path()):
        url += "?" + urlencode({"next": request.get_full_path()})
    if request.headers.get("HX-Request") == "true":
        return HttpResponseClientRedirect(url)
    return redirect(url)


class RefusalAuditMiddleware:
    """Records refused state-changing requests (403 to POST, PUT, PATCH or DELETE, CSRF
    failures included) as security events, within the security-event budget (portal.signin).

    A signed-in person's (or API token's) 404 to such a request is recorded too: another
    tenant's object answers 404 like one that does not exist (tenants/access.py), so this is
    where an attempt on another client's ids shows. Every such 404 is recorded with the same
    reason, whether or not the object exists: the trail a client admin reads must not tell
    them which tenants or ids there are.

    It sits outside the CSRF middleware, so it sees the CSRF failure view's 403 too.
    """

    unsafe_methods = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in self.unsafe_methods:
            return response
        if response.status_code == 403:
            signin.record_refusal(request, _refusal_reason(request))
        elif response.status_code == 404 and _signed_in(request):
            signin.record_refusal(request, NOT_FOUND_REASON)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionDenied):
            request.portal_refusal_reason = str(exception) or "Permission denied."
        return None


NOT_FOUND_REASON = "Not found, or not yours to change."


def note_refusal(request, reason: str) -> None:
    """The reason for the trail of a 403 a view answers itself (a page's panel, an API
    problem) rather than by raising PermissionDenied."""
    request.portal_refusal_reason = reason


def _signed_in(request) -> bool:
    user = getattr(request, "user", None)
    return user is not None and user.is_authenticated


def _refusal_reason(request) -> str:
    given = getattr(request, "portal_refusal_reason", "")
    if given:
        return given
    # CsrfViewMiddleware marks a request it let through; a 403 without the mark is its refusal.
    if not getattr(request, "csrf_processing_done", False):
        return "CSRF check failed."
    return "Refused."


# Machine endpoints answer in their own formats (JSON, SCIM): no HTML page for them.
_MACHINE_PREFIXES = ("/api/", "/scim/", "/hooks/")


class MethodNotAllowedPageMiddleware:
    """A GET of a POST-only address (/logout/ typed, a job's retry opened in a tab) gets the
    portal's 405 page instead of Django's empty response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 405
            and not getattr(response, "streaming", False)
            and not response.content
            and not request.path.startswith(_MACHINE_PREFIXES)
        ):
            return errors.method_not_allowed(request, response.get("Allow", ""))
        return response


class PrivateAnswersMiddleware:
    """An answer to a signed-in person or a bearer token (pages, partials, exports, API and
    SCIM bodies: people, jobs, audit trails) is stored by no browser or shared cache, unless
    its view chose its own caching (OWASP ASVS V8.2.1)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        signed_in = getattr(request, "user", None) is not None and request.user.is_authenticated
        if (signed_in or "Authorization" in request.headers) and not response.has_header(
            "Cache-Control"
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response
