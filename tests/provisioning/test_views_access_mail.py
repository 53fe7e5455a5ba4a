"""E-mails about access requests, read from Django's outbox: the right people get the right
mail (new request -> approvers; decision -> requester; grant done/failed -> requester; expiry
7 and 1 days ahead -> approvers; stale -> requester), with a link to the request and never a
secret or another tenant's data; the opt-out silences only the non-essential ones."""

from datetime import timedelta

import pytest
from django.conf import settings

from portal.models import Role, StaffProfile
from provisioning.access import services as ar
from provisioning.models import Job, RequestableResource
from tests.factories import make_person
from tests.provisioning.test_views_access import file, granted, requestable

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail_on_commit(django_capture_on_commit_callbacks, monkeypatch):
    """Run what the services defer to the commit (the mails); jobs are not sent to a broker."""
    monkeypatch.setattr("provisioning.tasks.run_job.delay", lambda job_id: None)

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


@pytest.fixture
def world(alpha, bravo):
    """Alpha with two client admins (approvers) and its VPN; Bravo exists beside it."""
    alpha.second_admin = make_person("ca2-alpha", Role.CLIENT_ADMIN, [alpha.tenant])
    alpha.vpn = requestable(alpha, "Alpha VPN", time_bound=True, max_days=30)
    requestable(bravo, "Bravo VPN")
    return alpha


def recipients(outbox) -> list[list[str]]:
    return sorted(m.to for m in outbox)


def opt_out(user) -> None:
    StaffProfile.objects.filter(user=user).update(optional_emails=False)


def test_a_new_request_goes_to_the_approvers_only(world, mailoutbox, mail_on_commit):
    with mail_on_commit():
        filed = file(world, world.vpn)
    assert recipients(mailoutbox) == [[world.client_admin.email], [world.second_admin.email]]
    mail = mailoutbox[0]
    assert mail.subject == "Access request waiting for you: Alpha VPN for Pat Member-alpha"
    link = f"{settings.PORTAL_URL}/tenants/alpha/access/requests/{filed.pk}/"
    assert link in mail.body and "Needs it for the project" in mail.body
    assert "Tech-Alpha asked for access that you approve." in mail.body


def test_a_group_named_over_two_lines_in_the_directory_still_makes_a_mail(
    world, mailoutbox, mail_on_commit
):
    """The resource's name is the directory's: a newline in it made Django refuse the
    Subject header (BadHeaderError) after the request was filed, a 500 for the filer."""
    RequestableResource.objects.filter(pk=world.vpn.pk).update(name="Alpha VPN\r\nBcc: x@y")
    world.vpn.refresh_from_db()
    with mail_on_commit():
        file(world, world.vpn)
    assert len(mailoutbox) == 2
    assert mailoutbox[0].subject.startswith("Access request waiting for you: Alpha VPN Bcc: x@y")


def test_named_approvers_only_hear_of_their_resources(world, mailoutbox, mail_on_commit):
    world.vpn.approvers = RequestableResource.Approvers.NAMED
    ar.save_requestable(world.vpn, named=[world.second_admin], actor="system")
    with mail_on_commit():
        file(world, world.vpn)
    assert recipients(mailoutbox) == [[world.second_admin.email]]


def test_a_decision_goes_to_the_requester(world, mailoutbox, mail_on_commit):
    denied, approved = file(world, world.vpn), file(world, requestable(world, "Alpha Wiki"))
    with mail_on_commit():
        ar.deny(denied, actor=world.client_admin, reason="Not for contractors")
        ar.approve(approved, actor=world.second_admin, reason="Fine")
    assert recipients(mailoutbox) == [[world.technician.email]] * 2
    subjects = sorted(m.subject for m in mailoutbox)
    assert subjects == [
        "Your access request was approved, granting: Alpha Wiki for Pat Member-alpha",
        "Your access request was denied: Alpha VPN for Pat Member-alpha",
    ]
    denial = next(m for m in mailoutbox if "denied" in m.subject)
    assert "Their reason: Not for contractors" in denial.body


def test_a_requester_who_may_no_longer_see_the_tenant_hears_nothing_of_it(
    world, mailoutbox, mail_on_commit
):
    """Taken off the tenant, or deactivated, after filing: the decision (the person, the
    resource, the approver's reason) went on to their mailbox as if nothing had changed."""
    moved, gone = file(world, world.vpn), file(world, requestable(world, "Alpha Wiki"))
    mover = make_person("tech-moved", Role.TECHNICIAN, [world.tenant])
    moved.requested_by = mover
    moved.save(update_fields=["requested_by"])
    mover.tenantassignment_set.all().delete()  # now on another client's work
    world.technician.is_active = False
    world.technician.save(update_fields=["is_active"])
    with mail_on_commit():
        ar.deny(moved, actor=world.client_admin, reason="Not for contractors")
        ar.deny(gone, actor=world.client_admin, reason="Left the project")
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("status", "subject"),
    [
        (Job.Status.SUCCEEDED, "Access granted: Alpha VPN for Pat Member-alpha"),
        (Job.Status.FAILED, "Access could not be granted: Alpha VPN for Pat Member-alpha"),
    ],
)
def test_the_grants_outcome_goes_to_the_requester(
    world, mailoutbox, mail_on_commit, status, subject
):
    filed = file(world, world.vpn, by=world.second_admin)
    ar.approve(filed, actor=world.client_admin, reason="ok")
    filed.refresh_from_db()
    mailoutbox.clear()
    with mail_on_commit():
        ar.grant_finished(filed.grant_job, status)
    assert recipients(mailoutbox) == [[world.second_admin.email]]
    assert mailoutbox[0].subject == subject


