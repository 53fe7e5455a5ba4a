"""An adoption (inventory takeover) while the tenant's other asks commit, in real concurrent
transactions (PostgreSQL; convergence check converge24).

`adoption._adopt` locked the inventory person with its tenant (`select_related("tenant")`
without `of`), which locks the tenant's row FOR UPDATE until the adoption commits. Every job
and audit event of the tenant checks its tenant at commit (Django's foreign keys are
deferred: a key share of the row), so an onboarding or a leave asked meanwhile recorded its
event (the tenant's audit head, held until commit) and waited at commit for the tenant's
row; the adoption then recorded its own event and waited for the head: PostgreSQL aborted
one of them (the adoption's or the technician's 500). Both must go through, or the second
to take one username be refused cleanly; one person owns each account."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection, connections

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from provisioning import services
from provisioning.engine.tasks import run_job
from provisioning.inventory import adoption, service
from provisioning.inventory.models import Cursor, Person
from provisioning.lifecycle import services as lifecycle
from provisioning.models import DirectoryAccount, Identity, Job
from tests.factories import make_identity
from tests.provisioning.crossing import WAIT_S, someone_waits_for_a_lock
from tests.provisioning.directories import make_directories

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
]

ADOPTING = "adopts first"  # the thread that pauses holding the inventory person's lock


@pytest.fixture(autouse=True)
def no_worker_runs_the_jobs(monkeypatch):
    """The race is the asks' transactions: their jobs are checked as queued."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)


@pytest.fixture
def dirs(on_sandbox):
    made = make_directories(on_sandbox, f"adx{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    yield made
    with made.control() as control:
        control.delete(f"/_sandbox/entra/{made.entra_id}")


def _read_inventory(dirs) -> None:
    for directory in dirs.tenant.connections.all():
        cursor = service.refresh(directory, sleep=time.sleep)
        assert cursor is not None and cursor.state == Cursor.State.IDLE, cursor.last_error


def _unmanaged_ada(dirs) -> tuple[Person, dict]:
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    user = dirs.add_entra_user(username, "Ada", "Lovelace")
    _read_inventory(dirs)
    return Person.objects.get(tenant=dirs.tenant, username=username), user


def _adopting_while(monkeypatch, dirs, person: Person, other) -> list[str]:
    """The adoption of `person` takes its lock and pauses (its draft); `other` runs and is
    seen waiting for a lock, or ends; the adoption goes on. What each raised, if anything."""
    holds, other_went = threading.Event(), threading.Event()
    draft = adoption.draft

    def pausing_draft(*args, **kwargs):
        if threading.current_thread().name == ADOPTING and not holds.is_set():
            holds.set()
            assert other_went.wait(WAIT_S), "the other ask neither ended nor waited"
        return draft(*args, **kwargs)

    monkeypatch.setattr(adoption, "draft", pausing_draft)
    outcomes: list[str] = []

    def guarded(work, name):
        def run():
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - reported to the test
                outcomes.append(f"{name}: {type(exc).__name__}: {exc}")
            finally:
                if name == "other":
                    other_went.set()
                connections.close_all()

        return run

    def adopt():
        adoption.adopt(person, [dirs.template], "system", confirm_changes=True)

    def other_after_the_lock():
        assert holds.wait(WAIT_S)
        other()

    threads = [
        threading.Thread(target=guarded(adopt, "adopt"), name=ADOPTING),
        threading.Thread(target=guarded(other_after_the_lock, "other")),
    ]
    for thread in threads:
        thread.start()
    assert holds.wait(WAIT_S)
    deadline = time.monotonic() + WAIT_S
    while not (someone_waits_for_a_lock() or other_went.is_set()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    other_went.set()
    for thread in threads:
        thread.join()
    return outcomes


def test_an_adoption_and_a_form_leave_of_someone_else_both_go_through(monkeypatch, dirs):
    person, user = _unmanaged_ada(dirs)
    leaver = make_identity(dirs.tenant, "Lee", "Leaving", status=Identity.Status.ACTIVE)

    def form_leave():
        lifecycle.request_offboarding(
            leaver, lifecycle.OffboardingOptions(delete_after_days=0), actor="system"
        )

    assert _adopting_while(monkeypatch, dirs, person, form_leave) == []

    adopted = Identity.objects.get(tenant=dirs.tenant, username=person.username)
    holders = DirectoryAccount.objects.filter(remote_id=user["id"]).values_list("identity_id")
    assert list(holders) == [(adopted.pk,)]
    leaver.refresh_from_db()
    assert leaver.status == Identity.Status.LEAVER
    assert AuditEvent.objects.filter(action="inventory.adopted").count() == 1
    assert AuditEvent.objects.filter(action="identity.offboard").count() == 1
    report = verify_all(dirs.tenant.pk)
    assert report.ok, report.breaks


def test_an_adoption_and_an_onboarding_of_someone_else_both_go_through(monkeypatch, dirs):
    person, _ = _unmanaged_ada(dirs)
    domain = dirs.tenant.primary_domain

    def onboarding():
        request = services.OnboardingRequest("Bob", "Builder", [dirs.template])
        services.request_onboarding(
            dirs.tenant, request, username=f"bob.builder@{domain}", actor="system"
        )

    assert _adopting_while(monkeypatch, dirs, person, onboarding) == []

    usernames = Identity.objects.filter(tenant=dirs.tenant).values_list("username", flat=True)
    assert sorted(usernames) == [person.username, f"bob.builder@{domain}"]
    report = verify_all(dirs.tenant.pk)
    assert report.ok, report.breaks


def test_an_adoption_and_an_onboarding_of_the_same_person_leave_one_owner(monkeypatch, dirs):
    """The onboarding inserts Ada's identity while the adoption, holding the inventory's Ada,
    drafts; the onboarding's hook then waited for that row, and the adoption's INSERT of the
    same username for the onboarding: a deadlock, one of them a 500. The onboarding must
    commit and the adoption be refused as taken meanwhile (what its page says)."""
    person, user = _unmanaged_ada(dirs)

    def onboarding():
        request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
        services.request_onboarding(dirs.tenant, request, username=person.username, actor="system")

    outcomes = _adopting_while(monkeypatch, dirs, person, onboarding)

    assert len(outcomes) == 1 and "AdoptionRefused" in outcomes[0], outcomes
    assert "whom the portal manages already" in outcomes[0]  # the draft reads the joiner
    joiner = Identity.objects.get(tenant=dirs.tenant)
    assert joiner.jobs.get().kind == Job.Kind.JOIN
    assert not AuditEvent.objects.filter(action="inventory.adopted").exists()
    assert not DirectoryAccount.objects.filter(remote_id=user["id"]).exists()  # the join links
    _read_inventory(dirs)  # the next match gives the inventory's Ada to the joiner
    assert Person.objects.get(tenant=dirs.tenant, username=person.username).identity == joiner
    report = verify_all(dirs.tenant.pk)
    assert report.ok, report.breaks
