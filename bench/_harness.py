"""Shared start/stop helpers for the benches (not a bench itself: `make bench` must skip it).

A sandbox on its own port with a CA in a temporary folder, fresh Entra directories in it, a
fresh PostgreSQL database, real `celery -A portal worker` processes, and CPU accounting of
the processes we started (evidence for what limits a figure). Everything started here is
stopped by the caller through `Stack.close()` (also on error), by process group id only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTROL_TOKEN = "bench-control-token"  # noqa: S105 - a throwaway token for a throwaway server
GROUPS = ["Staff", "Sales", "Finance", "VPN Users", "Managers"]
APP = "Salesforce"
SKU = "SPE_E3"
SECRET = "bench-entra-secret"  # noqa: S105 - a throwaway directory in a throwaway sandbox
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Sandbox:
    url: str
    ca: Path
    process: subprocess.Popen

    def control(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            verify=str(self.ca),
            headers={"Authorization": f"Bearer {CONTROL_TOKEN}"},
            timeout=30.0,
        )

    def create_entra(self, domain: str, seats: int = 5000) -> tuple[str, str]:
        """A fresh Entra directory: 5 groups, one app, one SKU. (tenant id, client id)."""
        tenant_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
        body = {
            "tenant_id": tenant_id,
            "display_name": f"Bench {domain}",
            "domains": [domain],
            "apps": [{"client_id": client_id, "client_secret": SECRET}],
            "skus": [{"sku_part_number": SKU, "seats": seats}],
            "groups": [{"display_name": name} for name in GROUPS],
            "service_principals": [{"display_name": APP, "app_roles": [{"value": "User"}]}],
        }
        with self.control() as control:
            control.post("/_sandbox/entra/tenants", json=body).raise_for_status()
        return tenant_id, client_id

    def behave(self, tenant_id: str, **settings) -> None:
        with self.control() as control:
            path = f"/_sandbox/entra/{tenant_id}/behaviour"
            control.put(path, json=settings).raise_for_status()

    def stats(self, tenant_id: str) -> dict:
        with self.control() as control:
            return control.get(f"/_sandbox/entra/{tenant_id}/stats").raise_for_status().json()

    def reset_stats(self, tenant_id: str) -> None:
        with self.control() as control:
            control.delete(f"/_sandbox/entra/{tenant_id}/stats").raise_for_status()


def start_sandbox(tls_dir: Path, seed: str | None = None) -> Sandbox:
    """`seed="demo"`: with the demo directories (fixed ids) that `seed_demo` connects to."""
    port = free_port()
    command = [sys.executable, "-m", "sandbox.server", "--port", str(port)]
    command += ["--tls-dir", str(tls_dir), *(["--seed", seed] if seed else [])]
    process = subprocess.Popen(  # noqa: S603
        command,
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "SANDBOX_CONTROL_TOKEN": CONTROL_TOKEN,
            "SANDBOX_ENDS_WITH_PID": str(os.getpid()),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    sandbox = Sandbox(f"https://127.0.0.1:{port}", tls_dir / "ca.pem", process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited early with status {process.returncode}")
        try:
            health = f"{sandbox.url}/_sandbox/health"
            if (
                sandbox.ca.exists()
                and httpx.get(health, verify=str(sandbox.ca), timeout=1).is_success
            ):
                return sandbox
        except (httpx.TransportError, OSError):
            pass
        time.sleep(0.1)
    stop_group(process)
    raise RuntimeError("the sandbox did not answer /_sandbox/health in time")


def stop_group(process: subprocess.Popen | None, timeout: float = 20) -> None:
    """SIGTERM the process group we started (by its id), SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


# --- PostgreSQL --------------------------------------------------------------------------


def recreate_database(name: str, host: str = "127.0.0.1", port: int = 5432) -> str:
    """Drop and create `name`; its DATABASE_URL."""
    import psycopg

    with psycopg.connect(f"host={host} port={port} user=postgres dbname=postgres") as conn:
        conn.autocommit = True
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@{host}:{port}/{name}"


