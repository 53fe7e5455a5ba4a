"""`make demo`: the sandbox clouds, a Celery worker and the web server, seeded while they start.

The demo runs with DEBUG off, as a deployment does (WhiteNoise serves the static files), so
nobody sees Django's technical error pages. The web server listens on PORT (or --port), the
sandbox on the port of SANDBOX_URL, so two demos in two checkouts run side by side:
`PORT=8100 SANDBOX_URL=https://127.0.0.1:8865 make demo`.

Each phase prints its time; the URL and the logins come last, once the web server answers and
the worker consumes, and after them only errors. The processes run in process groups of their
own, so Ctrl-C reaches this command alone and it stops them in order (docs/demo.md).
"""

import argparse
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.recorder import MigrationRecorder

from portal import watchdog

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
    env = {
        **base,
        "DEBUG": "0",
        "PORT": str(addresses.web_port),
        # Warnings and errors only; refused requests (4xx) are the portal's answers, not news.
        "LOG_LEVEL": base.get("LOG_LEVEL", "WARNING"),
        "REQUEST_LOG_LEVEL": base.get("REQUEST_LOG_LEVEL", "ERROR"),
        "DJANGO_RUNSERVER_HIDE_WARNING": "true",
    }
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
        check_ports_free(addresses)
        self.clock = Clock(self.stdout)
        env = demo_environment(dict(os.environ), addresses)
        ready_file = settings.VAR_DIR / "worker-ready"
        ready_file.unlink(missing_ok=True)
        children: list[Child] = []
        stop_on_signals()
        try:
            if not (kept := database_mark()):
                # A new database: its first migration (0.4 s) gives it the mark that names its
                # sandbox state, and the sandbox starts while the others are applied.
                call_command("migrate", "contenttypes", interactive=False, verbosity=0)
            state = sandbox_state(database_mark(), kept=bool(kept))
            children.append(start_sandbox(addresses, env, state))
            children.append(start_web(addresses, env))  # it needs the tables at its first request
            with self.clock.phase("migrate"):
                call_command("migrate", interactive=False, verbosity=0)
            children.append(start_worker({**env, "WORKER_READY_FILE": str(ready_file)}))
            logins = self.seed(addresses, children, env, ready_file)
            url = addresses.web_url
            with self.clock.phase("web answering"):
                if not wait_until(lambda: answers(url + "login/"), children):
                    raise CommandError(f"The portal did not answer at {url}; see above.")
            with self.clock.phase("worker consuming"):
                if not wait_until(ready_file.exists, children):
                    raise CommandError("The worker did not start; see the messages above.")
            self.stdout.write(self.style.SUCCESS(f"\nThe portal is running at {url}"))
            self.stdout.write(
                f"Sandbox clouds at {settings.SANDBOX_URL} · e-mails in the Outbox (as admin)"
                " · Ctrl-C stops everything."
            )
            self.stdout.write(logins)
            self.clock.total("ready")
            wait_for_any_to_end(children)
            self.stderr.write("A demo process stopped; stopping the others.")
        except StopDemo:
            pass
        finally:
            self.stop(children)

    def seed(self, addresses: DemoAddresses, children: list["Child"], env, ready_file) -> str:
        """The demo's data, written while the processes start; seed_demo's logins."""
        logins = io.StringIO()
        with self.clock.phase("seed_demo"):
            call_command("seed_demo", stdout=logins)
            call_command("seed_demo_webhooks", stdout=io.StringIO())  # before any job ends
        with self.clock.phase("seed_demo_people"):
            call_command("seed_demo_people", stdout=io.StringIO())  # the worker onboards them
        with self.clock.phase("sandbox answering"):
            sandbox_up = wait_until(
                lambda: port_in_use(addresses.sandbox_host, addresses.sandbox_port), children
            )
        with self.clock.phase("seed_demo_access"):  # reads the sandbox's ids
            # In a process of its own: the directory clients it opens are closed as it ends,
            # while the sandbox runs, not when this command ends after the sandbox.
            seeded = sandbox_up and subprocess.run(  # noqa: S603 - our own command
                manage("seed_demo_access"),
                env=env,
                cwd=settings.BASE_DIR,
                stdout=subprocess.DEVNULL,
                process_group=0,  # Ctrl-C is this command's to handle (it ends the run)
            )
            if not seeded or seeded.returncode:
                self.stderr.write("Could not seed the demo's access requests (see above).")
        # After the access seeding: its past requests are for the requestable groups and apps.
        with self.clock.phase("seed_demo_history"):
            call_command("seed_demo_history", stdout=io.StringIO())
        call_command("seed_demo_accounts")  # queued: the worker gives them sandbox accounts
        # Northwind's secret ends soon; queued quietly, as the other seeding is
        call_command("check_credential_expiry", "--queue", stdout=io.StringIO())
        return logins.getvalue()

    def stop(self, children: list["Child"]) -> None:
        if not children:
            return
        for signum in STOP_SIGNALS:  # a second Ctrl-C must not cut the stop short
            signal.signal(signum, signal.SIG_IGN)
        self.stdout.write("\nStopping the demo…")
        started = time.monotonic()
        killed = stop_children(children)
        took = time.monotonic() - started
        self.stdout.write(f"Stopped in {took:.1f} s.{ended_in_words(killed)}")


