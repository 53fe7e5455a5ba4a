"""polish3: a running job's steps done and failed read the same on every page that lists it.

`steps_done` and `steps_failed` are written when a job ends (`executor.end`): the Jobs list,
the person page and the client's home showed "0/4" beside a job with two succeeded steps,
where the job page (newcomer24) counted them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.models import Role
from provisioning.models import Job, Step
from tests.factories import make_joiner

pytestmark = pytest.mark.django_db


def _running_with_two_done_and_one_skipped(job: Job) -> Job:
    """`job` running with four steps: two succeeded, one skipped (counted as failed, as the
    end counts it), one pending; its stored counts still the zeros it started with."""
    job.status, job.started_at = Job.Status.RUNNING, timezone.now()
    job.steps_total, job.steps_done, job.steps_failed = 4, 0, 0
    job.finished_at = None
    job.save()
    job.steps.update(status=Step.Status.SUCCEEDED, last_error="")
    step = job.steps.get()
    for order, status in ((2, Step.Status.SUCCEEDED), (3, Step.Status.SKIPPED), (4, "pending")):
        step.pk, step.order, step.status = None, order, status
        step.save()
    return job


def _steps_cell(body: str) -> str:
    """The text of the (only) job's Steps cell."""
    start = body.index('<span class="cell-label">Steps </span>') + len(
        '<span class="cell-label">Steps </span>'
    )
    return body[start : body.index("</td>", start)]


def test_the_jobs_list_counts_a_running_jobs_steps_as_they_end(client, alpha):
    _running_with_two_done_and_one_skipped(alpha.job)
    client.force_login(alpha.technician)
    cell = _steps_cell(client.get(reverse("job_list")).content.decode())
    assert cell.startswith("2/4") and "(1 failed)" in cell


def test_the_person_page_counts_a_running_jobs_steps_as_they_end(client, alpha):
    job = _running_with_two_done_and_one_skipped(alpha.job)
    client.force_login(alpha.technician)
    url = reverse("identity_detail", args=[alpha.tenant.slug, job.identity_id])
    assert _steps_cell(client.get(url).content.decode()) == "2/4"


def test_the_clients_home_counts_a_running_jobs_steps_as_they_end(client, alpha):
    _running_with_two_done_and_one_skipped(alpha.job)
    client.force_login(alpha.people[Role.CLIENT_ADMIN])
    body = client.get(reverse("client_home", args=[alpha.tenant.slug])).content.decode()
    assert _steps_cell(body) == "2/4"


def test_a_finished_jobs_stored_counts_stand(client, alpha):
    """Once done, the counts the job ended with stand (its steps may span earlier rounds)."""
    job = _running_with_two_done_and_one_skipped(alpha.job)
    job.status, job.finished_at = Job.Status.PARTIAL, timezone.now()
    job.steps_done, job.steps_failed = 3, 1
    job.save()
    client.force_login(alpha.technician)
    assert _steps_cell(client.get(reverse("job_list")).content.decode()).startswith("3/4")


def test_the_jobs_list_counts_many_running_jobs_in_one_read(client, alpha):
    """Twenty running jobs cost the list no more queries than one: one aggregate, not one
    count per job."""
    _running_with_two_done_and_one_skipped(alpha.job)
    client.force_login(alpha.technician)
    client.get(reverse("job_list"))  # the session and caches warmed
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("job_list"))
    for n in range(19):
        _, job = make_joiner(alpha, first=f"Many{n}", last="Runner")
        _running_with_two_done_and_one_skipped(job)
    with CaptureQueriesContext(connection) as twenty:
        body = client.get(reverse("job_list")).content.decode()
    assert body.count('<span class="cell-label">Steps </span>2/4') == 20
    assert len(twenty.captured_queries) == len(one.captured_queries)
