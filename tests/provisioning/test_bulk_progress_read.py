"""The batch page's progress and its rows are read one after the other, while the worker ends
jobs: the rows must never be older than the counts (the page stops polling when the counts
say every job has ended)."""

import pytest
from django.urls import reverse

from provisioning.bulk import views as bulk_views
from provisioning.models import Batch, BatchRow, Job

pytestmark = pytest.mark.django_db


def test_a_job_ending_while_the_page_is_read_leaves_no_row_running_on_a_finished_batch(
    client, alpha, monkeypatch
):
    """newcomer24: a CSV onboarding's page read "Finished · 2 / 2 Jobs finished · 0 Queued or
    running" above Alan Turing's row still "Running", and stayed so (nothing more was polled):
    the rows were read before the counts, and his job ended between the two reads."""
    identity, job = alpha.identity, alpha.job
    job.status = Job.Status.RUNNING
    job.save(update_fields=["status"])
    batch = Batch.objects.create(
        tenant=alpha.tenant, kind=Batch.Kind.CSV_ONBOARD, status=Batch.Status.STARTED,
        rows_total=1, rows_valid=1,
    )  # fmt: skip
    job.batch = batch
    job.save(update_fields=["batch"])
    BatchRow.objects.create(
        batch=batch, line=2, data={"first_name": "Pat"}, identity=identity, job=job
    )

    shown = bulk_views._shown

    def the_worker_ends_the_job_meanwhile(row):
        Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
        return shown(row)

    monkeypatch.setattr(bulk_views, "_shown", the_worker_ends_the_job_meanwhile)
    client.force_login(alpha.technician)
    url = reverse("bulk_batch", kwargs={"tenant": alpha.tenant.slug, "batch_id": batch.pk})
    page = client.get(url).content.decode()

    polled = 'data-hx-trigger="every 2s"' in page
    row_running = ">Running<" in page
    assert polled or not row_running, "a finished batch shows a row still running, unpolled"
