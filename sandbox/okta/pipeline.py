"""What every Okta API call goes through: org, latency, rate limit, auth, faults, stats.

Handlers are plain (synchronous) functions from a `Call` to a `Reply`: everything that
awaits (latency, the request body, an injected hang) happens before the handler runs, so a
handler's reads and writes of the org are one atomic step.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.behaviour import Fault, RateDecision
from sandbox.reply import Endpoint, Reply

from .admins import Admin
from .errors import (
    OktaError,
    bad_json,
    forbidden,
    invalid_token,
    not_found,
    rate_limited,
    server_error,
    unavailable,
    unsupported_media_type,
)
from .org import OktaOrg

log = logging.getLogger(__name__)
HANG_S = 120.0  # longer than any sane client timeout: the call is lost, as on a real outage
_NO_BODY = object()


@dataclass
class Call:
    request: Request
    org: OktaOrg
    base: str  # the org URL, e.g. https://127.0.0.1:8765/okta/fabrikam
    caller: Admin | None = None  # the admin the call's token acts for
    raw_body: bytes = b""
    _parsed: Any = field(default=_NO_BODY, repr=False)

    def param(self, name: str) -> str:
        return self.request.path_params[name]

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)

    def flag(self, name: str, default: bool) -> bool:
        value = self.request.query_params.get(name)
        return default if value is None else value.strip().lower() == "true"

    def json(self) -> dict:
        """The body as a JSON object; Okta's E0000003 when it is not one, E0000021 when it
        comes without `Content-Type: application/json` (okta/okta-sdk-python#400: "Okta HTTP
        400 E0000021 Bad request. Accept and/or Content-Type headers likely do not match
        supported values." for a call sent without its headers). The narrower reading of it:
        a body of another type is refused; a call without a body, or without `Accept`, is
        not. Parameters such as `charset` are fine."""
        if self._parsed is _NO_BODY:
            kind = self.request.headers.get("content-type", "").split(";")[0].strip().lower()
            if self.raw_body.strip() and kind != "application/json":
                raise unsupported_media_type()
            try:
                self._parsed = json.loads(self.raw_body or b"{}")
            except ValueError:
                raise bad_json() from None
            if not isinstance(self._parsed, dict):
                raise bad_json()
        return self._parsed


Handler = Callable[[Call], Reply]


def _rate_headers(decision: RateDecision) -> dict[str, str]:
    return {
        "X-Rate-Limit-Limit": str(decision.limit),
        "X-Rate-Limit-Remaining": str(decision.remaining),
        "X-Rate-Limit-Reset": str(decision.reset_epoch),
    }


# "Concurrency limits control how many requests your org can have processing at the same
# time ... a default limit of 75 simultaneous transactions" (developer.okta.com/docs/reference/
# rl2-concurrency); the request over it is 429 E0000047 (help.okta.com "API rate limits",
# Concurrent rate limits: the first request over the limit gets a 429), its headers reporting
# the concurrent limit, none remaining, and a reset a second on ("only a suggestion": no
# published value). The sandbox served any number at once.
CONCURRENT_LIMIT = 75


def _concurrency_headers(limit: int) -> dict[str, str]:
    return {
        "X-Rate-Limit-Limit": str(limit),
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": str(int(time.time()) + 1),
    }


def _respond(status: int, body: Any, headers: dict[str, str | list[str]]) -> Response:
    # No Date here: uvicorn adds one to every response, and the okta SDK needs exactly that
    # one (with X-Rate-Limit-Reset) to compute its 429 back-off.
    single = {k: v for k, v in headers.items() if isinstance(v, str)}
    single["X-Okta-Request-Id"] = secrets.token_urlsafe(18)
    if body is None:
        response = Response(status_code=status, headers=single)
    else:
        response = JSONResponse(body, status_code=status, headers=single)
    for name, values in headers.items():
        if not isinstance(values, str):
            for value in values:  # one header line per value (Okta's two `Link` headers)
                response.headers.append(name, value)
    return response


def _error(error: OktaError, headers: dict[str, str]) -> Response:
    return _respond(error.status, error.body(), headers)


def _access(request: Request, org: OktaOrg) -> Admin | None:
    """The admin whose SSWS token the call carries, or None (not a token here)."""
    # okta SDK 3.4.6 sends "SSWS<token>" without the space (its generated auth settings
    # concatenate), and real Okta takes it; so the space is optional here too.
    header = request.headers.get("authorization", "")
    if header[:4].upper() != "SSWS":
        return None
    given = header[4:].strip().encode()
    found = None
    for token, admin in org.admins.items():  # compare them all: no timing hint
        if secrets.compare_digest(given, token.encode()):
            found = admin
    return found


def _org_url(request: Request, org: OktaOrg) -> str:
    return f"{request.url.scheme}://{request.url.netloc}/okta/{org.id}"


async def _hang(request: Request) -> None:
    """Hold the call for HANG_S, but let go as soon as the client gives up on it."""
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline and not await request.is_disconnected():
        await asyncio.sleep(0.1)


async def _fault_response(
    request: Request, fault: Fault, record: Callable, headers: dict[str, str]
) -> Response:
    if fault == "timeout":
        record(504, fault)
        await _hang(request)
        return _error(OktaError(504, "E0000009", "Gateway Timeout"), headers)
    error = server_error() if random.random() < 0.5 else unavailable()
    record(error.status, fault)
    return _error(error, headers)


def endpoint(state: Any, family: str, template: str, handler: Handler) -> Endpoint:
    """A Starlette endpoint that runs `handler` behind the org's behaviour and auth."""

    async def run(request: Request) -> Response:
        org = state.okta.get(request.path_params["org_id"])
        if org is None:
            return _error(not_found(request.path_params.get("org_id", ""), "Org"), {})
        with org.stats.serving():
            limit = org.behaviour.settings.concurrent_limit or CONCURRENT_LIMIT
            if org.stats.in_flight > limit:
                org.stats.record(request.method, template, 429)
                return _error(rate_limited(), _concurrency_headers(limit))
            return await serve(request, org)

    async def serve(request: Request, org: OktaOrg) -> Response:
        def record(status: int, fault: Fault | None = None) -> None:
            org.stats.record(request.method, template, status, fault)

        # The request is received whole before the org takes its time over it: a client that
        # stops waiting meanwhile does not take it back (RFC 9110 §9.2.2: a request whose
        # answer never came may still have been applied), as the SCIM apps' pipeline does.
        writes = request.method in ("POST", "PUT", "PATCH")
        raw_body = await request.body() if writes else b""
        await org.behaviour.delay(org.stats)
        decision = org.behaviour.take_token(family)
        headers = _rate_headers(decision)
        if not decision.allowed:
            record(429)
            return _error(rate_limited(), headers)
        caller = _access(request, org)
        if caller is None:
            record(401)
            return _error(invalid_token(), headers)
        if request.method != "GET" and not caller.may_write(family, template):
            record(403)
            return _error(forbidden(), headers)
        fault = org.behaviour.draw_fault()
        if fault is not None:
            return await _fault_response(request, fault, record, headers)
        call = Call(request, org, _org_url(request, org), caller=caller)
        if writes:
            call.raw_body = raw_body
        try:
            reply = handler(call)
        except OktaError as error:
            record(error.status)
            return _error(error, headers)
        except Exception:
            # A sandbox bug: still answer in Okta's shape so the SDK can parse it, and log it.
            log.exception("Okta sandbox handler failed: %s %s", request.method, template)
            record(500)
            return _error(server_error(), headers)
        changes = request.method not in ("GET", "HEAD")
        if changes and reply.status < 400 and org.behaviour.draw_lost_answer():
            record(reply.status, "lost")
            await _hang(request)  # carried out, its answer lost
            return _error(OktaError(504, "E0000009", "Gateway Timeout"), headers)
        if changes and reply.status < 400 and org.behaviour.draw_failed_after():
            record(504, "failed_after")  # carried out, answered as a failure
            return _error(OktaError(504, "E0000009", "Gateway Timeout"), headers)
        record(reply.status)
        return _respond(reply.status, reply.body, {**headers, **reply.headers})

    return run
