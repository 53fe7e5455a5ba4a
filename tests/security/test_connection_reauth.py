"""A directory connection sends the tenant's people (and, for a joiner, the first password)
wherever it points: a new one, or a new secret for one (which any change of where it points
needs), is a feed that outlives the session, as an outbound webhook or an API token is. So it
needs the password typed within REAUTH_MAX_AGE_SECONDS: a session taken without the password
cannot add a SCIM app at a host of its choosing, or an Entra ID connection to a directory of
its own, and have the next joiners sent there. An edit that enters no secret changes no
destination and needs nothing more."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from tenants.models import DirectoryConnection
from tests.factories import signed_in
from tests.provisioning.scim_apps import connection_form, create_url, edit_url

pytestmark = pytest.mark.django_db

TOKEN = "scim-TOKEN-reauth-test-7c2d"  # noqa: S105 - a test value
STALE = 301  # seconds since the password was typed: past REAUTH_MAX_AGE_SECONDS (300)


def form(name="Slack", url="https://api.slack.example/scim/v2", **more) -> dict:
    return connection_form(name, url, **{"secret": TOKEN, **more})


def to_password_page(response, back_to: str) -> bool:
    expected = f"{reverse('reauth')}?{urlencode({'next': back_to})}"
    return response.status_code == 302 and response["Location"] == expected


def test_adding_a_connection_asks_for_the_password_again(client, alpha, msp_admin):
    signed_in(client, msp_admin, seconds_ago=STALE)
    create = create_url(alpha.tenant)
    assert to_password_page(client.get(create), create)
    assert to_password_page(
        client.post(create, form(url="https://collector.example.net/scim")), create
    )
    assert not DirectoryConnection.objects.filter(tenant=alpha.tenant, kind="scim").exists()
    signed_in(client, msp_admin)
    assert client.post(create, form()).status_code == 302
    assert DirectoryConnection.objects.filter(tenant=alpha.tenant, kind="scim").count() == 1


def test_a_new_secret_asks_for_it_and_an_edit_without_one_does_not(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    client.post(create_url(alpha.tenant), form())
    slack = DirectoryConnection.objects.get(tenant=alpha.tenant, kind="scim")
    signed_in(client, msp_admin, seconds_ago=STALE)
    elsewhere = form(url="https://collector.example.net/scim", secret="their-token")
    assert to_password_page(client.post(edit_url(slack), elsewhere), edit_url(slack))
    slack.refresh_from_db()
    assert slack.scim_base_url == "https://api.slack.example/scim/v2"
    assert slack.get_secret() == TOKEN
    assert client.post(edit_url(slack), form(name="Slack EU", secret="")).status_code == 302
    slack.refresh_from_db()
    assert slack.name == "Slack EU" and slack.get_secret() == TOKEN
