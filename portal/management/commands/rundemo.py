"""`make demo`: migrate, seed, then run the sandbox clouds, a Celery worker and the web server.

The demo runs with DEBUG off, as a deployment does (WhiteNoise serves the static files), so
nobody sees Django's technical error pages. The web server listens on PORT (or --port), the
sandbox on the port of SANDBOX_URL, so two demos in two checkouts run side by side:
`PORT=8100 SANDBOX_URL=https://127.0.0.1:8865 make demo`.
"""

import argparse
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# The names the sandbox's server certificate is made for (sandbox/tls.py).
SANDBOX_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class DemoAddresses:
    web_host: str
    web_port: int
    sandbox_host: str
    sandbox_port: int

    @property
    def web_bind(self) -> str:
        host = f"[{self.web_host}]" if ":" in self.web_host else self.web_host
        return f"{host}:{self.web_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.web_bind}/"


def demo_addresses(sandbox_url: str, web_host: str, web_port: int) -> DemoAddresses:
    """Where the web server and the sandbox listen; CommandError for a sandbox URL the demo
    cannot serve (the connections it seeds point at SANDBOX_URL, so they must agree)."""
    parts = urlsplit(sandbox_url)
    try:
        port = parts.port
    except ValueError:
        raise CommandError(f"SANDBOX_URL={sandbox_url!r} has no valid port.") from None
    if parts.scheme != "https" or parts.hostname not in SANDBOX_HOSTS:
        raise CommandError(
            f"SANDBOX_URL={sandbox_url!r}: the demo's sandbox serves https on "
            f"{', '.join(SANDBOX_HOSTS)} only (its certificate names no other host)."
        )
    if parts.username or parts.password or parts.path.strip("/") or parts.query or parts.fragment:
        raise CommandError(f"SANDBOX_URL={sandbox_url!r}: give scheme, host and port only.")
    addresses = DemoAddresses(web_host, web_port, parts.hostname, port or 443)
    if addresses.sandbox_port == web_port:
        raise CommandError(f"The web server and the sandbox cannot both listen on {web_port}.")
    return addresses


def demo_environment(base: dict[str, str], addresses: DemoAddresses) -> dict[str, str]:
    """The environment of the demo's processes: DEBUG off whatever the shell or .env says."""
    env = {**base, "DEBUG": "0", "PORT": str(addresses.web_port)}
    if "ALLOWED_HOSTS" not in base and addresses.web_host not in ("0.0.0.0", "::"):  # noqa: S104
        hosts = [*settings.LOOPBACK_HOSTS, addresses.web_host]
        env["ALLOWED_HOSTS"] = ",".join(dict.fromkeys(hosts))
    return env


def tcp_port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


class Command(BaseCommand):
    help = "Run the whole demo on this machine: sandbox, worker and web on one command."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=tcp_port, default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port: int, host: str, **options):
        addresses = demo_addresses(settings.SANDBOX_URL, host, port)
        for name, (h, p) in (
            ("web server", (addresses.web_host, addresses.web_port)),
            ("sandbox", (addresses.sandbox_host, addresses.sandbox_port)),
        ):
            if port_in_use(h, p):
                raise CommandError(
                    f"Port {p} for the {name} is taken (another demo?). Choose free ones, e.g. "
                    f"PORT={addresses.web_port + 100} "
                    f"SANDBOX_URL=https://127.0.0.1:{addresses.sandbox_port + 100} make demo"
                )
        call_command("migrate", interactive=False, verbosity=0)
        logins = io.StringIO()  # seed_demo's list of logins, printed last with the URL
        call_command("seed_demo", stdout=logins)
        call_command("seed_demo_people")  # queued now, provisioned once the worker is up
        env = demo_environment(dict(os.environ), addresses)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        processes = [
            self.start(
                "sandbox",
                [
                    *manage,
                    "runsandbox",
                    "--host",
                    addresses.sandbox_host,
                    "--port",
                    str(addresses.sandbox_port),
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
            self.start("web", [*manage, "runserver", addresses.web_bind, "--noreload"], env),
        ]
        url = addresses.web_url
        if not self.wait_for(url, processes):
            self.stop(processes)
            raise CommandError(f"The portal did not answer at {url}; see the messages above.")
        try:  # reads the sandbox's ids, so only once it runs
            call_command("seed_demo_access")
        except Exception as exc:  # the demo still runs, without its sample requests
            self.stderr.write(f"Could not seed the demo's access requests: {exc}")
        call_command("seed_demo_history")  # a month of past work, beside the live people
        call_command("seed_demo_accounts")  # queued: the worker gives them sandbox accounts
        self.stdout.write(self.style.SUCCESS(f"\nThe portal is running at {url}"))
        self.stdout.write(f"Sandbox clouds at {settings.SANDBOX_URL} · Ctrl-C stops everything.")
        self.stdout.write(logins.getvalue())
        self.wait(processes)

    def start(self, name: str, command: list[str], env: dict) -> subprocess.Popen:
        self.stdout.write(f"starting {name}: {' '.join(command[1:])}")
        return subprocess.Popen(command, env=env, cwd=settings.BASE_DIR)  # noqa: S603

    def wait_for(self, url: str, processes: list[subprocess.Popen], seconds: float = 120) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and all(p.poll() is None for p in processes):
            try:
                urllib.request.urlopen(url + "login/", timeout=2)  # noqa: S310 - our own server
                return True
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        return False

    def wait(self, processes: list[subprocess.Popen]) -> None:
        try:
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
            self.stderr.write("A demo process stopped; stopping the others.")
        except KeyboardInterrupt:
            pass
        finally:
            self.stop(processes)

    def stop(self, processes: list[subprocess.Popen]) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
