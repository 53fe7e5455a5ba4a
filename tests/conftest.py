import time

import pytest

from portal.models import Role
from tests.factories import make_person, make_tenant_world
from tests.provisioning.worker import WorkerProcess, worker_env
from tests.sandbox.server import running_sandbox


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory):
    """The emulated clouds, once per session, over HTTPS with a CA of its own."""
    tls = tmp_path_factory.mktemp("sandbox-tls")
    with running_sandbox(tls, "--seed", "demo") as server:  # the demo directories too
        yield server


@pytest.fixture
def alpha(db):
    """Tenant A, with a technician, an account manager and a client admin of its own."""
    return make_tenant_world("alpha", "Alpha Ltd")


@pytest.fixture
def bravo(db):
    """Tenant B, the other client: nothing of A may ever show to B's people."""
    return make_tenant_world("bravo", "Bravo GmbH")


@pytest.fixture
def msp_admin(db):
    return make_person("msp-admin", Role.MSP_ADMIN)


@pytest.fixture
def msp_template(db):
    from tenants.models import RoleTemplate

    return RoleTemplate.objects.create(tenant=None, name="MSP Standard", groups=["All Staff"])


@pytest.fixture
def on_sandbox(settings, sandbox_server):
    """This process trusts the test sandbox's CA for its URLs, as the worker does."""
    settings.SANDBOX_URL = sandbox_server.url
    settings.SANDBOX_CA_FILE = sandbox_server.ca
    return sandbox_server


STARTED_WORKERS: list[WorkerProcess] = []
QUIET_TIMEOUT_S = 30.0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Before a test's database is flushed, let the session's workers finish the jobs of
    that test they are running: a job still writing while the tables are truncated would
    deadlock the flush, or leave a row in the next test's database."""
    if STARTED_WORKERS and item.get_closest_marker("django_db"):
        blocker = item._request.getfixturevalue("django_db_blocker")
        with blocker.unblock():
            _wait_until_no_job_runs()
    yield


def _wait_until_no_job_runs() -> None:
    from django.db import connection

    from provisioning.models import Job

    if connection.in_atomic_block:
        return  # a test in a transaction: the workers cannot see its jobs anyway
    deadline = time.monotonic() + QUIET_TIMEOUT_S
    while Job.objects.filter(status=Job.Status.RUNNING).exists():
        if time.monotonic() > deadline:
            return
        time.sleep(0.1)


@pytest.fixture(scope="session")
def worker_factory(django_db_setup, sandbox_server, tmp_path_factory):
    """Start real Celery workers on the test database; all are stopped at the end."""
    started = STARTED_WORKERS

    def start(**env) -> WorkerProcess:
        log = tmp_path_factory.mktemp("worker") / "worker.log"
        worker = WorkerProcess(worker_env(sandbox_server, **env), log).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def worker(worker_factory):
    """The session's worker. Short leases, so a test that kills it sees its job resumed soon."""
    return worker_factory(JOB_LEASE_SECONDS="5")
