"""Fixtures of the sandbox tests. `sandbox_server` (the session's sandbox: `.url`, `.ca`,
`.control_token`, `.control()`) lives in tests/conftest.py, shared with the portal's tests.

- `control` (session): the control API client, ready to use.
- `entra` (function): a fresh, isolated Entra directory (tests/sandbox/entra_support.py).
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