def test_expiry_notices_reach_the_approvers_seven_and_one_days_ahead(
    world, mailoutbox, mail_on_commit
):
    filed = granted(file(world, world.vpn, days=10))
    end = filed.ends_at
    with mail_on_commit():
        assert ar.send_expiry_notices(now=end - timedelta(days=8)) == 0
        assert ar.send_expiry_notices(now=end - timedelta(days=6, hours=23)) == 1
        assert ar.send_expiry_notices(now=end - timedelta(days=5)) == 0  # once per notice
    assert recipients(mailoutbox) == [[world.client_admin.email], [world.second_admin.email]]
    assert mailoutbox[0].subject == "Access ends soon: Alpha VPN for Pat Member-alpha"
    assert "extend it on the portal" in mailoutbox[0].body
    mailoutbox.clear()
    with mail_on_commit():
        assert ar.send_expiry_notices(now=end - timedelta(hours=20)) == 1
        assert ar.send_expiry_notices(now=end - timedelta(hours=2)) == 0
    assert len(mailoutbox) == 2
    filed.refresh_from_db()
    assert filed.notices_sent == ["expiry-7", "expiry-1"]


def test_a_stale_request_tells_the_requester(world, mailoutbox, mail_on_commit):
    filed = file(world, world.vpn, by=world.second_admin)
    mailoutbox.clear()
    with mail_on_commit():
        ar.expire_stale_requests(now=filed.created_at + timedelta(days=8))
    assert recipients(mailoutbox) == [[world.second_admin.email]]
    assert "Nobody decided on your request within 7 days" in mailoutbox[0].body


def test_the_opt_out_silences_only_non_essential_mail(world, mailoutbox, mail_on_commit):
    opt_out(world.technician)
    opt_out(world.client_admin)
    with mail_on_commit():
        filed = file(world, world.vpn)  # waiting for a decision: essential
    assert recipients(mailoutbox) == [[world.client_admin.email], [world.second_admin.email]]
    mailoutbox.clear()
    with mail_on_commit():
        ar.approve(filed, actor=world.second_admin, reason="ok")  # decision: optional
    filed.refresh_from_db()
    with mail_on_commit():
        ar.grant_finished(filed.grant_job, Job.Status.FAILED)  # a failed grant: essential
    assert [m.subject for m in mailoutbox] == [
        "Access could not be granted: Alpha VPN for Pat Member-alpha"
    ]
    mailoutbox.clear()
    granted(filed)
    with mail_on_commit():
        ar.send_expiry_notices(now=filed.ends_at - timedelta(days=1))  # reminder: optional
    assert recipients(mailoutbox) == [[world.second_admin.email]]


def test_no_mail_holds_a_secret_or_another_tenants_data(
    world, bravo, mailoutbox, mail_on_commit, client
):
    with mail_on_commit():
        first = file(world, world.vpn)
        ar.deny(first, actor=world.client_admin, reason="no")
        second = file(world, world.vpn)
        ar.approve(second, actor=world.client_admin, reason="yes")
    second.refresh_from_db()
    with mail_on_commit():
        ar.grant_finished(second.grant_job, Job.Status.SUCCEEDED)
        ar.send_expiry_notices(now=second.ends_at - timedelta(hours=1))
        stale = file(world, requestable(world, "Alpha Wiki"), days=None)
        ar.expire_stale_requests(now=stale.created_at + timedelta(days=8))
    kinds = {m.subject.split(":")[0] for m in mailoutbox}
    assert len(kinds) == 6, kinds  # every kind of mail was sent
    forbidden = [
        world.secret,
        world.okta_connection.get_secret(),
        bravo.secret,
        bravo.tenant.name,
        bravo.tenant.primary_domain,
        bravo.identity.display_name,
        "Bravo VPN",
        world.connection.client_id,
    ]
    for mail in mailoutbox:
        text = f"{mail.subject}\n{mail.body}\n{mail.to}"
        for marker in forbidden:
            assert marker not in text, f"{mail.subject!r} holds {marker!r}"
        assert "/decide" not in text  # a link to the request, never a one-click decision
    assert all(m.to[0].endswith("@msp.test") and len(m.to) == 1 for m in mailoutbox)


def test_the_link_opens_the_request_only_after_signing_in(
    world, mailoutbox, mail_on_commit, client
):
    with mail_on_commit():
        filed = file(world, world.vpn)
    link = mailoutbox[0].body.split("sign in): ", 1)[1].split()[0]
    path = link.removeprefix(settings.PORTAL_URL)
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    client.force_login(world.client_admin)
    page = client.get(path).content.decode()
    assert f'data-request="{filed.pk}"' in page


def test_times_in_mails_are_on_the_tenants_clock(world, mailoutbox, mail_on_commit):
    from zoneinfo import ZoneInfo

    world.tenant.time_zone = "America/New_York"
    world.tenant.save()
    with mail_on_commit():
        filed = file(world, world.vpn, days=10)
    local = filed.ends_at.astimezone(ZoneInfo("America/New_York"))
    assert f"Until:    {local:%-d %b %Y %H:%M}" in mailoutbox[0].body
    assert f"{local:%H:%M} America/New_York" in mailoutbox[0].body  # its zone, not UTC
