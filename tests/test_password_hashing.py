"""Passwords are hashed with Argon2; hashes made before (PBKDF2) still sign in, and are
upgraded to Argon2 at that sign-in."""

import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse

from portal import settings as portal_settings
from portal.models import Role
from tests.factories import PASSWORD, make_person


@pytest.fixture(autouse=True)
def production_hashers(settings):
    """The production hashers, which the rest of the suite swaps for a quick one."""
    settings.PASSWORD_HASHERS = portal_settings.PASSWORD_HASHERS


def test_argon2_hashes_new_passwords(db):
    assert portal_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    person = make_person("new-hire-tech", Role.TECHNICIAN)
    assert person.password.startswith("argon2$argon2id$")


def test_an_older_pbkdf2_hash_signs_in_and_is_upgraded(client, alpha):
    person = alpha.technician
    person.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    person.save()
    response = client.post(reverse("login"), {"username": person.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] != reverse("login")
    person.refresh_from_db()
    assert person.password.startswith("argon2$")


def test_a_wrong_password_is_refused(client, alpha):
    person = alpha.technician
    response = client.post(reverse("login"), {"username": person.username, "password": "nope"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
