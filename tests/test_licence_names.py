"""Licences by the names an admin knows ("Microsoft 365 E3"), their part number beside
("SPE_E3"), where a person reads seats and role templates: Graph's subscribedSku carries only
the part number, which read as a code to an account manager and to the client their report
goes to."""

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from portal.licences import product_name
from portal.models import Role
from tests.reports.conftest import read_licences

pytestmark = pytest.mark.django_db

E3 = '<span class="sku-name">Microsoft 365 E3</span> <span class="mono muted">SPE_E3</span>'


def licence(value: str) -> str:
    return Template("{% load text_tags %}{{ value|licence }}").render(Context({"value": value}))


def test_a_known_part_number_reads_as_microsofts_product_name():
    assert product_name("SPE_E3") == "Microsoft 365 E3"
    assert product_name("O365_BUSINESS_PREMIUM") == "Microsoft 365 Business Standard"
    assert licence("SPE_E3") == E3


def test_an_unknown_part_number_or_a_sku_id_stays_as_it_is_escaped():
    assert product_name("CONTOSO_CUSTOM") is None
    assert licence("CONTOSO_CUSTOM") == '<span class="mono">CONTOSO_CUSTOM</span>'
    assert licence("<b>") == '<span class="mono">&lt;b&gt;</span>'


def test_the_dashboards_seats_name_the_product(client, alpha, msp_admin):
    read_licences(alpha, consumed=22, total=25, when=timezone.now())
    client.force_login(msp_admin)
    body = client.get("/").content.decode()
    assert f'{E3} <span class="badge warn">3 free</span>' in body


def test_the_client_reports_seats_name_the_product(client, alpha):
    read_licences(alpha, consumed=10, total=25)
    client.force_login(alpha.people[Role.ACCOUNT_MANAGER])
    url = reverse("client_report", kwargs={"tenant": alpha.tenant.slug})
    query = {"period": "custom", "start": "2026-01-05", "end": "2026-01-18"}
    response = client.get(url, query)
    assert f'<td class="whole">{E3}</td>' in response.content.decode()
    assert "Microsoft 365 E3" in str(response.context["licence_chart"])


def test_role_templates_name_the_product(client, alpha, msp_admin):
    client.force_login(msp_admin)
    page = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}))
    assert f'<span class="chip">{E3}</span>' in page.content.decode()