def drop_database(name: str, host: str = "127.0.0.1", port: int = 5432) -> None:
    import psycopg

    with psycopg.connect(f"host={host} port={port} user=postgres dbname=postgres") as conn:
        conn.autocommit = True
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_stack(
    sandbox: Sandbox, db_name: str, prefix: str, redis_url: str, **extra: str
) -> dict[str, str]:
    """A bench's database created afresh and migrated, and this process set up on it and on
    the sandbox (Django too); returns the environment its workers get (`stack_env`)."""
    env = stack_env(sandbox, recreate_database(db_name), prefix, redis_url, **extra)
    migrate(env)
    os.environ.update(env)
    import django

    django.setup()
    return env


def close_stack(sandbox, db_name: str, *, keep_db: bool, tmp) -> None:
    """A bench's end: its sandbox stopped, this process's database connections closed, its
    database dropped (unless kept) and its temporary folder removed."""
    if sandbox is not None:
        stop_group(sandbox.process)
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001, S110 - Django may not be set up yet
        pass
    if not keep_db:
        drop_database(db_name)
    tmp.cleanup()


def migrate(env: dict[str, str]) -> None:
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
    )


# --- the environment of a bench's stack --------------------------------------------------


def stack_env(
    sandbox: Sandbox, database_url: str, prefix: str, redis_url: str, **extra: str
) -> dict[str, str]:
    """The environment a bench's workers (and the bench, once `django.setup()`) run with:
    our sandbox, our database, our Redis key prefix and queue (`prefix`), a throwaway
    credential key; `extra` on top (e.g. `BENCH_COUNTS_KEY`)."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return env | {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "REDIS_URL": redis_url,  # the shared token buckets live in Redis too
        # Buckets and quarantine windows of this run only: a fresh database reuses the
        # connection ids, and an earlier run's outcome windows must not count here.
        "REDIS_KEY_PREFIX": prefix,
        "CELERY_QUEUE": prefix,
        "SANDBOX_URL": sandbox.url,
        "SANDBOX_CA_FILE": str(sandbox.ca),
        "CREDENTIAL_KEYS": Fernet.generate_key().decode(),
        "JOB_LEASE_SECONDS": "120",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
        **extra,
    }


# --- Celery workers ----------------------------------------------------------------------


@dataclass
class Workers:
    env: dict[str, str]
    queue: str
    log_dir: Path
    procs: int = 2
    concurrency: int = 4
    pool: str = "prefork"
    include: str = ""  # e.g. "bench._instrument": extra modules every worker imports
    host: str = ""  # a label in the workers' names: a simulated host (its own Workers)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self) -> Workers:
        logs = []
        for index in range(self.procs):
            log_path = self.log_dir / f"worker{self.host}-{index}.log"
            log = log_path.open("w")
            command = [
                sys.executable, "-m", "celery", "-A", "portal", "worker",
                "--queues", self.queue, "--pool", self.pool,
                "--concurrency", str(self.concurrency), "--loglevel", "info",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--hostname", f"bench-{os.getpid()}{self.host}-{index}@%h",
                *(["--include", self.include] if self.include else []),
            ]  # fmt: skip
            self.processes.append(
                subprocess.Popen(  # noqa: S603
                    command,
                    cwd=REPO_ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
            logs.append(log_path)
        deadline = time.monotonic() + 60
        pending = set(range(self.procs))
        while pending and time.monotonic() < deadline:
            for index in list(pending):
                process = self.processes[index]
                if process.poll() is not None:
                    raise RuntimeError(f"a worker exited: {logs[index].read_text()[-3000:]}")
                if " ready." in logs[index].read_text():
                    pending.discard(index)
            time.sleep(0.1)
        if pending:
            raise RuntimeError("the workers did not start in time")
        return self

    def stop(self) -> None:
        for process in self.processes:
            stop_group(process)
        self.processes = []

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def cpu_seconds(self) -> float:
        """CPU seconds of every worker process group (a group per worker process)."""
        return sum(group_cpu_seconds(pid) for pid in self.pids())

    def exited(self) -> str:
        """Which worker ended, how, and its log's last lines; empty while every worker runs
        (a bench that went on would wait for jobs nobody runs)."""
        for index, process in enumerate(self.processes):
            if process.poll() is not None:
                tail = (self.log_dir / f"worker{self.host}-{index}.log").read_text()[-1500:]
                code = process.returncode
                return f"worker {index} (pid {process.pid}) exited with {code}:\n{tail}"
        return ""


@dataclass
class Fleet:
    """Worker processes on simulated hosts: per host its own `Workers`, with its own copy of
    the environment, its own process groups and so its own database and Redis connections,
    as a second machine's would have (on this machine they share the cores).
    `Fleet(env, queue, log_dir, [2, 1])`: two hosts, with 2 and 1 worker processes."""

    env: dict[str, str]
    queue: str
    log_dir: Path
    per_host: list[int]
    concurrency: int = 8
    pool: str = "threads"
    include: str = ""
    hosts: list[Workers] = field(default_factory=list)

    def start(self) -> Fleet:
        for index, procs in enumerate(self.per_host):
            host = Workers(
                dict(self.env),
                self.queue,
                self.log_dir,
                procs=procs,
                concurrency=self.concurrency,
                pool=self.pool,
                include=self.include,
                host=f"-h{index}",
            )
            self.hosts.append(host)
            host.start()
        return self

    def stop(self) -> None:
        for host in self.hosts:
            host.stop()
        self.hosts = []

    def cpu_seconds(self) -> float:
        return sum(host.cpu_seconds() for host in self.hosts)

    def exited(self) -> str:
        return next((gone for host in self.hosts if (gone := host.exited())), "")


# --- CPU accounting ----------------------------------------------------------------------


def _proc_stats() -> list[tuple[str, list[str]]]:
    """(comm, fields after the comm) of every live process, from /proc/<pid>/stat."""
    stats = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            head, tail = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        stats.append((head.split("(", 1)[1], tail.split()))
    return stats


def _cpu(fields: list[str], children: bool = True) -> float:
    """utime + stime (+ cutime + cstime: the children it has reaped), in seconds."""
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds of a process group (ours only): its live processes and the children they
    reaped (a live child's time is not yet in its parent's, so nothing counts twice)."""
    return sum(_cpu(fields) for _, fields in _proc_stats() if int(fields[2]) == pgid)


