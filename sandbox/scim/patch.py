"""PATCH (RFC 7644 §3.5.2) — placeholder until the full implementation lands."""

from __future__ import annotations

from sandbox.scim.errors import ScimError
from sandbox.scim.pipeline import Call, Reply


def patcher(name: str):
    def run(call: Call) -> Reply:
        raise ScimError(501, "PATCH is not implemented yet")

    return run
