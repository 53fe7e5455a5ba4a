"""Calls that got no answer in time: the bridge gave them up, and the directory may still
carry them out. Driven in this process, on the sandbox over HTTP; the test plays the
network: the given-up call reaches the directory when the test lets it."""

from __future__ import annotations

import time
import uuid

import pytest

from provisioning.connectors import bridge, entra, okta, scim
from provisioning.connectors.base import NewUser
from provisioning.connectors.factory import connector_for
from provisioning.engine import steps as steps_module
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job, Step
from tests.provisioning.conftest import drive, run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.scim_apps import connect, make_app
from tests.provisioning.test_engine_convergence import entra_access, onboard, support_template

pytestmark = pytest.mark.django_db(transaction=True)


class Unanswered:
    """Every `$batch` of steps the engine sends gets no answer in time: the bridge gives it
    up (its TimeoutError), the request still on its way (held); `land` delivers the ones
    held."""

    def __init__(self, monkeypatch) -> None:
        self.monkeypatch, self.held, self.given_up = monkeypatch, [], 0
        self.real_many, self.real_run = steps_module.apply_many, bridge.run
        monkeypatch.setattr(steps_module, "apply_many", self.apply_many)

    def apply_many(self, connector, steps, account):
        self.monkeypatch.setattr(bridge, "run", self.give_up)
        try:
            return self.real_many(connector, steps, account)
        finally:
            self.monkeypatch.setattr(bridge, "run", self.real_run)

    def give_up(self, coroutine, timeout=None):
        self.held.append(coroutine)
        self.given_up += 1
        raise TimeoutError

    def land(self) -> None:
        while self.held:
            self.real_run(self.held.pop(0))


class GivenUp(Unanswered):
    """Only the first `$batch` of steps gets no answer; the ones after it are answered."""

    def apply_many(self, connector, steps, account):
        if self.given_up:
            return self.real_many(connector, steps, account)
        return super().apply_many(connector, steps, account)


