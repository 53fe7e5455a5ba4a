"""A web process started with WARM_CONNECTORS imports the connectors as it starts (the demo's
web server does), so the first dry run does not wait for the okta SDK's models."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CONNECTORS = ("entra", "scim", "okta")
# Start Django as a web process does, then report which connector modules are loaded once
# the warming thread (if any) has ended.
PROBE = f"""
import os, sys, threading, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()
for thread in threading.enumerate():
    if thread.name == "warm-connectors":
        thread.join(60)
print(" ".join(k for k in {CONNECTORS!r} if "provisioning.connectors." + k in sys.modules))
# Graph's models a user is read into, which kiota imports only as it first reads one.
print("msgraph.generated.models.user_settings" in sys.modules)
"""


def loaded(**env: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k != "WARM_CONNECTORS"}
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


def test_a_warmed_process_has_every_connector():
    assert loaded(WARM_CONNECTORS="1") == [*CONNECTORS, "True"]


def test_the_demo_web_server_is_warmed(monkeypatch):
    from portal.management.commands import rundemo

    started = {}
    monkeypatch.setattr(rundemo, "start", lambda name, command, env, signal: started.update(env))
    rundemo.start_web(rundemo.DemoAddresses("127.0.0.1", 8000, "127.0.0.1", 8765), {})
    assert started["WARM_CONNECTORS"] == "1"
