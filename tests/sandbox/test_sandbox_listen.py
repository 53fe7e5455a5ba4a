"""The control API reads and rewrites every emulated directory (its users, the app
registrations' secrets the portal's connections use, the webhook receivers' deliveries) with
the documented demo token: a sandbox told to listen beyond loopback with that token
(`runsandbox --host 0.0.0.0`) would hand all that to anyone on the network. It refuses to
start; with a token of one's own it may listen anywhere (attack19)."""

from __future__ import annotations

import io
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sandbox.control import DEFAULT_CONTROL_TOKEN, exposed_with_default_token
from tests.sandbox.server import free_port, running_sandbox, start, stop


def test_beyond_loopback_with_the_demo_token_it_does_not_start(tmp_path):
    everywhere = "0.0.0.0"  # noqa: S104 - what is refused; the server must not start
    process = start(
        tmp_path, free_port(), DEFAULT_CONTROL_TOKEN, "--host", everywhere, stderr=subprocess.PIPE
    )
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        stop(process)
        pytest.fail("the sandbox listened on every address with the demo control token")
    assert process.returncode != 0
    assert "SANDBOX_CONTROL_TOKEN" in stderr


def test_runsandbox_says_so_before_anything(monkeypatch):
    monkeypatch.delenv("SANDBOX_CONTROL_TOKEN", raising=False)
    with pytest.raises(CommandError, match="SANDBOX_CONTROL_TOKEN"):
        call_command("runsandbox", "--host", "192.0.2.10", stdout=io.StringIO())


def test_on_loopback_the_demo_token_serves(tmp_path):
    with running_sandbox(tmp_path, "--host", "127.0.0.1", control_token=DEFAULT_CONTROL_TOKEN):
        pass


@pytest.mark.parametrize(
    "host,token,exposed",
    [
        ("127.0.0.1", DEFAULT_CONTROL_TOKEN, False),
        ("::1", DEFAULT_CONTROL_TOKEN, False),
        ("localhost", DEFAULT_CONTROL_TOKEN, False),
        ("127.0.0.2", DEFAULT_CONTROL_TOKEN, False),
        ("0.0.0.0", DEFAULT_CONTROL_TOKEN, True),  # noqa: S104 - the case refused
        ("::", DEFAULT_CONTROL_TOKEN, True),
        ("192.0.2.10", DEFAULT_CONTROL_TOKEN, True),
        ("sandbox.example", DEFAULT_CONTROL_TOKEN, True),
        ("0.0.0.0", "a-token-of-our-own", False),  # noqa: S104
    ],
)
def test_which_listening_addresses_expose_the_demo_token(host, token, exposed):
    assert exposed_with_default_token(host, token) is exposed
