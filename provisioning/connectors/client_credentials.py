"""OAuth 2.0 client credentials (RFC 6749 §4.4) as an httpx2 auth flow, for SCIM apps that
take an access token from a token URL instead of a fixed bearer token.

The flow asks the token URL for a token when it has none or it is about to expire, puts it
in `Authorization: Bearer` (RFC 6750 §2.1), and when the app still answers 401 (a token
revoked or expired early) asks once for a new one and sends the request again. The client
authenticates with HTTP Basic, its ID and secret form-encoded first (RFC 6749 §2.3.1, the
method every server MUST support). The secret is never in an error message.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import quote_plus

import httpx2

from provisioning.connectors.errors import (
    AuthenticationError,
    ConnectorError,
    PermanentError,
    TransientError,
)

TOKEN_MARGIN_S = 60.0  # a token is renewed this long before it expires (at most 1/10 of it)
DEFAULT_LIFETIME_S = 3600.0  # RFC 6749 §5.1 makes `expires_in` only RECOMMENDED


class ClientCredentials(httpx2.Auth):
    requires_response_body = True

    def __init__(self, token_url: str, client_id: str, secret: str) -> None:
        self.token_url, self._client_id, self._secret = token_url, client_id, secret
        self._token, self._expires = "", 0.0

    def auth_flow(self, request: httpx2.Request):
        fresh = False
        if not self._token or time.monotonic() >= self._expires:
            self._take((yield self._token_request()))
            fresh = True
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401 and not fresh:
            self._take((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _token_request(self) -> httpx2.Request:
        """RFC 6749 §4.4.2, the client authenticated as §2.3.1 says."""
        pair = f"{quote_plus(self._client_id)}:{quote_plus(self._secret)}"
        basic = base64.b64encode(pair.encode()).decode()
        return httpx2.Request(
            "POST",
            self.token_url,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
        )

    def _take(self, answer: httpx2.Response) -> None:
        """Keep the token of a §5.1 answer; any other answer raises, classified."""
        if answer.status_code != 200:
            raise self._refused(answer)
        body = _json(answer)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermanentError("The token URL's answer holds no access_token (RFC 6749 §5.1).")
        if str(body.get("token_type", "")).lower() != "bearer":
            raise PermanentError("The token URL issued a token that is not a Bearer token.")
        lifetime = body.get("expires_in")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = DEFAULT_LIFETIME_S
        self._token = token
        self._expires = time.monotonic() + lifetime - min(TOKEN_MARGIN_S, lifetime / 10)

    def _refused(self, answer: httpx2.Response) -> ConnectorError:
        """RFC 6749 §5.2: `invalid_client` (and any 400/401/403) means the credentials are
        wrong, which retrying cannot fix; 429 and 5xx may pass."""
        self._token = ""
        body = _json(answer)
        error, description = body.get("error"), body.get("error_description")
        reason = ": ".join(str(part) for part in (error, description) if part)
        reason = reason or f"HTTP {answer.status_code}"
        if self._secret:  # an app that echoes it back does not get it into our messages
            reason = reason.replace(self._secret, "…")
        reason = reason[:300]
        status = answer.status_code
        if status in (400, 401, 403):
            return AuthenticationError(
                f"The OAuth token URL refused the client credentials ({reason}).", status=status
            )
        if status == 429 or status >= 500:
            return TransientError(f"The OAuth token URL did not answer ({reason}).", status=status)
        return PermanentError(f"The OAuth token URL answered {status} ({reason}).", status=status)


def _json(answer: httpx2.Response) -> dict:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
