"""A leave asked through the form while an offboarding file starts, or while the HR webhook
(or the API, or SCIM: `offboard_in_window`) offboards the same person, in real concurrent
transactions (PostgreSQL; convergence check converge18).

The form's leave locks the person, then writes the job and the audit event (the tenant's
audit head, held until commit; the job's and the event's tenant checked at commit, a key
share of the tenant's row). The others locked the tenant's row for update (the file's batch
with its tenant, the breaker's "one at a time"), and then each person: the form's commit
waited for the tenant, the other for the person, and PostgreSQL aborted one of them (the
technician's 500 or the whole file undone; HR's event answered 500). A file also recorded
its first row's leave before it locked the next row's person, and a webhook leave that trips
the breaker recorded the hold before it locked the person: each then waited for the person
holding the head the form waited for. Every ask must go through, each person ending a leaver
under the ask taken last, each ask in the trail once, the chain whole."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from provisioning import services
from provisioning.bulk import columns, service
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import AccessRequest, Batch, Identity, Job, RequestableResource
from provisioning.scim import service as scim_service
from provisioning.scim import tokens as scim_tokens
from tenants import services as tenant_services
from tests.factories import make_identity, make_tenant_world
from tests.provisioning.bulk_support import csv_text
from tests.provisioning.crossing import FIRST, WAIT_S, released_once_waiting

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
]

FORM_OPTIONS = lifecycle.OffboardingOptions(delete_after_days=0)


@pytest.fixture(autouse=True)
def no_worker_runs_the_jobs(monkeypatch):
    """The race is the asks', under the people's locks: their jobs are checked as queued."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)


@pytest.fixture
def world(db):
    world = make_tenant_world("crossing", "Crossing Ltd")
    world.tenant.offboard_hold_count, world.tenant.offboard_hold_percent = 10, 100
    world.tenant.save(update_fields=["offboard_hold_count", "offboard_hold_percent"])
    return world


def cross(monkeypatch, person: Identity, actor, other: Callable[[], object]) -> None:
    """The form's leave of `person` locks them and pauses; `other` starts and is seen waiting
    for a lock; the form's leave goes on. Neither may fail."""
    form_holds, other_waits = threading.Event(), threading.Event()
    lock_pending = lifecycle._lock_pending

    def pausing_after_the_lock(identity):
        lock_pending(identity)
        if threading.current_thread().name == FIRST and not form_holds.is_set():
            form_holds.set()
            assert other_waits.wait(WAIT_S), "the other ask never waited for a lock"

    monkeypatch.setattr(lifecycle, "_lock_pending", pausing_after_the_lock)

    def form_leave():
        lifecycle.request_offboarding(person, FORM_OPTIONS, actor=actor)

    def other_ask():
        assert form_holds.wait(WAIT_S)
        other()

    released_once_waiting(form_leave, other_ask, other_waits)


def _offboards(person: Identity) -> int:
    return AuditEvent.objects.filter(target_id=str(person.pk), action="identity.offboard").count()


def _a_leaver_by(person: Identity, batch: Batch) -> None:
    person.refresh_from_db()
    assert person.status == Identity.Status.LEAVER
    latest = person.jobs.order_by("-pk").first()
    assert (latest.kind, latest.batch_id) == (Job.Kind.LEAVE, batch.pk)
    assert latest.desired_version == person.desired_version


def test_a_file_and_a_form_leave_of_its_second_person_both_go_through(monkeypatch, world):
    tenant, tech = world.tenant, world.technician
    first, second = (
        make_identity(tenant, "Fay", f"Filed{n}", status=Identity.Status.ACTIVE) for n in (1, 2)
    )
    text = csv_text(["username", "leave_at"], [[first.username, ""], [second.username, ""]])
    batch = service.upload(tenant, columns.OFFBOARD, "leavers.csv", text.encode(), actor=tech)
    assert batch.rows_valid == 2, batch.rows.values_list("errors", flat=True)

    cross(monkeypatch, second, tech, lambda: service.start(batch, actor=tech))

    batch.refresh_from_db()
    assert batch.status == Batch.Status.STARTED
    for person in (first, second):
        _a_leaver_by(person, batch)
    assert (_offboards(first), _offboards(second)) == (1, 2)
    report = verify_all(tenant.pk)
    assert report.ok, report.breaks


