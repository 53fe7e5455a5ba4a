"""Confirming a held batch releases a mass offboarding or a role template change that the
circuit breaker stopped: the MSP admin types their password again first (within
REAUTH_MAX_AGE_SECONDS), as for the staff page's actions and the keys that outlive a
session. A session taken without the password cannot release the held leavers (attack20)."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEvent
from provisioning.models import Batch, Job
from tests.factories import signed_in
from tests.provisioning.test_views_schedule import batch_url, held_batch, schedule_url
from tests.security.test_unlock_reauth import STALE, to_password_page

pytestmark = pytest.mark.django_db


def test_confirming_a_held_batch_asks_for_the_password_again(client, alpha, msp_admin):
    batch = held_batch(alpha)
    signed_in(client, msp_admin, seconds_ago=STALE)
    confirm = batch_url("batch_confirm", batch)
    assert to_password_page(client.post(confirm), schedule_url(alpha))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.HELD
    assert set(batch.jobs.values_list("status", flat=True)) == {Job.Status.HELD}
    assert not AuditEvent.objects.filter(action="batch.confirm").exists()
    signed_in(client, msp_admin)
    assert client.post(confirm).status_code == 302
    batch.refresh_from_db()
    assert batch.status == Batch.Status.STARTED
    confirmed = AuditEvent.objects.filter(action="batch.confirm")
    assert list(confirmed.values_list("actor_user_id", flat=True)) == [msp_admin.pk]


def test_another_tenants_batch_is_not_found_before_the_password_is_asked(
    client, alpha, bravo, msp_admin
):
    batch = held_batch(alpha)
    signed_in(client, bravo.technician, seconds_ago=STALE)
    assert client.post(batch_url("batch_confirm", batch)).status_code == 404
    signed_in(client, alpha.technician, seconds_ago=STALE)
    assert client.post(batch_url("batch_confirm", batch)).status_code == 403
