"""A joiner's first sign-in, end to end against the sandbox through the real SDKs: the pass is
issued once, its link goes by e-mail to the manager (the link, never the secret), the page
shows it once after a confirm and then says it was viewed, expiry wipes it, and neither the
database nor the audit trail ever holds it in clear. Jobs run in this process (as in
test_quarantine_breaker.py)."""

from __future__ import annotations

import html
import io
import logging
import re
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning import services
from provisioning.engine import executor
from provisioning.engine import first_sign_in as engine_first_sign_in
from provisioning.engine.tasks import run_job
from provisioning.first_sign_in import deliveries, recipients
from provisioning.first_sign_in.models import Delivery, FirstSignInPolicy
from provisioning.first_sign_in.policies import save_policy
from provisioning.models import Identity, Job, Step
from tenants.crypto import decrypt
from tests.factories import signed_in
from tests.provisioning.claims import ClaimMeanwhile
from tests.provisioning.conftest import run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_manager import add_okta_user
from tests.provisioning.test_quarantine_breaker import drive

pytestmark = pytest.mark.django_db
LINK = re.compile(r"https?://\S+/first-sign-in/([\w-]+)/")
SHOWN = re.compile(r'<p class="secret">(?:<code>|<a href="[^"]*"[^>]*>)([^<]+)<')


def manager_of(dirs) -> Identity:
    """A manager the portal manages, with an account in the Entra directory (a joiner's
    manager must resolve there: provisioning/engine/manager.py)."""
    username = f"ana.manager@{dirs.tenant.primary_domain}"
    if dirs.entra_id:
        dirs.add_entra_user(username, "Ana", "Manager")
    return Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Ana",
        last_name="Manager",
        display_name="Ana Manager",
        username=f"ana.manager@{dirs.tenant.primary_domain}",
        email=f"ana@{dirs.tenant.primary_domain}",
        status=Identity.Status.ACTIVE,
    )


def set_policy(dirs, **fields) -> FirstSignInPolicy:
    policy = FirstSignInPolicy(tenant=dirs.tenant, **fields)
    save_policy(policy, actor="system")
    return policy


def onboard(dirs, manager: str, first="Ada", last="Lovelace") -> Job:
    request = services.OnboardingRequest(
        first_name=first,
        last_name=last,
        role_templates=[dirs.template],
        attributes={"manager": manager},
    )
    username = services.suggest_username(dirs.tenant, request)
    return services.request_onboarding(dirs.tenant, request, username=username, actor="system")


def run_join(dirs, capture, manager: str = "") -> Job:
    with capture(execute=True):
        job = drive(onboard(dirs, manager))
    steps = list(job.steps.values_list("action", "status", "last_error"))
    assert job.status == Job.Status.SUCCEEDED, (job.error, steps)
    return job


def token_in(mail) -> str:
    found = LINK.search(mail.body)
    assert found, mail.body
    return found.group(1)


def dump_everything() -> str:
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


def assert_nowhere(secret: str) -> None:
    assert secret not in dump_everything()
    for event in AuditEvent.objects.all():
        assert secret not in f"{event.before} {event.after}"


def first_sign_in_steps(job: Job) -> list[Step]:
    """The person's first sign-in steps, whichever job ran them."""
    steps = Step.objects.filter(job__identity=job.identity, action=Step.Action.FIRST_SIGN_IN)
    return list(steps.order_by("pk"))


# -- Entra: a Temporary Access Pass for the manager ----------------------------------------------


