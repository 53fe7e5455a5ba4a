"""Bearer tokens for the API: who is calling, within which limits; every call it makes is
rate-limited and what it changes carries the token's name in the audit trail."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from portal.audit.context import acting_through
from provisioning.api import ratelimit, tokens
from provisioning.api.models import ApiToken
from provisioning.api.problems import Problem


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        api_token = tokens.authenticate(token)
        if api_token is None:
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
        request.user = api_token.user
        acting_through(f"API token “{api_token.name}”")
        return api_token
