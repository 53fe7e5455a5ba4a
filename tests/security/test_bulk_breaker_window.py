"""An offboarding file split in two to stay under the circuit breaker.

The breaker held "one bulk CSV upload" past the tenant's limit, so a technician who uploaded
the same leavers as several small files, one after another, offboarded them all with no MSP
admin asked, where the API, the HR webhook and SCIM count a tenant's leaves within an hour
together (`lifecycle.offboard_in_window`). A tenant's offboarding files started within that
hour are counted together too.
"""

from django.urls import reverse

from provisioning.models import Batch, Identity, Job
from tests.factories import make_identity
from tests.provisioning.bulk_support import OFFBOARD_OPTIONS, batch_of, csv_text, upload


def _people(tenant, count: int) -> list[Identity]:
    return [
        make_identity(tenant, "Lee", f"Leaver{n}", status=Identity.Status.ACTIVE)
        for n in range(count)
    ]


def _file(client, tenant, people: list[Identity]) -> Batch:
    text = csv_text(["username", "leave_at"], [[p.username, ""] for p in people])
    return batch_of(upload(client, tenant, text, kind="offboard", **OFFBOARD_OPTIONS))


def _url(name: str, batch: Batch) -> str:
    return reverse(name, kwargs={"tenant": batch.tenant.slug, "batch_id": batch.pk})


def test_offboarding_files_of_the_same_hour_are_held_together(client, alpha):
    tenant = alpha.tenant
    people = _people(tenant, 9)  # ten managed with the fixture's joiner: a limit of one
    assert tenant.offboard_hold_limit(10) == 1
    client.force_login(alpha.technician)

    first = _file(client, tenant, people[:1])
    client.post(_url("bulk_start", first))
    first.refresh_from_db()
    assert first.status == Batch.Status.STARTED  # one leaver: within the limit

    second = _file(client, tenant, people[1:2])
    preview = client.get(_url("bulk_batch", second)).content.decode()
    assert "within the hour (1 by earlier asks)" in preview
    client.post(_url("bulk_start", second))
    second.refresh_from_db()
    assert second.status == Batch.Status.HELD
    assert "within the hour" in second.hold_reason
    assert set(second.jobs.values_list("status", flat=True)) == {Job.Status.HELD}


def test_a_cancelled_file_does_not_count(client, alpha):
    tenant = alpha.tenant
    people = _people(tenant, 9)
    client.force_login(alpha.technician)
    first = _file(client, tenant, people[:1])
    client.post(_url("bulk_start", first))
    Job.objects.filter(batch=first).update(status=Job.Status.CANCELLED)

    second = _file(client, tenant, people[1:2])
    client.post(_url("bulk_start", second))
    second.refresh_from_db()
    assert second.status == Batch.Status.STARTED