def process_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of one live single-threaded process (a PostgreSQL backend); None when it
    is gone or not visible. From /proc/<pid>/schedstat, in nanoseconds, where the kernel has
    it: /proc/<pid>/stat counts whole clock ticks (10 ms), and a backend that lives for one
    task run uses about that much."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        tail = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]
    except OSError:
        return None
    return _cpu(tail.split(), children=False)


def postgres_cpu_seconds() -> float | None:
    """CPU seconds of the local PostgreSQL server, every database: its live processes and the
    backends that have exited (the postmaster reaps them, so they are in its children's
    times). None when no `postgres` process is visible (a server elsewhere)."""
    stats = [(comm, fields) for comm, fields in _proc_stats() if comm == "postgres"]
    if not stats:
        return None
    return sum(_cpu(fields) for _, fields in stats)


def self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, in seconds, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


# --- CPU per unit of work, and the machine's load ----------------------------------------


def loadavg_text(values: tuple[float, ...] | None = None) -> str:
    return ",".join(f"{v:.2f}" for v in (values or os.getloadavg()))


@dataclass
class Span:
    """What a measured span cost: CPU seconds per part, its wall time, and the whole
    machine meanwhile (every process, other users' too), so that a figure can be compared
    across runs on a shared machine."""

    wall: float
    cpu: dict[str, float]
    busy_cores: float  # the whole machine's, from /proc/stat
    loadavg_start: tuple[float, float, float]
    loadavg_end: tuple[float, float, float]

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu.values())

    def ms_per(self, units: float, part: str | None = None) -> float:
        seconds = self.cpu_s if part is None else self.cpu.get(part, 0.0)
        return seconds * 1000 / max(units, 1e-9)

    def minus(self, inner: Span) -> Span:
        """This span without `inner`, a span inside it (a read without its cycle)."""
        wall = self.wall - inner.wall
        busy = self.busy_cores * self.wall - inner.busy_cores * inner.wall
        return Span(
            wall=wall,
            cpu={name: seconds - inner.cpu.get(name, 0.0) for name, seconds in self.cpu.items()},
            busy_cores=busy / wall if wall > 0 else 0.0,
            loadavg_start=self.loadavg_start,
            loadavg_end=self.loadavg_end,
        )

    def machine(self) -> str:
        return (
            f"whole machine {self.busy_cores:.2f} of {os.cpu_count()} cores busy over "
            f"{self.wall:.1f} s; load average {loadavg_text(self.loadavg_start)} at the start, "
            f"{loadavg_text(self.loadavg_end)} at the end"
        )

    def cores(self) -> str:
        """Cores each part kept busy, and what the rest of the machine did meanwhile."""
        wall = max(self.wall, 1e-9)
        parts = [f"{name} {seconds / wall:.2f}" for name, seconds in self.cpu.items()]
        rest = self.busy_cores - self.cpu_s / wall
        return ", ".join([*parts, f"everything else (Redis, other users) {rest:.2f}"])

    def line(self, units: float, unit: str) -> str:
        """`CPU per <unit>: <total> ms = <part> <ms> + ...`, the cores and the machine."""
        parts = " + ".join(f"{name} {self.ms_per(units, name):.1f}" for name in self.cpu)
        return (
            f"CPU per {unit}: {self.ms_per(units):.1f} ms = {parts} ({units:g} in "
            f"{self.wall:.1f} s); cores busy: {self.cores()}; {self.machine()}"
        )

    def keys(self) -> str:
        """The machine's figures for a bench's last line."""
        return (
            f"loadavg_start={loadavg_text(self.loadavg_start)} "
            f"loadavg={loadavg_text(self.loadavg_end)} busy_cores={self.busy_cores:.2f}"
        )


