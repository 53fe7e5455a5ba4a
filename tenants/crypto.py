"""Encryption of directory credentials with a list of Fernet keys from the environment.

The first key encrypts; every key decrypts, so a key can be rotated in without downtime
(`manage.py rotate_credentials` then re-encrypts everything with the first key).
"""

import hmac
import json
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialError(Exception):
    """A stored credential cannot be decrypted. The message never contains the secret."""


class SecretBindingError(CredentialError):
    """A stored credential was entered for other ids or endpoints than its row has now."""


# A bound credential's plaintext: this prefix, then JSON {"binding": ..., "secret": ...}.
# Inside the Fernet token, so without the key the binding can be neither read nor changed.
BOUND_PREFIX = "bound:v1:"


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


def encrypt_bound(plaintext: str, binding: str) -> str:
    """Encrypt `plaintext` sealed together with `binding` (e.g. a fingerprint of endpoints)."""
    return encrypt(BOUND_PREFIX + json.dumps({"binding": binding, "secret": plaintext}))


def decrypt_bound(ciphertext: str, binding: str) -> str:
    """The plaintext, only when it was sealed with `binding`; else SecretBindingError."""
    envelope = decrypt(ciphertext)
    try:
        sealed = json.loads(envelope.removeprefix(BOUND_PREFIX))
        stored, secret = sealed["binding"], sealed["secret"]
    except (ValueError, KeyError, TypeError):
        stored, secret = None, None
    if not envelope.startswith(BOUND_PREFIX) or not isinstance(stored, str):
        raise SecretBindingError(
            "The stored secret is not bound to this connection's IDs and endpoints, so it is "
            "not used. Enter the secret again on the connection's page."
        )
    if not hmac.compare_digest(stored, binding):
        raise SecretBindingError(
            "The stored secret was entered for other IDs or endpoints than this connection "
            "has now (changed outside the connection form?), so it is not sent anywhere. "
            "Enter the secret again on the connection's page."
        )
    return secret


def bind_legacy(ciphertext: str, binding: str) -> str:
    """`ciphertext` sealed with `binding` if it was stored unbound; as it is otherwise.
    Raises CredentialError when no key decrypts it."""
    plaintext = decrypt(ciphertext)
    if plaintext.startswith(BOUND_PREFIX):
        return ciphertext
    return encrypt_bound(plaintext, binding)


def unbind(ciphertext: str) -> str:
    """The reverse of bind_legacy (for a migration rolled back)."""
    plaintext = decrypt(ciphertext)
    if not plaintext.startswith(BOUND_PREFIX):
        return ciphertext
    return encrypt(json.loads(plaintext.removeprefix(BOUND_PREFIX))["secret"])
