"""An API token is its person's: refused (401) while they are deactivated, however that was
done, and the MSP admins' list of everyone's tokens says so."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from provisioning.api.models import ApiToken
from tests.api.conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


def test_a_deactivated_persons_token_is_refused_and_shown_so(client, alpha, msp_admin):
    clear = token_for(alpha.technician, name="Tech RMM")
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 200
    get_user_model().objects.filter(pk=alpha.technician.pk).update(is_active=False)
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 401
    client.force_login(msp_admin)
    page = client.get(reverse("api_tokens_all")).content.decode()
    token = ApiToken.objects.get(user=alpha.technician)
    row = page.split(f"{token.prefix}…")[1].split("</tr>")[0]
    assert "refused" in row and "deactivated" in row and ">live<" not in row
