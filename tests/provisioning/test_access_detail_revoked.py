"""A revoked request's page says who took the access back and when: the decision's own
"Decided by", "When" and "Reason" are the approval's, and read alone under "Revoked" they
told a client admin that the approver had revoked it, on the day of the approval."""

import re

import pytest

from tests.provisioning.test_views_access import approved, no_enqueue, requestable, url

__all__ = ["no_enqueue"]  # the fixture, used by name

pytestmark = pytest.mark.django_db


def test_the_page_of_a_revoked_request_names_who_revoked_it(client, alpha, no_enqueue):
    filed = approved(alpha, requestable(alpha, "Alpha VPN", time_bound=True, max_days=30))
    client.force_login(alpha.technician)
    assert client.post(url("access_request_revoke", alpha, request_id=filed.pk)).status_code == 302
    client.force_login(alpha.client_admin)
    page = client.get(url("access_request_detail", alpha, request_id=filed.pk)).text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    technician = alpha.technician.get_full_name() or alpha.technician.username
    approver = alpha.client_admin.get_full_name() or alpha.client_admin.username
    assert f"Decided by {approver}" in text
    when = r"\d{1,2} \w{3} \d{4} \d\d:\d\d"
    assert re.search(rf"Revoked by {re.escape(technician)} · {when}", text), text[-400:]
