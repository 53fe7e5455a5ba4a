"""The events are emitted where the thing happens, inside its transaction: quarantine and
release (breaker and by hand), drift found by an inventory read (one event per connection
per run), access request transitions, jobs (quiet periodic reconciliations excepted)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning import quarantine
from provisioning.access import services as access_requests
from provisioning.events.models import Event
from provisioning.inventory.models import Drift
from provisioning.models import Job, RequestableResource
from provisioning.outbound import job_events
from tests.provisioning.inventory.test_drift import (  # noqa: F401 - dirs is a fixture
    add_to_group,
    dirs,
    graph,
    group_id,
    joined,
    read,
    remote_id,
)

pytestmark = pytest.mark.django_db


def kinds() -> list[str]:
    return list(Event.objects.order_by("occurred_at").values_list("kind", flat=True))


def test_the_breaker_and_the_msp_admin_quarantine_and_release(alpha, msp_admin):
    conn = alpha.connection
    for _ in range(quarantine.MIN_CALLS):
        quarantine.record_outcome(conn, ok=False, reason="HTTP 503")
    assert kinds() == ["connection.quarantined"]
    event = Event.objects.get()
    assert event.tenant == alpha.tenant and event.data["by"] == "breaker"
    assert event.data["connection"]["id"] == conn.pk and "HTTP 503" in event.data["reason"]

    quarantine.release(conn, actor=msp_admin)
    quarantine.hold(conn, actor=msp_admin, reason="maintenance")
    quarantine.hold(conn, actor=msp_admin, reason="again")  # held already: no news
    quarantine.release(conn, actor=msp_admin)
    assert kinds() == [
        "connection.quarantined",
        "connection.released",
        "connection.quarantined",
        "connection.released",
    ]
    assert Event.objects.filter(kind="connection.released").first().data["by"] == "msp-admin"


def test_drift_found_by_a_read_is_one_event_per_connection(dirs):  # noqa: F811
    ada = joined(dirs, "Ada")
    read(dirs)
    Event.objects.all().delete()  # the onboarding's job.succeeded
    add_to_group(dirs, ada, "Finance")
    graph(dirs, "DELETE", f"/groups/{group_id(dirs, 'Staff')}/members/{remote_id(ada)}/$ref")
    read(dirs)
    assert Drift.objects.filter(identity=ada).count() == 2
    (event,) = Event.objects.filter(kind="drift.detected")
    assert event.tenant == dirs.tenant
    assert (event.data["opened"], event.data["people"]) == (2, 1)
    assert {i["ref_name"] for i in event.data["items"]} == {"Finance", "Staff"}
    assert event.data["url"].endswith(f"/tenants/{dirs.tenant.slug}/drift/")
    read(dirs)  # the same drift found again is no news
    assert Event.objects.filter(kind="drift.detected").count() == 1


@pytest.fixture
def vpn(alpha):
    return RequestableResource.objects.create(
        tenant=alpha.tenant, connection=alpha.connection, kind="group", remote_id="g", name="VPN"
    )


def file(alpha, resource):
    return access_requests.file_request(
        alpha.identity, resource, reason="travel", ends_at=None, actor=alpha.technician
    )


def test_access_request_transitions(alpha, vpn):
    approved = file(alpha, vpn)
    access_requests.approve(approved, actor=alpha.client_admin, reason="ok")
    approved.refresh_from_db()
    access_requests.grant_finished(approved.grant_job, Job.Status.FAILED)
    assert kinds() == ["access_request.filed", "access_request.approved", "access_request.failed"]
    last = Event.objects.get(kind="access_request.failed")
    assert last.data["access_request"]["id"] == approved.pk
    assert last.data["access_request"]["resource"] == "VPN"
    assert last.data["person"]["id"] == alpha.identity.pk

    Event.objects.all().delete()
    access_requests.approve(file(alpha, vpn), actor=alpha.client_admin, reason="again")
    access_requests.grant_finished(
        Job.objects.filter(kind=Job.Kind.GRANT).latest("pk"), Job.Status.SUCCEEDED
    )
    assert kinds()[-1] == "access_request.granted"


def test_denied_and_expired_requests(alpha, vpn):
    denied = file(alpha, vpn)
    access_requests.deny(denied, actor=alpha.client_admin, reason="no")
    stale = file(alpha, vpn)
    access_requests.expire_stale_requests(now=timezone.now() + timedelta(days=365))
    assert kinds() == [
        "access_request.filed",
        "access_request.denied",
        "access_request.filed",
        "access_request.expired",
    ]
    assert Event.objects.get(kind="access_request.expired").data["access_request"]["id"] == stale.pk


def test_a_quiet_periodic_reconciliation_emits_nothing(alpha):
    job = Job.objects.create(tenant=alpha.tenant, identity=alpha.identity, kind=Job.Kind.RECONCILE)
    job_events.job_finished(job, Job.Status.SUCCEEDED)
    assert kinds() == []
    job.steps_total = 2  # as the engine ends a job: what it wrote is set on the job it passes
    job_events.job_finished(job, Job.Status.SUCCEEDED)
    job_events.job_finished(job, Job.Status.FAILED)
    assert kinds() == ["job.succeeded", "job.failed"]


def test_a_failed_job_tells_its_error_and_person(alpha):
    job = alpha.job
    job.error = "Graph said 403: Insufficient privileges"
    job_events.job_finished(job, Job.Status.FAILED)
    data = Event.objects.get(kind="job.failed").data
    assert data["job"]["error"] == "Graph said 403: Insufficient privileges"
    assert data["person"]["display_name"] == alpha.identity.display_name
    assert data["job"]["url"].endswith(f"/jobs/{job.pk}/")
