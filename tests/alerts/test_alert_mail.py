"""Alert e-mails read from Django's outbox: who gets which, one each, never about a tenant
they cannot see, never twice; the daily digest collects and sends once."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.models import Role
from provisioning import services
from provisioning.alerts import expiry, sending
from provisioning.alerts.models import AlertPreference, Delivery
from provisioning.events.models import Event
from provisioning.events.publish import emit
from provisioning.models import Job
from tests.factories import make_person
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db


def to(outbox) -> list[str]:
    return sorted(address for mail in outbox for address in mail.to)


def quarantined(world) -> Event:
    return emit(
        Event.Kind.CONNECTION_QUARANTINED,
        tenant=world.tenant,
        data={  # as provisioning/quarantine.py tells it
            "connection": {
                "id": world.connection.pk,
                "kind": "entra",
                "label": "Microsoft Entra ID",
            },
            "reason": "11 of the last 20 operations failed: HTTP 503",
        },
    )


def test_a_real_failed_job_mails_the_technician_not_the_account_manager(
    on_sandbox, mailoutbox, mail_on_commit
):
    dirs = make_directories(on_sandbox, "alert-fail")
    technician = make_person("tech-fail", Role.TECHNICIAN, [dirs.tenant])
    manager = make_person("am-fail", Role.ACCOUNT_MANAGER, [dirs.tenant])
    connection = dirs.tenant.connections.get()
    connection.set_secret("not-the-secret")  # the directory refuses it: a permanent failure
    connection.save()
    request = services.OnboardingRequest(
        first_name="Ada", last_name="Lovelace", role_templates=[dirs.template]
    )
    with mail_on_commit():
        job = services.request_onboarding(
            dirs.tenant, request, username="ada@alert-fail.example", actor="system"
        )
    with mail_on_commit():
        job = drive(job)

    assert job.status == Job.Status.FAILED
    assert to(mailoutbox) == [technician.email]
    assert manager.email not in to(mailoutbox)
    [mail] = mailoutbox
    assert mail.subject.startswith("[MSP portal] A job failed at Alert-Fail")
    assert f"/jobs/{job.pk}/" in mail.body
    assert "not-the-secret" not in mail.body


def test_a_quarantine_mails_each_person_alone(alpha, msp_admin, mailoutbox, mail_on_commit):
    with mail_on_commit():
        quarantined(alpha)
    assert to(mailoutbox) == sorted([alpha.technician.email, msp_admin.email])
    assert all(len(mail.to) == 1 and not mail.cc and not mail.bcc for mail in mailoutbox)
    assert f"/tenants/{alpha.tenant.slug}/" in mailoutbox[0].body
    assert "Microsoft Entra ID · 11 of the last 20 operations failed" in mailoutbox[0].subject


def test_nobody_hears_of_a_tenant_they_cannot_see(alpha, bravo, mailoutbox, mail_on_commit):
    with mail_on_commit():
        quarantined(bravo)
    assert to(mailoutbox) == [bravo.technician.email]
    assert alpha.technician.email not in to(mailoutbox)


def test_client_admins_cannot_choose_connection_alerts(alpha, mailoutbox, mail_on_commit):
    AlertPreference.objects.create(user=alpha.client_admin, connection_changes=True)
    with mail_on_commit():
        quarantined(alpha)
    assert alpha.client_admin.email not in to(mailoutbox)


def test_sending_twice_sends_once(alpha, mailoutbox):
    event = quarantined(alpha)
    assert sending.send_event(event.pk) == 1
    assert sending.send_event(event.pk) == 0
    assert to(mailoutbox) == [alpha.technician.email]


def test_a_refused_mail_is_tried_again_and_undoes_nothing(alpha, mailoutbox, monkeypatch):
    event = quarantined(alpha)

    def refused(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr(sending, "send_mail", refused)
    assert sending.send_event(event.pk) == 0
    assert Event.objects.filter(pk=event.pk).exists()
    monkeypatch.undo()
    assert sending.send_event(event.pk) == 1


def test_the_digest_collects_the_day_and_sends_once(alpha, bravo, mailoutbox, mail_on_commit):
    AlertPreference.objects.create(
        user=alpha.technician, job_failures=True, connection_changes=True, delivery=Delivery.DIGEST
    )
    with mail_on_commit():
        quarantined(alpha)
        emit(Event.Kind.JOB_FAILED, tenant=alpha.tenant, data={"job": {"id": alpha.job.pk}})
        quarantined(bravo)  # not Alpha's technician's tenant
    assert alpha.technician.email not in to(mailoutbox)  # not at once
    mailoutbox.clear()

    now = timezone.now() + timedelta(minutes=1)
    assert sending.send_digests(now=now) == 1
    assert sending.send_digests(now=now + timedelta(minutes=5)) == 0
    [digest] = mailoutbox
    assert digest.to == [alpha.technician.email]
    assert "A connection was quarantined at Alpha Ltd" in digest.body
    assert "A job failed at Alpha Ltd" in digest.body
    assert "Bravo" not in digest.body
    # its times as every page and mail tells them: "7 Dec 2026 07:00", not "2026-12-07 07:00"
    assert re.fullmatch(
        r"\[MSP portal\] Daily alerts: 2 since \d{1,2} \w{3} \d{4} \d\d:\d\d", digest.subject
    )
    assert re.search(r"^- \d{1,2} \w{3} \d{4} \d\d:\d\d  A job failed", digest.body, re.M)


def test_an_empty_day_sends_no_digest(alpha, mailoutbox):
    AlertPreference.objects.create(user=alpha.technician, delivery=Delivery.DIGEST)
    assert sending.send_digests() == 0
    assert mailoutbox == []


@pytest.mark.parametrize(
    "kind, data",
    [
        (Event.Kind.JOB_PARTIAL, {"job": {"id": 1, "kind": "onboard"}}),
        (Event.Kind.CONNECTION_RELEASED, {"connection": {"label": "Okta"}, "reason": "Released"}),
    ],
)
def test_partial_jobs_and_releases_are_told_too(alpha, mailoutbox, mail_on_commit, kind, data):
    with mail_on_commit():
        emit(kind, tenant=alpha.tenant, data=data)
    assert to(mailoutbox) == [alpha.technician.email]


def test_events_nobody_chooses_send_nothing(alpha, msp_admin, mailoutbox, mail_on_commit):
    with mail_on_commit():
        emit(Event.Kind.JOB_SUCCEEDED, tenant=alpha.tenant, data={"job": {"id": 1}})
        emit(Event.Kind.DRIFT_DETECTED, tenant=alpha.tenant, data={})
    assert mailoutbox == []


def test_a_refused_digest_is_sent_on_the_next_run(alpha, mailoutbox, monkeypatch):
    AlertPreference.objects.create(
        user=alpha.technician, connection_changes=True, delivery=Delivery.DIGEST
    )
    quarantined(alpha)

    def refused(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr(sending, "send_mail", refused)
    now = timezone.now() + timedelta(minutes=1)
    assert sending.send_digests(now=now) == 0
    monkeypatch.undo()
    assert sending.send_digests(now=now + timedelta(minutes=1)) == 1
    assert sending.send_digests(now=now + timedelta(minutes=2)) == 0
    assert to(mailoutbox) == [alpha.technician.email]


def test_an_expiring_credential_mails_the_msp_admin_naming_the_connection(
    alpha, msp_admin, mailoutbox, mail_on_commit
):
    alpha.connection.secret_expires_on = timezone.localdate() + timedelta(days=6)
    alpha.connection.save()
    with mail_on_commit():
        assert expiry.warn_if_due(alpha.connection, timezone.now()) == 1
    assert to(mailoutbox) == [msp_admin.email]  # technicians do not choose it by default
    [mail] = mailoutbox
    assert "Microsoft Entra ID's credential ends in 6 days" in mail.subject
    assert f"#connection-{alpha.connection.pk}" in mail.body


def test_a_directory_message_over_two_lines_still_makes_a_one_line_subject(
    alpha, mailoutbox, mail_on_commit
):
    """The summary quotes the directory's error: a newline in it made Django refuse the
    Subject header (BadHeaderError), and the alert was never sent."""
    error = "Request failed.\r\nerrorCauses: login: Username must be unique"
    with mail_on_commit():
        emit(Event.Kind.JOB_FAILED, tenant=alpha.tenant, data={"job": {"id": 1, "error": error}})
    [mail] = mailoutbox
    assert "Request failed. errorCauses: login" in mail.subject
