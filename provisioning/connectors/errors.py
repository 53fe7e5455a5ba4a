"""The failure taxonomy every connector maps its SDK's errors into."""

from __future__ import annotations

from collections.abc import Iterable


class ConnectorError(Exception):
    """Base: `message` is in the directory's own words, `request_id` when it gave one."""

    def __init__(self, message: str, *, status: int | None = None, request_id: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id


class TransientError(ConnectorError):
    """Worth retrying: 5xx, timeouts, unreachable host, replication lag right after a create."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ThrottledError(TransientError):
    """429: pause this connection for `retry_after` seconds."""


class ReplicationLagError(TransientError):
    """A 404 for an object we created moments ago: the directory has not caught up yet.
    Says nothing about the connection's health."""


class NoAnswerError(TransientError):
    """The request went out and no answer came back in time: the directory may have it and
    still carry it out. Its outcome is unknown, so it is not sent again before it can no
    longer arrive (engine/steps.on_its_way)."""


class UnexpectedError(TransientError):
    """The SDK or the transport failed in a way no rule above foresaw (the traceback is in
    the log): tried again like any transient failure, shown as unreadable meanwhile."""


class PermanentError(ConnectorError):
    """Retrying cannot help: bad request, no licence seat, bad credentials, missing permission."""


class UnreadableAnswerError(PermanentError):
    """A success whose body is no answer the protocol allows (not JSON, not the resource
    asked for, none where one is due): tried once more, in case a proxy's page came in
    passing, then permanent: a garbled answer does not mend itself."""


class NoSeatError(PermanentError):
    """A licence has no free seat left (taken since the plan read the counts): not worth a
    retry, but a person may choose another licence or none."""


class EndpointRefusedError(PermanentError):
    """A request (and its credential) would go to a host that is not allowed: not sent."""


class AuthenticationError(PermanentError):
    """The directory refused the credentials (wrong secret/token, unknown tenant)."""


class PermissionDeniedError(PermanentError):
    """Signed in, but the app registration or token lacks a permission (403)."""


class NotFoundError(ConnectorError):
    """The object does not exist (any more). `group_gone`: the connector could tell that
    the missing object is the group a membership call named, not the user (the directory
    names it by its id, which nobody in the portal knows)."""

    def __init__(self, message: str, *, group_gone: bool = False, **kwargs):
        super().__init__(message, **kwargs)
        self.group_gone = group_gone


USERNAME, EMAIL = "username", "email"  # what a ConflictError's value was


class ConflictError(PermanentError):
    """A value the directory keeps unique is held already: `field` says which (USERNAME,
    EMAIL, else the directory's own name of it), `existing` is the account that holds it when
    the connector could find it."""

    def __init__(self, message: str, *, existing=None, field: str = "", **kwargs):
        super().__init__(message, **kwargs)
        self.existing = existing
        self.field = field


def most_telling(outcomes: Iterable[object]) -> BaseException | None:
    """The one failure to raise for several requests about one user (the exceptions among
    `outcomes`; anything else is a success): an unclassified one first, so the connector
    boundary classifies it; then that the user is gone or not replicated yet, whatever else
    failed; then throttling, with the longest Retry-After so the pause covers every throttled
    request; then the first failure."""
    failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    for failure in failed:
        if not isinstance(failure, ConnectorError):
            return failure
    for failure in failed:
        if isinstance(failure, NotFoundError | ReplicationLagError):
            return failure
    throttled = [failure for failure in failed if isinstance(failure, ThrottledError)]
    if throttled:
        return max(throttled, key=lambda failure: failure.retry_after or 0.0)
    return failed[0] if failed else None
