"""Bearer tokens for the API: who is calling, within which limits; every call it makes is
rate-limited and what it changes carries the token's name in the audit trail. A refused
token is audited, and an address that keeps sending refused tokens is answered 429 without
a record (provisioning/refusals.py); a live token is never slowed by that."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from ninja.security import HttpBearer

from portal.audit.context import acting_through
from portal.audit.events import record
from provisioning import refusals
from provisioning.api import problems, ratelimit, tokens
from provisioning.api.models import ApiToken
from provisioning.api.problems import Problem


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        api_token = tokens.authenticate(token)
        if api_token is None:
            _refused(request, token)
            return None
        # Keyed by the digest, not the row id: ids are reused after a delete, digests never.
        wait = ratelimit.seconds_to_wait(api_token.token_sha256[:32])
        if wait:
            raise Problem(
                429,
                f"This token's limit of requests a minute is used up; try again in {wait} s.",
                kind="rate-limited",
                headers={"Retry-After": str(wait)},
            )
        problems.require_json_body(request)  # after the token: a 415 is for callers only
        problems.require_no_version_asked(request)  # so is a 412
        request.user = api_token.user
        acting_through(f"API token “{api_token.name}”")
        return api_token


REFUSALS = "api"
# What a token of ours starts with: the prefix, then URL-safe base64.
OUR_PREFIX = re.compile(
    rf"^{tokens.PREFIX}[A-Za-z0-9_-]{{{tokens.SHOWN_PREFIX - len(tokens.PREFIX)}}}$"
)


def _refused(request: HttpRequest, clear: str) -> None:
    addr = refusals.remote_addr(request)
    if refusals.too_many(REFUSALS, addr, settings.API_REFUSALS_PER_MINUTE):
        raise Problem(
            429,
            "Too many refused tokens from this address: wait a minute.",
            kind="rate-limited",
            headers={"Retry-After": refusals.retry_after()},
        )
    refusals.count(REFUSALS, addr)
    if not refusals.recordable(REFUSALS):
        return
    # Only what the token pages show of a token of ours (its prefix), never more of a secret.
    shown = clear[: tokens.SHOWN_PREFIX]
    if not OUR_PREFIX.match(shown):  # a NUL or anything not of ours is not recorded at all
        shown = ""
    record(
        "api_token.refuse",
        actor=AnonymousUser(),
        target=("api_token", None, shown) if shown else None,
        after={"reason": "unknown, revoked or expired token, or its person may not sign in"},
        result="denied",
        request=request,
    )