@pytest.mark.parametrize("trips_the_breaker", [False, True], ids=["within", "held"])
def test_a_webhook_leave_and_a_form_leave_of_one_person_both_go_through(
    monkeypatch, world, trips_the_breaker
):
    tenant, tech = world.tenant, world.technician
    person = make_identity(tenant, "Hal", "Hired", status=Identity.Status.ACTIVE)
    if trips_the_breaker:
        tenant.offboard_hold_count = 0
        tenant.save(update_fields=["offboard_hold_count"])

    def webhook_leave():
        options = lifecycle.OffboardingOptions.preset_for(tenant)
        lifecycle.offboard_in_window(person, options, kind=Batch.Kind.WEBHOOK, actor="webhook")

    cross(monkeypatch, person, tech, webhook_leave)

    batch = Batch.objects.get(tenant=tenant, kind=Batch.Kind.WEBHOOK)
    latest = person.jobs.order_by("-pk").first()
    assert latest.status == (Job.Status.HELD if trips_the_breaker else Job.Status.QUEUED)
    if not trips_the_breaker:
        _a_leaver_by(person, batch)
    assert _offboards(person) == 2
    report = verify_all(tenant.pk)
    assert report.ok, report.breaks


def test_a_licence_choice_and_a_form_leave_of_its_person_both_go_through(monkeypatch, world):
    """A join waiting for a licence choice (`services.choose_licences` locked the job with
    its tenant's row for update, then the person) answered while a form leave holds them."""
    tenant, tech = world.tenant, world.technician
    person = make_identity(tenant, "Lou", "Licensed", status=Identity.Status.JOINER)
    waiting = Job.objects.create(
        tenant=tenant,
        identity=person,
        kind=Job.Kind.JOIN,
        status=Job.Status.NEEDS_CHOICE,
        options={"choices": [{"subject": "SPE_E3"}]},
    )

    cross(
        monkeypatch,
        person,
        tech,
        lambda: services.choose_licences(waiting, {"SPE_E3": ""}, actor=tech),
    )

    waiting.refresh_from_db()
    person.refresh_from_db()
    assert waiting.status == Job.Status.QUEUED
    assert person.status == Identity.Status.LEAVER
    assert person.license_choices == {"SPE_E3": ""}
    assert waiting.desired_version == person.desired_version  # the choice was taken last
    assert AuditEvent.objects.filter(action="job.choose", job_id=str(waiting.pk)).count() == 1
    report = verify_all(tenant.pk)
    assert report.ok, report.breaks


