"""The password reset's limit per e-mail address counted the address as typed, lower-cased,
while Django finds its person by comparing NFKC case folds (and PostgreSQL's iexact by
upper case): "ſ" (U+017F, long s), which Django's e-mail validator takes for an "s", folds to
"s" but lower-cases to itself, so "tech-alpha@mſp.teſt" and its kin were new addresses to the
limit, each with its hour's requests, every mail going to the one real person on PostgreSQL.
The limit now counts the address as Django compares it (attack19)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db

SPELLINGS = ["tech-alpha@msp.test", "tech-alpha@mſp.test", "tech-alpha@msp.teſt"]


@pytest.mark.usefixtures("one_minute")
def test_another_spelling_of_the_same_address_counts_against_it(client, settings, alpha):
    settings.PASSWORD_RESETS_PER_EMAIL_PER_HOUR = 2
    answers = [
        client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=f"192.0.2.{n}")
        for n, email in enumerate(SPELLINGS, start=1)
    ]
    assert [a.status_code for a in answers] == [302, 302, 429]
    assert len(mail.outbox) <= 2 and all(m.to == ["tech-alpha@msp.test"] for m in mail.outbox)


@pytest.mark.usefixtures("one_minute")
def test_a_client_moving_through_its_ipv6_network_is_one_client(client, settings, alpha):
    """The limit per client counted each IPv6 address, so one host moving through its /64
    (RFC 8273 gives a host one) asked for resets without end; it is now its /64, as the
    machine endpoints' refusals count a sender (provisioning.refusals)."""
    settings.PASSWORD_RESETS_PER_CLIENT_PER_HOUR = 2

    def ask(address: str) -> int:
        answer = client.post(reverse("password_reset"), {"email": f"x{address[-1]}@msp.test"},
                             REMOTE_ADDR=address)  # fmt: skip
        return answer.status_code

    assert [ask(f"2001:db8:7:1::{host}") for host in "abc"] == [302, 302, 429]
    assert ask("2001:db8:7:2::a") == 302
