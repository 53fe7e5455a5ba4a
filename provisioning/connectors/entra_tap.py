"""Entra's first sign-in: a Temporary Access Pass (`POST /users/{id}/authentication/
temporaryAccessPassMethods`, UserAuthenticationMethod.ReadWrite.All).

Graph shows the pass in its answer to the creation only, and a new pass replaces the one the
user held: issuing again (a retry after a crash between the call and its record) invalidates
the first. Refusals are worded for the technician here, once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from msgraph.generated.models.temporary_access_pass_authentication_method import (
    TemporaryAccessPassAuthenticationMethod,
)

from provisioning.connectors.errors import PermanentError, PermissionDeniedError
from provisioning.connectors.sign_in import TAP, IssuedSignIn

if TYPE_CHECKING:
    from provisioning.connectors.entra import EntraConnector

POLICY_REFUSAL = "UserCredentialPolicy"


async def issue_tap(
    connector: EntraConnector, user_id: str, lifetime_minutes: int, usable_once: bool
) -> IssuedSignIn:
    body = TemporaryAccessPassAuthenticationMethod(
        lifetime_in_minutes=lifetime_minutes, is_usable_once=usable_once
    )
    methods = connector._graph().users.by_user_id(user_id).authentication
    try:
        async with connector._errors(user_id):
            made = await methods.temporary_access_pass_methods.post(body)
    except PermissionDeniedError as exc:
        raise PermissionDeniedError(
            "The portal's app may not issue Temporary Access Passes: grant it the "
            f"UserAuthenticationMethod.ReadWrite.All permission. Graph said: {exc.message}",
            status=exc.status,
            request_id=exc.request_id,
        ) from None
    except PermanentError as exc:
        if POLICY_REFUSAL not in exc.message:
            raise
        raise PermanentError(
            "The tenant's Temporary Access Pass policy is off, or leaves this user out: they "
            "are in no group it includes, or in a group it excludes (their role template's "
            "groups count; Entra admin center: Authentication methods > Temporary Access "
            "Pass > Enable and target). "
            f"Graph said: {exc.message}",
            status=exc.status,
            request_id=exc.request_id,
        ) from None
    if made is None or not made.temporary_access_pass:
        raise PermanentError("Graph created a Temporary Access Pass but did not return it.")
    start = made.start_date_time or made.created_date_time or datetime.now(UTC)
    lifetime = made.lifetime_in_minutes or lifetime_minutes
    return IssuedSignIn(
        TAP, made.temporary_access_pass, start + timedelta(minutes=lifetime), made.id or ""
    )