def test_a_call_the_bridge_gave_up_on_lands_before_the_job_says_succeeded(on_sandbox, monkeypatch):
    """The join's group adds (one `$batch`) get no answer within the bridge's time: the
    bridge gives the call up, and the directory carries it out later. If the steps went
    back to pending as if nothing was sent, the join would send them again, verify and
    succeed, and a move that takes Sales away would succeed too, before the first batch
    arrives and gives Sales back under two succeeded jobs. A call given up is a call whose
    outcome is unknown, as a lost run's: the steps stay running and the job waits out the
    time the call can still arrive (the batch lands meanwhile here); the runs after it read
    what it did."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"noans{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    support = support_template(dirs, "Sales")
    join = onboard(dirs)
    call = GivenUp(monkeypatch)
    for _ in range(100):
        outcome = run_now(join.pk)
        join.refresh_from_db()
        if join.waiting_reason == steps_module.WAITING_OUT_LOST_CALLS:
            call.land()  # within the time the job waits out
        if join.is_done:
            break
        time.sleep(min(outcome.retry_in or 0.05, 0.2))
    assert call.given_up == 1 and join.status == Job.Status.SUCCEEDED, join.error
    identity = Identity.objects.get(pk=join.identity_id)
    move = lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    assert drive(move).status == Job.Status.SUCCEEDED, move.error
    call.land()  # else it lands now, late (still within the bridge's call time of its start)
    assert entra_access(dirs, identity.username)[0] == ["Staff", "VPN Users"]
    adds = join.steps.filter(action="add_group")
    assert [s.status for s in adds] == [Step.Status.SUCCEEDED] * 2


def test_an_answer_the_connector_stopped_waiting_for_is_waited_out_before_a_resend(
    on_sandbox, monkeypatch
):
    """Graph takes longer over the join's group adds than the connector's HTTP client waits
    for an answer (its read timeout, cut to half a second here): the client gives up, and
    Graph carries the `$batch` out a second later. The steps are not sent again before that
    request can no longer arrive (here: before it has landed); the move asked afterwards
    ends as asked."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    monkeypatch.setattr(entra, "ANSWER_TIMEOUT_S", 0.5)
    dirs = make_directories(on_sandbox, f"readto{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    support = support_template(dirs, "Sales")
    join = onboard(dirs)
    sent, landed_before_resent = first_round_slowed(monkeypatch, dirs, "entra", adds_served)
    run_waiting_out(join, lambda: adds_served(dirs) >= sent[0])  # the slow batch landed
    assert sent and join.status == Job.Status.SUCCEEDED, join.error
    assert landed_before_resent == [True]  # not sent again while the first were on their way
    first = join.steps.filter(action="add_group").order_by("order").first()
    assert first.attempts == 2 and first.status == Step.Status.SUCCEEDED
    identity = Identity.objects.get(pk=join.identity_id)
    move = lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    assert drive(move).status == Job.Status.SUCCEEDED, move.error
    assert entra_access(dirs, identity.username)[0] == ["Staff", "VPN Users"]


def adds_served(dirs) -> int:
    return dirs.stats("entra")["calls"].get("POST /v1.0/groups/{id}/members/$ref", 0)


def first_round_slowed(monkeypatch, dirs, kind: str, served) -> tuple[list, list]:
    """The join's first round of steps sent while the `kind` directory takes 1.5 s an answer
    (longer than the connector waits), the rounds after it quick. Returns the adds `served`
    in all once that round has landed, and, for each round sent again, whether it had."""
    real, sent, landed_before_resent = steps_module.apply_many, [], []

    def slow_first(connector, steps, account):
        done = served(dirs)
        if sent:  # sent again: whether the slow round had landed by then
            landed_before_resent.append(done >= sent[0])
            return real(connector, steps, account)
        sent.append(done + len(steps))
        dirs.behave(kind, latency_ms=1500)
        try:
            return real(connector, steps, account)
        finally:
            dirs.behave(kind, latency_ms=0)

    monkeypatch.setattr(steps_module, "apply_many", slow_first)
    return sent, landed_before_resent


def run_waiting_out(join: Job, landed) -> None:
    """Runs `join` until it ends; while it waits out its unanswered calls, until `landed()`
    (nothing else is sent meanwhile, so the slow call has landed by then)."""
    for _ in range(100):
        outcome = run_now(join.pk)
        join.refresh_from_db()
        if join.waiting_reason == steps_module.WAITING_OUT_LOST_CALLS:
            until(landed)
        if join.is_done:
            break
        time.sleep(min(outcome.retry_in or 0.05, 0.2))


def test_a_scim_answer_the_connector_stopped_waiting_for_is_waited_out(on_sandbox, monkeypatch):
    """As above for a SCIM app: the join's group add takes longer than the connector's HTTP
    client waits (cut to half a second here), and the app carries it out a second later. The
    add is not sent again before it has landed."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    monkeypatch.setattr(scim, "TIMEOUT_S", 0.5)
    dirs = make_directories(on_sandbox, f"scimto{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    app = make_app(on_sandbox, "full", groups=["sales"])
    dirs.template.scim_apps = [
        {"connection": connect(dirs.tenant, app, "Slack").pk, "groups": ["sales"]}
    ]
    dirs.template.save()
    join = onboard(dirs)
    real, sent, landed_before_resent = steps_module.apply_one, [], []

    def in_sales() -> bool:
        held = app.user(join.identity.username)
        return held is not None and "sales" in app.groups_of(held["id"])

    def slow_first(connector, step, account):
        if step.action != "add_group" or step.connection.kind != "scim":
            return real(connector, step, account)
        if sent:  # sent again: whether the slow one had landed by then
            landed_before_resent.append(in_sales())
            return real(connector, step, account)
        sent.append(step.pk)
        app.behave(latency_ms=1500)
        try:
            return real(connector, step, account)
        finally:
            app.behave(latency_ms=0)

    monkeypatch.setattr(steps_module, "apply_one", slow_first)
    run_waiting_out(join, in_sales)  # the slow add has landed
    assert sent and join.status == Job.Status.SUCCEEDED, join.error
    assert landed_before_resent == [True]  # sent again once, after the first had landed


def until(condition) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the slow call never landed"
        time.sleep(0.05)


def test_a_step_given_up_unanswered_is_waited_out_before_the_next_job(on_sandbox, monkeypatch):
    """The join's group adds get no answer, try after try, until the step gives up (two
    tries here, eight in the engine) and fails. The last try may still reach the directory:
    the join must not end, and let the person's next job run, before it can no longer
    arrive. Otherwise a move that takes Sales away reads the account without Sales,
    succeeds, and the last add lands after it, under a succeeded move. And once it has
    landed, the Sales it may have given is the portal's to take away again."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    monkeypatch.setattr(steps_module, "MAX_TRANSIENT_ATTEMPTS", 2)
    dirs = make_directories(on_sandbox, f"giveup{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    support = support_template(dirs, "Sales")
    join = onboard(dirs)
    network, landed_before_end = Unanswered(monkeypatch), []
    adds = Step.objects.filter(job=join, action="add_group")
    for _ in range(100):
        outcome = run_now(join.pk)
        join.refresh_from_db()
        given_up = adds.exists() and not adds.exclude(status=Step.Status.FAILED).exists()
        if given_up and not join.is_done:
            landed_before_end.append(bool(network.held))
            network.land()  # within the time the job waits out after giving up
        if join.is_done:
            break
        time.sleep(min(outcome.retry_in or 0.05, 0.2))
    assert join.status == Job.Status.PARTIAL, join.error
    assert landed_before_end[:1] == [True]  # the join waited for its last calls
    network.monkeypatch.setattr(steps_module, "apply_many", network.real_many)
    identity = Identity.objects.get(pk=join.identity_id)
    move = lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    assert drive(move).status == Job.Status.SUCCEEDED, move.error
    network.land()  # else it lands now, late
    assert entra_access(dirs, identity.username)[0] == ["Staff", "VPN Users"]


def test_an_okta_answer_the_connector_stopped_waiting_for_is_waited_out(on_sandbox, monkeypatch):
    """As for Graph, for Okta: the join's group adds take longer than the connector's HTTP
    client waits (cut to half a second here), and Okta carries them out a second later. Sent
    again at once (a plain transient failure), a move verified meanwhile could have Sales
    given back by the slow add landing after it; so the adds are not sent again before that
    request can no longer arrive (here: before it has landed), and the move ends as asked."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    monkeypatch.setattr(okta, "ANSWER_TIMEOUT_S", 0.5)
    dirs = make_directories(
        on_sandbox, f"oktato{uuid.uuid4().hex[:6]}", kinds=("okta",), licenses=[], apps=[]
    )
    support = support_template(dirs, "Sales")
    adopt_in_okta(dirs)  # a new account's groups ride in its create: no adds to slow
    join = onboard(dirs)
    sent, landed_before_resent = first_round_slowed(monkeypatch, dirs, "okta", okta_adds_served)
    run_waiting_out(join, lambda: okta_adds_served(dirs) >= sent[0])  # the slow adds landed
    assert sent and join.status == Job.Status.SUCCEEDED, join.error
    assert landed_before_resent == [True]  # not sent again while the first were on their way
    identity = Identity.objects.get(pk=join.identity_id)
    move = lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    assert drive(move).status == Job.Status.SUCCEEDED, move.error
    groups = okta_groups_of(dirs, identity.username)
    assert groups == ["Staff", "VPN Users"]


def adopt_in_okta(dirs) -> None:
    """Ada's own account already in Okta, for her join to link (engine/create_groups.py)."""
    dirs.tenant.link_existing_accounts = True
    dirs.tenant.save(update_fields=["link_existing_accounts"])
    login = f"ada.lovelace@{dirs.tenant.primary_domain}"
    connector = connector_for(dirs.tenant.connections.get(kind="okta"))
    bridge.run(
        connector.create_user(
            NewUser(login, "Ada", "Lovelace", "Ada Lovelace", login, "Okta-Ada-Pa55!")
        )
    )


def okta_adds_served(dirs) -> int:
    return dirs.stats("okta")["calls"].get("PUT /api/v1/groups/{groupId}/users/{userId}", 0)


def okta_groups_of(dirs, login: str) -> list[str]:
    state = dirs.okta_state()
    user = next(u for u in state["users"] if u["profile"]["login"] == login)
    return sorted(
        g["name"] for g in state["groups"] if user["id"] in g["members"] and g["type"] != "BUILT_IN"
    )
