"""Processes import the connectors as they start, not in their first job or dry run of each
kind: the okta SDK's models alone are seconds of CPU. A web process started with
WARM_CONNECTORS (the demo's) and a worker of threads do it in a thread of their own; a
worker whose pool forks does it before the fork, so its children share one import."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CONNECTORS = ("entra", "scim", "okta")
# Start Django as a web process or a worker does, then report which connector modules are
# loaded and whether a warming thread is running. It ends at once (os._exit): a warming
# thread is not waited for.
PROBE = f"""
import os, sys, threading, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()
if len(sys.argv) > 1:
    from celery.signals import worker_init
    import provisioning.tasks

    class Worker:
        pool_cls = sys.argv[1]

    worker_init.send(sender=Worker())
print(" ".join(k for k in {CONNECTORS!r} if "provisioning.connectors." + k in sys.modules))
# Graph's models a user is read into, which kiota imports only as it first reads one.
print("msgraph.generated.models.user_settings" in sys.modules)
print(any(thread.name == "warm-connectors" for thread in threading.enumerate()))
sys.stdout.flush()
os._exit(0)
"""


def started(*pool: str, **env: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k != "WARM_CONNECTORS"}
    run = subprocess.run(
        [sys.executable, "-c", PROBE, *pool],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def test_a_forking_worker_has_every_connector_before_its_pool_forks():
    assert started("prefork") == [" ".join(CONNECTORS), "True", "False"]


def test_a_worker_warms_only_the_kinds_it_is_told_to():
    """A test's worker for Entra directories alone starts some 6 s of CPU sooner without the
    okta SDK (test_engine_stopped_workers starts one for every freeze and kill)."""
    assert started("prefork", WARM_CONNECTOR_KINDS="entra") == ["entra", "True", "False"]


def test_a_worker_of_threads_warms_them_in_the_background():
    assert started("threads")[-1] == "True"


def test_a_web_process_warms_them_with_warm_connectors_only():
    assert started(WARM_CONNECTORS="1")[-1] == "True"
    assert started() == ["", "False", "False"]


def test_the_demo_web_server_is_warmed(monkeypatch):
    from portal.management.commands import rundemo

    started = {}
    monkeypatch.setattr(rundemo, "start", lambda name, command, env, signal: started.update(env))
    rundemo.start_web(rundemo.DemoAddresses("127.0.0.1", 8000, "127.0.0.1", 8765), {})
    assert started["WARM_CONNECTORS"] == "1"
