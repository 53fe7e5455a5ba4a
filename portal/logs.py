"""Logging filters of the portal's handlers (settings.LOGGING)."""

import logging


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
