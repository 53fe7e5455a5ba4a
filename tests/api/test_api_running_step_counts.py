"""polish3: the API gives a running job's steps done and failed as the pages do (counted from
its steps until it ends), in one aggregate for a page of jobs."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_joiner
from tests.provisioning.test_running_step_counts import _running_with_two_done_and_one_skipped

pytestmark = pytest.mark.django_db


def test_the_api_counts_a_running_jobs_steps_as_they_end(alpha, api_as):
    job = _running_with_two_done_and_one_skipped(alpha.job)
    client = api_as(alpha.technician)
    listed = client.get("/api/v1/jobs").json()["items"]
    one = client.get(f"/api/v1/jobs/{job.pk}").json()
    for body in (listed[0], one):
        assert (body["steps_done"], body["steps_failed"], body["steps_total"]) == (2, 1, 4)


def test_a_page_of_running_jobs_costs_the_api_one_count(alpha, api_as):
    _running_with_two_done_and_one_skipped(alpha.job)
    client = api_as(alpha.technician)
    client.get("/api/v1/jobs")
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/jobs")
    for n in range(9):
        _running_with_two_done_and_one_skipped(make_joiner(alpha, f"Api{n}", "Runner")[1])
    with CaptureQueriesContext(connection) as ten:
        items = client.get("/api/v1/jobs").json()["items"]
    assert [item["steps_done"] for item in items] == [2] * 10
    assert len(ten.captured_queries) == len(one.captured_queries)