def ended_in_words(killed: list[str]) -> str:
    """What the stop had to end, for the person at the terminal ("" when nothing was)."""
    if not killed:
        return ""
    names = " and ".join(f"the {name}" for name in killed)
    said = f" {names[0].upper()}{names[1:]} did not stop in time and "
    said += "was ended." if len(killed) == 1 else "were ended."
    if "worker" in killed:  # a job mid-call: its lease runs out and the next start resumes it
        said = said[:-1] + ": a job cut short resumes at the next start."
    return said


class StopDemo(BaseException):  # noqa: N818 - not an error: Ctrl-C, SIGTERM or SIGHUP
    """Raised in the main thread by a stop signal (like KeyboardInterrupt, past `except
    Exception`)."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def stop_on_signals() -> None:
    def stop(signum, frame):
        raise StopDemo

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)


class Clock:
    """Seconds since the start, printed as each phase ends."""

    def __init__(self, stdout) -> None:
        self.stdout = stdout
        self.started = time.monotonic()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        yield
        now = time.monotonic()
        self.stdout.write(f"  {now - self.started:5.1f} s  {name} ({now - began:.1f} s)")

    def total(self, name: str) -> None:
        self.stdout.write(f"({name} {time.monotonic() - self.started:.1f} s after the start)")


# -- the processes ------------------------------------------------------------------------------


@dataclass
class Child:
    """A process of the demo, and the signal that asks it to stop cleanly."""

    name: str
    process: subprocess.Popen
    stop_signal: int
    calls_the_sandbox: bool = True
    helpers: str = "helpers"  # what else runs in its process group, as the stop names them


def start(
    name: str, command: list[str], env: dict, stop_signal: int, calls_the_sandbox: bool = True
) -> Child:
    """A child in a process group of its own: Ctrl-C in the terminal reaches this command only,
    which stops the children in order; its banner output (stdout) is dropped, its warnings and
    errors (stderr) are not."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        command,
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        process_group=0,
    )
    return Child(name, process, stop_signal, calls_the_sandbox)


def manage(*args: str) -> list[str]:
    return [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]


def database_mark() -> str:
    """When this database was made (its first migration's time), "" before `migrate` has made
    it: what names the sandbox state that belongs to it."""
    recorder = MigrationRecorder(connections[DEFAULT_DB_ALIAS])
    try:
        first = recorder.migration_qs.order_by("applied", "pk").first()
    except DatabaseError:  # no table yet (or no database: `migrate` says so next)
        return ""
    return first.applied.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ") if first else ""


def sandbox_state(mark: str, kept: bool) -> Path:
    """The sandbox's state file for the database of that mark. Each database has its own: the
    demo directories a new one is seeded against are new, never the accounts another database
    made (whose people would find their usernames taken), and never wiped while a database
    that refers to them is kept. A kept database takes over the one state file of the demos
    before files were per database (`state.json`); a new one leaves it be."""
    folder = settings.VAR_DIR / "sandbox"
    state, shared = folder / f"state-{mark}.json", folder / "state.json"
    if kept and shared.exists() and not state.exists():
        shared.rename(state)
    return state


def start_sandbox(addresses: DemoAddresses, env: dict, state: Path) -> Child:
    command = manage(
        "runsandbox",
        *("--host", addresses.sandbox_host, "--port", str(addresses.sandbox_port)),
        *("--seed", "demo", "--state-file", str(state)),
    )
    # A rundemo killed with SIGKILL stops none of its children: the sandbox ends with it
    # (sandbox/watchdog.py), as the worker does.
    env = {**env, "SANDBOX_ENDS_WITH_PID": str(os.getpid())}
    # SIGTERM: uvicorn shuts down gracefully (the state file is flushed), then ends quietly.
    return start("sandbox", command, env, signal.SIGTERM, calls_the_sandbox=False)


