"""A model-based test of an Okta joiner created already in their groups (`groupIds`,
engine/create_groups.py) while asks about them come in and runs are disrupted.

Hypothesis draws a join as Sales or Support (their groups ride in the create) and then, between
runs of the person's jobs, asks: a move, a group added to or taken off the person's role
template (the template edited, `template_changed`), a leave, a restore. Each run is
disrupted: the worker killed after the directory took the run's n-th batch (the create's,
first) and before the outcomes were written, the next writes carried out with their answers
lost or answered 504, the next calls throttled, every call failing, or every call hanging past
the client's patience. At the end the jobs are run to their end: the newest must say
Succeeded, and the Okta account, read over the sandbox's control API, must hold what was
last asked: one account, enabled (suspended after a leave), in the template's groups as last
edited (none after a leave). `OKTA_JOINS_EXAMPLES=<n>` runs more examples.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.db import transaction
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule

from provisioning import services
from provisioning.connectors import okta
from provisioning.engine import steps as steps_module
from provisioning.lifecycle import services as lifecycle
from provisioning.models import RoleTemplate
from tests.provisioning.directories import make_directories
from tests.provisioning.engine_model import okta_account
from tests.provisioning.person_machine import PersonMachine, run_machine
from tests.provisioning.test_engine_convergence import support_template
from tests.provisioning.test_engine_disrupted_kinds import EveryKindMachine

pytestmark = pytest.mark.django_db(transaction=True)

EDITED = "Finance"  # the group an edit of a template adds or takes off
ASKS = ("move to Sales", "move to Support", "edit: add", "edit: take off", "leave", "restore")
CALM = {"lose_answer_next": 0, "fail_after_next": 0, "throttle_next": 0}
FAULTS = {
    "lost answers": ({"lose_answer_next": 2}, CALM),
    "failed after": ({"fail_after_next": 2}, CALM),
    "throttled": ({"throttle_next": 3}, CALM),
    "failing": ({"error_rate": 1.0}, {"error_rate": 0.0}),
    "hanging": ({"timeout_rate": 1.0}, {"timeout_rate": 0.0}),
}


class OktaJoinMachine(PersonMachine):
    max_runs = 300
    FAULTS = FAULTS

    def __init__(self) -> None:
        super().__init__()
        self.monkeypatch.setattr(okta, "ANSWER_TIMEOUT_S", 0.5)
        self.dirs = make_directories(
            self.server, f"oj{uuid.uuid4().hex[:8]}", kinds=("okta",), licenses=[], apps=[]
        )
        self.templates = {"Sales": self.dirs.template, "Support": support_template(self.dirs)}
        self.template, self.left = "Sales", False
        self.kill_at = self.batches = 0
        real_write = steps_module.write_outcomes
        self.monkeypatch.setattr(steps_module, "write_outcomes", self.write_outcomes(real_write))

    write_outcomes = EveryKindMachine.write_outcomes  # kills after the n-th batch

    @initialize(template=st.sampled_from(["Sales", "Support"]), edited=st.booleans())
    def join(self, template: str, edited: bool) -> None:
        if edited:  # a third group in the create
            self.edit(self.templates[template], add=True, announce=False)
        request = services.OnboardingRequest("Ada", "Lovelace", [self.templates[template]])
        self.username = f"ada.lovelace@{self.dirs.tenant.primary_domain}"
        job = services.request_onboarding(
            self.dirs.tenant, request, username=self.username, actor="system"
        )
        self.identity_id, self.template = job.identity_id, template
        self.log.append(f"join as {template} {self.wanted()} -> job {job.pk}")

    @rule(
        what=st.one_of(st.none(), st.sampled_from(ASKS)),
        disruption=st.sampled_from(["none", "killed", *FAULTS]),
        at=st.integers(1, 3),
    )
    def ask_then_run(self, what: str | None, disruption: str, at: int) -> None:
        if what is not None:
            self.ask(what)
        self.run_once(disruption, "okta", at)

    def ask(self, what: str) -> None:
        if what.startswith("move to"):
            name = what.removeprefix("move to ")
            change = lifecycle.ChangeRequest([self.templates[name]])
            self.submit(
                what,
                lambda identity: lifecycle.request_change(identity, change, actor="system"),
                lambda: setattr(self, "template", name),
            )
        elif what.startswith("edit"):
            self.edit(self.templates[self.template], add=what.endswith("add"))
        elif what == "leave" and not self.left:
            options = lifecycle.OffboardingOptions(delete_after_days=None)
            self.submit(
                what,
                lambda identity: lifecycle.request_offboarding(identity, options, actor="system"),
                lambda: setattr(self, "left", True),
            )
        elif what == "restore" and self.left:
            self.submit(
                what,
                lambda identity: lifecycle.request_restore(identity, actor="system"),
                lambda: setattr(self, "left", False),
            )

    def edit(self, template: RoleTemplate, add: bool, announce: bool = True) -> None:
        groups = [g for g in template.groups if g != EDITED] + ([EDITED] if add else [])
        if groups == template.groups:
            return
        template.groups = groups
        with transaction.atomic():  # as the template's save asks its holders again
            template.save()
            jobs = lifecycle.template_changed(template, actor="system")
        if announce:
            self.log.append(f"{template.name} now {groups} -> jobs {[j.pk for j in jobs]}")

    run_once = EveryKindMachine.run_once  # its FAULTS in `behave`'s directory, or a kill

    def behave(self, target: str, **settings) -> None:
        self.dirs.behave(target, **settings)

    def wanted(self) -> tuple:
        if self.left:
            return (True, False, [])
        return (True, True, sorted(self.templates[self.template].groups))

    def held(self) -> tuple:
        account = okta_account(self.dirs.okta_state(), self.username)
        if not account.present or "accounts" in account.detail:
            return (account.present, account.detail)
        return (True, account.enabled, sorted(account.groups))

    def teardown(self) -> None:
        if self.identity_id is None:
            return
        self.run_to_the_end()
        lines = self.jobs_ended_otherwise()
        if (held := self.held()) != (wanted := self.wanted()):
            lines.append(f"okta holds {held}, asked {wanted}")
        self.report(lines)


@pytest.mark.timeout(1200)
def test_an_okta_joiner_created_in_groups_ends_as_asked_through_disrupted_runs(
    on_sandbox, monkeypatch
):
    examples = int(os.environ.get("OKTA_JOINS_EXAMPLES") or 3)
    run_machine(OktaJoinMachine, on_sandbox, monkeypatch, examples)
