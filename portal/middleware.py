import re
import uuid

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from portal.models import Role, role_of


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
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def client_request_id(value: str) -> str:
    return _NOT_VISIBLE_ASCII.sub("", value)[:CLIENT_REQUEST_ID_LENGTH]


CLIENT_REQUEST_ID_LENGTH = 64
_NOT_VISIBLE_ASCII = re.compile(r"[^\x21-\x7e]")


class AdminMfaMiddleware:
    """With REQUIRE_ADMIN_MFA, an MSP admin must pass TOTP before anything but the MFA pages."""

    allowed_prefixes = ("/account/mfa/", "/logout/", "/static/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            settings.REQUIRE_ADMIN_MFA
            and role_of(request.user) == Role.MSP_ADMIN
            and not request.user.is_verified()
            and not request.path.startswith(self.allowed_prefixes)
        ):
            return redirect(reverse("mfa"))
        return self.get_response(request)
