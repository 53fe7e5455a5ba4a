"""A leaver's access requests close with the offboarding: nothing stays pending or granted."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from provisioning.access import services as ar
from provisioning.engine.outcomes import job_finished, person_as_read, save_person
from provisioning.models import AccessRequest, Identity, Job
from tests.provisioning.test_views_access import (  # noqa: F401
    file,
    granted,
    no_enqueue,
    requestable,
    vpn,
    wiki,
)

pytestmark = pytest.mark.django_db


def test_a_successful_offboarding_closes_the_persons_requests(alpha, vpn, wiki, no_enqueue):  # noqa: F811
    pending, grant = file(alpha, vpn), granted(file(alpha, wiki, days=None))
    revoked = granted(file(alpha, requestable(alpha, "Alpha Files", kind="app"), days=None))
    ar.revoke(revoked, actor=alpha.client_admin, reason="Not needed")
    revoked.refresh_from_db()
    Job.objects.filter(pk=revoked.end_job_id).update(status=Job.Status.FAILED)  # its removal
    # As request_offboarding leaves them: leaving, and the leave verified at their version.
    Identity.objects.filter(pk=alpha.identity.pk).update(
        status=Identity.Status.LEAVER,
        leave_options={"delete_after_days": None},
        desired_version=3,
    )
    alpha.identity.refresh_from_db()  # the engine hands callbacks the person as read at the end
    leave = Job.objects.create(
        tenant=alpha.tenant,
        identity=alpha.identity,
        kind=Job.Kind.LEAVE,
        options={"offboard": {"delete_after_days": None}},
        converged_version=3,
    )
    as_read = person_as_read(leave.identity)
    job_finished(leave, Job.Status.SUCCEEDED)
    save_person(leave.identity, as_read)  # the callbacks change the person; the engine saves
    pending.refresh_from_db()
    grant.refresh_from_db()
    assert pending.status == AccessRequest.Status.CANCELLED
    assert pending.decision_reason == "The person left."
    assert grant.status == AccessRequest.Status.ENDED
    revoked.refresh_from_db()
    assert revoked.status == AccessRequest.Status.REVOKED  # the leave took it away
    assert Identity.objects.get(pk=alpha.identity.pk).status == Identity.Status.LEFT
    event = AuditEvent.objects.get(action="access.close_for_leaver")
    assert event.after["requests_closed"] == 3


def test_a_failed_offboarding_leaves_them_open(alpha, vpn, no_enqueue):  # noqa: F811
    pending = file(alpha, vpn)
    leave = Job.objects.create(
        tenant=alpha.tenant, identity=alpha.identity, kind=Job.Kind.LEAVE, options={}
    )
    job_finished(leave, Job.Status.FAILED)
    pending.refresh_from_db()
    assert pending.status == AccessRequest.Status.PENDING


def test_a_failed_removal_is_not_started_again_every_minute(alpha, vpn, no_enqueue):  # noqa: F811
    from datetime import timedelta

    from provisioning.access import services as ar

    grant = granted(file(alpha, vpn, days=3))
    later = grant.ends_at + timedelta(minutes=1)
    assert ar.end_due_grants(now=later) == 1
    grant.refresh_from_db()
    end_job = grant.end_job
    job_finished(end_job, Job.Status.FAILED)  # as the engine leaves a removal that failed
    Job.objects.filter(pk=end_job.pk).update(status=Job.Status.FAILED)
    grant.refresh_from_db()
    assert grant.status == AccessRequest.Status.ENDING  # still not wanted: a retry removes it
    assert ar.end_due_grants(now=later + timedelta(minutes=1)) == 0
    assert Job.objects.filter(kind=Job.Kind.REVOKE).count() == 1


@pytest.mark.parametrize(
    ("kind", "outcome", "start", "final"),
    [
        (Job.Kind.GRANT, Job.Status.SUCCEEDED, "approved", "granted"),
        (Job.Kind.GRANT, Job.Status.FAILED, "approved", "failed"),
        (Job.Kind.REVOKE, Job.Status.SUCCEEDED, "granted", "ended"),
        (Job.Kind.REVOKE, Job.Status.FAILED, "ending", "ending"),
    ],
)
def test_a_grant_or_removal_job_records_what_became_of_the_request(
    alpha,
    vpn,  # noqa: F811
    no_enqueue,  # noqa: F811
    kind,
    outcome,
    start,
    final,
):
    """The system moves the request when its job ends: the trail says when access was
    actually given or taken away, not only that a job finished."""
    filed = file(alpha, vpn)
    AccessRequest.objects.filter(pk=filed.pk).update(status=start)
    job = Job.objects.create(
        tenant=alpha.tenant,
        identity=alpha.identity,
        kind=kind,
        options={"access_request": filed.pk},
    )
    job_finished(job, outcome)
    filed.refresh_from_db()
    assert filed.status == final
    event = AuditEvent.objects.filter(action="access.job_outcome").get()
    assert event.actor_kind == "system" and event.job_id == str(job.pk)
    assert event.tenant_id == alpha.tenant.pk and event.target_id == str(alpha.identity.pk)
    assert event.before == {"status": start}
    assert event.after["status"] == final and event.after["request"] == filed.pk
    assert event.after["resource"] == "Alpha VPN"
    assert event.result == ("success" if outcome == Job.Status.SUCCEEDED else "failure")


def test_an_extension_granted_records_the_end_of_the_grant_it_replaces(alpha, vpn, no_enqueue):  # noqa: F811
    old = granted(file(alpha, vpn))
    extension = ar.extend(
        old,
        ends_at=timezone.now() + timedelta(days=20),
        reason="Longer project",
        actor=alpha.technician,
    )
    AccessRequest.objects.filter(pk=extension.pk).update(status="approved")
    job = Job.objects.create(
        tenant=alpha.tenant,
        identity=alpha.identity,
        kind=Job.Kind.GRANT,
        options={"access_request": extension.pk},
    )
    job_finished(job, Job.Status.SUCCEEDED)
    old.refresh_from_db()
    assert old.status == AccessRequest.Status.ENDED
    ended = AuditEvent.objects.get(action="access.end")
    assert ended.after["request"] == old.pk and ended.actor_kind == "system"
    assert str(extension.pk) in ended.after["reason"]


def test_a_leave_whose_job_verified_the_restore_keeps_the_grants(alpha, wiki, no_enqueue):  # noqa: F811
    """The restore is asked while the leave's job is mid-round: that job's next read finds
    the person restored, gives the access back and succeeds. A restore brings back the live
    grants: the leave's job, which ended having verified the restore, must not end them
    (the directory would hold access the desired state no longer has)."""
    from provisioning.lifecycle import services as lifecycle

    grant = granted(file(alpha, wiki, days=None))
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    leave = lifecycle.request_offboarding(alpha.identity, options, actor="system")
    restore = lifecycle.request_restore(alpha.identity, actor="system")
    person = Identity.objects.get(pk=alpha.identity.pk)  # as the engine reads them at the end
    leave.identity = person
    leave.converged_version = restore.desired_version
    job_finished(leave, Job.Status.SUCCEEDED)
    grant.refresh_from_db()
    assert grant.status == AccessRequest.Status.GRANTED
    assert not AuditEvent.objects.filter(action="access.close_for_leaver").exists()


def test_a_request_approved_after_the_leave_was_asked_is_refused(alpha, vpn, no_enqueue):  # noqa: F811
    """A request filed while the person was active, approved once their leave was asked: its
    job would verify the leaver's state (no access at all) and call the request granted, a
    grant the directory never held, which the leave's end (it closes what is open then) can
    miss and a restore would give back unasked."""
    from provisioning.lifecycle import services as lifecycle

    pending = file(alpha, vpn)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    lifecycle.request_offboarding(alpha.identity, options, actor="system")
    with pytest.raises(ar.AccessRequestError, match="not an active person"):
        ar.approve(pending, actor=alpha.client_admin, reason="Fine")
    pending.refresh_from_db()
    assert pending.status == AccessRequest.Status.PENDING and pending.grant_job is None
    assert not Job.objects.filter(kind=Job.Kind.GRANT).exists()


def test_a_request_filed_for_the_person_as_read_before_their_leave_is_refused(
    alpha,
    vpn,  # noqa: F811
    no_enqueue,  # noqa: F811
):
    """The form read the person active; their leave commits before the filing: the filing
    decides on the person as they are under its lock, not as the form read them."""
    from provisioning.lifecycle import services as lifecycle

    as_the_form_read = Identity.objects.get(pk=alpha.identity.pk)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    lifecycle.request_offboarding(alpha.identity, options, actor="system")
    with pytest.raises(ar.AccessRequestError, match="not an active person"):
        file(alpha, vpn, identity=as_the_form_read)
    assert not AccessRequest.objects.exists()


@pytest.mark.parametrize("ended_by", ["revoke", "its end falls due"])
def test_ending_a_grant_locks_the_person_before_the_audit_chain(alpha, wiki, ended_by, no_enqueue):  # noqa: F811
    """The engine holds the person's row and then appends to the tenant's audit chain at a
    job's end; ending a grant took the chain first and the person after (its `ask`), so a
    worker ending the first of two due grants and the clock ending the second deadlocked
    (PostgreSQL, test_access_e2e's time-bound grant). The person's row comes first."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    grant = granted(file(alpha, wiki, days=None))
    with CaptureQueriesContext(connection) as queries:
        if ended_by == "revoke":
            ar.revoke(grant, actor=alpha.client_admin, reason="Not needed")
        else:
            AccessRequest.objects.filter(pk=grant.pk).update(ends_at=timezone.now())
            assert ar.end_due_grants(now=timezone.now() + timedelta(seconds=1)) == 1
    sql = [q["sql"] for q in queries.captured_queries]
    person = next(n for n, s in enumerate(sql) if s.startswith('UPDATE "provisioning_identity"'))
    chain = next(n for n, s in enumerate(sql) if '"audit_auditchainhead"' in s.lower())
    assert person < chain, sql[: chain + 1]
