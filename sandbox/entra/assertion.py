"""Certificate credentials: checking the signed client assertion (a JWT) azure-identity's
CertificateCredential sends instead of a secret.

MSAL signs with PS256 (RS256 for a SHA-1 thumbprint only); the audience is the token
endpoint, issuer and subject the client id.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sandbox.entra.model import AppRegistration

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW_S = 300


class AssertionRejected(ValueError):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _padding(alg: str) -> padding.AsymmetricPadding:
    if alg == "PS256":
        return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    return padding.PKCS1v15()


def _signed_by(app: AppRegistration, signed: bytes, signature: bytes, alg: str) -> bool:
    for pem in app.certificates:
        key = x509.load_pem_x509_certificate(pem.encode()).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(signature, signed, _padding(alg), hashes.SHA256())
        except InvalidSignature:
            continue
        return True
    return False


def check_assertion(app: AppRegistration, assertion: str, token_paths: set[str]) -> None:
    """Raise AssertionRejected (with its AADSTS code) unless `assertion` proves the app."""
    try:
        head, body, sig = assertion.split(".")
        header, claims = json.loads(_b64(head)), json.loads(_b64(body))
        signature = _b64(sig)
    except ValueError:
        raise AssertionRejected(50027, "JWT token is invalid or malformed.") from None
    alg = header.get("alg") if isinstance(header, dict) else None
    if alg not in ("RS256", "PS256") or not isinstance(claims, dict):
        raise AssertionRejected(50027, "JWT token is invalid or malformed.")
    if not app.certificates:
        raise AssertionRejected(700027, "The application has no certificate credentials.")
    if not _signed_by(app, f"{head}.{body}".encode(), signature, alg):
        raise AssertionRejected(
            700027,
            "The certificate with identifier used to sign the client assertion is not "
            f"registered on application. [Reason - The key was not found., Thumbprint of key "
            f"used by client: '{header.get('x5t#S256') or header.get('x5t')}']",
        )
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise AssertionRejected(
            700021, "Client assertion application identifier doesn't match 'client_id' parameter."
        )
    audience = claims.get("aud")
    if not isinstance(audience, str) or urlsplit(audience).path.lower() not in token_paths:
        raise AssertionRejected(700016, "Client assertion contains an invalid audience.")
    now = time.time()
    expires, not_before = claims.get("exp"), claims.get("nbf", 0)
    if (
        not isinstance(expires, int | float)
        or expires < now - CLOCK_SKEW_S
        or (isinstance(not_before, int | float) and not_before > now + CLOCK_SKEW_S)
    ):
        raise AssertionRejected(700024, "Client assertion is not within its valid time range.")
