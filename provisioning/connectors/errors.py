"""The failure taxonomy every connector maps its SDK's errors into."""


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


class UnexpectedError(TransientError):
    """The SDK or the transport failed in a way no rule above foresaw (the traceback is in
    the log): tried again like any transient failure, shown as unreadable meanwhile."""


class PermanentError(ConnectorError):
    """Retrying cannot help: bad request, no licence seat, bad credentials, missing permission."""


class EndpointRefusedError(PermanentError):
    """A request (and its credential) would go to a host that is not allowed: not sent."""


class AuthenticationError(PermanentError):
    """The directory refused the credentials (wrong secret/token, unknown tenant)."""


class PermissionDeniedError(PermanentError):
    """Signed in, but the app registration or token lacks a permission (403)."""


class NotFoundError(ConnectorError):
    """The object does not exist (any more)."""


class ConflictError(PermanentError):
    """The object exists already; `existing` is what the directory holds."""

    def __init__(self, message: str, *, existing=None, **kwargs):
        super().__init__(message, **kwargs)
        self.existing = existing
