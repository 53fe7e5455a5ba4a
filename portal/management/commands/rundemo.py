"""`make demo`: migrate, seed, then run the sandbox clouds, a Celery worker and the web server."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the whole demo on this machine: sandbox, worker and web on one command."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port: int, host: str, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo")
        call_command("seed_demo_people")  # queued now, provisioned once the worker is up
        env = {**os.environ, "DEBUG": "1"}
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        processes = [
            self.start(
                "sandbox",
                [
                    *manage,
                    "runsandbox",
                    "--seed",
                    "demo",
                    "--state-file",
                    str(settings.VAR_DIR / "sandbox" / "state.json"),
                ],
                env,
            ),
            self.start(
                "worker",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--loglevel",
                    "warning",
                    "--pool",
                    "threads",
                    "--concurrency",
                    "4",
                    "--beat",  # scheduled joiners, leavers and deletions
                    "--schedule",
                    str(settings.VAR_DIR / "celerybeat-schedule"),
                ],
                env,
            ),
            self.start("web", [*manage, "runserver", f"{host}:{port}", "--noreload"], env),
        ]
        url = f"http://{host}:{port}/"
        self.wait_for(url)
        try:  # reads the sandbox's ids, so only once it runs
            call_command("seed_demo_access")
        except Exception as exc:  # the demo still runs, without its sample requests
            self.stderr.write(f"Could not seed the demo's access requests: {exc}")
        call_command("seed_demo_history")  # a month of past work, beside the live people
        self.stdout.write(self.style.SUCCESS(f"\nThe portal is running at {url}"))
        self.stdout.write(f"Sandbox clouds at {settings.SANDBOX_URL} · Ctrl-C stops everything.\n")
        self.wait(processes)

    def start(self, name: str, command: list[str], env: dict) -> subprocess.Popen:
        self.stdout.write(f"starting {name}: {' '.join(command[1:])}")
        return subprocess.Popen(command, env=env, cwd=settings.BASE_DIR)  # noqa: S603

    def wait_for(self, url: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url + "login/", timeout=2)  # noqa: S310 - our own server
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)

    def wait(self, processes: list[subprocess.Popen]) -> None:
        try:
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
            self.stderr.write("A demo process stopped; stopping the others.")
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