def test_a_joiner_gets_a_pass_shown_once_to_the_manager(
    client, on_sandbox, mailoutbox, django_capture_on_commit_callbacks
):
    dirs = make_directories(on_sandbox, "fsi-tap")
    manager = manager_of(dirs)
    set_policy(dirs, entra_method="tap", tap_lifetime_minutes=120)
    job = run_join(dirs, django_capture_on_commit_callbacks, manager.username)

    (step,) = first_sign_in_steps(job)
    assert step.status == Step.Status.SUCCEEDED
    assert step.target_name == f"Temporary Access Pass for the manager {manager.email} by e-mail"
    assert set(step.result) == {"delivery", "method", "recipient", "link_expires"}
    upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    uid = dirs.entra_user(upn)["id"]
    held = dirs.graph("GET", f"/users/{uid}/authentication/temporaryAccessPassMethods").json()
    (tap,) = held["value"]
    assert tap["lifetimeInMinutes"] == 120 and tap["isUsableOnce"] is True

    (mail,) = mailoutbox
    assert mail.to == [manager.email]
    token = token_in(mail)
    url = reverse("first_sign_in_view", args=[token])

    waiting = client.get(url)  # a mail scanner's prefetch: no secret, nothing spent
    assert waiting.status_code == 200 and b"Show it now" in waiting.content
    assert not SHOWN.search(waiting.content.decode())
    assert waiting["Cache-Control"] == "no-store"
    assert waiting["Referrer-Policy"] == "no-referrer"

    shown = client.post(url)
    assert shown.status_code == 200 and shown["Cache-Control"] == "no-store"
    secret = html.unescape(SHOWN.search(shown.content.decode()).group(1))
    assert len(secret) == 8
    assert secret not in mail.body and secret not in mail.subject
    row = Delivery.objects.get()
    assert row.ciphertext == "" and row.viewed_at is not None
    assert_nowhere(secret)

    again = client.post(url)
    assert b"Already viewed" in again.content and secret not in again.content.decode()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"first_sign_in.issued", "first_sign_in.viewed"} <= actions

    # A second round (the periodic check) issues nothing more.
    reconcile = Job.objects.create(tenant=dirs.tenant, identity=job.identity, kind="reconcile")
    assert drive(reconcile).status == Job.Status.SUCCEEDED
    assert len(first_sign_in_steps(job)) == 1 and Delivery.objects.count() == 1
    again_held = dirs.graph("GET", f"/users/{uid}/authentication/temporaryAccessPassMethods")
    assert [m["id"] for m in again_held.json()["value"]] == [tap["id"]]


def test_the_secret_is_encrypted_until_viewed_and_expiry_wipes_it(
    client, on_sandbox, mailoutbox, django_capture_on_commit_callbacks
):
    dirs = make_directories(on_sandbox, "fsi-expiry")
    manager = manager_of(dirs)
    set_policy(dirs, entra_method="tap")
    run_join(dirs, django_capture_on_commit_callbacks, manager.username)
    row = Delivery.objects.get()
    assert row.ciphertext.startswith("gAAAAA")  # Fernet
    assert row.token_hash and token_in(mailoutbox[0]) not in dump_everything()

    assert deliveries.wipe_expired(now=timezone.now()) == 0  # not due yet
    assert deliveries.wipe_expired(now=row.expires_at + timedelta(seconds=1)) == 1
    row.refresh_from_db()
    assert row.ciphertext == "" and row.wiped_at is not None and row.viewed_at is None
    assert AuditEvent.objects.filter(action="first_sign_in.expired").count() == 1
    page = client.post(reverse("first_sign_in_view", args=[token_in(mailoutbox[0])]))
    assert b"This link has expired" in page.content


def test_the_dry_run_names_the_pass_and_its_recipient(on_sandbox):
    dirs = make_directories(on_sandbox, "fsi-dry")
    manager = manager_of(dirs)
    set_policy(dirs, entra_method="tap")
    request = services.OnboardingRequest(
        first_name="Ada",
        last_name="Lovelace",
        role_templates=[dirs.template],
        attributes={"manager": manager.username},
    )
    preview = services.preview_onboarding(dirs.tenant, request)
    ((_, plan, error),) = preview.plans
    assert not error
    labels = [s.target_name for s in plan.steps if s.action == "first_sign_in"]
    assert labels == [f"Temporary Access Pass for the manager {manager.email} by e-mail"]
    assert Delivery.objects.count() == 0


def test_an_unknown_manager_is_a_note_not_a_failure(
    on_sandbox, mailoutbox, django_capture_on_commit_callbacks
):
    dirs = make_directories(on_sandbox, "fsi-nomgr")
    dirs.add_entra_user(f"bob@{dirs.tenant.primary_domain}", "Bob", "Builder")  # not in the portal
    set_policy(dirs, entra_method="tap")
    job = run_join(dirs, django_capture_on_commit_callbacks, manager="Bob Builder")
    assert first_sign_in_steps(job) == [] and mailoutbox == []
    assert any("No first sign-in will be sent" in w for w in job.options["warnings"])


