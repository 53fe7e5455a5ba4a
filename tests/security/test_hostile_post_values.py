"""POST values a view reads without a form's bounds: a NUL (PostgreSQL refuses it in a query
or a text column) or markup is refused with a 404 or a message, never a 500, and nothing is
changed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tenants.models import DirectoryConnection, RoleTemplate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slug", ["al\x00pha", "\x00"])
def test_copying_an_msp_template_to_a_tenant_named_with_a_nul_is_a_404(
    client, alpha, msp_admin, msp_template, slug
):
    client.force_login(msp_admin)
    url = reverse("role_copy_to_tenant", kwargs={"msp_template_id": msp_template.pk})
    assert client.post(url, {"tenant": slug}).status_code == 404
    assert client.post(url, {"tenant": "alpha"}).status_code == 302  # the real slug still works
    assert not RoleTemplate.objects.filter(tenant=alpha.tenant, name=msp_template.name).exists()


@pytest.mark.parametrize("reason", ["late\x00night", "<b>tenant move</b>", "x" * 201])
def test_a_hold_reason_with_a_nul_markup_or_too_long_holds_nothing(
    client, alpha, msp_admin, reason
):
    client.force_login(msp_admin)
    kwargs = {"tenant": alpha.tenant.slug, "connection_id": alpha.connection.pk}
    response = client.post(reverse("connection_hold", kwargs=kwargs), {"reason": reason})
    assert response.status_code == 302
    assert DirectoryConnection.objects.get(pk=alpha.connection.pk).quarantined_at is None
    page = client.get(response["Location"]).content.decode()
    assert "Not held, the reason is refused" in page


def test_a_plain_hold_reason_still_holds(client, alpha, msp_admin):
    client.force_login(msp_admin)
    kwargs = {"tenant": alpha.tenant.slug, "connection_id": alpha.connection.pk}
    client.post(reverse("connection_hold", kwargs=kwargs), {"reason": "Tenant move"})
    held = DirectoryConnection.objects.get(pk=alpha.connection.pk)
    assert held.quarantined_at is not None and held.quarantine_reason.endswith("Tenant move")
