"""An onboarding file started while the form onboards one of its people, in real concurrent
transactions (PostgreSQL; convergence check converge24).

The form's onboarding inserts the joiner (their username's slot in the unique index, held
until commit), then records (the tenant's audit head). The file's start onboarded its rows
one by one, each inserted and recorded: its first row's record took the head, its second
row's INSERT of the same username waited for the form, and the form's record waited for
the head: PostgreSQL aborted one (the file's 500, every row undone, or the form's). The
form must commit, and the file meet the taken username as it does one taken before it
started: refused whole, "upload the file again", nothing of it queued."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from provisioning import services
from provisioning.bulk import service
from provisioning.engine.tasks import run_job
from provisioning.models import Batch, Identity
from tests.provisioning.bulk_support import (
    ONBOARD_HEADER,
    batch_of,
    csv_text,
    sandbox_tenant,
    upload,
)
from tests.provisioning.crossing import FIRST, WAIT_S, released_once_waiting

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
]


def test_a_file_started_as_the_form_onboards_its_second_person_is_refused_not_deadlocked(
    client, on_sandbox, monkeypatch
):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = sandbox_tenant(on_sandbox, "bulkx")
    domain = dirs.tenant.primary_domain
    ada = f"ada.lovelace@{domain}"
    rows = [
        ["Bob", "Builder", "Sales", "", f"bob.builder@{domain}", "", "", "", "", ""],
        ["Ada", "Lovelace", "Sales", "", ada, "", "", "", "", ""],
    ]
    client.force_login(dirs.technician)
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    assert batch.rows_valid == 2
    form_inserted, file_waits = threading.Event(), threading.Event()
    record = services.record

    def pausing_before_the_record(*args, **kwargs):
        if threading.current_thread().name == FIRST and not form_inserted.is_set():
            form_inserted.set()
            assert file_waits.wait(WAIT_S), "the file's start never waited for a lock"
        return record(*args, **kwargs)

    monkeypatch.setattr(services, "record", pausing_before_the_record)
    refused: list[str] = []

    def form_onboarding():
        request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
        services.request_onboarding(dirs.tenant, request, username=ada, actor=dirs.technician)

    def file_start():
        assert form_inserted.wait(WAIT_S)
        try:
            service.start(batch, actor=dirs.technician)
        except IntegrityError:  # what the start view turns into "upload the file again"
            refused.append("taken")

    released_once_waiting(form_onboarding, file_start, file_waits)

    assert refused == ["taken"]
    batch.refresh_from_db()
    assert batch.status == Batch.Status.VALIDATED and not batch.jobs.exists()
    joiners = Identity.objects.filter(tenant=dirs.tenant)
    assert list(joiners.values_list("username", flat=True)) == [ada]
    assert joiners.get().jobs.get().batch_id is None  # the form's join
    assert AuditEvent.objects.filter(action="identity.onboard").count() == 1
    report = verify_all(dirs.tenant.pk)
    assert report.ok, report.breaks
