"""What happens to every Graph call: the token decides the tenant, then throttling, latency,
injected faults, permissions, the handler, and the stats.

Sub-requests of `$batch` go through `admit` and `execute` one by one, as Graph evaluates
each against the limits on its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from sandbox.behaviour import Fault
from sandbox.entra.errors import GraphError, bad_json, error_body
from sandbox.entra.model import EntraTenant
from sandbox.entra.router import (
    BAD_BODY,
    NO_BODY,
    GraphRequest,
    GraphResponse,
    Route,
    repeated_options,
    router,
    unapplied,
)
from sandbox.entra.throttling import throttled
from sandbox.state import SandboxState

log = logging.getLogger(__name__)
HANG_S = 120.0  # a "timeout" fault holds the call longer than any sensible client timeout


@dataclass
class Caller:
    tenant: EntraTenant
    client_id: str


def authenticate(state: SandboxState, header: str | None) -> Caller:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    now = time.time()
    for tenant in state.entra.values():
        issued = tenant.tokens.get(token)
        if issued is None:
            continue
        if issued.expires_at < now:
            raise GraphError(
                401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
            )
        if issued.client_id not in tenant.apps:
            break
        return Caller(tenant, issued.client_id)
    raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")


def error_response(exc: GraphError) -> GraphResponse:
    return GraphResponse(exc.status, error_body(exc.code, exc.message, details=exc.details))


def admit(caller: Caller) -> tuple[GraphResponse | None, Fault | None]:
    """Throttling and fault injection for one call: a response to give instead, and the fault."""
    behaviour = caller.tenant.behaviour
    decision = behaviour.take_token(caller.client_id)
    if not decision.allowed:
        return throttled(behaviour.settings, decision), None
    fault = behaviour.draw_fault()
    if fault == "error":
        if random.random() < 0.5:
            return GraphResponse(
                500, error_body("generalException", "An internal server error occurred.")
            ), fault
        return GraphResponse(
            503,
            error_body("serviceNotAvailable", "The service is temporarily unavailable."),
            {"Retry-After": "1"},
        ), fault
    return None, fault


def gateway_timeout() -> GraphResponse:
    """What a write carried out behind a gateway that stopped waiting for it is answered."""
    return GraphResponse(504, error_body("UnknownError", "Gateway Timeout"))


def execute(route: Route, req: GraphRequest) -> GraphResponse:
    app = req.tenant.apps[req.client_id]
    if not any(p in app.permissions for p in route.permissions):
        return error_response(
            GraphError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        )
    try:
        req.check_query_options()
        if "$expand" in req.query and not route.expands:
            raise expand_not_modelled(route.template)
        resp = route.handler(req)
        missing = unapplied(req.query) if req.method == "GET" else []
        if missing:
            raise option_not_modelled(missing[0], route.template)
        return resp
    except GraphError as exc:
        return error_response(exc)
    except Exception:
        # A sandbox bug still answers in Graph's shape, so the client under test sees a 500
        # it can classify instead of a dropped connection.
        log.exception("sandbox Graph handler failed: %s %s", req.method, req.path)
        return error_response(GraphError(500, "generalException", "Sandbox internal error."))


def expand_not_modelled(template: str) -> GraphError:
    # Graph expands some relationships here and refuses others; the sandbox models $expand
    # on users and groups only (sandbox/entra/expand.py), and refuses it elsewhere rather than
    # answer as if it had not been asked (docs/sandbox-fidelity.md, not modelled).
    return GraphError(501, "NotImplemented", f"The sandbox does not model $expand on {template}.")


def option_not_modelled(option: str, template: str) -> GraphError:
    # Graph filters, sorts and searches a group's members, a user's memberOf, /groups and
    # deleted items (or refuses the query: concepts/aad-advanced-queries.md, "Support for
    # filter", "Support for sorting"; concepts/query-parameters.md), and selects properties
    # and pages wherever it documents $select and $top; a handler here that does not apply
    # the option refuses it, as $expand above, rather than answer every object and property
    # as if it had not been asked (docs/sandbox-fidelity.md, strict9).
    return GraphError(501, "NotImplemented", f"The sandbox does not model {option} on {template}.")


def parse_body(raw: bytes, content_type: str | None) -> object:
    """The request's JSON object, NO_BODY, or BAD_BODY (which `GraphRequest.json` answers with
    Graph's 400). A body Graph does not read as JSON is bad too: without `Content-Type:
    application/json` Graph answers "Unable to read JSON request payload. Please ensure
    Content-Type header is set …" (microsoft-graph-docs-contrib#6337; every write's doc lists
    "Content-Type: application/json. Required.")."""
    if not raw.strip():
        return NO_BODY
    if not is_json(content_type):
        return BAD_BODY
    try:
        body = json.loads(raw)
    except ValueError:
        return BAD_BODY
    return body if isinstance(body, dict) else BAD_BODY


def is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


def no_segment(path: str) -> GraphError:
    # Graph names the segment it could not resolve, wherever it is in the path ("... for the
    # segment 'manifest'" for /appCatalogs/teamsApps/{id}/appDefinitions/{id}/manifest); the
    # sandbox named the first one ('users' for /users/{id}/fooBar).
    segment = router.unresolved(path) if path.strip("/") else path
    return GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def to_response(resp: GraphResponse, client_request_id: str | None = None) -> Response:
    """`client_request_id`: the client's own `client-request-id` header, which Graph echoes in
    the response header and in an error's innerError (both differ from Graph's `request-id`
    in every published error, e.g. msgraph-sdk-powershell#3361, msgraph-metadata#135; "the
    client-request-id ... returned in the response headers": Microsoft.Graph Error
    .ClientRequestId). Without one, Graph's request id stands in for it."""
    headers = dict(resp.headers)
    request_id = str(uuid.uuid4())
    error = resp.body.get("error") if resp.body is not None else None
    if isinstance(error, dict):
        request_id = error.get("innerError", {}).get("request-id", request_id)
        if client_request_id and isinstance(error.get("innerError"), dict):
            error["innerError"]["client-request-id"] = client_request_id
    headers["request-id"] = request_id
    headers["client-request-id"] = client_request_id or request_id
    if resp.text is not None:
        return Response(
            resp.text, status_code=resp.status, headers=headers, media_type="text/plain"
        )
    if resp.body is None:
        return Response(status_code=resp.status, headers=headers)
    content = json.dumps(resp.body, separators=(",", ":"))
    return Response(
        content, status_code=resp.status, headers=headers, media_type="application/json"
    )


async def hang() -> GraphResponse:
    await asyncio.sleep(HANG_S)
    return GraphResponse(504, error_body("GatewayTimeout", "The operation has timed out."))


async def graph_call(state: SandboxState, request: Request) -> Response:
    client_request_id = request.headers.get("client-request-id")
    try:
        caller = authenticate(state, request.headers.get("authorization"))
    except GraphError as exc:
        return to_response(error_response(exc), client_request_id)
    with caller.tenant.stats.serving():
        return await _serve(caller, request, client_request_id)


async def _serve(caller: Caller, request: Request, client_request_id: str | None) -> Response:
    from sandbox.entra.batch import run_batch  # batch builds on this module

    path = "/" + request.path_params["path"]
    method = request.method
    tenant = caller.tenant
    base_url = f"{request.url.scheme}://{request.url.netloc}/v1.0"
    if path == "/$batch" and method == "POST":
        raw = await request.body()
        if raw.strip() and not is_json(request.headers.get("content-type")):
            resp = error_response(bad_json())
        else:
            resp = await run_batch(caller, raw, base_url)
        tenant.stats.record(method, "/v1.0/$batch", resp.status)
        return to_response(resp, client_request_id)
    try:
        route, params = router.match(method, path)
        if route is None:
            raise no_segment(path)
    except GraphError as exc:
        tenant.stats.record(method, "/v1.0/{unknown}", exc.status)
        return to_response(error_response(exc), client_request_id)
    template = "/v1.0" + route.template
    early, fault = admit(caller)
    await tenant.behaviour.delay(tenant.stats)
    if fault == "timeout":
        tenant.stats.record(method, template, 504, fault)
        return to_response(await hang(), client_request_id)
    if early is not None:
        tenant.stats.record(method, template, early.status, fault)
        return to_response(early, client_request_id)
    req = GraphRequest(
        tenant,
        caller.client_id,
        method,
        path,
        dict(request.query_params),
        parse_body(await request.body(), request.headers.get("content-type")),
        base_url,
        params,
        dict(request.headers),
        repeated_options(request.query_params.multi_items()),
    )
    resp = execute(route, req)
    if method != "GET" and resp.status < 400 and tenant.behaviour.draw_lost_answer():
        tenant.stats.record(method, template, resp.status, "lost")
        return to_response(await hang(), client_request_id)
    if method != "GET" and resp.status < 400 and tenant.behaviour.draw_failed_after():
        tenant.stats.record(method, template, 504, "failed_after")
        return to_response(gateway_timeout(), client_request_id)
    tenant.stats.record(method, template, resp.status)
    return to_response(resp, client_request_id)