def test_a_pass_the_directory_refuses_fails_the_step_once_in_words(
    on_sandbox, mailoutbox, django_capture_on_commit_callbacks
):
    """The tenant's TAP policy allows at most 480 minutes (Entra's default): the step fails
    with Graph's reason, nothing is kept or mailed, and the periodic check does not try again
    (retrying the job does)."""
    dirs = make_directories(on_sandbox, "fsi-refused")
    manager = manager_of(dirs)
    set_policy(dirs, entra_method="tap", tap_lifetime_minutes=600)
    with django_capture_on_commit_callbacks(execute=True):
        job = drive(onboard(dirs, manager.username))
    assert job.status == Job.Status.PARTIAL
    (step,) = first_sign_in_steps(job)
    assert step.status == Step.Status.FAILED and step.error_kind == "permanent"
    assert "maximum (480)" in step.last_error
    assert Delivery.objects.count() == 0 and mailoutbox == []
    reconcile = Job.objects.create(tenant=dirs.tenant, identity=job.identity, kind="reconcile")
    assert drive(reconcile).status == Job.Status.SUCCEEDED
    assert len(first_sign_in_steps(job)) == 1


def test_people_made_before_the_policy_never_get_one(
    on_sandbox, mailoutbox, django_capture_on_commit_callbacks
):
    dirs = make_directories(on_sandbox, "fsi-before")
    manager = manager_of(dirs)
    job = run_join(dirs, django_capture_on_commit_callbacks, manager.username)  # no policy yet
    set_policy(dirs, entra_method="tap")
    reconcile = Job.objects.create(tenant=dirs.tenant, identity=job.identity, kind="reconcile")
    assert drive(reconcile).status == Job.Status.SUCCEEDED
    assert first_sign_in_steps(job) == [] and mailoutbox == []


# -- Okta: an activation link, a temporary password ----------------------------------------------


@pytest.mark.parametrize(
    ("method", "status"),
    [("activation_link", "PROVISIONED"), ("temp_password", "PASSWORD_EXPIRED")],
)
def test_okta_joiner_gets_an_activation_link_or_temporary_password(
    client, on_sandbox, mailoutbox, django_capture_on_commit_callbacks, method, status
):
    dirs = make_directories(on_sandbox, f"fsi-{method[:4]}", ("okta",))
    set_policy(dirs, okta_method=method, recipient="named", named_recipient="it@client.example")
    job = run_join(dirs, django_capture_on_commit_callbacks)
    (step,) = first_sign_in_steps(job)
    assert step.status == Step.Status.SUCCEEDED
    login = f"ada.lovelace@{dirs.tenant.primary_domain}"
    user = dirs.okta_user(login)
    assert user["status"] == status
    (mail,) = mailoutbox
    assert mail.to == ["it@client.example"]
    shown = client.post(reverse("first_sign_in_view", args=[token_in(mail)]))
    secret = html.unescape(SHOWN.search(shown.content.decode()).group(1))
    if method == "activation_link":
        assert "/welcome/" in secret
        assert not any(s.action == "enable_user" for s in job.steps.all())  # the link activates
    assert secret not in mail.body
    assert_nowhere(secret)


def test_okta_own_activation_email_leaves_nothing_to_keep(
    on_sandbox, mailoutbox, django_capture_on_commit_callbacks
):
    dirs = make_directories(on_sandbox, "fsi-mail", ("okta",))
    set_policy(dirs, okta_method="directory_email")
    job = run_join(dirs, django_capture_on_commit_callbacks)
    (step,) = first_sign_in_steps(job)
    assert step.target_name == "Okta's own activation e-mail to the joiner"
    assert dirs.okta_user(f"ada.lovelace@{dirs.tenant.primary_domain}")["status"] == "PROVISIONED"
    row = Delivery.objects.get()
    assert (row.ciphertext, row.token_hash, row.recipient) == ("", None, "")
    assert mailoutbox == []  # Okta sends it


