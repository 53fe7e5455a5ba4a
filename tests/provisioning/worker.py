"""A real Celery worker process for the end-to-end tests, on the test database.

It runs `celery -A portal worker` in its own process group, so that a test can kill it
(and its prefork children) the hard way and start another, as an operator's crash would.
Being a session of its own, nothing ends it with the test run: it is told the pid of the
process that starts it (WORKER_ENDS_WITH_PID) and shuts down once that is gone
(portal/watchdog.py), however the test run ended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from portal import watchdog
from tests.provisioning.db_holders import held_by_others

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
FREEZE_TIMEOUT_S = 60.0  # a worker in a transaction all that time would be a finding itself


def test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 2):
        self.env, self.log_path, self.concurrency = env, log_path, concurrency
        self.process: subprocess.Popen | None = None
        self.prepared = False  # launched by `prepare`, not yet told to go

    def start(self) -> WorkerProcess:
        """Start the worker and wait until it consumes; a prepared one is told to go."""
        if self.prepared:
            self.prepared = False
            self.process.stdin.write(b"go\n")
            self.process.stdin.close()
        else:
            self._launch(["-m", "celery"])
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The worker exited: {self.log_path.read_text()[-3000:]}")
            if " ready." in self.log_path.read_text():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"The worker did not start: {self.log_path.read_text()[-3000:]}")

    def prepare(self) -> WorkerProcess:
        """Launch the worker's process to do its imports and wait (warm_worker.py): `start`
        then starts Celery in it, the imports done. Nothing of it consumes until then."""
        self._launch(["-m", "tests.provisioning.warm_worker"], stdin=subprocess.PIPE)
        self.prepared = True
        return self

    def _launch(self, program: list[str], stdin=None) -> None:
        self.log_path.write_text("")
        command = [
            sys.executable, *program, "-A", "portal", "worker",
            "--queues", settings.CELERY_TASK_DEFAULT_QUEUE, "--concurrency", str(self.concurrency),
            "--loglevel", "info", "--without-gossip", "--without-mingle",
            "--hostname", f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
        ]  # fmt: skip
        log = self.log_path.open("a")
        env = self.env | {"WORKER_ENDS_WITH_PID": str(os.getpid())}
        self.process = subprocess.Popen(  # noqa: S603
            command, cwd=REPO_ROOT, env=env, stdin=stdin, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its children: nothing is cleaned up, nothing acknowledged."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP the worker and its children, as a stalled host or a debugger would: its
        leases run out while it holds them, its connections stay open."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def freeze_outside_transactions(self) -> int:
        """`freeze` the worker at a moment none of its processes holds a transaction or a
        lock on the test database; the freezes it took. Frozen inside one, it would keep
        every other worker from what it locked (on SQLite, the whole file) until it is woken:
        no lease ends that, and no run of another worker could take its job over
        (db_holders.py). Woken a moment and frozen again until it holds none."""
        deadline, freezes = time.monotonic() + FREEZE_TIMEOUT_S, 0
        while True:
            self.freeze()
            freezes += 1
            held = held_by_others()
            if not held:
                return freezes
            assert time.monotonic() < deadline, f"frozen {freezes} times, each holding {held}"
            self.thaw()
            time.sleep(0.005)

    def thaw(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class WorkerStarts:
    """Starts real workers on the test database (the `worker_factory` fixture), noting each
    in `started`. Within `spare_kept(**env)`, a worker of that environment is prepared ahead
    (its imports done, not consuming): a start of that environment takes it, some 1 s instead
    of 10 to 15, and prepares the next."""

    def __init__(self, sandbox, tmp_path_factory, started: list[WorkerProcess]) -> None:
        self.sandbox, self.tmp_path_factory, self.started = sandbox, tmp_path_factory, started
        self.spares: dict[tuple, WorkerProcess] = {}

    def __call__(self, **env: str) -> WorkerProcess:
        key = tuple(sorted(env.items()))
        spare = self.spares.pop(key, None)
        worker = spare.start() if spare else self._new(env).start()
        if spare:
            self.spares[key] = self._new(env).prepare()
        self.started.append(worker)
        return worker

    @contextmanager
    def spare_kept(self, **env: str) -> Iterator[None]:
        key = tuple(sorted(env.items()))
        self.spares[key] = self._new(env).prepare()
        try:
            yield
        finally:
            spare = self.spares.pop(key, None)
            if spare is not None:
                spare.kill()

    def _new(self, env: dict[str, str]) -> WorkerProcess:
        log = self.tmp_path_factory.mktemp("worker") / "worker.log"
        return WorkerProcess(worker_env(self.sandbox, **env), log)

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


def worker_env(sandbox, **extra: str) -> dict[str, str]:
    """The test process's own environment (queue, broker folder) on the test database."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env |= {
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SANDBOX_URL": sandbox.url,
        "SANDBOX_CA_FILE": str(sandbox.ca),
        "CREDENTIAL_KEYS": ",".join(settings.CREDENTIAL_KEYS),
        **extra,
    }
    return env


def standin_env(folder: Path, queue: str) -> dict[str, str]:
    """The environment of a stand-in process that starts a worker the way the tests or
    rundemo do, on a database and broker of its own in `folder`, the worker watching its
    starter every 0.2 s (portal/watchdog.py)."""
    return {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://localhost/",
        "CELERY_BROKER_DIR": str(folder / "broker"),
        "CELERY_QUEUE": f"{queue}-{os.getpid()}",
        "WORKER_WATCH_SECONDS": "0.2",
    }


def is_running(pid: int) -> bool:
    """Whether the process runs: a zombie no one reaps has ended too."""
    stat = watchdog._stat(pid)
    return stat is not None and stat[0] not in "ZX"
