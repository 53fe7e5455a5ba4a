"""The HTTP routes of the emulated Entra ID: discovery, token and Graph v1.0."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

# Importing the resource modules registers their Graph routes.
from sandbox.entra import (  # noqa: F401
    admin_units,
    applications,
    apps,
    deleted_items,
    delta,
    drive,
    groups,
    invitations,
    licences,
    mail,
    manager,
    organization,
    roles,
    tap,
    tap_policy,
    users,
)
from sandbox.entra.pipeline import graph_call
from sandbox.entra.token import discovery, token
from sandbox.state import SandboxState

GRAPH_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


def routes(state: SandboxState) -> list[BaseRoute]:
    async def graph(request: Request) -> Response:
        return await graph_call(state, request)

    found = discovery(state)
    return [
        Route("/v1.0/{path:path}", graph, methods=GRAPH_METHODS),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", found, methods=["GET"]),
        Route("/{tenant}/.well-known/openid-configuration", found, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", token(state), methods=["POST"]),
    ]
