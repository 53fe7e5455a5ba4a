"""API tests: a token per person of the base world, and a client that sends it."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from provisioning.api import tokens


def token_for(user, *, read_only=False, tenants=(), name="PSA") -> str:
    _, clear = tokens.issue(
        user,
        name,
        expires_at=timezone.now() + timedelta(days=30),
        read_only=read_only,
        tenants=tenants,
    )
    return clear


class ApiClient:
    """Django's test client (the middleware runs, as in production) with a bearer token."""

    def __init__(self, clear: str | None, remote_addr: str = "127.0.0.1"):
        self.client = Client(REMOTE_ADDR=remote_addr)
        self.headers = {"Authorization": f"Bearer {clear}"} if clear else {}

    def get(self, path: str, **params):
        return self.client.get(path, params, headers=self.headers)

    def post(self, path: str, body=None, *, key: str | None = None, **headers):
        headers = {**self.headers, **headers}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(path, body or {}, content_type="application/json", headers=headers)


@pytest.fixture(autouse=True)
def _no_refusal_limit(settings):
    """These tests send refused tokens from one address; the test of the limit sets one."""
    settings.API_REFUSALS_PER_MINUTE = 100_000


@pytest.fixture
def api_as():
    def make(user, **options) -> ApiClient:
        return ApiClient(token_for(user, **options))

    return make
