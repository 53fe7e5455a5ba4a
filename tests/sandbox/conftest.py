"""The sandbox server for the tests: one per session (see tests/sandbox/server.py).

Fixtures:
- `sandbox_server` (session): a `SandboxServer` with `.url`, `.ca` (path of ca.pem),
  `.control_token`, and `.control()` -> an httpx.Client for the control API.
- `control` (session): that control client, ready to use.
- `entra` (function): a fresh, isolated Entra directory (tests/sandbox/entra_support.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.sandbox.server import SandboxServer, running_sandbox


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox-tls")) as server:
        yield server


@pytest.fixture(scope="session")
def control(sandbox_server: SandboxServer) -> Iterator[httpx.Client]:
    with sandbox_server.control() as client:
        yield client


@pytest.fixture
def entra(sandbox_server: SandboxServer):
    """A fresh, isolated Entra directory for one test (an `EntraDir`)."""
    from tests.sandbox.entra_support import make_entra

    return make_entra(sandbox_server)
