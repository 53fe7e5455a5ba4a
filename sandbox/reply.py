"""What a sandbox handler answers, before it becomes an HTTP response (the Okta and SCIM
pipelines), and the shape of a Starlette endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    # A list sends the header once per value, as Okta sends `Link` (self, then next).
    headers: dict[str, str | list[str]] = field(default_factory=dict)


Endpoint = Callable[[Request], Awaitable[Response]]
