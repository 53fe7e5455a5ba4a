"""Usernames are one account per name as a person reads it: after NFKC and case folding
(Unicode's NFKC_Casefold), "ｔｅｃｈ-ａｌｐｈａ" (fullwidth), "TECH-ALPHA" and "tech-alpha" are
the same name. A second account under a look-alike would pass for the first in every list,
audit trail and approval; sign-in finds the account whichever way the name is typed, and
counts the failures against it, not against each spelling."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, signed_in

pytestmark = pytest.mark.django_db

User = get_user_model()


def new_staff(username: str, alpha) -> dict:
    return {
        "username": username,
        "role": "technician",
        "tenants": [alpha.tenant.pk],
        "password": "a-long-enough-passphrase-1",
        "is_active": "on",
    }


@pytest.mark.parametrize(
    "lookalike", ["ｔｅｃｈ-ａｌｐｈａ", "ＴＥＣＨ-alpha", "TECH-ALPHA", "Tech-Alpha"]
)
def test_a_username_that_reads_as_an_existing_one_is_refused(client, alpha, msp_admin, lookalike):
    signed_in(client, msp_admin)
    response = client.post(reverse("staff_create"), new_staff(lookalike, alpha))
    assert response.status_code == 200
    assert "Another person has this username." in response.content.decode()
    assert User.objects.count() == 4  # the world's three and the admin


def test_case_folding_goes_beyond_upper_and_lower(client, alpha, msp_admin):
    """ "ß" folds to "ss": "strauß" and "strauss" are one name."""
    signed_in(client, msp_admin)
    assert client.post(reverse("staff_create"), new_staff("strauss", alpha)).status_code == 302
    response = client.post(reverse("staff_create"), new_staff("STRAUß", alpha))
    assert "Another person has this username." in response.content.decode()


def test_a_new_username_is_kept_in_nfkc(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    assert client.post(reverse("staff_create"), new_staff("ｊｏ.ｄｏｅ", alpha)).status_code == 302
    assert User.objects.filter(username="jo.doe").exists()


def test_a_person_keeps_their_own_name_on_edit(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    person = alpha.technician
    data = new_staff("Tech-Alpha", alpha) | {"password": ""}
    edit = reverse("staff_edit", kwargs={"person_id": person.pk})
    assert client.post(edit, data).status_code == 302


@pytest.mark.parametrize("typed", ["tech-alpha", "TECH-ALPHA", "ｔｅｃｈ-ＡＬＰＨＡ"])
def test_sign_in_finds_the_account_by_its_normalised_name(alpha, typed):
    client = Client()
    response = client.post(reverse("login"), {"username": typed, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")


def test_failures_under_any_spelling_count_against_the_one_account(alpha):
    client = Client()
    spellings = [
        "tech-alpha",
        "TECH-ALPHA",
        "Tech-Alpha",
        "ｔｅｃｈ-ａｌｐｈａ",
        "tEcH-aLpHa",
        "TECH-alpha",
    ]
    for typed in spellings[: settings.AXES_FAILURE_LIMIT]:
        client.post(reverse("login"), {"username": typed, "password": "wrong"})
    response = client.post(reverse("login"), {"username": "tech-alpha", "password": PASSWORD})
    assert response.status_code == 429
