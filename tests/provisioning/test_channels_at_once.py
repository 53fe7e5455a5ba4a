"""The form, the API, the HR webhook and an offboarding file asking for one person at the same
instant, each through its own HTTP entry, while real Celery workers run the jobs and are
killed (SIGKILL) at random moments of the runs (PostgreSQL and Redis in CI; convergence check
converge18).

Each round starts from an active person: three channels move them to a role drawn for each
(the webhook may terminate instead) and, every other round, a file offboards them, all four
released together. The asks are taken in the order the person's lock gave them (their jobs'
desired versions). After the jobs end, every one Succeeded; the directory holds the person as
the ask taken last leaves them (a leave taken at any point: disabled with no group, since a
move of a leaver changes what they will hold if restored, not what they hold); the audit trail
holds each ask taken once, in the order taken, and its chain is whole. A round's leaver is
restored through the API before the next. The schedule is drawn from a seed (printed;
CONVERGE_SEED replays one, CONVERGE_ROUNDS runs more than the 2 rounds)."""

from __future__ import annotations

import re
import threading
import time
import uuid

import pytest
from django.db import connections
from django.test import Client
from django.urls import resolve, reverse

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from portal.models import Role
from provisioning.bulk import columns
from provisioning.bulk import service as bulk
from provisioning.models import BatchRow, Identity, Job
from tenants.models import RoleTemplate
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_person
from tests.provisioning.bulk_support import csv_text
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import onboard
from tests.provisioning.test_engine_killed_workers import killed_while_running
from tests.provisioning.test_engine_stopped_workers import (
    CALM,
    SALES,
    SUPPORT,
    WORKER,
    Person,
    alone_on_the_queue,
    assert_all_succeeded,
    rounds,
    schedule,
    settle,
)
from tests.provisioning.test_hr_webhook import send, with_secret

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["alone_on_the_queue"]  # a fixture

GROUPS = {"sales": SALES, "support": SUPPORT}
ASKS = ("identity.change", "identity.offboard")
LATER = (Job.Status.SCHEDULED, Job.Status.CANCELLED)


class Channels:
    """The four ways in, as a technician (the form, the API, a file) and as HR (the webhook)."""

    def __init__(self, dirs, person: Identity, technician) -> None:
        self.dirs, self.person, self.technician = dirs, person, technician
        self.templates = {
            t.name.lower(): t.pk for t in RoleTemplate.objects.filter(tenant=dirs.tenant)
        }
        self.api = ApiClient(token_for(technician))
        self.refused: list[tuple[str, str, str]] = []

    def _form(self) -> Client:
        client = Client()
        client.force_login(self.technician)
        return client

    def form_move(self, role: str) -> int | None:
        url = reverse(
            "identity_change",
            kwargs={"tenant": self.dirs.tenant.slug, "identity_id": self.person.pk},
        )
        data = {"role_templates": [self.templates[role]], "department": "", "job_title": "",
                "office": "", "usage_location": "", "extra_groups": "", "at": ""}  # fmt: skip
        response = self._form().post(url, data)
        if response.status_code == 200:  # the dry run refused it: nothing differs, a read failed
            self.refused.append(("form", role, _shown_errors(response.content.decode())))
            return None
        assert response.status_code == 302, response.content.decode()[:2000]
        match = resolve(response["Location"])
        return match.kwargs["job_id"] if match.url_name == "job_detail" else None

    def api_move(self, role: str) -> int | None:
        path = f"/api/v1/people/{self.person.pk}/change"
        response = self.api.post(path, {"role_templates": [self.templates[role]]})
        if response.status_code != 202:  # 409: changed meanwhile; 422: nothing differs
            assert response.status_code in (409, 422), response.content.decode()
            self.refused.append(("api", role, response.json()["detail"]))
            return None
        return response.json()["job"]["id"]

    def webhook(self, event: dict) -> int | None:
        event = event | {"id": uuid.uuid4().hex, "employee_id": self.person.employee_id}
        response = send(Client(), self.dirs.tenant.slug, event)
        if response.status_code == 422:  # a terminate of someone who has left
            self.refused.append(("webhook", event["event"], response.json()["message"]))
            return None
        assert response.status_code == 202, response.content.decode()
        return response.json()["job"]

    def upload_leave(self):
        text = csv_text(["username", "leave_at"], [[self.person.username, ""]])
        return bulk.upload(
            self.dirs.tenant, columns.OFFBOARD, "leavers.csv", text.encode(),
            actor=self.technician,
        )  # fmt: skip

    def start_file(self, batch) -> int | None:
        url = reverse("bulk_start", kwargs={"tenant": self.dirs.tenant.slug, "batch_id": batch.pk})
        response = self._form().post(url)
        assert response.status_code == 302, response.content.decode()[:2000]
        return BatchRow.objects.filter(batch=batch).values_list("job_id", flat=True).first()

    def restore(self) -> None:
        response = self.api.post(f"/api/v1/people/{self.person.pk}/restore", {})
        assert response.status_code == 202, response.content


def _shown_errors(page: str) -> str:
    return " ".join(re.findall(r'class="[^"]*(?:error|blocked)[^"]*"[^>]*>([^<]+)', page))[:300]


