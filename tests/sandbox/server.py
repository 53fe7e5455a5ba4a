"""Starting a sandbox server for tests: a subprocess on a free port, HTTPS with a CA made in
a given folder. Other test packages reuse it for their own fixtures:

    from tests.sandbox.server import running_sandbox

    @pytest.fixture(scope="session")
    def sandbox(tmp_path_factory):
        with running_sandbox(tmp_path_factory.mktemp("sandbox")) as server:
            yield server  # .url, .ca, .control_token, .control()
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

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
            health = f"{url}/_sandbox/health"
            if ca.exists() and httpx.get(health, verify=str(ca), timeout=1.0).is_success:
                return
        except (httpx.TransportError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError("the sandbox did not answer /_sandbox/health in time")


def start(
    tls_dir: Path, port: int, control_token: str, *extra: str, stderr: int | None = None
) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.server",
            "--port",
            str(port),
            "--tls-dir",
            str(tls_dir),
            *extra,
        ],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "SANDBOX_CONTROL_TOKEN": control_token,
            # A run killed from outside stops no fixture: the server ends with its starter.
            "SANDBOX_ENDS_WITH_PID": str(os.getpid()),
        },
        stderr=stderr,
        text=stderr is not None,
    )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_sandbox(
    tls_dir: Path, *extra: str, control_token: str = CONTROL_TOKEN
) -> Iterator[SandboxServer]:
    """A sandbox for the duration of the block; `extra` are more `sandbox.server` options
    (e.g. "--seed", "demo", "--state-file", path)."""
    port = free_port()
    process = start(tls_dir, port, control_token, *extra)
    server = SandboxServer(f"https://127.0.0.1:{port}", tls_dir / "ca.pem", control_token)
    try:
        wait_until_up(server.url, server.ca, process)
        yield server
    finally:
        stop(process)
