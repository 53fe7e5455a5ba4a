"""Writes the directories carry out and whose answers never come back (the sandbox's
`lose_answer_next`: the write lands, then the connection hangs until the client gives up),
in Entra, Okta and a SCIM app at once, through a join, a move, a leave and a restore. Each
lost answer is a call whose outcome the engine cannot know (RFC 9110 §9.2.2): it must wait
it out and find, by reading, that it landed; never create a second account, and end every
directory as last asked, every job Succeeded, the audit chain whole. Driven in this
process; the clients' patience is cut to half a second, and the waits are stood in for
(`run_now`)."""

from __future__ import annotations

import uuid

import pytest

from portal.audit.verify import verify_all
from provisioning.connectors import entra, okta, scim
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.engine_model import okta_account
from tests.provisioning.scim_apps import sales_and_support
from tests.provisioning.test_engine_convergence import onboard

pytestmark = pytest.mark.django_db(transaction=True)

SALES, SUPPORT = ["Sales", "Staff"], ["Staff", "VPN Users"]


def test_writes_whose_answers_are_lost_end_every_directory_as_last_asked(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    for module, name in ((entra, "ANSWER_TIMEOUT_S"), (okta, "ANSWER_TIMEOUT_S")):
        monkeypatch.setattr(module, name, 0.5)
    monkeypatch.setattr(scim, "TIMEOUT_S", 0.5)
    through_every_directory(on_sandbox, "lost", fault="lose_answer_next", counted_as="lost")


def through_every_directory(on_sandbox, name: str, fault: str, counted_as: str) -> None:
    """A join, a move, a leave and a restore of one person in Entra, Okta and a SCIM app,
    each job's next two writes in each directory under the sandbox's `fault` (its count in
    the directory's stats `counted_as`): every job Succeeded, the fault fired in each, and
    each directory ends as last asked, one enabled account in Support's groups; the audit
    chain whole."""
    dirs = make_directories(
        on_sandbox, f"{name}{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"), licenses=[], apps=[]
    )
    app, support = sales_and_support(on_sandbox, dirs, SUPPORT)

    def disrupted(job: Job) -> Job:
        for kind in ("entra", "okta"):
            dirs.behave(kind, **{fault: 2})
        app.behave(**{fault: 2})
        return drive(job)

    join = disrupted(onboard(dirs))
    identity = Identity.objects.get(pk=join.identity_id)
    move = disrupted(
        lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    )
    leave_options = lifecycle.OffboardingOptions(delete_after_days=None)
    leave = disrupted(lifecycle.request_offboarding(identity, leave_options, actor="system"))
    restore = disrupted(lifecycle.request_restore(identity, actor="system"))

    jobs = [join, move, leave, restore]
    assert [j.status for j in jobs] == [Job.Status.SUCCEEDED] * 4, [j.error for j in jobs]
    fired = {kind: dirs.stats(kind)["faults"].get(counted_as, 0) for kind in ("entra", "okta")}
    with on_sandbox.control() as control:
        scim_stats = control.get(f"/_sandbox/scim-apps/{app.slug}/stats").json()
    fired["scim"] = scim_stats["faults"].get(counted_as, 0)
    assert all(fired.values()), fired  # the fault did fire in each
    upn = identity.username
    users = [u for u in dirs.entra_state()["users"] if u["userPrincipalName"] == upn]
    assert len(users) == 1, users  # no second account from a create sent again
    assert users[0]["accountEnabled"]
    assert sorted(g for g in users[0]["groups"] if "dynamic" not in g) == SUPPORT
    held = okta_account(dirs.okta_state(), upn)
    assert (held.present, held.enabled, sorted(held.groups)) == (True, True, SUPPORT)
    assert "accounts" not in held.detail, held.detail
    scim_users = [u for u in app.state()["users"] if u["userName"].casefold() == upn.casefold()]
    assert len(scim_users) == 1 and scim_users[0]["active"], scim_users
    assert app.groups_of(scim_users[0]["id"]) == {"support"}
    assert verify_all().ok
