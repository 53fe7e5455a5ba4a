"""The Requests page offers a pending request's approver a way to decide it: the row had no
action at all, so a client admin who opened Requests (their sidebar's) found the request
they were asked about and no Approve or Deny beside it."""

import pytest

from portal.models import Role
from tests.provisioning.test_views_access import co_admin, file, requestable, url

__all__ = ["co_admin"]  # the fixture: a second approver, so a client admin may file

pytestmark = pytest.mark.django_db


def test_an_approver_finds_decide_on_the_pending_row(client, alpha):
    pending = file(alpha, requestable(alpha, "Alpha VPN"))
    client.force_login(alpha.client_admin)
    page = client.get(url("access_request_list", alpha)).text
    detail = url("access_request_detail", alpha, request_id=pending.pk)
    assert f'<a class="button small" href="{detail}#decision">Decide…</a>' in page


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER])
def test_who_may_not_decide_is_not_offered_it(client, alpha, role):
    file(alpha, requestable(alpha, "Alpha VPN"))
    client.force_login(alpha.people[role])
    assert "Decide…" not in client.get(url("access_request_list", alpha)).text


def test_the_requester_is_not_offered_their_own(client, alpha, co_admin):
    file(alpha, requestable(alpha, "Alpha VPN"), by=alpha.client_admin)
    client.force_login(alpha.client_admin)
    assert "Decide…" not in client.get(url("access_request_list", alpha)).text
