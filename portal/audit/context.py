"""Through what a person acts in this request (an API token), for the audit trail's "who":
set once by the way in, read by `record`, cleared when the request ends."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

_through: ContextVar[str] = ContextVar("audit_acting_through", default="")


def acting_through(label: str) -> None:
    """Every event this request records names `label` beside the person."""
    _through.set(label)


def current_channel() -> str:
    return _through.get()


@contextmanager
def request_scope():
    """What one request sets here ends with it, whichever thread serves the next."""
    reset = _through.set("")
    try:
        yield
    finally:
        _through.reset(reset)
