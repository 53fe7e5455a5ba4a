"""Access tokens shaped like the Microsoft identity platform's app-only Graph tokens: a JWT
whose payload carries the app's application permissions in `roles` and its service
principal in `oid`, as clients read them (decoding without verifying; only Graph verifies).

The signature is random bytes: a Graph token is not for its client to validate
(https://learn.microsoft.com/entra/identity-platform/access-tokens: "Don't try to validate
or read tokens for any API you don't own"); the sandbox looks tokens up by their value.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from typing import Any

GRAPH_AUDIENCE = "https://graph.microsoft.com"


def _part(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def access_token(tenant, client_id: str, issued_at: float, lifetime_s: int) -> str:
    app = tenant.apps[client_id]
    principal = tenant.roles.app_principal(client_id)
    issuer = f"https://sts.windows.net/{tenant.id}/"
    now = int(issued_at)
    payload = {
        "aud": GRAPH_AUDIENCE,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + int(lifetime_s),
        "app_displayname": app.display_name,
        "appid": client_id,
        "appidacr": "1",
        "idp": issuer,
        "idtyp": "app",
        "oid": principal,
        "roles": sorted(app.permissions),
        "sub": principal,
        "tid": tenant.id,
        "uti": secrets.token_urlsafe(16),
        "ver": "1.0",
    }
    header = {"typ": "JWT", "alg": "RS256", "kid": str(uuid.uuid5(uuid.NAMESPACE_URL, issuer))}
    return ".".join((_part(header), _part(payload), _part(secrets.token_bytes(64))))
