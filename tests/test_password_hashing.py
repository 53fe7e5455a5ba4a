"""Passwords are hashed with Argon2; hashes made before (PBKDF2) still sign in, and are
upgraded to Argon2 at that sign-in."""

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.urls import reverse

from tests.factories import PASSWORD


def test_argon2_hashes_new_passwords(alpha):
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    alpha.technician.refresh_from_db()
    assert alpha.technician.password.startswith("argon2$argon2id$")


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
