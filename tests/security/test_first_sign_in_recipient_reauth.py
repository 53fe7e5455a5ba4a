"""The first sign-in policy's named recipient gets every joiner's Temporary Access Pass or
activation link from then on, at any address: a feed that outlives the session, as an
outbound webhook's URL is. Naming one, or another, asks for the password typed within
REAUTH_MAX_AGE_SECONDS first (attack23: a session taken without the password named
someone outside the client and would have received each new joiner's pass)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.first_sign_in.models import FirstSignInPolicy
from tests.factories import signed_in
from tests.security.test_unlock_reauth import STALE, to_password_page

pytestmark = pytest.mark.django_db

POLICY = {
    "entra_method": "tap",
    "tap_lifetime_minutes": "240",
    "tap_usable_once": "on",
    "okta_method": "",
    "recipient": "named",
    "named_recipient": "it@alpha.test",
    "link_hours": "24",
}


def _url(alpha) -> str:
    return reverse("first_sign_in_settings", args=[alpha.tenant.slug])


def _named(alpha) -> str | None:
    policy = FirstSignInPolicy.objects.filter(tenant=alpha.tenant).first()
    return policy.named_recipient if policy else None


def test_naming_a_recipient_asks_for_the_password_again(client, alpha, msp_admin):
    signed_in(client, msp_admin, seconds_ago=STALE)

    response = client.post(_url(alpha), POLICY | {"named_recipient": "passes@evil.example"})

    assert to_password_page(response, _url(alpha))
    assert _named(alpha) is None
    assert not AuditEvent.objects.filter(action="tenant.first_sign_in_update").exists()
    signed_in(client, msp_admin)
    assert client.post(_url(alpha), POLICY).status_code == 302
    assert _named(alpha) == "it@alpha.test"


def test_naming_another_recipient_asks_again(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    client.post(_url(alpha), POLICY)
    signed_in(client, msp_admin, seconds_ago=STALE)

    response = client.post(_url(alpha), POLICY | {"named_recipient": "passes@evil.example"})

    assert to_password_page(response, _url(alpha))
    assert _named(alpha) == "it@alpha.test"


def test_other_settings_and_the_same_recipient_need_no_password(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    client.post(_url(alpha), POLICY)
    signed_in(client, msp_admin, seconds_ago=STALE)

    same = POLICY | {"named_recipient": "IT@alpha.test", "tap_lifetime_minutes": "60"}
    assert client.post(_url(alpha), same).status_code == 302
    manager = same | {"recipient": "manager", "named_recipient": ""}
    assert client.post(_url(alpha), manager).status_code == 302

    policy = FirstSignInPolicy.objects.get(tenant=alpha.tenant)
    assert (policy.recipient, policy.tap_lifetime_minutes) == ("manager", 60)