def test_a_step_whose_delivery_was_recorded_never_calls_the_directory_again(
    on_sandbox, mailoutbox, django_capture_on_commit_callbacks
):
    """A crash after the record and before the step's own save: the rerun recognises it."""
    from provisioning.engine import first_sign_in

    dirs = make_directories(on_sandbox, "fsi-rerun")
    manager = manager_of(dirs)
    set_policy(dirs, entra_method="tap")
    job = run_join(dirs, django_capture_on_commit_callbacks, manager.username)
    (step,) = first_sign_in_steps(job)

    def directory_call() -> dict:
        raise AssertionError("the directory was called again")

    assert first_sign_in.issue(step, directory_call) == step.result
    assert Delivery.objects.count() == 1 and len(mailoutbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_that_lost_the_job_keeps_and_mails_no_pass(on_sandbox, mailoutbox, monkeypatch):
    """Run 1 of a join has its pass from Entra when its lease runs out (a worker frozen
    after the call). Run 2 takes the job over, finds no pass kept for the step and asks
    Entra for one, which replaces run 1's. Run 1 wakes up before run 2's call and would keep
    and mail its pass, which then no longer works. The manager must get one link, to the
    pass Entra holds."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "fsi-lease")
    manager = manager_of(dirs)
    set_policy(dirs, entra_method="tap")
    passes: dict[str, str] = {}  # each pass Entra issued: its id by its secret
    run_1 = Run1()
    real_issue = engine_first_sign_in.issue

    def issue(step, call):
        def called() -> dict:
            if threading.current_thread() is run_1:
                answer = call()
                passes[answer["issued"].secret] = answer["issued"].reference
                run_1.frozen_after_the_call()
                return answer
            run_1.wake_up_and_end()  # run 2, before its own call
            answer = call()
            passes[answer["issued"].secret] = answer["issued"].reference
            return answer

        return real_issue(step, called)

    monkeypatch.setattr(engine_first_sign_in, "issue", issue)
    join = onboard(dirs, manager.username)
    run_1.start_run(join.pk)
    Job.objects.filter(pk=join.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    # Frozen longer than a call may take, so run 2 does not wait for run 1's to arrive.
    Step.objects.filter(job=join, action=Step.Action.FIRST_SIGN_IN).update(
        started_at=timezone.now() - timedelta(minutes=5)
    )
    try:
        run_now(join.pk)  # run 2
    except IntegrityError:  # unfenced, run 1 kept its pass first and run 2's clashed with it
        Job.objects.filter(pk=join.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    run_1.finish()
    with_runs = drive(Job.objects.get(pk=join.pk))
    assert with_runs.status == Job.Status.SUCCEEDED, with_runs.error

    kept = Delivery.objects.get()
    assert len(mailoutbox) == 1 and len(passes) == 2
    uid = dirs.entra_user(with_runs.identity.username)["id"]
    held = dirs.graph("GET", f"/users/{uid}/authentication/temporaryAccessPassMethods").json()
    (tap,) = held["value"]
    assert passes[decrypt(kept.ciphertext)] == tap["id"]


@pytest.mark.django_db(transaction=True)
def test_a_call_still_on_its_way_from_a_run_that_lost_the_job_replaces_no_mailed_pass(
    on_sandbox, mailoutbox, monkeypatch
):
    """Run 1 of a join has sent its pass's call when its lease runs out (a worker frozen with
    the request on its way). Run 2 takes the job over: if it asked Entra for a pass while run
    1's call could still arrive, that call would replace the pass run 2 keeps and mails. Run 2
    waits until no call of run 1's can be on its way; the pass asked after that is the one
    Entra holds, and the only one mailed."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "fsi-flight")
    manager = manager_of(dirs)
    set_policy(dirs, entra_method="tap")
    passes: dict[str, str] = {}  # each pass Entra issued: its id by its secret
    run_1 = Run1()
    real_issue = engine_first_sign_in.issue

    def issue(step, call):
        def called() -> dict:
            if threading.current_thread() is run_1:
                run_1.frozen_after_the_call()  # its request not at Entra yet
            answer = call()
            passes[answer["issued"].secret] = answer["issued"].reference
            return answer

        return real_issue(step, called)

    monkeypatch.setattr(engine_first_sign_in, "issue", issue)
    join = onboard(dirs, manager.username)
    run_1.start_run(join.pk)
    Job.objects.filter(pk=join.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    run_now(join.pk)  # run 2
    run_1.finish()  # its call reaches Entra now, and it finds the job taken
    # The longest a call may take has passed since run 1 sent its own (no sleep: its start
    # moved back).
    Step.objects.filter(job=join, action=Step.Action.FIRST_SIGN_IN).update(
        started_at=timezone.now() - timedelta(minutes=5)
    )
    with_runs = drive(Job.objects.get(pk=join.pk))
    assert with_runs.status == Job.Status.SUCCEEDED, with_runs.error

    kept = Delivery.objects.get()
    assert len(mailoutbox) == 1
    uid = dirs.entra_user(with_runs.identity.username)["id"]
    held = dirs.graph("GET", f"/users/{uid}/authentication/temporaryAccessPassMethods").json()
    (tap,) = held["value"]
    assert passes[decrypt(kept.ciphertext)] == tap["id"]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="two runs' transactions interleave on PostgreSQL; SQLite serialises writers",
)
@pytest.mark.django_db(transaction=True)
def test_a_claim_while_a_run_keeps_its_pass_finds_it_kept(on_sandbox, mailoutbox, monkeypatch):
    """Run 1's lease runs out as its pass comes back; another run claims the job as run 1
    starts keeping the pass, and reads whether one is kept for the step. It must see the pass
    run 1 keeps (and mails), or run 1 must keep none: else it asks Entra again, and the pass
    that was mailed no longer works."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "fsi-claim")
    manager = manager_of(dirs)
    set_policy(dirs, entra_method="tap")
    real_issue, real_deliver = engine_first_sign_in.issue, deliveries.deliver
    claims = []

    def issue(step, call):
        def called() -> dict:
            answer = call()
            Job.objects.filter(pk=step.job_id).update(
                lease_until=timezone.now() - timedelta(seconds=1)
            )
            return answer

        return real_issue(step, called)

    def deliver(step, issued):  # run 1, about to keep its pass
        kept_for_step = lambda: Delivery.objects.filter(step=step).exists()  # noqa: E731
        claims.append(ClaimMeanwhile(step.job_id, kept_for_step))
        claims[0].claim_meanwhile()
        return real_deliver(step, issued)

    monkeypatch.setattr(engine_first_sign_in, "issue", issue)
    monkeypatch.setattr(deliveries, "deliver", deliver)
    join = onboard(dirs, manager.username)
    executor.execute(join.pk)  # run 1, up to where it finds the job claimed
    (run_2,) = claims
    run_2.finish()
    join.refresh_from_db()
    assert join.runs == 2
    kept = Delivery.objects.filter(step__job=join).exists()
    assert run_2.seen == [kept] and len(mailoutbox) == int(kept)
    # Run 2's worker stopped after its read: another run ends the join, with one pass mailed,
    # once no call of run 1's can still arrive (the window passed: the step's start moved back).
    Job.objects.filter(pk=join.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    Step.objects.filter(job=join, action=Step.Action.FIRST_SIGN_IN).update(
        started_at=timezone.now() - timedelta(minutes=5)
    )
    assert drive(join).status == Job.Status.SUCCEEDED
    assert Delivery.objects.count() == 1 and len(mailoutbox) == 1


class Run1(threading.Thread):
    """A worker's run of the join, on its own connection, frozen after its pass's call until
    the run that took the job over is about to make its own."""

    def __init__(self) -> None:
        super().__init__()
        self.job_id = None
        self.errors: list[BaseException] = []
        self.outcome, self.frozen = None, False
        self.called, self.woken = threading.Event(), threading.Event()

    def start_run(self, job_id: int) -> None:
        """Run 1 until it is frozen at its pass's call; the test's premise fails if it ended
        before that call (parked, or the job taken), with what it left on the job."""
        self.job_id = job_id
        self.start()
        assert self.called.wait(timeout=60), self.errors
        assert self.frozen, ("run 1 ended early", self.outcome, self.errors, _left(job_id))

    def run(self) -> None:
        try:
            self.outcome = executor.execute(self.job_id)
        except BaseException as error:  # reported to the main thread by finish()
            self.errors.append(error)
        finally:
            self.called.set()
            connections.close_all()

    def frozen_after_the_call(self) -> None:
        self.frozen = True
        self.called.set()
        assert self.woken.wait(timeout=60)

    def wake_up_and_end(self) -> None:
        self.woken.set()
        self.join(timeout=60)
        assert not self.is_alive()

    def finish(self) -> None:
        self.woken.set()
        self.join(timeout=60)
        assert not self.is_alive() and self.errors == []


def _left(job_id: int) -> tuple:
    row = Job.objects.values("status", "waiting_reason", "error", "options").get(pk=job_id)
    steps = Step.objects.filter(job_id=job_id).values_list("action", "status", "last_error")
    return row, list(steps)


# -- the policy page ---------------------------------------------------------------------


def test_msp_admin_sets_the_policy_with_an_audit_event(client, alpha, msp_admin):
    signed_in(client, msp_admin)  # naming a recipient asks for the password
    url = reverse("first_sign_in_settings", args=[alpha.tenant.slug])
    assert client.get(url).status_code == 200
    data = {
        "entra_method": "tap",
        "tap_lifetime_minutes": "240",
        "tap_usable_once": "on",
        "okta_method": "",
        "recipient": "named",
        "named_recipient": "",
        "link_hours": "24",
    }
    refused = client.post(url, data)
    assert refused.status_code == 200 and FirstSignInPolicy.objects.count() == 0
    assert client.post(url, data | {"named_recipient": "it@alpha.test"}).status_code == 302
    policy = FirstSignInPolicy.objects.get(tenant=alpha.tenant)
    assert policy.entra_method == "tap" and policy.active_since is not None
    assert AuditEvent.objects.filter(action="tenant.first_sign_in_update").count() == 1
    too_long = client.post(
        url, data | {"named_recipient": "x@y.z", "tap_lifetime_minutes": "50000"}
    )
    assert too_long.status_code == 200
    assert FirstSignInPolicy.objects.get().tap_lifetime_minutes == 240


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_other_roles_get_403_and_other_tenants_404(client, alpha, bravo, role):
    url = reverse("first_sign_in_settings", args=[alpha.tenant.slug])
    client.force_login(alpha.people[role])
    assert client.get(url).status_code == 403
    client.force_login(bravo.people[role])
    assert client.get(url).status_code == 404
    assert client.post(url, {"entra_method": "tap"}).status_code == 404
    assert FirstSignInPolicy.objects.count() == 0


@pytest.mark.usefixtures("one_minute")
def test_looking_at_links_is_rate_limited_per_client(client, db):
    url = reverse("first_sign_in_view", args=["guess"])
    answers = [client.get(url, REMOTE_ADDR="10.9.8.7").status_code for _ in range(21)]
    assert answers[:20] == [404] * 20 and answers[20] == 429
    assert client.get(url, REMOTE_ADDR="10.9.8.8").status_code == 404  # someone else


@pytest.mark.usefixtures("one_minute")
def test_a_client_moving_through_its_ipv6_network_is_one_client(client, db):
    """The limit counted each IPv6 address, so one host moving through its /64 (RFC 8273 gives
    a host one) looked at links without end; it is now its /64, as the password reset's limit
    counts a client (attack21)."""
    url = reverse("first_sign_in_view", args=["guess"])
    answers = [client.get(url, REMOTE_ADDR=f"2001:db8:9:1::{n:x}").status_code for n in range(21)]
    assert answers[:20] == [404] * 20 and answers[20] == 429
    assert client.get(url, REMOTE_ADDR="2001:db8:9:2::1").status_code == 404  # someone else


def test_a_rate_limited_look_says_when_to_come_back(client, db):
    """RFC 6585 §4: a 429 may say how long to wait; ours says the seconds left in the minute
    the limit counts, as the other 429s of the portal do."""
    url = reverse("first_sign_in_view", args=["guess"])
    for _ in range(41):  # 21 in one minute, whenever the minute turns
        started = int(time.time())
        refused = client.get(url, REMOTE_ADDR="10.9.8.6")
        ended = int(time.time())
        if refused.status_code == 429:
            break
    assert refused.status_code == 429
    window_ends = {(t // 60 + 1) * 60 - t for t in range(started, ended + 1)}
    assert int(refused["Retry-After"]) in window_ends


def test_an_unknown_link_is_404_and_says_nothing(client, db):
    page = client.get(reverse("first_sign_in_view", args=["not-a-real-token"]))
    assert page.status_code == 404 and b"Link not found" in page.content
    assert page["Cache-Control"] == "no-store"


def test_a_link_refused_or_limited_is_never_written_down(client, db, caplog):
    """The link is the key to a secret still unseen: a POST refused by the CSRF check (a mail
    scanner that submits forms, a browser without cookies) or a look past the limit leaves it
    live, so neither the trail of refused requests nor a log line may carry it."""
    caplog.set_level(logging.DEBUG)
    token = "Xq7-live-link-token-not-spent-0123456789abcd"
    url = reverse("first_sign_in_view", args=[token])
    refused = Client(enforce_csrf_checks=True).post(url)
    assert refused.status_code == 403
    (event,) = AuditEvent.objects.filter(action="security.request_refused")
    assert event.after["path"] == url.replace(token, "…")
    answers = [client.get(url, REMOTE_ADDR="10.9.8.5").status_code for _ in range(21)]
    assert answers[-1] == 429
    # runserver's access log (the demo's) names every path, as "GET <path> HTTP/1.1".
    logging.getLogger("django.server").info('"%s" %s %s', f"GET {url} HTTP/1.1", 200, 10)
    assert "/first-sign-in/" in caplog.text and token not in caplog.text
    assert token not in dump_everything()


def test_a_manager_address_outside_the_tenants_domains_is_sent_no_pass(
    on_sandbox, mailoutbox, django_capture_on_commit_callbacks
):
    """The manager field is free text that a technician, the HR feed or a SCIM client sets:
    an address nobody in the portal has gets the joiner's pass only at one of the tenant's own
    domains, so whoever sets the field cannot have the pass mailed outside the client."""
    dirs = make_directories(on_sandbox, "fsi-outside", ("okta",))
    add_okta_user(dirs, "boss@elsewhere.example", "Boss", "Elsewhere")  # a login Okta allows
    set_policy(dirs, okta_method="activation_link")
    job = run_join(dirs, django_capture_on_commit_callbacks, manager="Boss@Elsewhere.example")
    assert first_sign_in_steps(job) == [] and mailoutbox == []
    (note,) = [w for w in job.options["warnings"] if "No first sign-in will be sent" in w]
    assert "“Boss@Elsewhere.example” is not in the portal" in note
    assert f"not at the tenant's domains ({dirs.tenant.primary_domain})" in note
    inside = f"boss@{dirs.tenant.primary_domain}"
    policy = FirstSignInPolicy.objects.get(tenant=dirs.tenant)
    assert recipients.recipient_of(policy, dirs.tenant, inside.upper()) == (
        inside,
        f"the manager {inside}",
    )


def test_a_manager_whose_e_mail_is_outside_the_tenants_domains_is_sent_no_pass(
    on_sandbox, mailoutbox, django_capture_on_commit_callbacks
):
    """The same rule when the manager is named through a person of the tenant: a SCIM
    client sets a person's `emails` to any address (only `userName` must be at the tenant's
    domains), so it could make (or PATCH) a person whose e-mail is elsewhere and name them
    as a joiner's manager, and have the joiner's pass mailed outside the client (attack22)."""
    dirs = make_directories(on_sandbox, "fsi-planted", ("okta",))
    inside = f"boss@{dirs.tenant.primary_domain}"
    add_okta_user(dirs, inside, "Boss", "Planted")
    Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Boss",
        last_name="Planted",
        display_name="Boss Planted",
        username=inside,
        email="boss@elsewhere.example",
        status=Identity.Status.ACTIVE,
    )
    set_policy(dirs, okta_method="activation_link")
    job = run_join(dirs, django_capture_on_commit_callbacks, manager=inside)
    assert first_sign_in_steps(job) == [] and mailoutbox == []
    (note,) = [w for w in job.options["warnings"] if "No first sign-in will be sent" in w]
    assert "boss@elsewhere.example" in note
    assert f"not at the tenant's domains ({dirs.tenant.primary_domain})" in note
    policy = FirstSignInPolicy.objects.get(tenant=dirs.tenant)
    for named in ("Boss Planted", "boss@elsewhere.example"):
        assert recipients.recipient_of(policy, dirs.tenant, named)[0] == ""
