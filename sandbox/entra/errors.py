"""Graph's error shape: {"error": {"code", "message", "innerError": {"request-id", "date"}}},
with "details" ([{"code", "message", "target"}]) where Graph gives them, e.g. on conflicts."""

from __future__ import annotations

import uuid

from sandbox.entra.model import now_iso


class GraphError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: list[dict] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def error_body(
    code: str, message: str, request_id: str | None = None, details: list[dict] | None = None
) -> dict:
    rid = request_id or str(uuid.uuid4())
    error: dict = {
        "code": code,
        "message": message,
        "innerError": {"date": now_iso(), "request-id": rid, "client-request-id": rid},
    }
    if details:
        error["details"] = details
    return {"error": error}


def not_found(key: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphError:
    return GraphError(400, code, message)


def undeclared_directory_property(key: str) -> GraphError:
    """The directory's 400 for a body property a directory object (user, group, app role
    assignment) does not declare."""
    return bad_request(
        f"Property '{key}' does not exist as a declared property or extension property."
    )


def undeclared_property(key: str, graph_type: str) -> GraphError:
    """OData's 400 for a body property that `graph_type` (not an open type) does not declare."""
    return bad_request(
        f"The property '{key}' does not exist on type '{graph_type}'.", code="RequestBodyRead"
    )


def bad_json() -> GraphError:
    return GraphError(
        400,
        "BadRequest",
        "Unable to read JSON request payload. Please ensure Content-Type header is set and "
        "payload is of valid JSON format.",
    )


def object_conflict(prop: str, holder_id: str | None = None, *, kind: str = "User") -> GraphError:
    """400 for a value another directory object holds (userPrincipalName, proxyAddresses).
    Graph names the property in an ObjectConflict detail, and the holder, as `<Type>_<id>`, in
    a ConflictingObjects one (microsoft-graph-docs-contrib#8421, microsoft-graph-docs#1508)."""
    message = f"Another object with the same value for property {prop} already exists."
    details = [{"code": "ObjectConflict", "message": message, "target": prop}]
    if holder_id is not None:
        details.append(
            {"code": "ConflictingObjects", "message": message, "target": f"{kind}_{holder_id}"}
        )
    return GraphError(400, "Request_BadRequest", message, details)
