"""A job whose person keeps being asked for more while it runs: each round converges, and
its read-back finds the newer ask to do. "Concurrent requests for one person must end in
the state last asked for" (docs/engine.md): the job goes on to the newest desired state,
as the rounds of one desired state are bounded (RECONCILE_MAX_ROUNDS) and the chase
itself is too; once a read shows the newest ask, the job succeeds and settles the jobs
of the asks it verified."""

from __future__ import annotations

import uuid

import pytest

from provisioning import services
from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tenants.models import RoleTemplate
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db(transaction=True)


def joined(on_sandbox, monkeypatch, name: str):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"{name}{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    join = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    assert drive(join).status == Job.Status.SUCCEEDED, join.error
    return dirs, join.identity


def groups_of(dirs, upn: str) -> list[str]:
    [user] = [u for u in dirs.entra_state()["users"] if u["userPrincipalName"] == upn]
    return sorted(g for g in user["groups"] if "dynamic" not in g)


def asks_between_rounds(monkeypatch, identity: Identity, templates: list, asks: int) -> list:
    """After each of the job's first `asks` rounds has been applied, the person is moved
    again (a technician, an HR feed): the next read finds the newer ask to do."""
    real = executor.end_round
    moves = []

    def and_a_new_ask(job):
        if len(moves) < asks:
            person = Identity.objects.get(pk=identity.pk)
            template = templates[len(moves) % len(templates)]
            moves.append(
                lifecycle.request_change(
                    person, lifecycle.ChangeRequest([template]), actor="system"
                )
            )
        return real(job)

    monkeypatch.setattr(executor, "end_round", and_a_new_ask)
    return moves


def test_a_job_whose_person_is_asked_again_after_each_round_ends_as_last_asked(
    on_sandbox, monkeypatch, settings
):
    """Five moves arrive, one after each round of the first move's job: every round does
    what the read asked for, and the next read finds the newer move. The job used to fail
    after four rounds ("still differ"), although no round failed to converge; it goes on,
    succeeds once a read shows the fifth move, and the moves it verified end with it."""
    dirs, identity = joined(on_sandbox, monkeypatch, "chase")
    support = RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Support", groups=["Staff", "VPN Users"], department="Support"
    )
    finance = RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Finance", groups=["Staff", "Finance"], department="Finance"
    )
    first = lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    moves = asks_between_rounds(monkeypatch, identity, [finance, support], asks=5)

    first = drive(first)

    identity.refresh_from_db()
    assert first.status == Job.Status.SUCCEEDED, first.error
    assert len(moves) == 5
    assert first.options["round"] == 6
    assert first.converged_version == identity.desired_version
    assert groups_of(dirs, identity.username) == ["Finance", "Staff"]  # the fifth move's
    for move in moves:
        move.refresh_from_db()
        assert move.status == Job.Status.SUCCEEDED
        assert move.verification["by_job"] == first.pk


def test_a_job_chasing_new_asks_gives_up_after_a_bound(on_sandbox, monkeypatch, settings):
    """Asks keep coming after every round: the chase is bounded too (CHASED_ROUNDS times
    the rounds of one desired state), and the newest ask is left to its own job, which runs
    next, verifies the last ask and settles the others."""
    settings.RECONCILE_MAX_ROUNDS = 2
    dirs, identity = joined(on_sandbox, monkeypatch, "chase-bound")
    support = RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Support", groups=["Staff", "VPN Users"], department="Support"
    )
    first = lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    bound = executor.CHASED_ROUNDS * 2
    moves = asks_between_rounds(monkeypatch, identity, [dirs.template, support], asks=bound)

    first = drive(first)

    assert first.status == Job.Status.FAILED
    assert first.options["round"] == bound
    assert "asked for again" in first.error, first.error
    assert drive(Job.objects.get(pk=moves[0].pk)).status == Job.Status.SUCCEEDED
    for move in moves[1:]:  # settled by the first: it read the last ask in place
        move.refresh_from_db()
        assert move.status == Job.Status.SUCCEEDED, (move.pk, move.status, move.error)
        assert move.verification["by_job"] == moves[0].pk
    assert groups_of(dirs, identity.username) == ["Staff", "VPN Users"]  # the last move's
