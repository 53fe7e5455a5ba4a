"""The signed HR webhook: what it accepts, what it refuses (and records), the circuit breaker,
the secret and events pages, one hire end to end, and the docs' examples run for real.

Requests are signed here with hmac directly (not with the code under test), as an HR system
would. The tenant's directories are sandbox ones, so the hire's username check asks them.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, Identity, Job
from provisioning.webhook import receive
from provisioning.webhook.models import HRWebhookEvent
from tenants import clock
from tenants.models import DirectoryConnection
from tests.factories import PASSWORD, signed_in
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db

SECRET = "hrwh_test-secret-never-shown-9f3a"
DOC = Path(__file__).resolve().parents[2] / "docs" / "hr-webhook.md"
HX = {"HTTP_HX_REQUEST": "true"}

CHALLENGE = 'HMAC-SHA256 realm="hr-webhook"'


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_refusal_limit(settings):
    """These tests send many refused requests from one address; one test below sets a limit."""
    settings.HR_WEBHOOK_REFUSALS_PER_MINUTE = 100_000


def hook_url(slug: str) -> str:
    return reverse("hr_webhook", kwargs={"tenant": slug})


def signed(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"HTTP_X_SIGNATURE_TIMESTAMP": ts, "HTTP_X_SIGNATURE": digest}


def send(client, slug: str, event: dict | None = None, *, raw: bytes | None = None, **headers):
    body = raw if raw is not None else json.dumps(event).encode()
    meta = signed(body) | headers
    return client.post(hook_url(slug), data=body, content_type="application/json", **meta)


def hire(employee_id="E1001", first="Ada", last="Lovelace", **extra) -> dict:
    return {
        "event": "hire",
        "id": f"hire-{employee_id}",
        "employee_id": employee_id,
        "first_name": first,
        "last_name": last,
        "role": "Sales",
    } | extra


def terminate(employee_id: str, **extra) -> dict:
    return {"event": "terminate", "id": f"term-{employee_id}", "employee_id": employee_id} | extra


def counts() -> tuple[int, int]:
    return Identity.objects.count(), Job.objects.count()


def with_secret(tenant, secret: str = SECRET):
    tenant.set_hr_webhook_secret(secret)
    tenant.save()
    return tenant


@pytest.fixture
def dirs(on_sandbox):
    """A tenant whose HR system has the secret, with an Entra directory in the sandbox."""
    directories = make_directories(on_sandbox, f"hr-{uuid.uuid4().hex[:8]}")
    with_secret(directories.tenant)
    return directories


@pytest.fixture
def tenant(dirs):
    return dirs.tenant


def add_person(tenant, template, employee_id: str, status=Identity.Status.ACTIVE) -> Identity:
    person = Identity.objects.create(
        tenant=tenant,
        first_name="Pat",
        last_name=employee_id,
        display_name=f"Pat {employee_id}",
        username=f"pat.{employee_id.lower()}@{tenant.primary_domain}",
        email=f"pat.{employee_id.lower()}@{tenant.primary_domain}",
        employee_id=employee_id,
        status=status,
        attributes={"office": "London"},
    )
    person.role_templates.set([template])
    return person


# -- accepted ---------------------------------------------------------------------------------


def test_hire_creates_the_person_and_a_join_job_once(client, dirs, tenant):
    event = hire(department="Sales EMEA", usage_location="de")
    response = send(client, tenant.slug, event)
    assert response.status_code == 202, response.json()
    answer = response.json()
    job = Job.objects.get(pk=answer["job"])
    assert answer == {"job": job.pk, "status": "queued", "kind": "join"}
    person = job.identity
    assert person.employee_id == "E1001" and person.tenant == tenant
    assert person.username == f"ada.lovelace@{tenant.primary_domain}"  # the naming rule
    assert [t.name for t in person.role_templates.all()] == ["Sales"]
    assert person.attributes == {"department": "Sales EMEA", "usage_location": "DE"}
    assert person.start_date == clock.tenant_today(tenant)

    resent = send(client, tenant.slug, event)  # signed again a moment later, as a retry is
    assert resent.status_code == 200
    assert resent.json() == {"job": job.pk, "status": "queued", "duplicate": True}
    assert counts() == (1, 1)
    recorded = list(HRWebhookEvent.objects.order_by("pk").values_list("outcome", "job_id"))
    assert recorded == [("accepted", job.pk), ("duplicate", job.pk)]
    first = HRWebhookEvent.objects.order_by("pk").first()
    # the events page shows the reason: its time as the page's others read (portal time_tags)
    at = first.received_at.astimezone(UTC)
    assert HRWebhookEvent.objects.order_by("pk").last().reason == (
        f"resent; first accepted at {at.day} {at:%b %Y %H:%M:%S} UTC"
    )
    assert first.body_sha256 == hashlib.sha256(json.dumps(event).encode()).hexdigest()
    assert (first.idempotency_key, first.event_type, first.employee_id) == (
        "hire-E1001",
        "hire",
        "E1001",
    )
    assert first.remote_addr == "127.0.0.1"
    actions = list(
        AuditEvent.objects.filter(tenant_id=tenant.pk).values_list("action", "actor_kind")
    )
    assert ("identity.onboard", "webhook") in actions and (
        "hr_webhook.accept",
        "webhook",
    ) in actions


def test_a_hire_starting_later_is_created_disabled_and_enabled_on_its_day(client, tenant):
    start = clock.tenant_today(tenant) + timedelta(days=14)
    response = send(client, tenant.slug, hire(start_date=start.isoformat()))
    assert response.status_code == 202
    person = Identity.objects.get(employee_id="E1001")
    assert person.start_date == start
    enable = person.jobs.get(status=Job.Status.SCHEDULED)
    assert enable.not_before == clock.start_of_day(tenant, start)


def test_an_idempotency_key_header_does_not_replace_the_id(client, tenant):
    event = hire()
    del event["id"]
    response = send(client, tenant.slug, event, HTTP_IDEMPOTENCY_KEY="hr-42")
    answer = assert_refused_and_recorded(response, 400, "id: required", (0, 0))
    assert [d["field"] for d in answer["details"]] == ["id"]


def test_signature_with_sha256_prefix_and_upper_case_is_accepted(client, tenant):
    body = json.dumps(hire()).encode()
    meta = signed(body)
    meta["HTTP_X_SIGNATURE"] = "sha256=" + meta["HTTP_X_SIGNATURE"].upper()
    response = client.post(hook_url(tenant.slug), body, content_type="application/json", **meta)
    assert response.status_code == 202


def test_the_same_id_in_two_tenants_is_two_events(client, on_sandbox, tenant):
    other = with_secret(make_directories(on_sandbox, f"hr2-{uuid.uuid4().hex[:6]}").tenant)
    assert send(client, tenant.slug, hire()).status_code == 202
    assert send(client, other.slug, hire()).status_code == 202
    assert Identity.objects.filter(employee_id="E1001").count() == 2


def test_change_moves_the_person_and_keeps_unnamed_attributes(client, dirs, tenant):
    support = dirs.template.__class__.objects.create(
        tenant=tenant, name="Support", groups=["Staff"]
    )
    person = add_person(tenant, dirs.template, "E7")
    event = {"event": "change", "id": "c-1", "employee_id": "E7", "role": "support"}
    response = send(client, tenant.slug, event | {"department": "Helpdesk"})
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["job"])
    assert job.kind == Job.Kind.CHANGE and job.identity == person
    person.refresh_from_db()
    assert list(person.role_templates.all()) == [support]
    assert person.attributes == {"office": "London", "department": "Helpdesk"}

    cleared = send(
        client,
        tenant.slug,
        {"event": "change", "id": "c-2", "employee_id": "E7"} | {"office": None},
    )
    assert cleared.status_code == 202
    person.refresh_from_db()
    assert person.attributes == {"department": "Helpdesk"}
    assert list(person.role_templates.all()) == [support]  # no role given: the roles stay


def test_terminate_at_a_given_time_is_scheduled_in_the_tenant_time_zone(client, dirs, tenant):
    tenant.time_zone = "America/New_York"
    tenant.save()
    person = add_person(tenant, dirs.template, "E8")
    day = clock.tenant_today(tenant) + timedelta(days=10)
    leave_at = f"{day.isoformat()}T17:00:00"
    response = send(client, tenant.slug, terminate("E8", leave_at=leave_at))
    assert response.status_code == 202
    assert response.json()["status"] == "scheduled"
    job = Job.objects.get(pk=response.json()["job"])
    assert job.kind == Job.Kind.LEAVE and job.identity == person
    expected = datetime(day.year, day.month, day.day, 17, 0, tzinfo=ZoneInfo("America/New_York"))
    assert job.not_before == expected
    assert job.options["offboard"] == lifecycle.OffboardingOptions.preset_for(tenant).as_dict()
    person.refresh_from_db()
    assert person.end_date == day


def test_terminate_on_an_end_date_runs_as_that_day_ends(client, dirs, tenant):
    add_person(tenant, dirs.template, "E9")
    day = clock.tenant_today(tenant) + timedelta(days=3)
    response = send(client, tenant.slug, terminate("E9", end_date=day.isoformat()))
    job = Job.objects.get(pk=response.json()["job"])
    assert job.status == Job.Status.SCHEDULED
    zone = ZoneInfo(tenant.time_zone)
    assert job.not_before == datetime(day.year, day.month, day.day, 23, 59, tzinfo=zone)


def test_terminate_without_a_date_is_queued_now(client, dirs, tenant):
    add_person(tenant, dirs.template, "E10")
    response = send(client, tenant.slug, terminate("E10"))
    assert response.status_code == 202
    assert response.json() == {"job": response.json()["job"], "status": "queued", "kind": "leave"}


# -- refused: nothing changes, the request is recorded ----------------------------------------


def assert_refused_and_recorded(response, status: int, reason_part: str, before) -> dict:
    assert response.status_code == status, response.content
    assert counts() == before, "a refused request changed something"
    answer = response.json()
    assert answer["error"] and answer["message"]
    event = HRWebhookEvent.objects.order_by("-pk").first()
    assert event.outcome == HRWebhookEvent.Outcome.REJECTED
    assert reason_part in event.reason, event.reason
    audit = AuditEvent.objects.filter(action="hr_webhook.reject").order_by("-pk").first()
    assert audit is not None and audit.actor_kind == "webhook"
    assert audit.target_id == str(event.pk)
    return answer


def test_bad_signature_is_401(client, tenant):
    body = json.dumps(hire()).encode()
    before = counts()
    meta = signed(body, secret="hrwh_someone-elses")
    response = client.post(hook_url(tenant.slug), body, content_type="application/json", **meta)
    assert_refused_and_recorded(response, 401, "bad signature", before)
    assert HRWebhookEvent.objects.get().tenant == tenant  # the tenant's admins see it


def test_a_body_changed_after_signing_is_401(client, tenant):
    meta = signed(json.dumps(hire()).encode())
    tampered = json.dumps(hire(first="Mallory")).encode()
    before = counts()
    response = client.post(hook_url(tenant.slug), tampered, content_type="application/json", **meta)
    assert_refused_and_recorded(response, 401, "bad signature", before)


@pytest.fixture
def frozen_webhook_clock(monkeypatch):
    """The webhook's clock stopped on a whole second, so that a skew is exactly the skew asked
    for: from the running clock, int(time.time()) + 301 is only 300.x s ahead by the time the
    request arrives, which the five-minute window rightly accepts."""
    now = float(int(time.time()))
    monkeypatch.setattr(receive, "time", SimpleNamespace(time=lambda: now))
    return int(now)


@pytest.mark.parametrize("skew", [-300, 300])
def test_timestamp_exactly_five_minutes_away_is_accepted(
    client, tenant, frozen_webhook_clock, skew
):
    body = json.dumps(hire()).encode()
    meta = signed(body, timestamp=frozen_webhook_clock + skew)
    response = client.post(hook_url(tenant.slug), body, content_type="application/json", **meta)
    assert response.status_code == 202


@pytest.mark.parametrize("skew", [-301, -3600, 301, 86400])
def test_timestamp_outside_five_minutes_is_401(client, tenant, frozen_webhook_clock, skew):
    body = json.dumps(hire()).encode()
    meta = signed(body, timestamp=frozen_webhook_clock + skew)
    before = counts()
    response = client.post(hook_url(tenant.slug), body, content_type="application/json", **meta)
    answer = assert_refused_and_recorded(response, 401, "from our clock", before)
    assert answer["error"] == "stale"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_SIGNATURE_TIMESTAMP": "yesterday", "HTTP_X_SIGNATURE": "00"},
        {"HTTP_X_SIGNATURE_TIMESTAMP": "1.5e9", "HTTP_X_SIGNATURE": "00"},
    ],
)
def test_missing_or_malformed_signature_headers_are_401(client, tenant, headers):
    before = counts()
    body = json.dumps(hire()).encode()
    response = client.post(hook_url(tenant.slug), body, content_type="application/json", **headers)
    assert_refused_and_recorded(response, 401, "missing or malformed", before)


@pytest.mark.parametrize("timestamp", ["9" * 40, "-1", "1.5", "١٧٦٧٢٢٥٦٠٠", "¹⁷⁶⁷²²⁵⁶⁰⁰", "0x69"])
def test_a_signed_timestamp_that_is_no_plain_integer_is_401(client, tenant, timestamp):
    """Signed with the right secret, so only the timestamp's own rule refuses it: a number too
    large for any clock, a sign, a fraction, digits of another script, hexadecimal."""
    before = counts()
    body = json.dumps(hire()).encode()
    message = timestamp.encode() + b"." + body
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    headers = {"HTTP_X_SIGNATURE_TIMESTAMP": timestamp, "HTTP_X_SIGNATURE": digest}
    response = client.post(hook_url(tenant.slug), body, content_type="application/json", **headers)
    assert_refused_and_recorded(response, 401, "missing or malformed", before)


def test_unknown_tenant_and_tenant_without_secret_answer_like_a_bad_signature(
    client, tenant, alpha
):
    before = counts()
    bad_signature = send(client, tenant.slug, hire(), HTTP_X_SIGNATURE="0" * 64).json()

    unknown = send(client, "no-such-tenant", hire())
    assert_refused_and_recorded(unknown, 401, "unknown tenant", before)
    assert HRWebhookEvent.objects.order_by("-pk").first().tenant is None
    assert HRWebhookEvent.objects.order_by("-pk").first().tenant_slug == "no-such-tenant"
    global_audit = AuditEvent.objects.filter(action="hr_webhook.reject").order_by("-pk").first()
    assert global_audit.tenant_id is None

    no_secret = send(client, alpha.tenant.slug, hire())  # alpha has never had a secret
    assert_refused_and_recorded(no_secret, 401, "no HR webhook secret", before)
    assert unknown.json() == no_secret.json() == bad_signature


def test_inactive_tenant_is_refused(client, tenant):
    tenant.is_active = False
    tenant.save()
    before = counts()
    assert_refused_and_recorded(send(client, tenant.slug, hire()), 401, "inactive", before)


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"\xff\xfe\x00", b'{"event": "hire"} trailing', b"[]", b'"hire"'],
)
def test_malformed_json_is_400(client, tenant, raw):
    before = counts()
    response = send(client, tenant.slug, raw=raw)
    answer = assert_refused_and_recorded(response, 400, "not", before)
    assert answer["error"] == "invalid_event"


@pytest.mark.parametrize(
    "event, field",
    [
        ({"event": "fire", "id": "x", "employee_id": "E1"}, "event"),
        ({"id": "x", "employee_id": "E1"}, "event"),
        (hire() | {"first_name": ""}, "first_name"),
        (hire() | {"last_name": "<script>alert(1)</script>"}, "last_name"),
        ({k: v for k, v in hire().items() if k != "role"}, "role"),
        (hire() | {"role": 5}, "role"),
        (hire() | {"role": []}, "role"),
        (hire() | {"employee_id": "E 1"}, "employee_id"),
        (hire() | {"employee_id": True}, "employee_id"),
        (hire() | {"start_date": "1/3/2026"}, "start_date"),
        (hire() | {"start_date": "2001-01-01"}, "start_date"),
        (hire() | {"usage_location": "Germany"}, "usage_location"),
        (hire() | {"usage_location": "uk"}, "usage_location"),
        (hire() | {"salary": 100000}, "salary"),
        ({"event": "change", "id": "x", "employee_id": "E1"}, ""),
        (terminate("E1", end_date="2030-02-30"), "end_date"),
        (terminate("E1", end_date="2026-01-01", leave_at="2026-01-01T10:00:00"), ""),
    ],
)
def test_schema_errors_are_400_with_the_field(client, tenant, event, field):
    before = counts()
    response = send(client, tenant.slug, event)
    answer = assert_refused_and_recorded(response, 400, "not valid", before)
    assert field in [d["field"] for d in answer["details"]], answer


def test_an_event_without_any_id_is_400(client, tenant):
    event = hire()
    del event["id"]
    answer = assert_refused_and_recorded(send(client, tenant.slug, event), 400, "id", counts())
    assert "signed body" in answer["message"]


def test_an_idempotency_key_header_other_than_the_id_is_ignored(client, tenant):
    response = send(client, tenant.slug, hire(), HTTP_IDEMPOTENCY_KEY="other")
    assert response.status_code == 202, response.json()
    assert HRWebhookEvent.objects.get().idempotency_key == "hire-E1001"


def test_oversized_body_is_413(client, tenant):
    event = hire(job_title="x" * (65 * 1024))
    before = counts()
    assert_refused_and_recorded(send(client, tenant.slug, event), 413, "64 KB", before)
    assert HRWebhookEvent.objects.get().body_sha256 == ""  # not even read


@pytest.mark.parametrize("method", ["get", "put", "delete", "options", "head"])
def test_another_method_is_405_and_json_as_every_answer(client, tenant, method):
    """docs/hr-webhook.md: "Every answer is JSON and carries Cache-Control: no-store"; a GET
    was Django's empty text/html 405, which its own example sender (`json.load(error)`)
    cannot read. RFC 9110 §15.5.6: Allow names the method taken."""
    response = getattr(client, method)(hook_url(tenant.slug))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    if method != "head":
        assert response.json()["error"] == "method_not_allowed"


def test_unknown_employee_and_unknown_role_are_422(client, dirs, tenant):
    before = counts()
    change = {"event": "change", "id": "c-9", "employee_id": "E404", "role": "Sales"}
    assert_refused_and_recorded(send(client, tenant.slug, change), 422, "E404", before)
    assert_refused_and_recorded(send(client, tenant.slug, terminate("E404")), 422, "E404", before)
    answer = assert_refused_and_recorded(
        send(client, tenant.slug, hire(role=["Sales", "Astronaut"])), 422, "Astronaut", before
    )
    assert "this tenant's roles: Sales" in answer["message"]


def test_hire_of_an_existing_employee_and_leave_of_a_leaver_are_422(client, dirs, tenant):
    add_person(tenant, dirs.template, "E1001")
    add_person(tenant, dirs.template, "E1002", status=Identity.Status.LEFT)
    before = counts()
    assert_refused_and_recorded(send(client, tenant.slug, hire()), 422, "exists already", before)
    response = send(client, tenant.slug, terminate("E1002"))
    assert_refused_and_recorded(response, 422, "has left", before)


def test_a_hire_whose_name_okta_would_refuse_is_422(client, tenant):
    okta = DirectoryConnection(tenant=tenant, kind="okta", org_url="https://hr-name.okta.test")
    okta.set_secret("hr-name-OKTA-TOKEN")
    okta.save()
    before = counts()
    response = send(client, tenant.slug, hire(last="L" * 51))
    too_long = "last_name: Okta takes at most 50 characters"
    assert_refused_and_recorded(response, 422, too_long, before)
    assert send(client, tenant.slug, hire(last="L" * 50)).status_code == 202


def test_a_hire_whose_username_entra_would_refuse_is_422(client, tenant):
    """The naming rule gives aaa….lll…@ with 71 characters before the @: Entra takes 64."""
    before = counts()
    response = send(client, tenant.slug, hire(first="A" * 40, last="L" * 30))
    too_long = "Entra takes at most 64 characters before the @ (71 given)"
    assert_refused_and_recorded(response, 422, too_long, before)


def test_an_id_reused_for_another_event_is_422_and_a_fixed_one_may_reuse_its_id(client, tenant):
    assert send(client, tenant.slug, hire()).status_code == 202
    before = counts()
    other = hire(employee_id="E2", first="Grace", last="Hopper") | {"id": "hire-E1001"}
    assert_refused_and_recorded(send(client, tenant.slug, other), 422, "was used for", before)
    # a refused event does not use its id up
    assert send(client, tenant.slug, hire("E3", role="Nope") | {"id": "h3"}).status_code == 422
    assert send(client, tenant.slug, hire("E3", "Alan", "Turing") | {"id": "h3"}).status_code == 202


def test_the_secret_never_reaches_a_record_or_an_answer(client, tenant):
    send(client, tenant.slug, hire())
    send(client, tenant.slug, hire(), HTTP_X_SIGNATURE="0" * 64)
    stored = json.dumps(list(HRWebhookEvent.objects.values()), default=str)
    audited = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert SECRET not in stored and SECRET not in audited


def test_two_copies_at_the_same_moment_start_one_job(client, dirs, tenant, monkeypatch):
    """The second copy passed the duplicate check before the first committed: the unique
    constraint on accepted keys stops it, and it gets the duplicate answer."""
    from provisioning.webhook import receive

    add_person(tenant, dirs.template, "E7")
    change = {"event": "change", "id": "c-1", "employee_id": "E7", "department": "Ops"}
    first = send(client, tenant.slug, change)
    monkeypatch.setattr(receive, "_accepted", once(lambda inbound: None, receive._accepted))
    second = send(client, tenant.slug, change)
    assert second.status_code == 200 and second.json()["job"] == first.json()["job"]
    assert Job.objects.filter(kind=Job.Kind.CHANGE).count() == 1
    outcomes = list(HRWebhookEvent.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["accepted", "duplicate"]


@pytest.mark.parametrize("order", ["role first", "attribute first"])
def test_two_changes_of_one_person_at_the_same_moment_keep_both(
    client, dirs, tenant, monkeypatch, order
):
    """HR sends two changes of one employee at once: a move to Support, and a department.
    Each names only what changed ("the others stay"). The second is read (prepared) before
    the first commits; whichever commits last must keep what the first set, not put back
    the roles or attributes the person had before either: both changes stand."""
    from provisioning.webhook import service

    support = dirs.template.__class__.objects.create(
        tenant=tenant, name="Support", groups=["Staff"]
    )
    person = add_person(tenant, dirs.template, "E7")
    move = {"event": "change", "id": "c-role", "employee_id": "E7", "role": "support"}
    department = {"event": "change", "id": "c-dept", "employee_id": "E7", "department": "Ops"}
    first, second = (move, department) if order == "role first" else (department, move)
    real, answers = service.prepare, []

    def the_other_arrives_meanwhile(tenant, event, **kwargs):
        action = real(tenant, event, **kwargs)
        if event.id == second["id"]:
            answers.append(send(client, tenant.slug, first))  # commits before this one
        return action

    monkeypatch.setattr(service, "prepare", the_other_arrives_meanwhile)
    answers.append(send(client, tenant.slug, second))

    assert [a.status_code for a in answers] == [202, 202], [a.json() for a in answers]
    person.refresh_from_db()
    assert list(person.role_templates.all()) == [support]
    assert person.attributes == {"office": "London", "department": "Ops"}


@pytest.mark.parametrize("scheduled", ["role", "department"])
def test_a_change_sent_after_a_scheduled_one_stands_when_that_one_falls_due(
    client, dirs, tenant, scheduled
):
    """HR schedules a change for next week (a move to Support, or a department), then sends
    another change now (the other one). Each names only what changed. When the scheduled one
    falls due it must set what it named, not put back the roles or attributes the person had
    when it was sent: both changes stand."""
    support = dirs.template.__class__.objects.create(
        tenant=tenant, name="Support", groups=["Staff"]
    )
    person = add_person(tenant, dirs.template, "E7")
    later = (clock.tenant_today(tenant) + timedelta(days=7)).isoformat()
    move = {"event": "change", "id": "c-role", "employee_id": "E7", "role": "support"}
    department = {"event": "change", "id": "c-dept", "employee_id": "E7", "department": "Ops"}
    first, then = (move, department) if scheduled == "role" else (department, move)
    assert send(client, tenant.slug, first | {"effective_date": later}).status_code == 202
    assert send(client, tenant.slug, then).status_code == 202

    lifecycle.start_due_jobs(now=timezone.now() + timedelta(days=8))

    person.refresh_from_db()
    assert list(person.role_templates.all()) == [support]
    assert person.attributes == {"office": "London", "department": "Ops"}


def test_two_hires_of_one_employee_at_the_same_moment_are_a_conflict(client, tenant, monkeypatch):
    from provisioning.webhook import receive, schema, service

    late = hire("E5", "Grace", "Hopper") | {"id": "hire-late"}
    stale_action = service.prepare(tenant, schema.parse(json.dumps(late).encode()))
    assert send(client, tenant.slug, hire("E5")).status_code == 202
    monkeypatch.setattr(receive.service, "prepare", lambda *a, **k: stale_action)
    before = counts()
    response = send(client, tenant.slug, late)
    assert_refused_and_recorded(response, 409, "same moment", before)


def test_a_failure_inside_the_portal_is_recorded_and_answered_500(client, tenant, monkeypatch):
    from provisioning.webhook import receive

    def broken(*args, **kwargs):
        raise OperationalError("database went away")

    monkeypatch.setattr(receive.service, "prepare", broken)
    before = counts()
    answer = assert_refused_and_recorded(send(client, tenant.slug, hire()), 500, "send it", before)
    assert "database" not in answer["message"]  # the details stay in the log


def once(first, then):
    calls = []

    def call(*args):
        calls.append(args)
        return (first if len(calls) == 1 else then)(*args)

    return call


# -- the circuit breaker ----------------------------------------------------------------------


def test_a_burst_of_terminations_above_the_limit_is_held(client, dirs, tenant, msp_admin):
    people = [add_person(tenant, dirs.template, f"E{n}") for n in range(20)]
    assert tenant.offboard_hold_limit(lifecycle.managed_count(tenant)) == 2  # 10 % of 20
    later = (clock.tenant_today(tenant) + timedelta(days=5)).isoformat()
    answers = [send(client, tenant.slug, terminate("E0", end_date=later)).json()]
    answers += [send(client, tenant.slug, terminate(f"E{n}")).json() for n in (1, 2, 3)]
    assert [a["status"] for a in answers] == ["scheduled", "queued", "held", "held"]

    batch = Batch.objects.get(tenant=tenant, kind=Batch.Kind.WEBHOOK)
    assert batch.status == Batch.Status.HELD and "Offboards 3 of 20" in batch.hold_reason
    assert answers[2]["batch"] == batch.pk and answers[2]["hold_reason"] == batch.hold_reason
    jobs = {j.identity.employee_id: j.status for j in batch.jobs.select_related("identity")}
    # the one waiting for its date is held too: nothing of the batch is sent any more
    assert jobs == {"E0": "held", "E1": "queued", "E2": "held", "E3": "held"}
    assert batch.rows.count() == 4
    assert AuditEvent.objects.filter(action="batch.hold", tenant_id=tenant.pk).count() == 1
    assert all(p.jobs.filter(kind=Job.Kind.LEAVE).count() == 1 for p in people[:4])

    assert lifecycle.confirm_batch(batch, actor=msp_admin) == 3
    statuses = dict(batch.jobs.values_list("identity__employee_id", "status"))
    assert statuses == {"E0": "scheduled", "E1": "queued", "E2": "queued", "E3": "queued"}


def test_terminations_more_than_an_hour_apart_are_separate_batches(client, dirs, tenant):
    for n in range(20):
        add_person(tenant, dirs.template, f"E{n}")
    for n in (0, 1):
        assert send(client, tenant.slug, terminate(f"E{n}")).json()["status"] == "queued"
    an_hour_ago = timezone.now() - timedelta(minutes=61)  # the leaves asked with their batch
    Batch.objects.filter(tenant=tenant).update(created_at=an_hour_ago)
    Job.objects.filter(tenant=tenant, kind=Job.Kind.LEAVE).update(created_at=an_hour_ago)
    assert send(client, tenant.slug, terminate("E2")).json()["status"] == "queued"
    assert Batch.objects.filter(tenant=tenant, kind=Batch.Kind.WEBHOOK).count() == 2


def test_hires_and_changes_are_never_held(client, dirs, tenant):
    for n in range(3):
        assert send(client, tenant.slug, hire(f"H{n}", "Ada", f"Smith{n}")).status_code == 202
    assert not Job.objects.filter(status=Job.Status.HELD).exists()
    assert not Batch.objects.exists()


# -- the secret page --------------------------------------------------------------------------


def secret_url(world_tenant) -> str:
    return reverse("hr_webhook_secret", kwargs={"tenant": world_tenant.slug})


def events_url(world_tenant) -> str:
    return reverse("hr_webhook_events", kwargs={"tenant": world_tenant.slug})


def test_msp_admin_generates_a_secret_that_is_shown_once(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    page = client.get(secret_url(alpha.tenant)).content.decode()
    assert "not set" in page and "Generate secret" in page

    response = client.post(secret_url(alpha.tenant), {"action": "rotate"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    shown = re.search(r'value="(hrwh_[A-Za-z0-9_-]{40,})"', response.content.decode()).group(1)
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.get_hr_webhook_secret() == shown
    assert shown not in alpha.tenant.hr_webhook_secret_ciphertext

    again = client.get(secret_url(alpha.tenant)).content.decode()
    assert shown not in again and "Rotate secret" in again
    assert "just now" in again and "0\xa0minutes" not in again
    audit = AuditEvent.objects.get(action="tenant.hr_secret_rotate")
    assert audit.actor_user_id == msp_admin.pk and audit.tenant_id == alpha.tenant.pk
    assert shown not in json.dumps([audit.before, audit.after])
    assert shown not in json.dumps(list(AuditEvent.objects.values()), default=str)

    # the HR system signs with it; the old one stops working at the rotation
    refused = send(client, alpha.tenant.slug, hire(), HTTP_X_SIGNATURE="0" * 64)
    assert refused.status_code == 401
    # RFC 9110 §15.5.2: a 401 carries a challenge, here naming how to authenticate
    assert refused["WWW-Authenticate"] == CHALLENGE
    body = json.dumps(hire(role=alpha.template.name)).encode()
    ok = client.post(
        hook_url(alpha.tenant.slug), body, content_type="application/json", **signed(body, shown)
    )
    assert ok.status_code in (202, 422), ok.json()  # signed correctly: past the 401
    client.post(secret_url(alpha.tenant), {"action": "rotate"})
    stale = client.post(
        hook_url(alpha.tenant.slug), body, content_type="application/json", **signed(body, shown)
    )
    assert stale.status_code == 401 and stale["WWW-Authenticate"] == CHALLENGE


def test_a_secret_is_made_only_with_the_password_typed_lately(client, alpha, msp_admin):
    """The secret lets its holder start joins and leaves of the tenant until it is rotated:
    a session left open does not make one without the password (as an API token)."""
    signed_in(client, msp_admin, seconds_ago=301)
    refused = client.post(secret_url(alpha.tenant), {"action": "rotate"})
    assert refused["Location"] == reverse("reauth") + "?" + urlencode(
        {"next": secret_url(alpha.tenant)}
    )
    alpha.tenant.refresh_from_db()
    assert not alpha.tenant.has_hr_webhook_secret

    client.post(reverse("reauth"), {"password": PASSWORD, "next": secret_url(alpha.tenant)})
    assert client.post(secret_url(alpha.tenant), {"action": "rotate"}).status_code == 200
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.has_hr_webhook_secret


def test_msp_admin_removes_the_secret(client, alpha, msp_admin):
    with_secret(alpha.tenant)
    client.force_login(msp_admin)
    response = client.post(secret_url(alpha.tenant), {"action": "remove"})
    assert response.status_code == 302
    alpha.tenant.refresh_from_db()
    assert not alpha.tenant.has_hr_webhook_secret
    assert AuditEvent.objects.filter(action="tenant.hr_secret_remove").count() == 1
    assert send(client, alpha.tenant.slug, hire()).status_code == 401


def test_a_bad_action_changes_nothing(client, alpha, msp_admin):
    client.force_login(msp_admin)
    response = client.post(secret_url(alpha.tenant), {"action": "reveal"})
    assert response.status_code == 200 and "not one of the available choices" in (
        response.content.decode()
    )
    alpha.tenant.refresh_from_db()
    assert not alpha.tenant.has_hr_webhook_secret


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_only_msp_admins_manage_the_secret(client, alpha, role):
    client.force_login(alpha.people[role])
    assert client.get(secret_url(alpha.tenant)).status_code == 403
    assert client.post(secret_url(alpha.tenant), {"action": "rotate"}).status_code == 403
    alpha.tenant.refresh_from_db()
    assert not alpha.tenant.has_hr_webhook_secret


def test_secret_page_of_another_tenant_is_404(client, alpha, bravo):
    client.force_login(bravo.technician)
    assert client.get(secret_url(alpha.tenant)).status_code == 404
    assert client.post(secret_url(alpha.tenant), {"action": "rotate"}).status_code == 404
    assert client.get(events_url(alpha.tenant)).status_code == 404


# -- the events page --------------------------------------------------------------------------


def test_technician_and_msp_admin_see_the_tenant_events(client, alpha, bravo, msp_admin):
    with_secret(alpha.tenant)
    send(client, alpha.tenant.slug, hire(), HTTP_X_SIGNATURE="0" * 64)
    send(client, bravo.tenant.slug, hire("B-77"))
    for person in (alpha.technician, msp_admin):
        client.force_login(person)
        response = client.get(events_url(alpha.tenant))
        assert response.status_code == 200
        body = response.content.decode()
        assert "bad signature" in body and "Rejected" in body
        assert "B-77" not in body and bravo.tenant.name not in body
        manage = reverse("hr_webhook_secret", kwargs={"tenant": alpha.tenant.slug})
        assert (manage in body) is (person == msp_admin)
    tenant_page = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}))
    assert events_url(alpha.tenant) in tenant_page.content.decode()


def test_events_page_filters_by_outcome_as_an_htmx_partial(client, tenant, msp_admin):
    send(client, tenant.slug, hire())
    send(client, tenant.slug, hire(), HTTP_X_SIGNATURE="0" * 64)
    client.force_login(msp_admin)
    partial = client.get(events_url(tenant), {"outcome": "accepted"}, **HX)
    body = partial.content.decode()
    assert "<html" not in body and "Accepted" in body and "bad signature" not in body
    job = Job.objects.get()
    assert reverse("job_detail", kwargs={"job_id": job.pk}) in body
    page = client.get(events_url(tenant)).content.decode()
    assert f'hx-get="{events_url(tenant)}"' in page and f'action="{events_url(tenant)}"' in page


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_read_only_roles_do_not_see_the_events(client, alpha, role):
    client.force_login(alpha.people[role])
    assert client.get(events_url(alpha.tenant)).status_code == 403


def test_a_held_batch_shows_on_the_events_page(client, dirs, tenant, msp_admin):
    for n in range(20):
        add_person(tenant, dirs.template, f"E{n}")
    for n in range(3):
        send(client, tenant.slug, terminate(f"E{n}"))
    client.force_login(msp_admin)
    body = client.get(events_url(tenant)).content.decode()
    assert "needs an MSP admin" in body and "Offboards 3 of 20" in body


# -- end to end, and the docs' examples -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_hire_event_ends_with_the_user_in_the_directory(client, on_sandbox, worker):
    dirs = make_directories(on_sandbox, f"hre2e-{uuid.uuid4().hex[:6]}")
    with_secret(dirs.tenant)
    response = send(client, dirs.tenant.slug, hire("E-500", "Grace", "Hopper"))
    assert response.status_code == 202, response.json()
    job = wait_for_job(response.json()["job"])
    assert job.status == Job.Status.SUCCEEDED, list(job.steps.values_list("action", "last_error"))
    user = dirs.entra_user(f"grace.hopper@{dirs.tenant.primary_domain}")
    assert user is not None and user["accountEnabled"] is True
    assert sorted(user["groups"]) == ["Sales", "Sales (dynamic)", "Staff"]


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.django_db(transaction=True)
def test_the_python_example_of_the_doc_works(live_server, on_sandbox):
    dirs = make_directories(on_sandbox, f"hrdoc-{uuid.uuid4().hex[:6]}")
    with_secret(dirs.tenant)
    namespace: dict = {}
    exec(doc_blocks("python")[0], namespace)  # noqa: S102 - the doc's own recipe
    url = live_server.url + hook_url(dirs.tenant.slug)
    status, answer = namespace["send_hr_event"](url, SECRET, hire("E-600"))
    assert status == 202 and answer["kind"] == "join"
    assert namespace["send_hr_event"](url, SECRET, hire("E-600"))[1]["duplicate"] is True
    status, answer = namespace["send_hr_event"](url, "hrwh_wrong", hire("E-601"))
    assert status == 401 and answer["error"] == "unauthorized"
    assert Identity.objects.filter(tenant=dirs.tenant).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_openssl_and_curl_example_of_the_doc_works(live_server, on_sandbox):
    dirs = make_directories(on_sandbox, f"hrsh-{uuid.uuid4().hex[:6]}")
    with_secret(dirs.tenant)
    script = doc_blocks("sh")[0]
    settings_lines = ("PORTAL=", "TENANT=", "SECRET=")
    script = "\n".join(line for line in script.splitlines() if not line.startswith(settings_lines))
    env = {
        "PORTAL": live_server.url,
        "TENANT": dirs.tenant.slug,
        "SECRET": SECRET,
        "PATH": "/usr/bin:/bin",
    }
    run = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["kind"] == "join" and answer["status"] == "queued"
    person = Identity.objects.get(tenant=dirs.tenant)
    assert (person.employee_id, person.display_name) == ("E1042", "Ada Lovelace")


def test_a_sender_that_keeps_failing_gets_429_and_fills_nothing(client, tenant, settings):
    settings.HR_WEBHOOK_REFUSALS_PER_MINUTE = 3
    body = json.dumps(hire()).encode()
    bad = signed(body, secret="hrwh_wrong") | {"REMOTE_ADDR": "203.0.113.77"}
    for _ in range(3):
        response = client.post(hook_url(tenant.slug), body, content_type="application/json", **bad)
        assert response.status_code == 401
    recorded = HRWebhookEvent.objects.count(), AuditEvent.objects.count()
    response = client.post(hook_url(tenant.slug), body, content_type="application/json", **bad)
    assert response.status_code == 429 and response.json()["error"] == "too_many_refusals"
    assert 1 <= int(response["Retry-After"]) <= 60  # RFC 6585 §4: when the minute ends
    assert (HRWebhookEvent.objects.count(), AuditEvent.objects.count()) == recorded
    good = signed(body) | {"REMOTE_ADDR": "203.0.113.78"}  # another sender is not slowed
    response = client.post(hook_url(tenant.slug), body, content_type="application/json", **good)
    assert response.status_code == 202, response.content


def test_a_hire_whose_names_give_no_username_is_422(client, tenant):
    """The naming rule keeps ASCII letters: "李 王" gives an empty name before the @."""
    before = counts()
    response = send(client, tenant.slug, hire(first="李", last="王"))
    assert_refused_and_recorded(response, 422, "gives an empty username", before)


def test_a_name_is_judged_by_the_forms_rule_joiners_taken_overrides_refused(client, tenant):
    """The one rule (portal/plain_text.py): a right-to-left override is refused as the forms
    refuse it; a zero-width non-joiner, which Persian and Indic names need and the forms take,
    is taken too (the webhook refused every invisible character, joiners included)."""
    before = counts()
    response = send(client, tenant.slug, hire(last="Lovelace \u202eexe.gnp"))
    assert_refused_and_recorded(response, 400, "U+202E", before)

    response = send(client, tenant.slug, hire(first="Mehr\u200cnaz", last="Tehrani"))
    assert response.status_code == 202, response.json()
    person = Identity.objects.get(tenant=tenant, employee_id="E1001")
    assert person.first_name == "Mehr\u200cnaz"


def test_the_event_log_tells_its_times_in_the_tenants_zone(client, alpha, msp_admin):
    """As the tenant's other pages: received at 14:30 UTC reads 09:30 in New York, named."""
    alpha.tenant.time_zone = "America/New_York"
    alpha.tenant.save(update_fields=["time_zone"])
    HRWebhookEvent.objects.create(
        tenant=alpha.tenant,
        tenant_slug=alpha.tenant.slug,
        received_at=datetime(2026, 12, 3, 14, 30, 5, tzinfo=ZoneInfo("UTC")),
        event_type="hire",
        outcome=HRWebhookEvent.Outcome.REJECTED,
        reason="bad signature",
    )
    client.force_login(msp_admin)
    url = reverse("hr_webhook_events", kwargs={"tenant": alpha.tenant.slug})
    body = client.get(url).content.decode()
    assert "Times in America/New_York." in body
    assert "3 Dec 2026 09:30:05" in body and "14:30" not in body


