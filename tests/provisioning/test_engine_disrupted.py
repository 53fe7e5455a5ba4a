"""A model-based test of one person's asks under disrupted runs, driven in this process.

Hypothesis draws a sequence of asks for one person of an Entra tenant: their department set
or cleared (an attribute the portal set and then clears: `DirectoryAccount.managed`), a
leave, a hard delete falling due, a restore or rehire, VPN Users granted (filed and
approved) or revoked (also at once, before its grant job has run: a revoked request is
never live again); and, between them, runs of the person's jobs that are disrupted: the
worker killed after the directory took a call and before its outcome was written (then its
lease runs out), a call the bridge gave up on that the directory carries out later (the
test plays the network and delivers it while it may still arrive), a directory that fails
every call for a run. At the end the jobs are run to their end: each must be done, the
newest must say Succeeded, and the directory, read over the sandbox's control API, must
hold what was last asked. Runs are stood in for as `run_now` does (no countdown sat out),
so an example takes a second or two. Six examples in the suite; run with 100 before
a6055cd, it found a department change given up on landing after the next change had
verified.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule

from portal.models import Role
from provisioning import services
from provisioning.access import services as ar
from provisioning.connectors import bridge
from provisioning.engine import steps as steps_module
from provisioning.lifecycle import services as lifecycle
from provisioning.models import AccessRequest, Identity, Job
from tests.factories import make_person
from tests.provisioning.directories import make_directories
from tests.provisioning.person_machine import Killed, PersonMachine, run_machine
from tests.provisioning.test_access_e2e import requestable

pytestmark = pytest.mark.django_db(transaction=True)

GROUPS = ["Staff", "Sales"]
DEPARTMENTS = ("Ops", "Finance", "")  # "": cleared
ASKS = (
    *(f"department {d!r}" for d in DEPARTMENTS),
    "leave",
    "leave, deleted after it",
    "delete falls due",
    "restore",
    "grant VPN Users",
    "grant VPN Users, revoked at once",
    "revoke VPN Users",
)
DISRUPTIONS = ("none", "killed", "no answer", "failing")


@dataclass
class Asked:
    department: str = ""
    left: bool = False
    deleted: bool = False
    vpn: bool = False  # a live grant of VPN Users

    def expected(self) -> tuple:
        """(present, enabled, groups, department) as the directory must hold them."""
        if self.deleted:
            return (False,)
        if self.left:
            return (True, False, [])  # a leave clears no attribute: not compared
        groups = sorted([*GROUPS, *(["VPN Users"] if self.vpn else [])])
        return (True, True, groups, self.department or None)


class Network:
    """The bridge as the steps see it: a call it gives up on is held until the test
    delivers it (`land`)."""

    CALL_TIMEOUT_S = bridge.CALL_TIMEOUT_S

    def __init__(self) -> None:
        self.held: list = []
        self.give_up_next = False
        self.real_run = bridge.run

    def run(self, coroutine, timeout=bridge.CALL_TIMEOUT_S):
        if self.give_up_next:
            self.give_up_next = False
            self.held.append(coroutine)
            raise TimeoutError
        return self.real_run(coroutine, timeout)

    def land(self) -> None:
        while self.held:
            with contextlib.suppress(Exception):  # its answer goes nowhere, as a real one's
                self.real_run(self.held.pop(0))


class DepartmentMachine(PersonMachine):
    def __init__(self) -> None:
        super().__init__()
        slug = f"dis{uuid.uuid4().hex[:8]}"
        self.dirs = make_directories(self.server, slug, licenses=[], apps=[], groups=GROUPS)
        self.dirs.template.department = ""  # the person's department is their own
        self.dirs.template.save()
        self.asked = Asked()
        self.network = Network()
        self.kill_next = False
        self.tech = make_person(f"tech-{slug}", Role.TECHNICIAN, [self.dirs.tenant])
        self.approver = make_person(f"ca-{slug}", Role.CLIENT_ADMIN, [self.dirs.tenant])
        self.vpn = requestable(self.dirs, "VPN Users")
        self.grant = None
        self.revoked: list[int] = []  # the requests revoked: never live again
        self.monkeypatch.setattr(steps_module, "bridge", self.network)  # the steps' calls
        real_many, real_write = steps_module.apply_many, steps_module.write_outcomes
        self.monkeypatch.setattr(steps_module, "apply_many", real_many)
        self.monkeypatch.setattr(steps_module, "write_outcomes", self.write_outcomes(real_write))

    def write_outcomes(self, real):
        def write(job, account, steps, settled):
            if self.kill_next:
                self.kill_next = False
                raise Killed  # the directory took the calls; their outcomes are lost
            return real(job, account, steps, settled)

        return write

    # -- asks -------------------------------------------------------------------------------

    @initialize(department=st.sampled_from(DEPARTMENTS))
    def join(self, department: str) -> None:
        attributes = {"department": department} if department else {}
        request = services.OnboardingRequest(
            "Ada", "Lovelace", [self.dirs.template], attributes=attributes
        )
        username = f"ada.lovelace@{self.dirs.tenant.primary_domain}"
        job = services.request_onboarding(
            self.dirs.tenant, request, username=username, actor="system"
        )
        self.identity_id, self.username = job.identity_id, username
        self.asked.department = department
        self.log.append(f"join, department {department!r} -> job {job.pk}")

    @rule(
        what=st.one_of(st.none(), st.sampled_from(ASKS)),
        disruption=st.sampled_from(DISRUPTIONS),
    )
    def ask_then_run(self, what: str | None, disruption: str) -> None:
        """An ask of the person (or none), then a run of their jobs: one rule, so that every
        sequence interleaves them (an ask between a disrupted run and the next)."""
        if what is not None:
            self.ask(what)
        self.run_once(disruption)

    def ask(self, what: str) -> None:
        if what.startswith("department"):
            self.change_department(what.removeprefix("department ").strip("'"))
        elif what.startswith("leave") and not self.asked.left:
            self.leave(delete="delete" in what)
        elif what == "delete falls due" and self.asked.left and not self.asked.deleted:
            self.delete_falls_due()
        elif what == "restore" and self.asked.left:
            self.restore()
        elif what.startswith("grant VPN Users") and self.grant is None:
            self.file_and_approve()
            if "revoked at once" in what and self.grant is not None:
                self.revoke()  # approved by mistake: its grant job not yet run
        elif what == "revoke VPN Users" and self.grant is not None:
            self.revoke()

    def file_and_approve(self) -> None:
        identity = Identity.objects.get(pk=self.identity_id)
        try:
            grant = ar.file_request(
                identity, self.vpn, reason="On call", ends_at=None, actor=self.tech
            )
            ar.approve(grant, actor=self.approver, reason="Agreed")
        except (ValueError, ar.AccessRequestError) as refused:
            self.log.append(f"grant VPN Users: refused ({refused})")
            return
        self.grant, self.asked.vpn = grant, True
        grant.refresh_from_db()
        self.log.append(f"grant VPN Users -> job {grant.grant_job_id}")

    def revoke(self) -> None:
        self.grant.refresh_from_db()
        try:
            ended = ar.revoke(self.grant, actor=self.tech, reason="Off the rota")
        except (ValueError, ar.AccessRequestError) as refused:
            self.log.append(f"revoke VPN Users: refused ({refused})")
            return
        self.revoked.append(ended.pk)
        self.grant, self.asked.vpn = None, False
        self.log.append(f"revoke VPN Users -> job {ended.end_job_id}")

    def change_department(self, department: str) -> None:
        change = lifecycle.ChangeRequest(
            [self.dirs.template], attributes={"department": department}
        )
        self.submit(
            f"department {department!r}",
            lambda identity: lifecycle.request_change(identity, change, actor="system"),
            lambda: setattr(self.asked, "department", department),
        )

    def leave(self, delete: bool) -> None:
        options = lifecycle.OffboardingOptions(delete_after_days=0 if delete else None)
        self.submit(
            f"leave{' (hard delete after it)' if delete else ''}",
            lambda identity: lifecycle.request_offboarding(identity, options, actor="system"),
            lambda: setattr(self.asked, "left", True),
        )

    def restore(self) -> None:
        leaves = Job.objects.filter(identity_id=self.identity_id, kind=Job.Kind.LEAVE)
        leave = leaves.order_by("pk").last()
        # A leave that succeeded ended the grants; one the restore overtakes verifies it.
        ended = leave is not None and leave.status == Job.Status.SUCCEEDED

        def restored() -> None:
            self.asked.left = self.asked.deleted = False
            if ended:
                self.grant, self.asked.vpn = None, False

        self.submit(
            "restore",
            lambda identity: lifecycle.request_restore(identity, actor="system"),
            restored,
        )

    # -- runs -------------------------------------------------------------------------------

    def run_once(self, disruption: str) -> None:
        """One run of each of the person's unfinished jobs, the first one disrupted."""
        jobs = self.unfinished()
        if not jobs:
            return
        self.log.append(f"run, {disruption}")
        if disruption == "failing":
            self.dirs.behave("entra", error_rate=1.0)
        self.kill_next = disruption == "killed"
        self.network.give_up_next = disruption == "no answer"
        held_before = len(self.network.held)
        try:
            for pk in jobs:
                self.run(pk)
        finally:
            self.kill_next = self.network.give_up_next = False
            if disruption == "failing":
                self.dirs.behave("entra", error_rate=0.0)
        if held_before and self.network.held:
            # Given up in an earlier run, delivered as late as they may still arrive: after
            # this run's jobs (a few seconds later) have done what they could.
            self.log.append("  the calls given up on land")
            self.network.land()

    def before_run(self, pk: int) -> None:
        job = Job.objects.get(pk=pk)
        if job.waiting_reason == steps_module.WAITING_OUT_LOST_CALLS:
            self.network.land()  # run_now moves past the time they could still arrive

    # -- the end ----------------------------------------------------------------------------

    def teardown(self) -> None:
        if self.identity_id is None:
            return
        self.run_to_the_end()
        self.network.land()
        lines = self.jobs_ended_otherwise()
        want, has = self.asked.expected(), self.directory()
        if has[: len(want)] != want:
            lines.append(f"directory holds {has}, asked {want}")
        live = AccessRequest.objects.filter(pk__in=self.revoked, status__in=AccessRequest.LIVE)
        if live.exists():
            lines.append(f"revoked requests live again: {list(live.values_list('pk', 'status'))}")
        self.report(lines)

    def directory(self) -> tuple:
        users = [
            u
            for u in self.dirs.entra_state()["users"]
            if u["userPrincipalName"] == self.username and not u.get("deleted")
        ]
        if not users:
            return (False,)
        [user] = users
        groups = sorted(g for g in user["groups"] if "dynamic" not in g)
        return (True, user["accountEnabled"], groups, user.get("department"))


def test_one_persons_asks_end_as_asked_through_disrupted_runs(on_sandbox, monkeypatch):
    run_machine(DepartmentMachine, on_sandbox, monkeypatch, examples=6)
