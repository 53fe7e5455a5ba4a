"""Where a button that acts sends its person back: the `next` it carries, when that is a
path of this site."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def next_path(request: HttpRequest, wanted: str, default: str) -> str:
    """`wanted` when it is a path of this site, else `default`. A path only: redirect() takes
    a bare word for a URL name, a 500 when no route has it ("-1") and that route's page when
    one has ("logout")."""
    allowed = wanted.startswith("/") and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted if allowed else default
