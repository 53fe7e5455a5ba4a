"""The client report's address carries only what defines the period (a preset's name; a
custom period's dates), and the licence card says one true thing about why it has no line."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from reports.report import build_report
from tenants.models import DirectoryConnection, Tenant
from tests.factories import make_person
from tests.reports.conftest import END, START, read_licences

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def report_url(tenant) -> str:
    return reverse("client_report", kwargs={"tenant": tenant.slug})


def query_of(url: str) -> dict:
    return parse_qs(urlsplit(url).query)


def test_a_preset_drops_the_dates_left_from_before(client, alpha):
    client.force_login(alpha.client_admin)
    stale = {"period": "last_quarter", "start": "2026-01-05", "end": "2026-01-18"}
    response = client.get(report_url(alpha.tenant), stale)
    assert response.status_code == 302
    assert query_of(response["Location"]) == {"period": ["last_quarter"]}
    response = client.get(response["Location"])
    assert response.status_code == 200 and response.context["period"] == "last_quarter"
    assert response.context["csv_query"] == "period=last_quarter"

    response = client.get(report_url(alpha.tenant), stale, **HX)  # the form, through htmx
    assert response.status_code == 200
    assert query_of(response["HX-Push-Url"]) == {"period": ["last_quarter"]}


def test_a_custom_period_keeps_its_dates(client, alpha):
    client.force_login(alpha.client_admin)
    custom = {"period": "custom", "start": "2026-01-05", "end": "2026-01-18"}
    response = client.get(report_url(alpha.tenant), custom)
    assert response.status_code == 200
    assert response.context["report"].start == START
    response = client.get(report_url(alpha.tenant), custom, **HX)
    assert query_of(response["HX-Push-Url"]) == {k: [v] for k, v in custom.items()}
    # dates alone are a custom period: the address names it so
    response = client.get(report_url(alpha.tenant), {"start": "2026-01-05", "end": "2026-01-18"})
    assert query_of(response["Location"]) == {k: [v] for k, v in custom.items()}


def test_a_bad_period_is_shown_with_its_message_not_redirected(client, alpha):
    client.force_login(alpha.client_admin)
    bad = {"period": "custom", "start": "2026-01-18", "end": "2026-01-05"}
    response = client.get(report_url(alpha.tenant), bad)
    assert response.status_code == 200 and "comes before" in response.content.decode()
    assert "HX-Push-Url" not in client.get(report_url(alpha.tenant), bad, **HX)


def test_a_period_that_starts_after_today_is_refused(client, alpha):
    """A period still to come would show zeros and "Every operation of this period
    succeeded" to a client: it is refused with its reason, and the default period shown."""
    client.force_login(alpha.account_manager)
    ahead = timezone.localdate() + timedelta(days=30)
    future = {"period": "custom", "start": f"{ahead:%Y-%m-%d}", "end": f"{ahead:%Y-%m-%d}"}
    response = client.get(report_url(alpha.tenant), future)
    assert response.status_code == 200
    assert "nothing has happened in it yet" in response.content.decode()
    assert response.context["report"].start <= timezone.localdate()


def licence_card(response) -> str:
    page = response.content.decode()
    start = page.index("<h2>Licence seats in use</h2>")
    return page[start : page.index("</section>", start)]


def test_an_okta_only_client_is_told_one_thing_about_licences(client, db):
    tenant = Tenant.objects.create(name="Fabrikam", slug="fabrikam", primary_domain="fab.test")
    okta = DirectoryConnection(tenant=tenant, kind="okta", org_url="https://fab.okta.test")
    okta.set_secret("token-of-fabrikam")
    okta.save()
    client.force_login(make_person("ca-fab", "client_admin", [tenant]))
    response = client.get(report_url(tenant))
    card = licence_card(response)
    assert "sell no licence SKUs (Okta bills per person)" in card
    assert "not been read" not in card and "the line" not in card
    # no second card saying the inventory "has read none" of what Okta does not sell
    assert 'id="licence-waste"' not in response.content.decode()


def test_an_unread_entra_directory_is_not_said_to_have_no_skus(client, alpha):
    client.force_login(alpha.client_admin)
    card = licence_card(client.get(report_url(alpha.tenant)))
    assert "have not been read, and the portal assigned none in this period" in card
    assert "no licence SKUs" not in card and "the line shows" not in card


def test_a_read_directory_explains_its_line(client, alpha):
    read_licences(alpha, consumed=10)
    client.force_login(alpha.client_admin)
    card = licence_card(client.get(report_url(alpha.tenant)))
    assert 'id="licence-basis"' in card and "as read from the directory on" in card
    assert 'id="licence-note"' not in card


def test_a_period_not_started_says_so_alone(alpha):
    read_licences(alpha, consumed=10)
    report = build_report(alpha.tenant, END.replace(year=2099), END.replace(year=2099))
    assert report.licence_note == "No licences to show: the period has not started yet."
