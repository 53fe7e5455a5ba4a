"""A joiner's first sign-in as a directory issues it: what a connector hands back.

The secret (a Temporary Access Pass, an activation link, a temporary password) lives in this
object only between the directory's answer and the encrypted row that holds it for its
recipient; it never appears in its repr, a step's result or the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The methods, as a tenant's first sign-in policy names them.
TAP = "tap"  # Entra: a Temporary Access Pass
ACTIVATION_LINK = "activation_link"  # Okta: the activation link, delivered by the portal
TEMP_PASSWORD = "temp_password"  # noqa: S105 (a method name) Okta: a temporary password
DIRECTORY_EMAIL = "directory_email"  # Okta: Okta's own activation e-mail to the user

METHOD_NAMES = {
    TAP: "Temporary Access Pass",
    ACTIVATION_LINK: "Okta activation link",
    TEMP_PASSWORD: "Okta temporary password",
    DIRECTORY_EMAIL: "Okta's own activation e-mail",
}
# Methods that activate a passwordless account: the account is made without a password and
# left inactive until the first sign-in step activates it.
ACTIVATING = frozenset({ACTIVATION_LINK, DIRECTORY_EMAIL})


@dataclass(frozen=True)
class IssuedSignIn:
    method: str
    secret: str = field(default="", repr=False)  # "" when the directory delivers it itself
    expires_at: datetime | None = None  # when the directory stops taking it, if it says
    reference: str = ""  # the directory's id of it (a TAP method id), never secret