# Celery warns at every start of a worker run as root (the demo in a container, or `make demo`
# as root), with or without C_FORCE_ROOT: that variable only lets a root worker accept pickle,
# which this one never does (JSON only; a root worker offered pickle still refuses to start).
# The demo acknowledges this one warning by its text; every other warning and error still shows.
ROOT_WORKER_WARNING = "ignore:You're running the worker with superuser privileges"


def worker_environment(env: dict, as_root: bool) -> dict:
    """The worker's environment: as root, with Celery's superuser warning acknowledged."""
    if not as_root:
        return env
    filters = [env.get("PYTHONWARNINGS", ""), ROOT_WORKER_WARNING]
    return {**env, "PYTHONWARNINGS": ",".join(f for f in filters if f)}


def start_worker(env: dict) -> Child:
    # Beat's record of its last runs: a worker killed at a stop may leave it half written, and
    # beat would fail at every start after; without it the periodic tasks simply run now.
    for path in settings.VAR_DIR.glob("celerybeat-schedule*"):
        path.unlink(missing_ok=True)
    command = [
        *(sys.executable, "-m", "celery", "-A", "portal", "--quiet", "worker"),  # no banner
        *("--loglevel", "warning", "--pool", "threads", "--concurrency", "4"),
        "--beat",  # scheduled joiners, leavers and deletions
        *("--schedule", str(settings.VAR_DIR / "celerybeat-schedule")),
    ]
    env = worker_environment(env, as_root=os.geteuid() == 0)
    # A rundemo killed with SIGKILL stops none of its children: the worker watches this
    # process and shuts down once it is gone (portal/watchdog.py), rather than poll on.
    env = {**env, "WORKER_ENDS_WITH_PID": str(os.getpid())}
    # SIGTERM: Celery's warm shutdown; running tasks finish (the demo seeding stops early).
    worker = start("worker", command, env, signal.SIGTERM)
    worker.helpers = "beat"
    return worker


def start_web(addresses: DemoAddresses, env: dict) -> Child:
    command = manage("runserver", addresses.web_bind, "--noreload")
    return start("web server", command, {**env, "WARM_CONNECTORS": "1"}, signal.SIGINT)


def stop_children(children: list[Child], seconds: float = 3.5) -> list[str]:
    """Stops the children within `seconds`, each with its own signal: first those that call
    the sandbox (a job whose directory has gone away waits on retries and timeouts, while one
    whose directory answers finishes in a second or two), then the others once those have
    ended or a second before the end; whatever still runs at the end is killed. The names of
    those killed."""
    deadline = time.monotonic() + seconds
    first = [c for c in children if c.calls_the_sandbox]
    _stop(first, until=deadline - 1.0)
    _stop([c for c in children if not c.calls_the_sandbox], until=deadline)
    for child in children:  # a busy worker may use what is left
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:  # and so may what runs in its group (beat, stopped by the worker)
        while watchdog.group_runs(child.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    killed = []
    for child in children:
        if child.process.poll() is None:
            # The whole group: the worker's embedded beat is a process of its own.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()
            killed.append(child.name)
        elif _end_group(child.process.pid):
            # The worker asked to stop between its beat's start and its own ends at once
            # ("not fully started") without stopping beat.
            killed.append(f"{child.name}'s {child.helpers}")
    return killed


def _end_group(pgid: int) -> bool:
    """Kills what still runs in the process group of a child that has ended; whether
    anything did. The child was reaped a moment ago, and no process is given a pid that
    is still a group's id, so the group is the child's own."""
    if not watchdog.group_runs(pgid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    return True


def _stop(children: list[Child], until: float) -> None:
    running = [c for c in children if c.process.poll() is None]
    for child in running:
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(child.stop_signal)
    for child in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(0.0, until - time.monotonic()))


def wait_until(condition, children: list[Child], seconds: float = 120) -> bool:
    """Polls `condition` until it holds (True), the time is up or a child has ended (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        if any(c.process.poll() is not None for c in children):
            return False
        time.sleep(0.2)
    return False


def wait_for_any_to_end(children: list[Child]) -> None:
    while all(c.process.poll() is None for c in children):
        time.sleep(0.5)


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)  # noqa: S310 - our own server
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return True


def check_ports_free(addresses: DemoAddresses) -> None:
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
