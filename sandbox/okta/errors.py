"""Okta's error shape: every failure is an `OktaError` turned into the same JSON body."""

from __future__ import annotations

import secrets
import string

_ID_ALPHABET = string.ascii_letters + string.digits


class OktaError(Exception):
    """A failure the API answers with `status` and Okta's `errorCode`/`errorSummary`."""

    def __init__(
        self, status: int, code: str, summary: str, causes: list[str] | None = None
    ) -> None:
        super().__init__(summary)
        self.status = status
        self.code = code
        self.summary = summary
        self.causes = causes or []

    def body(self) -> dict:
        return {
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": "oae" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(19)),
            "errorCauses": [{"errorSummary": cause} for cause in self.causes],
        }


def validation_failed(field: str, reason: str) -> OktaError:
    return OktaError(400, "E0000001", f"Api validation failed: {field}", [f"{field}: {reason}"])


def not_found(ident: str, kind: str) -> OktaError:
    return OktaError(404, "E0000007", f"Not found: Resource not found: {ident} ({kind})")


def bad_json() -> OktaError:
    return OktaError(400, "E0000003", "The request body was not well-formed.")


def unsupported_media_type() -> OktaError:
    """A body without `Content-Type: application/json` (okta/okta-sdk-python#400)."""
    return OktaError(
        400,
        "E0000021",
        "Bad request. Accept and/or Content-Type headers likely do not match supported values.",
    )


def invalid_token() -> OktaError:
    return OktaError(401, "E0000011", "Invalid token provided")


def forbidden() -> OktaError:
    return OktaError(403, "E0000006", "You do not have permission to perform the requested action")


def not_implemented() -> OktaError:
    return OktaError(501, "E0000060", "Unsupported operation.")


def rate_limited() -> OktaError:
    return OktaError(429, "E0000047", "API call exceeded rate limit due to too many requests.")


def invalid_search(detail: str) -> OktaError:
    return OktaError(400, "E0000031", "Invalid search criteria.", [detail])


def wrong_status() -> OktaError:
    return OktaError(403, "E0000038", "This operation is not allowed in the user's current status.")


def server_error() -> OktaError:
    return OktaError(500, "E0000009", "Internal Server Error")


def unavailable() -> OktaError:
    return OktaError(503, "E0000010", "Service is in read only mode")
