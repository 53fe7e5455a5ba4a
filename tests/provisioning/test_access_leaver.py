"""A leaver's access requests close with the offboarding: nothing stays pending or granted."""

import pytest

from portal.audit.models import AuditEvent
from provisioning.engine.plans import after_job
from provisioning.models import AccessRequest, Identity, Job
from tests.provisioning.test_views_access import file, granted, no_enqueue, vpn, wiki  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_successful_offboarding_closes_the_persons_requests(alpha, vpn, wiki, no_enqueue):  # noqa: F811
    pending, grant = file(alpha, vpn), granted(file(alpha, wiki, days=None))
    leave = Job.objects.create(
        tenant=alpha.tenant,
        identity=alpha.identity,
        kind=Job.Kind.LEAVE,
        options={"offboard": {"delete_after_days": None}},
    )
    after_job(leave, Job.Status.SUCCEEDED)
    pending.refresh_from_db()
    grant.refresh_from_db()
    assert pending.status == AccessRequest.Status.CANCELLED
    assert pending.decision_reason == "The person left."
    assert grant.status == AccessRequest.Status.ENDED
    assert Identity.objects.get(pk=alpha.identity.pk).status == Identity.Status.LEFT
    event = AuditEvent.objects.get(action="access.close_for_leaver")
    assert event.after["requests_closed"] == 2


def test_a_failed_offboarding_leaves_them_open(alpha, vpn, no_enqueue):  # noqa: F811
    pending = file(alpha, vpn)
    leave = Job.objects.create(
        tenant=alpha.tenant, identity=alpha.identity, kind=Job.Kind.LEAVE, options={}
    )
    after_job(leave, Job.Status.FAILED)
    pending.refresh_from_db()
    assert pending.status == AccessRequest.Status.PENDING
