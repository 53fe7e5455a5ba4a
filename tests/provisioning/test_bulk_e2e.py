"""Bulk files end to end: the pages, a real Celery worker, the real SDKs, the sandbox.

A CSV onboarding reaches both directories of a tenant; a CSV offboarding of 30 of 100
managed people is held by the circuit breaker (nothing is sent) until an MSP admin confirms,
and then runs."""

import csv
import io
import time

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.models import Batch, DirectoryAccount, Identity, Job
from tests.factories import signed_in
from tests.provisioning.bulk_support import (
    OFFBOARD_OPTIONS,
    ONBOARD_HEADER,
    batch_of,
    csv_text,
    sandbox_tenant,
    upload,
)
from tests.provisioning.conftest import wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)
HX = {"HTTP_HX_REQUEST": "true"}


def wait_for_batch(batch: Batch, timeout: float = 120.0) -> list[Job]:
    deadline = time.monotonic() + timeout
    for job in batch.jobs.all():
        wait_for_job(job.pk, max(1.0, deadline - time.monotonic()))
    return list(batch.jobs.all())


def batch_url(name: str, batch: Batch) -> str:
    return reverse(name, kwargs={"tenant": batch.tenant.slug, "batch_id": batch.pk})


def test_csv_onboarding_reaches_every_directory(client, on_sandbox, worker):
    dirs = sandbox_tenant(on_sandbox, "bulkon", ("entra", "okta"))
    domain = dirs.tenant.primary_domain
    rows = [
        ["Ada", "Lovelace", "Sales", "", "", "", "Analyst", "", "", "E1"],
        ["Charles", "Babbage", "Sales;Support", "", f"cb@{domain}", "", "", "", "", "E2"],
        ["Grace", "Hopper", "Sales", "", "", "", "", "", "", "E3"],
    ]
    client.force_login(dirs.technician)
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    assert batch.rows_valid == 3
    client.post(batch_url("bulk_start", batch))

    jobs = wait_for_batch(batch)
    steps = {j.pk: list(j.steps.values_list("action", "status", "last_error")) for j in jobs}
    assert {j.status for j in jobs} == {Job.Status.SUCCEEDED}, steps
    for upn in (f"ada.lovelace@{domain}", f"cb@{domain}", f"grace.hopper@{domain}"):
        user = dirs.entra_user(upn)
        assert user is not None and user["accountEnabled"] is True, upn
        assert "Sales" in user["groups"] and user["licenses"] == ["SPE_E3"]
        assert dirs.okta_user(upn)["status"] == "ACTIVE"
    assert dirs.entra_user(f"ada.lovelace@{domain}")["jobTitle"] == "Analyst"
    babbage = dirs.entra_user(f"cb@{domain}")
    assert {a["app"] for a in babbage["appRoleAssignments"]} == {"Salesforce", "Slack"}
    assert Identity.objects.get(tenant=dirs.tenant, employee_id="E2").username == f"cb@{domain}"

    # the polled partial says 100 % and stops polling; the result lists every job
    partial = client.get(batch_url("bulk_batch", batch), **HX).content.decode()
    assert 'data-percent="100"' in partial and "hx-trigger" not in partial
    # and the header's badge says it is over, live (out of band) and on the page
    assert 'id="batch-status" hx-swap-oob="true"' in partial and ">Finished</span>" in partial
    page = client.get(batch_url("bulk_batch", batch)).content.decode()
    assert ">Finished</span>" in page and ">Started</span>" not in page
    result = list(csv.reader(io.StringIO(client.get(batch_url("bulk_result", batch))
                                         .content.decode("utf-8-sig"))))  # fmt: skip
    assert [(line[0], line[-3]) for line in result[1:]] == [
        ("2", "succeeded"), ("3", "succeeded"), ("4", "succeeded")
    ]  # fmt: skip
    assert sorted(int(line[-2]) for line in result[1:]) == sorted(j.pk for j in jobs)


@pytest.fixture
def hundred(on_sandbox):
    """A tenant managing 100 people; 30 of them have accounts in its Entra directory."""
    dirs = sandbox_tenant(on_sandbox, "breaker")
    domain = dirs.tenant.primary_domain
    people, remote_ids = [], {}
    for n in range(100):
        username = f"person{n:03d}@{domain}"
        if n < 30:
            remote_ids[username] = dirs.add_entra_user(username, "Person", f"{n:03d}")["id"]
        people.append(
            Identity(
                tenant=dirs.tenant,
                first_name="Person",
                last_name=f"{n:03d}",
                display_name=f"Person {n:03d}",
                username=username,
                email=username,
                status=Identity.Status.ACTIVE,
            )  # fmt: skip
        )
    Identity.objects.bulk_create(people)
    connection = dirs.tenant.connections.get(kind="entra")
    DirectoryAccount.objects.bulk_create(
        DirectoryAccount(identity=p, connection=connection, remote_id=remote_ids[p.username])
        for p in Identity.objects.filter(username__in=remote_ids)
    )  # as the portal's own onboarding would have linked them
    dirs.leavers = [p.username for p in people[:30]]
    return dirs


def test_offboarding_30_of_100_is_held_until_an_msp_admin_confirms(
    client, hundred, msp_admin, worker
):
    dirs = hundred
    text = csv_text(["username", "leave_at"], [[u, ""] for u in dirs.leavers])
    client.force_login(dirs.technician)
    batch = batch_of(upload(client, dirs.tenant, text, kind="offboard", **OFFBOARD_OPTIONS))
    preview = client.get(batch_url("bulk_batch", batch)).content.decode()
    assert "Offboards 30 of 100 managed people; more than 10 at once needs" in preview
    calls_before = dirs.stats("entra")["total_calls"]

    client.post(batch_url("bulk_start", batch))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.HELD and batch.hold_reason.startswith("Offboards 30 of")
    assert client.post(batch_url("batch_confirm", batch)).status_code == 403  # a technician
    time.sleep(2)  # a worker that wrongly got a job would have touched the directory by now
    assert set(batch.jobs.values_list("status", flat=True)) == {Job.Status.HELD}
    assert batch.jobs.count() == 30 and not batch.jobs.filter(steps__isnull=False).exists()
    assert dirs.stats("entra")["total_calls"] == calls_before
    assert all(dirs.entra_user(u)["accountEnabled"] for u in dirs.leavers)

    signed_in(client, msp_admin)  # the password typed: confirming asks it
    client.post(batch_url("batch_confirm", batch))
    jobs = wait_for_batch(batch, timeout=180)
    steps = [list(j.steps.values_list("action", "status", "last_error")) + [j.error] for j in jobs]
    assert {j.status for j in jobs} == {Job.Status.SUCCEEDED}, steps[:2]
    assert not any(dirs.entra_user(u)["accountEnabled"] for u in dirs.leavers)
    left = Identity.objects.filter(tenant=dirs.tenant, status=Identity.Status.LEFT)
    assert sorted(left.values_list("username", flat=True)) == dirs.leavers
    batch.refresh_from_db()
    assert batch.status == Batch.Status.STARTED and batch.confirmed_by == msp_admin
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"batch.upload", "batch.start", "batch.confirm"} <= actions
