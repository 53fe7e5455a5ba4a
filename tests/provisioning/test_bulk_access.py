"""Who may use the bulk pages: technicians and MSP admins of the tenant. Another tenant's
technician gets 404 for everything, an account manager or client admin 403; a held batch is
confirmed or cancelled by an MSP admin only."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.models import Batch, BatchRow, Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(alpha):
    batch = Batch.objects.create(
        tenant=alpha.tenant, kind=Batch.Kind.CSV_ONBOARD, filename="people.csv", rows_total=1
    )
    BatchRow.objects.create(
        batch=batch, line=2, data={"input": {"first_name": "=1+1"}}, errors=["first_name ..."]
    )
    return batch


@pytest.fixture
def held(alpha):
    """A held offboarding of alpha's one person."""
    batch = Batch.objects.create(
        tenant=alpha.tenant,
        kind=Batch.Kind.CSV_OFFBOARD,
        status=Batch.Status.HELD,
        hold_reason="Offboards 1 of 1 managed people.",
        rows_total=1,
        rows_valid=1,
    )
    job = Job.objects.create(
        tenant=alpha.tenant,
        identity=alpha.identity,
        kind=Job.Kind.LEAVE,
        status=Job.Status.HELD,
        batch=batch,
    )
    BatchRow.objects.create(
        batch=batch, line=2, data={"input": {}}, identity=alpha.identity, job=job
    )
    return batch


def pages(tenant, batch) -> list[tuple[str, str]]:
    slug, kwargs = tenant.slug, {"tenant": tenant.slug, "batch_id": batch.pk}
    return [
        ("get", reverse("bulk_list", kwargs={"tenant": slug})),
        ("get", reverse("bulk_upload", kwargs={"tenant": slug})),
        ("post", reverse("bulk_upload", kwargs={"tenant": slug})),
        ("get", reverse("bulk_template", kwargs={"tenant": slug}) + "?kind=offboard"),
        ("get", reverse("bulk_batch", kwargs=kwargs)),
        ("get", reverse("bulk_result", kwargs=kwargs)),
        ("post", reverse("bulk_start", kwargs=kwargs)),
        ("post", reverse("bulk_choose", kwargs=kwargs)),
        ("post", reverse("bulk_discard", kwargs=kwargs)),
        ("post", reverse("batch_confirm", kwargs=kwargs)),
        ("post", reverse("batch_cancel", kwargs=kwargs)),
    ]


def test_technician_of_another_tenant_gets_404(client, alpha, bravo, batch):
    client.force_login(bravo.technician)
    events = AuditEvent.objects.exclude(action="security.request_refused").count()
    for method, url in pages(alpha.tenant, batch):
        assert getattr(client, method)(url).status_code == 404, url
    # Nothing done; each refused change is on the trail as an attempt, outside alpha's chain.
    assert AuditEvent.objects.exclude(action="security.request_refused").count() == events
    refused = AuditEvent.objects.filter(action="security.request_refused")
    posts = [url for method, url in pages(alpha.tenant, batch) if method == "post"]
    assert refused.count() == len(posts) and not refused.filter(tenant_id=alpha.tenant.pk).exists()


@pytest.mark.parametrize("role", ["account_manager", "client_admin"])
def test_readers_of_the_tenant_get_403(client, alpha, batch, role):
    client.force_login(getattr(alpha, role))
    for method, url in pages(alpha.tenant, batch):
        assert getattr(client, method)(url).status_code == 403, url
    batch.refresh_from_db()
    assert batch.status == Batch.Status.VALIDATED


def test_technician_and_msp_admin_see_the_pages(client, alpha, batch, msp_admin):
    for person in (alpha.technician, msp_admin):
        client.force_login(person)
        for method, url in pages(alpha.tenant, batch)[:6]:
            if method == "get":
                assert client.get(url).status_code == 200, url
    body = client.get(reverse("people_list", kwargs={"tenant": alpha.tenant.slug})).content
    assert reverse("bulk_list", kwargs={"tenant": alpha.tenant.slug}).encode() in body


def test_a_held_batch_waits_for_an_msp_admin(client, alpha, held, msp_admin):
    kwargs = {"tenant": alpha.tenant.slug, "batch_id": held.pk}
    client.force_login(alpha.technician)
    page = client.get(reverse("bulk_batch", kwargs=kwargs)).content.decode()
    assert "Needs an MSP admin's confirmation" in page and "confirm-batch" not in page
    assert client.post(reverse("batch_confirm", kwargs=kwargs)).status_code == 403
    assert Job.objects.get(batch=held).status == Job.Status.HELD

    client.force_login(msp_admin)
    page = client.get(reverse("bulk_batch", kwargs=kwargs)).content.decode()
    assert 'id="confirm-batch"' in page and "Offboards 1 of 1 managed people." in page
    client.post(reverse("batch_cancel", kwargs=kwargs))
    held.refresh_from_db()
    assert held.status == Batch.Status.CANCELLED
    assert Job.objects.get(batch=held).status == Job.Status.CANCELLED
    assert AuditEvent.objects.filter(action="batch.cancel").count() == 1


def test_the_list_says_finished_as_the_batch_page_does(client, alpha):
    """A started batch whose jobs have all ended reads "Finished" in the list too."""
    outcomes = {
        "clean": [Job.Status.SUCCEEDED],
        "failed": [Job.Status.SUCCEEDED, Job.Status.FAILED],
    }
    batches = {}
    for name, statuses in outcomes.items():
        batches[name] = Batch.objects.create(
            tenant=alpha.tenant, kind=Batch.Kind.CSV_ONBOARD, status=Batch.Status.STARTED
        )
        for status in statuses:
            Job.objects.create(
                tenant=alpha.tenant, identity=alpha.identity, kind=Job.Kind.JOIN,
                status=status, batch=batches[name],
            )  # fmt: skip
    client.force_login(alpha.technician)
    listed = client.get(reverse("bulk_list", kwargs={"tenant": alpha.tenant.slug})).content.decode()
    for name, label in (("clean", "Finished"), ("failed", "Finished, with failures")):
        kwargs = {"tenant": alpha.tenant.slug, "batch_id": batches[name].pk}
        page = client.get(reverse("bulk_batch", kwargs=kwargs)).content.decode()
        assert f">{label}</span>" in page
    assert listed.count(">Finished</span>") == 1 and ">Finished, with failures</span>" in listed
    assert ">Started</span>" not in listed


def test_the_list_and_the_batch_tell_its_time_in_the_tenants_zone(client, alpha, batch):
    """As the tenant's other pages (people, jobs, schedule): New York's batch of 14:30 UTC
    reads 09:30, and the page names the zone."""
    alpha.tenant.time_zone = "America/New_York"
    alpha.tenant.save(update_fields=["time_zone"])
    Batch.objects.filter(pk=batch.pk).update(created_at=datetime(2026, 12, 3, 14, 30, tzinfo=UTC))
    client.force_login(alpha.technician)
    listed = client.get(reverse("bulk_list", kwargs={"tenant": alpha.tenant.slug}))
    page = client.get(
        reverse("bulk_batch", kwargs={"tenant": alpha.tenant.slug, "batch_id": batch.pk})
    )
    for response in (listed, page):
        body = response.content.decode()
        assert "3 Dec 2026 09:30" in body and "14:30" not in body
        assert "America/New_York" in body