def test_a_bulk_choice_being_dry_run_lets_the_tenants_asks_commit(monkeypatch, world):
    """`bulk.service.choose` dry-runs the file again (the directory's seats and look-ups)
    holding its batch; it held the tenant's row with it (`select_related`), so every job and
    audit event of the tenant waited at commit for the directory's answers. A form leave
    asked meanwhile must commit while the dry run is still under way."""
    tenant, tech = world.tenant, world.technician
    person = make_identity(tenant, "Dee", "Dryrun", status=Identity.Status.ACTIVE)
    batch = Batch.objects.create(
        tenant=tenant, kind=Batch.Kind.CSV_ONBOARD, status=Batch.Status.VALIDATED, options={}
    )
    dry_running, left = threading.Event(), threading.Event()
    check = service.dry_run.check

    def slow_directory(tenant, rows):
        dry_running.set()
        left.wait(WAIT_S)  # the directory's answers take a while; the leave must not wait
        return check(tenant, rows)

    monkeypatch.setattr(service.dry_run, "check", slow_directory)
    order: list[str] = []

    def choosing():
        try:
            service.choose(batch, {}, actor=tech)
            order.append("chosen")
        except Exception as exc:  # noqa: BLE001 - reported below
            order.append(f"choose: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    thread = threading.Thread(target=choosing)
    thread.start()
    try:
        assert dry_running.wait(WAIT_S)
        lifecycle.request_offboarding(person, FORM_OPTIONS, actor=tech)
        order.append("left")
        left.set()
    finally:
        left.set()
        thread.join()
    assert order == ["left", "chosen"]


def test_a_scim_delete_and_a_webhook_leave_of_one_person_both_go_through(monkeypatch, world):
    """SCIM locked the person, then the breaker's window (the tenant's row); the webhook, the
    API and a file lock the window, then the person. A SCIM client's DELETE and HR's
    terminate of the same person deadlocked."""
    tenant, tech = world.tenant, world.technician
    person = make_identity(tenant, "Sam", "Scimmed", status=Identity.Status.ACTIVE)
    token, _ = scim_tokens.issue(tenant, "Okta production", actor=tech)
    scim_holds, webhook_waits = threading.Event(), threading.Event()
    in_window = lifecycle.offboard_in_window

    def pausing_before_the_window(*args, **kwargs):
        if threading.current_thread().name == FIRST:
            scim_holds.set()
            assert webhook_waits.wait(WAIT_S), "the webhook's leave never waited for a lock"
        return in_window(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "offboard_in_window", pausing_before_the_window)

    def scim_delete():
        scim_service.delete(person, token=token, http_request=None)

    def webhook_leave():
        assert scim_holds.wait(WAIT_S)
        options = lifecycle.OffboardingOptions.preset_for(tenant)
        in_window(person, options, kind=Batch.Kind.WEBHOOK, actor="webhook")

    released_once_waiting(scim_delete, webhook_leave, webhook_waits)

    person.refresh_from_db()
    assert person.status == Identity.Status.LEAVER
    assert _offboards(person) == 2
    report = verify_all(tenant.pk)
    assert report.ok, report.breaks


@pytest.mark.parametrize("edit", ["update", "update taking a group", "held edit confirmed"])
def test_a_role_template_edit_and_a_form_leave_of_its_holder_both_go_through(
    monkeypatch, world, edit
):
    """A template's edit recorded its update (the tenant's audit head, held until commit),
    then locked its holders to ask each again (`template_changed`); a form leave holding a
    holder waited for the head: PostgreSQL aborted one (the edit's or the leave's 500)."""
    tenant, tech, template = world.tenant, world.technician, world.template
    person = make_identity(tenant, "Tia", "Templated", status=Identity.Status.ACTIVE)
    person.role_templates.add(template)

    def template_edit():
        template.groups = [*template.groups, "Crossing Extra"]
        if edit == "update taking a group":  # counted in the breaker's hour (attack23)
            template.groups = template.groups[1:]
        if edit.startswith("update"):
            tenant_services.save_role_template(template, actor=tech)
        else:
            tenant_services.apply_held_edit(template, {"groups": template.groups}, actor=tech)

    cross(monkeypatch, person, tech, template_edit)

    person.refresh_from_db()
    assert person.status == Identity.Status.LEAVER
    kinds = list(person.jobs.order_by("pk").values_list("kind", flat=True))
    assert kinds == [Job.Kind.LEAVE, Job.Kind.CHANGE]  # the edit asked them again after
    assert person.jobs.order_by("-pk").first().desired_version == person.desired_version
    assert AuditEvent.objects.filter(action="role_template.update").count() == 1
    report = verify_all(tenant.pk)
    assert report.ok, report.breaks


def test_a_failed_grants_retry_and_a_form_leave_of_its_person_both_go_through(monkeypatch, world):
    """A technician retries a failed grant (the request back to approved, the person's
    desired state asked again) as the person's leave is asked. The retry recorded
    `job.retry` (the tenant's audit head) and then raised the person's desired version (a
    write to their row) while the leave held the row and waited for the head."""
    tenant, tech = world.tenant, world.technician
    person = make_identity(tenant, "Gil", "Granted", status=Identity.Status.ACTIVE)
    resource = RequestableResource.objects.create(
        tenant=tenant, connection=world.connection, kind="group", remote_id="g-vpn", name="VPN"
    )
    grant = Job.objects.create(
        tenant=tenant, identity=person, kind=Job.Kind.GRANT, status=Job.Status.FAILED
    )
    request = AccessRequest.objects.create(
        tenant=tenant,
        identity=person,
        resource=resource,
        status=AccessRequest.Status.FAILED,
        reason="travel",
        grant_job=grant,
    )
    grant.options = {"access_request": request.pk}
    grant.save(update_fields=["options"])

    cross(monkeypatch, person, tech, lambda: services.retry_failed_steps(grant, actor=tech))

    person.refresh_from_db()
    assert person.status == Identity.Status.LEAVER
    assert AuditEvent.objects.filter(action="job.retry", job_id=str(grant.pk)).count() == 1
    assert _offboards(person) == 1
    report = verify_all(tenant.pk)
    assert report.ok, report.breaks


def test_a_held_files_confirm_and_a_form_leave_of_its_person_both_go_through(monkeypatch, world):
    """An MSP admin confirms a held offboarding file as the form offboards one of its people
    now. The confirm started its held leaves one by one, each person locked and the start
    recorded (the audit head) before the next person was locked: it waited for the person
    the form held, the form for the head."""
    tenant, tech = world.tenant, world.technician
    first, second = (
        make_identity(tenant, "Hal", f"Heldback{n}", status=Identity.Status.ACTIVE) for n in (1, 2)
    )
    batch = Batch.objects.create(
        tenant=tenant, kind=Batch.Kind.CSV_OFFBOARD, status=Batch.Status.VALIDATED, options={}
    )
    for person in (second, first):  # jobs go newest first: the first's leave starts first
        lifecycle.request_offboarding(person, FORM_OPTIONS, actor=tech, batch=batch, hold=True)
    lifecycle.hold_batch(batch, "Offboards 2 of 2 managed people")

    cross(monkeypatch, second, tech, lambda: lifecycle.confirm_batch(batch, actor=tech))

    batch.refresh_from_db()
    assert batch.status == Batch.Status.STARTED
    _a_leaver_by(first, batch)
    second.refresh_from_db()
    assert second.status == Identity.Status.LEAVER
    latest = second.jobs.order_by("-pk").first()
    assert (latest.kind, latest.batch_id, latest.status) == (Job.Kind.LEAVE, None, "queued")
    assert not second.jobs.filter(status=Job.Status.HELD).exists()
    report = verify_all(tenant.pk)
    assert report.ok, report.breaks


def test_a_held_files_cancel_and_a_form_leave_of_its_person_both_go_through(monkeypatch, world):
    """The same with the file cancelled: each held leave was cancelled and recorded before
    the next was written, whose row the form's leave held (`_lock_pending`)."""
    tenant, tech = world.tenant, world.technician
    first, second = (
        make_identity(tenant, "Cal", f"Cancelled{n}", status=Identity.Status.ACTIVE) for n in (1, 2)
    )
    batch = Batch.objects.create(
        tenant=tenant, kind=Batch.Kind.CSV_OFFBOARD, status=Batch.Status.VALIDATED, options={}
    )
    for person in (second, first):  # jobs go newest first: the first's leave goes first
        lifecycle.request_offboarding(person, FORM_OPTIONS, actor=tech, batch=batch, hold=True)
    lifecycle.hold_batch(batch, "Offboards 2 of 2 managed people")

    cross(monkeypatch, second, tech, lambda: lifecycle.cancel_batch(batch, actor=tech))

    batch.refresh_from_db()
    assert batch.status == Batch.Status.CANCELLED
    assert set(batch.jobs.values_list("status", flat=True)) == {Job.Status.CANCELLED}
    second.refresh_from_db()
    assert second.status == Identity.Status.LEAVER  # the form's leave, taken first
    cancels = AuditEvent.objects.filter(action="job.cancel")
    assert sorted(cancels.values_list("job_id", flat=True)) == sorted(
        str(pk) for pk in batch.jobs.values_list("pk", flat=True)
    )  # each held leave cancelled once (the form's leave cancelled the second's)
    report = verify_all(tenant.pk)
    assert report.ok, report.breaks
