"""A model-based test of what a leave does once: the sessions revoked and the password reset.

The disrupted-kinds machine (`test_engine_disrupted_kinds`) checks the state a leave ends in
(sign-in blocked, access stripped) in Entra, Okta and a SCIM app through killed, failing,
answerless, throttled and lagging runs. No read verifies a leave's one-shot actions, so this
machine adds what only the directories' own records show: after the last leave asked,
Entra's `signInSessionsValidFromDateTime` and `lastPasswordChangeDateTime` and Okta's
`passwordChanged` must be later than the ask, whenever the portal says the leave is done
(the person *Left*, or the newest leave job *Succeeded*), at every step and at the end.

Besides the disrupted runs and the asks of the machine it extends, Hypothesis draws runs in
which Graph refuses the password reset (the portal's app lost its directory role: a leave run
then ends partly failed), the periodic check falling due (a Reconcile job, run at once, that
reads the leaver disabled and stripped, as asked), and a technician's retry of a failed
leave. A job that says Succeeded while its person has no unfinished job must have left the
directories as last asked, at every step.

`ONE_SHOTS_EXAMPLES=<n>` runs more examples (a seed: --hypothesis-seed).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from provisioning import periodic, services
from provisioning.models import AccessRequest, Identity, Job
from tests.provisioning.person_machine import run_machine
from tests.provisioning.test_engine_disrupted_kinds import (
    ASKS,
    DISRUPTIONS,
    TARGETS,
    EveryKindMachine,
)
from tests.provisioning.test_leave_proof import give_back, without_directory_roles

pytestmark = pytest.mark.django_db(transaction=True)

UNFINISHED_LEAVE = (Job.Status.FAILED, Job.Status.PARTIAL)


def _stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


class OneShotMachine(EveryKindMachine):
    def __init__(self) -> None:
        super().__init__()
        self.left_at: datetime | None = None  # when the last leave still asked was asked
        self.wrong: list[str] = []

    # -- asks -------------------------------------------------------------------------------

    def leave(self, okta_mode: str, delete: bool) -> None:
        # Entra stamps to the second: the ask starts a new second, so that a stamp of the
        # join's (the account's creation) cannot pass for the leave's.
        time.sleep(1 - datetime.now(UTC).microsecond / 1e6)
        asked = datetime.now(UTC).replace(microsecond=0)
        super().leave(okta_mode, delete)
        if self.asked.left:
            self.left_at = asked

    def restore(self) -> None:
        super().restore()
        if not self.asked.left:
            self.left_at = None

    @rule(
        what=st.one_of(st.none(), st.sampled_from(ASKS)),
        disruption=st.sampled_from(DISRUPTIONS),
        where=st.sampled_from(TARGETS),
        at=st.integers(1, 4),
        resets_refused=st.booleans(),
    )
    def ask_then_run(
        self, what: str | None, disruption: str, where: str, at: int, resets_refused: bool
    ) -> None:
        """The machine's ask and disrupted run; the run maybe while Graph refuses password
        resets (403: the portal's app lost its User Administrator role), a permanent failure
        of that step alone."""
        if what is not None:
            self.ask(what)
        if not resets_refused:
            self.run_once(disruption, where, at)
            return
        taken = without_directory_roles(self.dirs)
        self.log.append("Entra refuses password resets for the run:")
        try:
            self.run_once(disruption, where, at)
        finally:
            give_back(self.dirs, taken)

    @rule()
    def periodic_check_falls_due(self) -> None:
        """Due for this person only: the earlier examples' people are checked already."""
        later = timezone.now() + timedelta(days=1)
        Identity.objects.exclude(pk=self.identity_id).update(last_reconciled_at=later)
        queued = periodic.reconcile_due_people(now=later)
        self.log.append(f"the periodic check falls due ({queued} queued)")
        self.run_once("none", "entra", 1)  # and a worker takes it

    @rule()
    def retry_the_failed_leave(self) -> None:
        leave = self.newest_leave()
        if leave is not None and leave.status in UNFINISHED_LEAVE:
            services.retry_failed_steps(leave, actor="system")
            self.log.append(f"retry the failed steps of leave {leave.pk}")

    # -- what must hold ---------------------------------------------------------------------

    @invariant()
    def done_only_once_the_one_shots_went(self) -> None:
        if self.identity_id is None or self.left_at is None or self.asked.deleted:
            return
        says = self.says_done()
        if says and (missing := self.one_shots_missing()):
            self.wrong.append(f"{says}, but {'; '.join(missing)}")

    @invariant()
    def succeeded_only_as_asked(self) -> None:
        """A job says Succeeded only once the directories read back as last asked: checked
        whenever none of the person's jobs is unfinished and the newest succeeded."""
        if self.identity_id is None or self.unfinished():
            return
        newest = self.jobs().exclude(status=Job.Status.CANCELLED).order_by("-pk").first()
        if newest is None or newest.status != Job.Status.SUCCEEDED:
            return
        granted = AccessRequest.objects.filter(
            identity_id=self.identity_id, status__in=AccessRequest.LIVE
        ).exists()
        if held := self.held_otherwise(granted):
            self.wrong.append(f"job {newest.pk} {newest.kind} Succeeded, but {'; '.join(held)}")

    def says_done(self) -> str:
        status = Identity.objects.get(pk=self.identity_id).status
        if status == Identity.Status.LEFT:
            return "the person is Left"
        leave = self.newest_leave()
        if leave is not None and leave.status == Job.Status.SUCCEEDED:
            return f"leave {leave.pk} Succeeded"
        return ""

    def newest_leave(self) -> Job | None:
        leaves = Job.objects.filter(identity_id=self.identity_id, kind=Job.Kind.LEAVE)
        return leaves.exclude(status=Job.Status.CANCELLED).order_by("-pk").first()

    def one_shots_missing(self) -> list[str]:
        """What the directories do not show done after the last leave was asked."""
        missing = []
        users = [
            u
            for u in self.dirs.entra_state()["users"]
            if u["userPrincipalName"] == self.username and not u.get("deleted")
        ]
        for user in users:
            for name in ("signInSessionsValidFromDateTime", "lastPasswordChangeDateTime"):
                stamp = _stamp(user.get(name))
                if stamp is None or stamp < self.left_at:
                    missing.append(f"Entra {name} {user.get(name)} before the leave")
        for user in self.dirs.okta_state()["users"]:
            if user["profile"]["login"].lower() != self.username.lower():
                continue
            # A deactivated account cannot sign in, and Okta refuses its reset (planner).
            stamp = _stamp(user.get("password_changed"))
            if user["status"] != "DEPROVISIONED" and (stamp is None or stamp < self.left_at):
                missing.append(f"Okta password changed {user.get('password_changed')}")
        return missing

    # -- the end ----------------------------------------------------------------------------

    def teardown(self) -> None:
        if self.identity_id is not None:
            self.run_to_the_end()
            leave = self.newest_leave()
            if self.asked.left and leave is not None and leave.status in UNFINISHED_LEAVE:
                # What a technician does once the cause is fixed (the page says so).
                services.retry_failed_steps(leave, actor="system")
                self.log.append(f"at the end: retry the failed steps of leave {leave.pk}")
            self.done_only_once_the_one_shots_went()
            if self.asked.left and not self.asked.deleted:
                self.run_to_the_end()
                status = Identity.objects.get(pk=self.identity_id).status
                if status != Identity.Status.LEFT:
                    self.wrong.append(f"asked to leave, the person is {status} at the end")
                self.done_only_once_the_one_shots_went()
        if os.environ.get("ONE_SHOTS_SHOW"):
            print("\n".join(self.log), "\nWRONG", self.wrong, "\n")
        self.report(list(dict.fromkeys(self.wrong)))
        super().teardown()


@pytest.mark.timeout(1200)
def test_a_leave_is_done_only_once_its_sessions_and_password_went(on_sandbox, monkeypatch):
    examples = int(os.environ.get("ONE_SHOTS_EXAMPLES") or 3)
    run_machine(OneShotMachine, on_sandbox, monkeypatch, examples)
