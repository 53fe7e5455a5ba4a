"""Where a button that acts sends its person back: the `next` it carries, when that is a
path of this site; and the sign-in's `next`, bounded before Django builds the redirect."""

from __future__ import annotations

import logging
from functools import wraps

from django.contrib.auth.decorators import login_required as django_login_required
from django.http import HttpRequest
from django.utils.http import MAX_URL_LENGTH, url_has_allowed_host_and_scheme

from portal.errors import bad_request
from portal.logs import path_shown

log = logging.getLogger(__name__)

# The longest `next` worth carrying: Django's sign-in follows none longer
# (url_has_allowed_host_and_scheme refuses past MAX_URL_LENGTH, 2,048 characters). One past
# 16 KB made Django refuse the redirect itself and log DisallowedRedirect as an ERROR.
MAX_NEXT_LENGTH = MAX_URL_LENGTH


def next_path(request: HttpRequest, wanted: str, default: str) -> str:
    """`wanted` when it is a path of this site, else `default`. A path only: redirect() takes
    a bare word for a URL name, a 500 when no route has it ("-1") and that route's page when
    one has ("logout")."""
    allowed = wanted.startswith("/") and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted if allowed else default


def fits(path: str) -> bool:
    """Whether `path` may be carried as a `next` (and would be followed)."""
    return len(path) <= MAX_NEXT_LENGTH


def login_required(view):
    """Django's login_required, but an address too long to come back to after signing in is
    refused (400, a warning in the log) before Django builds a redirect it would refuse with
    an ERROR."""
    guarded = django_login_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated and not fits(request.get_full_path()):
            log.warning(
                "Refused a signed-out request to %s: its address (%d characters) is too long "
                "to return to after signing in",
                path_shown(request.path),
                len(request.get_full_path()),
            )
            return bad_request(request)
        return guarded(request, *args, **kwargs)

    return wrapper
