"""Counts as a person reads them: a job whose one step failed, one whose steps all failed,
and a held run that offboards every managed person said "1 of 1 steps did not succeed" and
"Offboards 2 of 2 managed people"."""

import pytest

from provisioning.engine.executor import finish_job
from provisioning.lifecycle.services import hold_reason
from provisioning.models import Identity, Job
from tests.factories import make_identity, make_joiner

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("total", "failed", "said"),
    [
        (1, 1, "Its one step did not succeed."),
        (3, 3, "None of its 3 steps succeeded."),
        (3, 1, "1 of 3 steps did not succeed."),
        (4, 2, "2 of 4 steps did not succeed."),
    ],
)
def test_a_failed_jobs_error_counts_its_steps_in_words(alpha, total, failed, said):
    _, job = make_joiner(alpha, "Fay", "Steps")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, steps_total=total)
    job.refresh_from_db()
    finish_job(job, {"failed": failed, "done": total - failed})
    job.refresh_from_db()
    assert job.error == said


@pytest.mark.parametrize(
    ("managed", "leavers", "said"),
    [
        (2, 2, "Offboards all 2 managed people; more than 1 at once"),
        (3, 2, "Offboards 2 of 3 managed people; more than 1 at once"),
        (1, 1, "Offboards the one managed person; more than 1 at once"),
    ],
)
def test_a_hold_reason_counts_the_managed_people_in_words(alpha, managed, leavers, said):
    Identity.objects.filter(tenant=alpha.tenant).update(status=Identity.Status.LEFT)
    for n in range(managed):
        make_identity(alpha.tenant, "Held", f"Person{n}", status=Identity.Status.ACTIVE)
    assert hold_reason(alpha.tenant, leavers).startswith(said)