class CpuMeter:
    """The one way the benches measure CPU: samples of named parts (each a function giving
    the CPU seconds that part has used so far; None counts 0), the wall clock, the machine's
    busy time and load average; `span(before, after)` is what happened between two."""

    def __init__(self, **parts: Callable[[], float | None]):
        self.parts = parts

    def sample(self) -> dict:
        busy, total = machine_busy_seconds()
        cpu = {name: part() or 0.0 for name, part in self.parts.items()}
        return cpu | {
            "wall": time.monotonic(),
            "machine": busy,
            "machine_total": total,
            "loadavg": os.getloadavg(),
        }

    def span(self, before: dict, after: dict) -> Span:
        total = after["machine_total"] - before["machine_total"]
        busy = after["machine"] - before["machine"]
        return Span(
            wall=after["wall"] - before["wall"],
            cpu={name: after[name] - before[name] for name in self.parts},
            busy_cores=busy / total * (os.cpu_count() or 1) if total > 0 else 0.0,
            loadavg_start=before["loadavg"],
            loadavg_end=after["loadavg"],
        )

    @contextmanager
    def measure(self) -> Iterator[list[Span]]:
        """`with meter.measure() as spans:` ... `spans[0]` once the block is over."""
        spans: list[Span] = []
        before = self.sample()
        yield spans
        spans.append(self.span(before, self.sample()))


def backend_cpu(connection=None) -> Callable[[], float | None]:
    """A CpuMeter part: the CPU of the PostgreSQL backend serving this process's Django
    connection (the default one), as it is when the part is sampled."""

    def seconds() -> float | None:
        from django.db import connection as default

        conn = connection or default
        conn.ensure_connection()
        return process_cpu_seconds(conn.connection.info.backend_pid)

    return seconds


@dataclass
class Submits:
    """What this process spent doing a web request's work (submitting onboardings, starting
    a CSV file): statements sent, the CPU of the thread doing it and of its PostgreSQL
    backend, summed over every `with submits.count():` (from several threads at once too:
    each has its own connection, and its own CPU clock)."""

    sql: int = 0
    cpu_s: float = 0.0
    pg_cpu_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextmanager
    def count(self) -> Iterator[None]:
        from django.db import connection

        statements = 0

        def counted(execute, sql, params, many, context):
            nonlocal statements
            statements += 1
            return execute(sql, params, many, context)

        connection.ensure_connection()
        backend = connection.connection.info.backend_pid
        pg_before = process_cpu_seconds(backend) or 0.0
        cpu_before = time.thread_time()
        with connection.execute_wrapper(counted):
            yield
        cpu = time.thread_time() - cpu_before
        pg_cpu = (process_cpu_seconds(backend) or 0.0) - pg_before
        with self.lock:
            self.sql += statements
            self.cpu_s += cpu
            self.pg_cpu_s += pg_cpu

    def snapshot(self) -> dict:
        with self.lock:
            return {"sql": self.sql, "cpu_s": self.cpu_s, "pg_cpu_s": self.pg_cpu_s}


if __name__ == "__main__":
    print("bench/_harness.py holds helpers for the benches; it is not a bench.")
