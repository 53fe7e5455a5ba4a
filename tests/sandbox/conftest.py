"""Fixtures of the sandbox tests. `sandbox_server` (the session's sandbox: `.url`, `.ca`,
`.control_token`, `.control()`) lives in tests/conftest.py, shared with the portal's tests.

- `control` (session): the control API client, ready to use.
- `entra` (function): a fresh, isolated Entra directory (tests/sandbox/entra_support.py).
- `scim_app` (function): a fresh SCIM app, `full` flavour (tests/sandbox/scim_support.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.sandbox.server import SandboxServer


@pytest.fixture(scope="session")
def control(sandbox_server: SandboxServer) -> Iterator[httpx.Client]:
    with sandbox_server.control() as client:
        yield client


@pytest.fixture
def entra(sandbox_server: SandboxServer):
    """A fresh, isolated Entra directory for one test (an `EntraDir`)."""
    from tests.sandbox.entra_support import make_entra

    return make_entra(sandbox_server)


@pytest.fixture
def scim_app(sandbox_server: SandboxServer):
    """A fresh SCIM app of the `full` flavour for one test (tests/sandbox/scim_support.py)."""
    from tests.sandbox.scim_support import make_app

    return make_app(sandbox_server, "full")


@pytest.fixture(scope="module")
def okta_sandbox(sandbox_server: SandboxServer):
    """Okta helpers on the session's sandbox (tests/sandbox/okta_support.py)."""
    from tests.sandbox.okta_support import OktaSandbox

    sandbox = OktaSandbox(sandbox_server.url, sandbox_server.ca, sandbox_server.control_token)
    yield sandbox
    sandbox.close()


@pytest.fixture
def org(okta_sandbox):
    """A fresh Okta org for one test."""
    return okta_sandbox.new_org()


@pytest.fixture
def api(okta_sandbox, org):
    """A raw Okta API client for that org."""
    with okta_sandbox.api(org) as client:
        yield client