def draw_round(rng, channels: Channels) -> dict:
    """What each channel asks this round: (channel, ask) -> a call returning its job or None."""
    form, api = rng.choice(list(GROUPS)), rng.choice(list(GROUPS))
    asks = {("form", form): lambda: channels.form_move(form)}
    asks[("api", api)] = lambda: channels.api_move(api)
    if rng.random() < 0.3:
        asks[("webhook", "leave")] = lambda: channels.webhook({"event": "terminate"})
    else:
        hr = rng.choice(list(GROUPS))
        asks[("webhook", hr)] = lambda: channels.webhook({"event": "change", "role": hr})
    if rng.random() < 0.5:
        batch = channels.upload_leave()
        asks[("file", "leave")] = lambda: channels.start_file(batch)
    return asks


def at_once(asks: dict) -> dict[int, tuple[str, str]]:
    """Each ask from a thread of its own, released together: the jobs taken, by id."""
    start, taken, errors = threading.Barrier(len(asks)), {}, []

    def run(key, call):
        try:
            start.wait()
            job_id = call()
            if job_id is not None:
                taken[job_id] = key
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{key}: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in asks.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return taken


def expected_after(person: Person, taken: dict[int, tuple[str, str]]) -> list[tuple[str, str]]:
    """The asks in the order the person's lock took them; `person` as they leave them."""
    versions = dict(Job.objects.filter(pk__in=taken).values_list("pk", "desired_version"))
    order = [taken[pk] for pk in sorted(taken, key=versions.__getitem__)]
    for _, what in order:
        if what == "leave":
            person.left = True
        else:
            person.groups = GROUPS[what]
    return order


def assert_trail_in_order(identity: Identity, taken: dict, why: str) -> None:
    """Each ask taken is in the trail once, in the order of the jobs' desired versions."""
    events = AuditEvent.objects.filter(
        target_id=str(identity.pk), action__in=ASKS, job_id__in=taken
    )
    recorded = [int(pk) for pk in events.order_by("seq").values_list("job_id", flat=True)]
    versions = dict(Job.objects.filter(pk__in=taken).values_list("pk", "desired_version"))
    assert sorted(recorded) == sorted(taken), (why, recorded, taken)
    assert recorded == sorted(recorded, key=versions.__getitem__), (why, recorded, versions)


def a_run_under_way(jobs, within: float = 30.0) -> None:
    """Until a job of `jobs` is running, or none is left to run: a kill then lands in a run
    (on a loaded machine the worker may not have taken the round's first job yet)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if jobs.filter(status=Job.Status.RUNNING).exists():
            return
        if not jobs.exclude(status__in=Job.DONE).exists():
            return
        time.sleep(0.02)


@pytest.mark.timeout(1800)  # stuck jobs are reported after SETTLE_S
def test_four_channels_at_once_through_killed_workers_end_as_last_taken(on_sandbox, worker_factory):
    rng, seed = schedule("channels at once")
    dirs = make_directories(on_sandbox, f"ch{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    with_secret(dirs.tenant)
    dirs.tenant.offboard_hold_count, dirs.tenant.offboard_hold_percent = 10, 100
    dirs.tenant.save(update_fields=["offboard_hold_count", "offboard_hold_percent"])
    RoleTemplate.objects.create(tenant=dirs.tenant, name="Support", groups=SUPPORT)
    technician = make_person(f"tech-{dirs.tenant.slug}", Role.TECHNICIAN, [dirs.tenant])
    worker = worker_factory(**WORKER)
    # A leave's hard delete waits for its day (and a restore cancels it): the jobs that run.
    jobs = Job.objects.filter(tenant=dirs.tenant).exclude(status__in=LATER)
    joined = onboard(dirs, first="Cora", last="Channels")
    Identity.objects.filter(pk=joined.identity_id).update(employee_id="E-CH-1")
    identity = Identity.objects.get(pk=joined.identity_id)
    person, channels = Person(dirs, identity), Channels(dirs, identity, technician)
    settle(jobs, f"{seed}: the join")
    phases: list[str] = []
    for n in range(rounds()):
        dirs.behave("entra", latency_ms=rng.choice([50, 200]), error_rate=rng.choice([0, 0.05]))
        taken = at_once(draw_round(rng, channels))
        for _ in range(rng.randint(1, 2)):
            a_run_under_way(jobs)
            worker = killed_while_running(worker, worker_factory, jobs, rng, phases)
        order = expected_after(person, taken)
        why = f"{seed}, round {n}, taken {order}"
        settle(jobs, why)
        dirs.behave("entra", **CALM)
        assert_all_succeeded(jobs, why)
        assert person.held() == person.expected(), why
        assert_trail_in_order(identity, taken, why)
        if person.left:
            channels.restore()
            person.left = False
            settle(jobs, f"{why}: the restore")
            assert person.held() == person.expected(), f"{why}: restored"
    worker.kill()
    report = verify_all(dirs.tenant.pk)
    assert report.ok, (seed, report.breaks)
    print(f"channels at once: {rounds()} rounds passed, kills at {phases}")
    print(f"refused: {channels.refused}")