def test_the_secret_page_tells_when_it_was_set_in_the_tenants_zone(client, alpha, msp_admin):
    """Set at 14:30 UTC reads 09:30 in New York, and says so."""
    alpha.tenant.time_zone = "America/New_York"
    alpha.tenant.set_hr_webhook_secret("hrwh_" + "x" * 40)
    alpha.tenant.hr_webhook_secret_set_at = datetime(2026, 12, 3, 14, 30, tzinfo=ZoneInfo("UTC"))
    alpha.tenant.save()
    signed_in(client, msp_admin)
    page = client.get(secret_url(alpha.tenant)).content.decode()
    assert "3 Dec 2026 09:30 America/New_York" in page and "14:30" not in page


@pytest.mark.django_db(transaction=True)
def test_the_secret_page_alone_tells_an_hr_system_how_to_send(
    client, live_server, on_sandbox, msp_admin
):
    """Someone with the deployed portal has no docs/ folder: the page itself names the headers,
    the signature and the fields, and its example, pasted with the secret, starts a join."""
    dirs = make_directories(on_sandbox, f"hrpage-{uuid.uuid4().hex[:6]}")
    with_secret(dirs.tenant)
    signed_in(client, msp_admin)
    page = client.get(secret_url(dirs.tenant)).content.decode()
    assert "docs/hr-webhook.md" not in page
    for needed in ("X-Signature-Timestamp", "HMAC-SHA256", "employee_id", "first_name", "end_date"):
        assert needed in page, needed
    example = re.search(r'<pre class="email-body" id="curl-example">(.*?)</pre>', page, re.S)
    script = html.unescape(example.group(1)).replace("http://testserver", live_server.url)
    script = "\n".join(line for line in script.splitlines() if not line.startswith("SECRET="))
    env = {"SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["kind"] == "join" and answer["status"] == "queued", answer
    person = Identity.objects.get(tenant=dirs.tenant)
    assert (person.employee_id, person.display_name) == ("E1042", "Ada Lovelace")
