import time

import pytest

from provisioning.models import Job
from tests.provisioning.worker import WorkerProcess, worker_env
from tests.sandbox.conftest import sandbox_server  # noqa: F401 - the session's sandbox


@pytest.fixture
def on_sandbox(settings, sandbox_server):  # noqa: F811
    """This process trusts the test sandbox's CA for its URLs, as the worker does."""
    settings.SANDBOX_URL = sandbox_server.url
    settings.SANDBOX_CA_FILE = sandbox_server.ca
    return sandbox_server


@pytest.fixture(scope="session")
def worker_factory(django_db_setup, sandbox_server, tmp_path_factory):  # noqa: F811
    """Start real Celery workers on the test database; all are stopped at the end."""
    started = []

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
    return worker_factory()


def wait_for_job(job_id: int, timeout: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_done:
            return job
        time.sleep(0.2)
    steps = list(job.steps.values_list("order", "action", "status", "last_error"))
    raise AssertionError(f"job {job_id} still {job.status} ({job.waiting_reason}): {steps}")
