"""Logging filters of the portal's handlers (settings.LOGGING)."""

import logging
from urllib.parse import urlsplit

from django.urls import Resolver404, resolve

# A path parameter so named is a key (a first sign-in link, a password reset link): a line
# of the log or of the trail that names the path carries "…" in its place.
SECRET_PARAMETERS = ("token",)


class DropClientErrorTracebacks(logging.Filter):
    """Keeps the line of a 4xx answer (django.request logs PermissionDenied, Http404 and
    SuspiciousOperation with their exception) but drops its traceback: the client was refused,
    nothing failed. 5xx records keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


def path_shown(path: str) -> str:
    """`path` with the value of each secret parameter of its route replaced by "…"."""
    try:
        match = resolve(urlsplit(path).path)
    except (Resolver404, ValueError):
        return path
    for name in SECRET_PARAMETERS:
        value = str(match.kwargs.get(name) or "")
        if value:
            path = path.replace(value, "…")
    return path


class HideSecretPaths(logging.Filter):
    """On the loggers that name a request's path (django.request, and django.server's
    request line): the path as `path_shown` gives it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_shown(a) if isinstance(a, str) else a for a in record.args)
        return True


def _shown(text: str) -> str:
    return " ".join(path_shown(p) if p.startswith("/") else p for p in text.split(" "))
