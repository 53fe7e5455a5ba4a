"""Encryption of directory credentials with a list of Fernet keys from the environment.

The first key encrypts; every key decrypts, so a key can be rotated in without downtime
(`manage.py rotate_credentials` then re-encrypts everything with the first key).
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialError(Exception):
    """A stored credential cannot be decrypted. The message never contains the secret."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("CREDENTIAL_KEYS is empty: set at least one Fernet key.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "CREDENTIAL_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded "
            "bytes; make one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIAL_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        raise CredentialError("No credential is stored for this connection.")
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise CredentialError(
            "The stored credential cannot be decrypted with any configured key "
            "(was CREDENTIAL_KEYS changed without keeping the old key?). Enter the secret again."
        ) from None


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the first key. Raises CredentialError when no key decrypts it."""
    try:
        return fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise CredentialError(
            "A stored credential cannot be decrypted with any configured key."
        ) from None
