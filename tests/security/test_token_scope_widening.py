"""A token made for some tenants never reads more than they hold, not even once their rows are
gone (a tenant deleted by hand empties its list): every endpoint, the audit trail's included,
asks the API's scope whether the token names tenants (attack14)."""

import pytest
from django.urls import reverse

from portal.audit.events import record
from provisioning.api.models import ApiToken
from tests.factories import signed_in

from ..api.conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


def test_an_emptied_tenant_token_reads_no_msp_wide_audit_event(alpha, bravo, msp_admin):
    record("settings.change", actor=msp_admin, target=("settings", 1, "MSP-wide setting"))
    client = ApiClient(token_for(msp_admin, tenants=[bravo.tenant]))
    ApiToken.objects.get().tenants.clear()  # Bravo's rows gone: the token reaches no tenant
    assert client.get("/api/v1/tenants").json()["items"] == []
    assert client.get("/api/v1/audit-events").json()["items"] == []
    assert client.get("/api/v1/audit-events", tenant="@msp").status_code == 404
    csv = b"".join(client.get("/api/v1/audit-events.csv").streaming_content).decode()
    assert "MSP-wide setting" not in csv


def test_the_token_lists_say_an_emptied_tenant_token_reaches_none(client, bravo, msp_admin):
    """Its row says what it reaches (nothing), not "all yours" as a token for every tenant's
    does: an MSP admin reviewing tokens must not take it for a wide one."""
    token_for(msp_admin, tenants=[bravo.tenant], name="Narrowed")
    ApiToken.objects.get().tenants.clear()
    signed_in(client, msp_admin)
    for page in ("api_tokens", "api_tokens_all"):
        row = client.get(reverse(page)).content.decode().split("Narrowed", 1)[1]
        row = row.split("</tr>", 1)[0]
        assert "all yours" not in row and "all theirs" not in row
        assert "none: its tenants are gone" in row
