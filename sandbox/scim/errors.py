"""SCIM errors (RFC 7644 §3.12): an `Error` message with `status` as a string and, for 400s
(and 409 uniqueness), a `scimType` keyword from the RFC's table."""

from __future__ import annotations

from sandbox.scim.schema import ERROR_SCHEMA


class ScimError(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        scim_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}

    def body(self) -> dict:
        body = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def bad_request(scim_type: str, detail: str) -> ScimError:
    return ScimError(400, detail, scim_type)


def not_found(detail: str) -> ScimError:
    return ScimError(404, detail)


def uniqueness(detail: str) -> ScimError:
    return ScimError(409, detail, "uniqueness")
