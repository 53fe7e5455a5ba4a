"""A model-based test of one person's asks under disrupted runs, in every directory kind.

`test_engine_disrupted` draws one person's asks in one Entra directory of groups only. This
one gives the person an Entra account with a licence and an app, an Okta account (groups and
an app; a leave suspends or deactivates, as the leave asks) and a SCIM app account, so that
every kind of step is among those disrupted: creates, group, licence and app adds and
removals, the app's groups, sign-in blocked (Entra, Okta's suspend and deactivate, the app's
`active`), sessions revoked, deletes and rehires. Hypothesis draws moves between two role
templates, leaves, restores and hard deletes falling due, an access request filed and later
approved (maybe after a leave was asked: it must be refused), and a revoke; between them,
runs of the person's jobs, disrupted: the worker killed after the directory took the run's
n-th batch of calls and before their outcomes were written, a directory failing every call
for a run, its next writes carried out with their answers lost, its next calls throttled, or
its reads lagging behind its writes. At the end the jobs are run to their end: each must be
done, the newest must say Succeeded, and each directory, read over the sandbox's control
API, must hold what was last asked.

`DISRUPTED_EXAMPLES=<n>` runs more examples (a seed: --hypothesis-seed); `DISRUPTED_SHOW=1`
with -s prints each example's steps and what the directories held at its end.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule

from portal.models import Role
from provisioning import services
from provisioning.access import services as ar
from provisioning.engine import steps as steps_module
from provisioning.lifecycle import services as lifecycle
from provisioning.models import AccessRequest, Identity
from tests.factories import make_person
from tests.provisioning.directories import make_directories
from tests.provisioning.engine_model import KINDS, okta_account
from tests.provisioning.person_machine import Killed, PersonMachine, run_machine
from tests.provisioning.scim_apps import sales_and_support
from tests.provisioning.test_access_e2e import requestable

pytestmark = pytest.mark.django_db(transaction=True)

SALES = {"groups": ["Staff", "Sales"], "licenses": ["SPE_E3"], "apps": ["Salesforce"]}
SUPPORT = {"groups": ["Staff", "VPN Users"], "licenses": ["EMS"], "apps": ["Slack"]}
APP_GROUP = {"Sales": "sales", "Support": "support"}
GRANTED = "Finance"  # the group an access request gives (no template does)
ASKS = (
    "move to Sales",
    "move to Support",
    "leave, Okta suspends",
    "leave, Okta deactivates",
    "leave, deleted after it",
    "delete falls due",
    "restore",
    "file a request",
    "approve the request",
    "revoke",
)
TARGETS = ("entra", "okta", "app")
DISRUPTIONS = (
    "none",
    "killed",
    "failing",
    "lost answers",
    "throttled",
    "lagging",
    "failed after",
    "mixed",
)


@dataclass
class Asked:
    template: str = "Sales"
    left: bool = False
    deleted: bool = False

    def entra(self, granted: bool) -> tuple:
        if self.deleted:
            return (False,)
        if self.left:
            return (True, False, [], [], [])
        wanted = SALES if self.template == "Sales" else SUPPORT
        groups = sorted([*wanted["groups"], *([GRANTED] if granted else [])])
        return (True, True, groups, sorted(wanted["licenses"]), sorted(wanted["apps"]))

    def okta(self) -> tuple:
        if self.deleted:
            return (False,)
        if self.left:
            return (True, False, [], [])
        wanted = SALES if self.template == "Sales" else SUPPORT
        return (True, True, sorted(wanted["groups"]), sorted(wanted["apps"]))

    def app(self) -> tuple:
        if self.deleted:
            return (False,)
        if self.left:
            return (True, False, [])
        return (True, True, [APP_GROUP[self.template]])


class EveryKindMachine(PersonMachine):
    max_runs = 300
    granted_name = GRANTED  # the group the access request is for
    move_names = None  # what a move names (ChangeRequest.named); None: all, as the form

    def __init__(self) -> None:
        super().__init__()
        slug = f"dk{uuid.uuid4().hex[:8]}"
        self.dirs = make_directories(self.server, slug, kinds=KINDS, **SALES)
        self.app, self.support = sales_and_support(self.server, self.dirs, SUPPORT["groups"])
        self.support.licenses, self.support.apps = SUPPORT["licenses"], SUPPORT["apps"]
        self.support.save()
        self.templates = {"Sales": self.dirs.template, "Support": self.support}
        self.asked = Asked()
        self.kill_at = 0  # the run's batch after which its worker dies (0: none)
        self.batches = 0
        self.tech = make_person(f"tech-{slug}", Role.TECHNICIAN, [self.dirs.tenant])
        self.approver = make_person(f"ca-{slug}", Role.CLIENT_ADMIN, [self.dirs.tenant])
        self.finance = requestable(self.dirs, GRANTED)
        self.request: AccessRequest | None = None
        self.late_approvals: list[str] = []
        real_write = steps_module.write_outcomes
        self.monkeypatch.setattr(steps_module, "write_outcomes", self.write_outcomes(real_write))

    def write_outcomes(self, real):
        def write(job, account, steps, settled):
            self.batches += 1
            if self.batches == self.kill_at:
                self.kill_at = 0
                what = ", ".join(sorted({f"{s.connection.kind} {s.action}" for s in steps}))
                self.log.append(f"  killed after the calls of batch: {what}")
                raise Killed  # the directory took the calls; their outcomes are lost
            return real(job, account, steps, settled)

        return write

    # -- asks -------------------------------------------------------------------------------

    @initialize(template=st.sampled_from(sorted(APP_GROUP)))
    def join(self, template: str) -> None:
        request = services.OnboardingRequest("Ada", "Lovelace", [self.templates[template]])
        username = f"ada.lovelace@{self.dirs.tenant.primary_domain}"
        job = services.request_onboarding(
            self.dirs.tenant, request, username=username, actor="system"
        )
        self.identity_id, self.username = job.identity_id, username
        self.asked.template = template
        self.log.append(f"join as {template} -> job {job.pk}")

    @rule(
        what=st.one_of(st.none(), st.sampled_from(ASKS)),
        disruption=st.sampled_from(DISRUPTIONS),
        where=st.sampled_from(TARGETS),
        at=st.integers(1, 4),
    )
    def ask_then_run(self, what: str | None, disruption: str, where: str, at: int) -> None:
        """An ask of the person (or none), then a run of their jobs, disrupted in `where`
        (or, killed, after the run's `at`-th batch of calls, in whichever directory)."""
        if what is not None:
            self.ask(what)
        self.run_once(disruption, where, at)

    def ask(self, what: str) -> None:
        if what.startswith("move to"):
            self.move(what.removeprefix("move to "))
        elif what.startswith("leave") and not self.asked.left:
            self.leave(
                okta_mode="deactivate" if "deactivates" in what else "suspend",
                delete="deleted" in what,
            )
        elif what == "delete falls due" and self.asked.left and not self.asked.deleted:
            self.delete_falls_due()
        elif what == "restore" and self.asked.left:
            self.restore()
        elif what == "file a request" and self.request is None:
            self.file()
        elif what == "approve the request" and self.request is not None:
            self.approve()
        elif what == "revoke" and self.request is not None:
            self.revoke()

    def move(self, template: str) -> None:
        change = lifecycle.ChangeRequest([self.templates[template]], named=self.move_names)
        self.submit(
            f"move to {template}",
            lambda identity: lifecycle.request_change(identity, change, actor="system"),
            lambda: setattr(self.asked, "template", template),
        )

    def leave(self, okta_mode: str, delete: bool) -> None:
        options = lifecycle.OffboardingOptions(
            okta_mode=okta_mode, delete_after_days=0 if delete else None
        )
        self.submit(
            f"leave, Okta {okta_mode}{', hard delete after it' if delete else ''}",
            lambda identity: lifecycle.request_offboarding(identity, options, actor="system"),
            lambda: setattr(self.asked, "left", True),
        )

    def restore(self) -> None:
        def restored() -> None:
            self.asked.left = self.asked.deleted = False

        self.submit(
            "restore",
            lambda identity: lifecycle.request_restore(identity, actor="system"),
            restored,
        )

    def file(self) -> None:
        identity = Identity.objects.get(pk=self.identity_id)
        try:
            self.request = ar.file_request(
                identity, self.finance, reason="Month end", ends_at=None, actor=self.tech
            )
        except (ValueError, ar.AccessRequestError) as refused:
            self.log.append(f"file a request for {self.granted_name}: refused ({refused})")
            return
        self.log.append(f"file a request for {self.granted_name} -> request {self.request.pk}")

    def approve(self) -> None:
        self.request.refresh_from_db()
        try:
            ar.approve(self.request, actor=self.approver, reason="Agreed")
        except (ValueError, ar.AccessRequestError) as refused:
            self.log.append(f"approve: refused ({refused})")
            return
        self.request.refresh_from_db()
        if self.asked.left:  # the person was asked to leave: no grant may be given now
            self.late_approvals.append(f"request {self.request.pk} approved for a leaver")
        self.log.append(f"approve -> job {self.request.grant_job_id}")

    def revoke(self) -> None:
        self.request.refresh_from_db()
        try:
            if self.request.status == AccessRequest.Status.PENDING:
                ar.cancel(self.request, actor=self.tech)
                what = "cancelled"
            else:
                ended = ar.revoke(self.request, actor=self.tech, reason="Done")
                what = f"revoked -> job {ended.end_job_id}"
        except (ValueError, ar.AccessRequestError) as refused:
            self.log.append(f"revoke: refused ({refused})")
            return
        self.request = None
        self.log.append(f"request {what}")

    # -- runs -------------------------------------------------------------------------------

    def behave(self, target: str, **settings) -> None:
        if target == "app":
            self.app.behave(**settings)
        else:
            self.dirs.behave(target, **settings)

    FAULTS = {
        "failing": ({"error_rate": 1.0}, {"error_rate": 0.0}),
        "lost answers": ({"lose_answer_next": 2}, {"lose_answer_next": 0}),
        "throttled": ({"throttle_next": 3}, {"throttle_next": 0}),
        # Writes that land and are answered 504 (a gateway gave up on them).
        "failed after": ({"fail_after_next": 2}, {"fail_after_next": 0}),
        # One `$batch` (or run of calls) answered 429, 5xx, 504-after-landing and 200 in turn.
        "mixed": (
            {"throttle_next": 1, "error_next": 1, "fail_after_next": 1},
            {"throttle_next": 0, "error_next": 0, "fail_after_next": 0},
        ),
        "lagging": (
            {"read_lag_ms": 400, "replication_lag_ms": 400},
            {"read_lag_ms": 0, "replication_lag_ms": 0},
        ),
    }

    def run_once(self, disruption: str, target: str, at: int) -> None:
        """One run of each of the person's unfinished jobs, disrupted."""
        jobs = self.unfinished()
        if not jobs:
            return
        on, off = self.FAULTS.get(disruption, ({}, {}))
        killed = disruption == "killed"
        self.log.append(
            f"run, {disruption}{f' after batch {at}' if killed else ''}"
            + (f" in {target}" if on else "")
        )
        if on:
            self.behave(target, **on)
        self.batches, self.kill_at = 0, at if killed else 0
        try:
            for pk in jobs:
                self.run(pk)
        finally:
            self.kill_at = 0
            if on:
                self.behave(target, **off)

    # -- the end ----------------------------------------------------------------------------

    def teardown(self) -> None:
        if self.identity_id is None:
            return
        self.run_to_the_end()
        lines = [*self.late_approvals, *self.jobs_ended_otherwise()]
        granted = AccessRequest.objects.filter(
            identity_id=self.identity_id, status__in=AccessRequest.LIVE
        ).exists()
        if granted and self.asked.left:
            lines.append("a grant is live for a leaver")
        lines += self.held_otherwise(granted)
        if os.environ.get("DISRUPTED_SHOW"):
            print("\n".join(self.log), "\nEND", self.entra(), self.okta(), self.in_app())
        self.report(lines)

    def held_otherwise(self, granted: bool) -> list[str]:
        """What each directory holds otherwise than last asked, a line per directory."""
        lines = []
        for name, want, has in (
            ("entra", self.asked.entra(granted), self.entra()),
            ("okta", self.asked.okta(), self.okta()),
            ("app", self.asked.app(), self.in_app()),
        ):
            if has != want:
                lines.append(f"{name} holds {has}, asked {want}")
        return lines

    def entra(self) -> tuple:
        users = [
            u
            for u in self.dirs.entra_state()["users"]
            if u["userPrincipalName"] == self.username and not u.get("deleted")
        ]
        if not users:
            return (False,)
        if len(users) > 1:
            return (True, f"{len(users)} accounts")
        [user] = users
        groups = sorted(g for g in user["groups"] if "dynamic" not in g)
        apps = sorted(a["app"] for a in user["appRoleAssignments"])
        return (True, user["accountEnabled"], groups, sorted(user["licenses"]), apps)

    def okta(self) -> tuple:
        held = okta_account(self.dirs.okta_state(), self.username)
        if not held.present:
            return (False,)
        if "accounts" in held.detail:
            return (True, held.detail)
        return (True, held.enabled, sorted(held.groups), sorted(held.apps))

    def in_app(self) -> tuple:
        users = [
            u
            for u in self.app.state()["users"]
            if u["userName"].casefold() == self.username.casefold()
        ]
        if not users:
            return (False,)
        if len(users) > 1:
            return (True, f"{len(users)} accounts")
        [user] = users
        return (True, bool(user["active"]), sorted(self.app.groups_of(user["id"])))


@pytest.mark.timeout(1200)
def test_one_persons_asks_end_as_asked_in_every_directory_through_disrupted_runs(
    on_sandbox, monkeypatch
):
    examples = int(os.environ.get("DISRUPTED_EXAMPLES") or 4)
    run_machine(EveryKindMachine, on_sandbox, monkeypatch, examples)
