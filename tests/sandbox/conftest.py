"""The sandbox server for the tests: one per session, in a subprocess, on a free port, over
HTTPS with a CA made in a temporary folder.

Fixtures:
- `sandbox_server` (session): a `SandboxServer` with `.url`, `.ca` (path of ca.pem),
  `.control_token`, and `.control()` -> an httpx.Client for the control API.
- `control` (session): that control client, ready to use.
- `entra` (function): a fresh, isolated Entra directory (tests/sandbox/entra_support.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTROL_TOKEN = "test-control-token"
START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class SandboxServer:
    url: str  # e.g. https://127.0.0.1:PORT
    ca: Path
    control_token: str

    def control(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            verify=str(self.ca),
            headers={"Authorization": f"Bearer {self.control_token}"},
            timeout=10.0,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, ca: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited early with status {process.returncode}")
        try:
            if httpx.get(f"{url}/_sandbox/health", verify=str(ca), timeout=1.0).is_success:
                return
        except (httpx.TransportError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError("the sandbox did not answer /_sandbox/health in time")


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    tls_dir = tmp_path_factory.mktemp("sandbox-tls")
    port = free_port()
    env = {**os.environ, "SANDBOX_CONTROL_TOKEN": CONTROL_TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.server", "--port", str(port), "--tls-dir", str(tls_dir)],
        cwd=REPO_ROOT,
        env=env,
    )
    server = SandboxServer(f"https://127.0.0.1:{port}", tls_dir / "ca.pem", CONTROL_TOKEN)
    try:
        # The CA exists only once the child has made it; wait for the file first.
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.ca.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        wait_until_up(server.url, server.ca, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def control(sandbox_server: SandboxServer) -> Iterator[httpx.Client]:
    with sandbox_server.control() as client:
        yield client


@pytest.fixture
def entra(sandbox_server: SandboxServer):
    """A fresh, isolated Entra directory for one test (an `EntraDir`)."""
    from tests.sandbox.entra_support import make_entra

    return make_entra(sandbox_server)
