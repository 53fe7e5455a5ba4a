"""A model-based test of one person's asks while one of their directories is out for many
runs (converge26): the SCIM app answering 500 to every call, or held by an MSP admin
(quarantined), across asks and runs, then back.

The one-shots machine (`test_leave_one_shots`, over the disrupted-kinds machine) draws the
person's moves, leaves, restores, hard deletes, access requests, disrupted runs (killed
after a batch, failing, answerless, throttled, lagging), refused password resets, the
periodic check and a failed leave's retry. This one adds an outage of the app that lasts
across asks and runs, and its end: a leave half-done (Entra ID and Okta written, the app
not), a restore or a move asked meanwhile, the leave's retry racing them, the app coming
back between two runs of a job. What must hold, at every step: the person reads *Left*
only when every directory shows them left, *Active* only when every directory lets them
sign in; and the earlier machines' rules (a job says Succeeded only as asked; a leave is
done only once its one-shots went). At the end, the app back and released, every job ends,
the newest Succeeded, every directory as last asked.

`OUTAGE_EXAMPLES=<n>` runs more examples (a seed: --hypothesis-seed); `OUTAGE_SHOW=1` with
-s prints each example's steps.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from provisioning import quarantine, services
from provisioning.models import Identity
from tests.provisioning.person_machine import run_machine
from tests.provisioning.test_engine_disrupted_kinds import ASKS, DISRUPTIONS, TARGETS
from tests.provisioning.test_leave_one_shots import OneShotMachine

pytestmark = pytest.mark.django_db(transaction=True)


OUTAGE = {
    "as it is": lambda machine: None,
    "down": lambda machine: machine.the_app_goes_down(),
    "back": lambda machine: machine.the_app_comes_back(),
    "held": lambda machine: machine.an_admin_holds_the_app(),
    "released": lambda machine: machine.an_admin_releases_the_app(),
}


class OutageMachine(OneShotMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app_down = False
        self.app_held = False

    def connection(self):
        return self.dirs.tenant.connections.get(kind="scim")

    # -- the outage -------------------------------------------------------------------------

    @rule(
        outage=st.sampled_from(tuple(OUTAGE)),
        what=st.one_of(st.none(), st.sampled_from(ASKS)),
        disruption=st.sampled_from(DISRUPTIONS),
        where=st.sampled_from(TARGETS),
        at=st.integers(1, 4),
        resets_refused=st.booleans(),
    )
    def ask_then_run(
        self,
        outage: str,
        what: str | None,
        disruption: str,
        where: str,
        at: int,
        resets_refused: bool,
    ) -> None:
        """The app's outage begins, ends or goes on; then the one-shots machine's ask and
        disrupted run."""
        OUTAGE[outage](self)
        super().ask_then_run(what, disruption, where, at, resets_refused)

    def the_app_goes_down(self) -> None:
        self.app_down = True
        self.app.behave(error_rate=1.0)
        self.log.append("the app goes down (every call a 500)")

    def the_app_comes_back(self) -> None:
        if self.app_down:
            self.app_down = False
            self.app.behave(error_rate=0.0)
            self.log.append("the app comes back")

    def an_admin_holds_the_app(self) -> None:
        if quarantine.hold(self.connection(), actor="system", reason="the vendor's outage"):
            self.app_held = True
            self.log.append("an MSP admin holds the app (quarantined)")

    def an_admin_releases_the_app(self) -> None:
        if self.app_held:
            self.app_held = False
            services.release_connection(self.connection(), actor="system")
            self.log.append("the app released")

    def run_once(self, disruption: str, target: str, at: int) -> None:
        try:
            super().run_once(disruption, target, at)
        finally:
            if self.app_down:  # a run's own fault in the app ends; the outage does not
                self.app.behave(error_rate=1.0)

    # -- what must hold ---------------------------------------------------------------------

    @invariant()
    def the_status_never_runs_ahead_of_the_directories(self) -> None:
        if self.identity_id is None:
            return
        status = Identity.objects.get(pk=self.identity_id).status
        if status == Identity.Status.LEFT and (held := self.held_otherwise(granted=False)):
            self.wrong.append(f"the person is Left, but {'; '.join(held)}")
        if status == Identity.Status.ACTIVE:
            signs_in = {"entra": self.entra(), "okta": self.okta(), "app": self.in_app()}
            if blocked := [name for name, has in signs_in.items() if has[:2] != (True, True)]:
                self.wrong.append(f"the person is Active, but not signing in to {blocked}")

    # -- the end ----------------------------------------------------------------------------

    def teardown(self) -> None:
        if self.identity_id is not None:
            self.the_app_comes_back()
            self.an_admin_releases_the_app()
        if os.environ.get("OUTAGE_SHOW"):
            print("\n".join(self.log), "\n")
        super().teardown()


@pytest.mark.timeout(1200)
def test_one_persons_asks_end_as_asked_through_an_outage_of_the_app(on_sandbox, monkeypatch):
    examples = int(os.environ.get("OUTAGE_EXAMPLES") or 3)
    run_machine(OutageMachine, on_sandbox, monkeypatch, examples)
