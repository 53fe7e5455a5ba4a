import time

from provisioning.models import Job


def wait_for_job(job_id: int, timeout: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_done:
            return job
        time.sleep(0.2)
    steps = list(job.steps.values_list("order", "action", "status", "last_error"))
    raise AssertionError(f"job {job_id} still {job.status} ({job.waiting_reason}): {steps}")
