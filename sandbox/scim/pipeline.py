"""What every call to a SCIM app goes through: app lookup, latency, rate limit, bearer auth,
injected faults, stats, the body's media type, and errors in the RFC 7644 §3.12 shape.

Handlers are synchronous functions from a `Call` to a `Reply`: everything that awaits
happens before, so a handler's reads and writes of the app are one atomic step (a PATCH that
fails half-way changes nothing because it works on a copy, see patch.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.reply import Endpoint, Reply
from sandbox.scim.errors import ScimError, bad_request
from sandbox.scim.model import ScimApp

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/scim+json"
ACCEPTED_BODIES = ("application/scim+json", "application/json")  # RFC 7644 §3.1, §8.1
HANG_S = 120.0


@dataclass
class Call:
    request: Request
    app: ScimApp
    base: str  # https://host:port/scim/{slug}/v2
    raw_body: bytes = b""

    def param(self, name: str) -> str:
        return self.request.path_params[name]

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params)

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def json(self) -> dict:
        """The body as a JSON object; anything else is 400 invalidSyntax (RFC 7644 §3.12)."""
        try:
            data = json.loads(self.raw_body or b"null")
        except ValueError:
            raise bad_request("invalidSyntax", "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise bad_request("invalidSyntax", "the body must be a JSON object")
        return data


Handler = Callable[[Call], Reply]


def respond(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers)
    return Response(
        json.dumps(body).encode(), status_code=status, headers=headers, media_type=MEDIA_TYPE
    )


def error_response(error: ScimError) -> Response:
    return respond(error.status, error.body(), error.headers)


def authorised(request: Request, app: ScimApp) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    given = token.strip()
    return secrets.compare_digest(given.encode(), app.token.encode()) or app.takes_access_token(
        given
    )


def throttled(app: ScimApp) -> ScimError | None:
    decision = app.behaviour.take_token("scim")
    if decision.allowed:
        return None
    s = app.behaviour.settings
    headers = {"Retry-After": str(decision.retry_after_s)} if s.throttle_retry_after else {}
    if s.throttle_status == 503:
        return ScimError(503, "the service is busy; retry later", headers=headers)
    return ScimError(429, "too many requests; retry later", headers=headers)


def body_type_refused(request: Request) -> ScimError | None:
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given and given not in ACCEPTED_BODIES:
        return ScimError(415, f"send the body as {MEDIA_TYPE} (or application/json)")
    return None


async def _hang(request: Request) -> None:
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline and not await request.is_disconnected():
        await asyncio.sleep(0.1)


def endpoint(state: Any, template: str, handler: Handler) -> Endpoint:
    async def run(request: Request) -> Response:
        app = state.scim.get(request.path_params["slug"])
        if app is None:
            return error_response(ScimError(404, "no such SCIM app"))
        with app.stats.serving():
            return await serve(request, app)

    async def serve(request: Request, app: ScimApp) -> Response:
        def record(status: int, fault: Any = None) -> None:
            app.stats.record(request.method, template, status, fault)

        # The request is received whole before the app takes its time over it: a client that
        # stops waiting meanwhile does not take it back (RFC 9110 §9.2.2: a request whose
        # answer never came may still have been applied).
        writes = request.method in ("POST", "PUT", "PATCH")
        raw_body = await request.body() if writes else b""
        await app.behaviour.delay(app.stats)
        refusal = throttled(app)
        if refusal is None and not authorised(request, app):
            refusal = ScimError(
                401, "bearer token missing or wrong", headers={"WWW-Authenticate": "Bearer"}
            )
        fault = app.behaviour.draw_fault() if refusal is None else None
        if fault == "timeout":
            record(504, fault)
            await _hang(request)
            return error_response(ScimError(504, "gateway timeout"))
        if fault == "error":
            refusal = ScimError(503 if random.random() < 0.5 else 500, "injected failure")
        if refusal is None and writes:
            refusal = body_type_refused(request)
        if refusal is not None:
            record(refusal.status, fault)
            return error_response(refusal)
        call = Call(request, app, base_url(request, app))
        if writes:
            call.raw_body = raw_body
        try:
            reply = handler(call)
        except ScimError as error:
            record(error.status)
            return error_response(error)
        except Exception:
            log.exception("SCIM sandbox handler failed: %s %s", request.method, template)
            record(500)
            return error_response(ScimError(500, "the sandbox failed (a bug: see its log)"))
        if app.garbles(request.method, reply.status, reply.body):
            record(reply.status, "garbled")
            return garbled(reply.status, app.garble_as)
        changes = request.method not in ("GET", "HEAD")
        if changes and reply.status < 400 and app.behaviour.draw_lost_answer():
            record(reply.status, "lost")
            await _hang(request)  # carried out, its answer lost
            return error_response(ScimError(504, "gateway timeout"))
        if changes and reply.status < 400 and app.behaviour.draw_failed_after():
            record(504, "failed_after")  # carried out, answered as a failure
            return error_response(ScimError(504, "gateway timeout"))
        record(reply.status)
        return respond(reply.status, reply.body, reply.headers)

    return run


def garbled(status: int, kind: str) -> Response:
    """A success whose body is no SCIM message (RFC 7644 §3.1 wants the resource, in
    application/scim+json): what a proxy's page or a broken release of an app answers."""
    if kind == "empty":
        return Response(b"", status_code=status, media_type=MEDIA_TYPE)
    if kind == "shape":
        return Response(b'{"ok": true}', status_code=status, media_type=MEDIA_TYPE)
    page = b"<html><body><h1>Service Unavailable</h1></body></html>"
    return Response(page, status_code=status, media_type="text/html")


def base_url(request: Request, app: ScimApp) -> str:
    return f"{request.url.scheme}://{request.url.netloc}/scim/{app.slug}/v2"
