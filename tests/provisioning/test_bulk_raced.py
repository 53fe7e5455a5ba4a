"""An offboarding file started while another channel finishes one of its people.

The file's start checks its people (`service._recheck`: a row whose person has left since
the upload gets that error) and then asks each leave under the person's lock
(`lifecycle.request_offboarding`). A leave asked through the HR webhook, the API or the form
that ends in between (the person LEFT), or a scheduled hard delete that starts (DELETED),
made that ask raise `ValueError("… has left already")`: the start answered 500 and none of
the file's leaves were queued. The row is left out with the recheck's error instead, and the
rest of the file starts.
"""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.bulk import service
from provisioning.models import Batch, BatchRow, Identity, Job
from tests.factories import make_identity
from tests.provisioning.bulk_support import OFFBOARD_OPTIONS, batch_of, csv_text, upload


def _people(tenant, count: int) -> list[Identity]:
    return [
        make_identity(tenant, "Ray", f"Raced{n}", status=Identity.Status.ACTIVE)
        for n in range(count)
    ]


@pytest.mark.parametrize("meanwhile", [Identity.Status.LEFT, Identity.Status.DELETED])
def test_a_person_who_left_between_the_check_and_the_ask_is_left_out(
    client, alpha, monkeypatch, meanwhile
):
    tenant = alpha.tenant
    first, second, *_ = _people(tenant, 20)  # two leavers of 21 managed: within the breaker
    assert tenant.offboard_hold_limit(21) >= 2
    client.force_login(alpha.technician)
    text = csv_text(["username", "leave_at"], [[first.username, ""], [second.username, ""]])
    batch = batch_of(upload(client, tenant, text, kind="offboard", **OFFBOARD_OPTIONS))

    recheck = service._recheck

    def then_the_other_channel_ends(batch, rows):
        skipped = recheck(batch, rows)
        # What another transaction commits now: the webhook's leave done, or the hard delete.
        Identity.objects.filter(pk=first.pk).update(status=meanwhile)
        return skipped

    monkeypatch.setattr(service, "_recheck", then_the_other_channel_ends)
    url = reverse("bulk_start", kwargs={"tenant": tenant.slug, "batch_id": batch.pk})
    response = client.post(url)

    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == Batch.Status.STARTED
    assert list(batch.jobs.values_list("identity_id", "kind")) == [(second.pk, Job.Kind.LEAVE)]
    row = BatchRow.objects.get(batch=batch, identity_id=first.pk)
    assert row.job_id is None
    assert row.errors == ["This person has left since the file was checked."]
    assert Identity.objects.get(pk=second.pk).status == Identity.Status.LEAVER
    start = AuditEvent.objects.get(action="batch.start", target_id=str(batch.pk))
    assert start.after["jobs"] == 1
    assert not AuditEvent.objects.filter(action="identity.offboard", target_id=str(first.pk))


def test_a_file_whose_every_person_left_meanwhile_starts_nothing(client, alpha, monkeypatch):
    tenant = alpha.tenant
    (only,) = _people(tenant, 1)
    client.force_login(alpha.technician)
    text = csv_text(["username", "leave_at"], [[only.username, ""]])
    batch = batch_of(upload(client, tenant, text, kind="offboard", **OFFBOARD_OPTIONS))
    recheck = service._recheck

    def then_the_other_channel_ends(batch, rows):
        skipped = recheck(batch, rows)
        Identity.objects.filter(pk=only.pk).update(status=Identity.Status.LEFT)
        return skipped

    monkeypatch.setattr(service, "_recheck", then_the_other_channel_ends)
    url = reverse("bulk_start", kwargs={"tenant": tenant.slug, "batch_id": batch.pk})
    response = client.post(url, follow=True)

    assert response.status_code == 200
    assert "No row of this file can be queued" in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == Batch.Status.VALIDATED
    assert not batch.jobs.exists()


def _start_with_one_leaving_meanwhile(client, tenant, people, monkeypatch) -> Batch:
    """An offboarding file of `people` started while the first of them leaves through
    another channel, between the start's check and its asks."""
    text = csv_text(["username", "leave_at"], [[p.username, ""] for p in people])
    batch = batch_of(upload(client, tenant, text, kind="offboard", **OFFBOARD_OPTIONS))
    recheck = service._recheck

    def then_the_other_channel_ends(batch, rows):
        skipped = recheck(batch, rows)
        Identity.objects.filter(pk=people[0].pk).update(status=Identity.Status.LEFT)
        return skipped

    monkeypatch.setattr(service, "_recheck", then_the_other_channel_ends)
    url = reverse("bulk_start", kwargs={"tenant": tenant.slug, "batch_id": batch.pk})
    assert client.post(url).status_code == 302
    batch.refresh_from_db()
    return batch


@pytest.fixture
def limit_of_two(client, alpha) -> list[Identity]:
    """Six people of a tenant whose breaker lets two leave at once; a technician signed in."""
    tenant = alpha.tenant
    tenant.offboard_hold_count, tenant.offboard_hold_percent = 2, 100
    tenant.save(update_fields=["offboard_hold_count", "offboard_hold_percent"])
    client.force_login(alpha.technician)
    return _people(tenant, 6)


def test_the_breaker_counts_only_the_leaves_the_file_asks(client, alpha, limit_of_two, monkeypatch):
    """Three leavers of a file with a limit of two, one of them gone meanwhile: the file
    offboards two, within the limit, and runs (it was held, 'Offboards 3 of …')."""
    tenant, people = alpha.tenant, limit_of_two

    batch = _start_with_one_leaving_meanwhile(client, tenant, people[:3], monkeypatch)

    assert batch.status == Batch.Status.STARTED, batch.hold_reason
    assert set(batch.jobs.values_list("identity_id", flat=True)) == {p.pk for p in people[1:3]}
    assert not batch.jobs.filter(status=Job.Status.HELD).exists()


def test_a_held_file_says_how_many_it_offboards(client, alpha, limit_of_two, monkeypatch):
    """Four leavers of a file with a limit of two, one gone meanwhile: held, for three."""
    tenant, people = alpha.tenant, limit_of_two

    batch = _start_with_one_leaving_meanwhile(client, tenant, people[:4], monkeypatch)

    assert batch.status == Batch.Status.HELD
    assert batch.hold_reason.startswith("Offboards 3 of "), batch.hold_reason
    assert batch.jobs.filter(status=Job.Status.HELD).count() == 3
    start = AuditEvent.objects.get(action="batch.start", target_id=str(batch.pk))
    assert start.after["hold_reason"] == batch.hold_reason
