"""Okta's first sign-in: an activation link (`lifecycle/activate?sendEmail=false`, or
`reactivate` for a user whose activation is pending), Okta's own activation e-mail (the same
with `sendEmail=true`), or a temporary password (`lifecycle/expire_password_with_temp_password`).

Each call replaces what an earlier one issued: a retry after a crash between the call and its
record issues a new link or password and the first stops working.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from provisioning.connectors.errors import PermanentError
from provisioning.connectors.sign_in import (
    ACTIVATION_LINK,
    DIRECTORY_EMAIL,
    TEMP_PASSWORD,
    IssuedSignIn,
)

if TYPE_CHECKING:
    from provisioning.connectors.okta import OktaConnector

NOT_YET_ACTIVATED = ("STAGED", "DEPROVISIONED")  # Okta activates these
ACTIVATION_PENDING = ("PROVISIONED", "RECOVERY")  # Okta reactivates these


async def issue(connector: OktaConnector, user_id: str, method: str) -> IssuedSignIn:
    if method == TEMP_PASSWORD:
        return await _temp_password(connector, user_id)
    if method in (ACTIVATION_LINK, DIRECTORY_EMAIL):
        return await _activation(connector, user_id, send_email=method == DIRECTORY_EMAIL)
    raise PermanentError(f"Okta issues no first sign-in of the kind {method!r}.")


async def _activation(connector: OktaConnector, user_id: str, *, send_email: bool) -> IssuedSignIn:
    status = (await connector.get_user(user_id)).attributes.get("status")
    okta = connector._okta()
    if status in NOT_YET_ACTIVATED:
        token, _ = await connector._call(okta.activate_user(user_id, send_email=send_email))
    elif status in ACTIVATION_PENDING:
        token, _ = await connector._call(okta.reactivate_user(user_id, send_email=send_email))
    else:
        raise PermanentError(
            f"The Okta user is {status}: it was activated already, so there is no activation "
            "to send. Choose the temporary password for accounts that exist with a password."
        )
    if send_email:
        return IssuedSignIn(DIRECTORY_EMAIL)
    url = getattr(token, "activation_url", None) if token is not None else None
    if not url:
        raise PermanentError("Okta activated the user but returned no activation link.")
    return IssuedSignIn(ACTIVATION_LINK, url)


async def _temp_password(connector: OktaConnector, user_id: str) -> IssuedSignIn:
    okta = connector._okta()
    _, response = await connector._call(okta.expire_password_with_temp_password(user_id))
    # The SDK (3.x) reads this answer as a User and drops tempPassword: read the body itself.
    raw = getattr(response, "raw_data", b"") or b""
    try:
        secret = json.loads(raw).get("tempPassword") or ""
    except (ValueError, AttributeError):
        secret = ""
    if not secret:
        raise PermanentError("Okta expired the password but returned no temporary password.")
    return IssuedSignIn(TEMP_PASSWORD, secret)
