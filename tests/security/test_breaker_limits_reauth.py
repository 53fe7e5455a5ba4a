"""The circuit breaker's limits decide which mass offboarding or template change waits for an
MSP admin's confirmation, and the confirmation asks for the password (attack20). Raising a
limit lets the same runs go through unheld, so it asks for the password too (attack23: a
session taken without it set 100 % and 100,000 people, then a file offboarded everyone at
once; lowering a limit, or the other settings, ask nothing more)."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEvent
from tests.factories import signed_in
from tests.provisioning.test_views_schedule import settings_data, settings_url
from tests.security.test_unlock_reauth import STALE, to_password_page

pytestmark = pytest.mark.django_db

AS_IS = {"offboard_hold_percent": "10", "offboard_hold_count": "25"}  # the tenant's defaults


def _limits(alpha) -> tuple[int, int]:
    alpha.tenant.refresh_from_db()
    return alpha.tenant.offboard_hold_percent, alpha.tenant.offboard_hold_count


@pytest.mark.parametrize(
    "raised", [{"offboard_hold_percent": "100"}, {"offboard_hold_count": "100000"}]
)
def test_raising_a_limit_asks_for_the_password_again(client, alpha, msp_admin, raised):
    signed_in(client, msp_admin, seconds_ago=STALE)

    response = client.post(settings_url(alpha), settings_data(**AS_IS | raised))

    assert to_password_page(response, settings_url(alpha))
    assert _limits(alpha) == (10, 25)
    assert not AuditEvent.objects.filter(action="tenant.lifecycle_update").exists()
    signed_in(client, msp_admin)
    assert client.post(settings_url(alpha), settings_data(**AS_IS | raised)).status_code == 302
    assert _limits(alpha) != (10, 25)


def test_lowering_a_limit_and_the_other_settings_need_no_password(client, alpha, msp_admin):
    signed_in(client, msp_admin, seconds_ago=STALE)

    lowered = settings_data(offboard_hold_percent="5", offboard_hold_count="25")
    assert client.post(settings_url(alpha), lowered).status_code == 302
    same = settings_data(offboard_hold_percent="5", offboard_hold_count="25", okta_mode="suspend")
    assert client.post(settings_url(alpha), same).status_code == 302

    assert _limits(alpha) == (5, 25)
