"""Users' signInActivity: who may read it, and how the control API records sign-ins.

Graph returns `signInActivity` only on `$select`, and only when the app holds
AuditLog.Read.All and the tenant a Microsoft Entra ID P1 or P2 licence ("Details for this
property require a Microsoft Entra ID P1 or P2 license and the AuditLog.Read.All
permission", user resource). Without the permission Graph answers 403
`Authentication_MSGraphPermissionMissing` ("Calling principal does not have required MSGraph
permissions AuditLog.Read.All", microsoft-graph-explorer-v4#2731); without the licence 403
`Authentication_RequestFromNonPremiumTenantOrB2CTenant` ("Neither tenant is B2C or tenant
doesn't have premium license", microsoft-graph-docs#12772). A user who never signed in has
no signInActivity ("This property isn't returned for a user who never signed in").
"""

from __future__ import annotations

import datetime as dt
import uuid

from sandbox.entra.errors import GraphError
from sandbox.entra.model import EntraTenant, User
from sandbox.entra.router import GraphRequest

SIGN_IN = "signInActivity"
AUDIT_LOG_READ = "AuditLog.Read.All"
# "When you specify $select=signInActivity or $filter=signInActivity while listing users, the
# maximum page size for $top is 120. Requests with $top set higher than 120 will return pages
# with up to 120 users." (Graph, List users)
SIGN_IN_PAGE = 120


def selects_sign_in(query: dict[str, str]) -> bool:
    names = (query.get("$select") or "").split(",")
    return any(n.strip().lower() == SIGN_IN.lower() for n in names)


def check_access(req: GraphRequest) -> None:
    """403 as Graph answers when the app or the tenant may not read sign-in activity."""
    if AUDIT_LOG_READ not in req.tenant.apps[req.client_id].permissions:
        raise GraphError(
            403,
            "Authentication_MSGraphPermissionMissing",
            f"Calling principal does not have required MSGraph permissions {AUDIT_LOG_READ}",
        )
    if not req.tenant.has_premium():
        raise GraphError(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        )


def check_key(key: str) -> None:
    """Sign-in data is read by object id only: GET /users/{UPN}?$select=signInActivity is 400
    (answered with code "400" in a 2026 Graph Explorer capture)."""
    try:
        uuid.UUID(key)
    except ValueError:
        raise GraphError(
            400, "400", "Get By Key only supports UserId and the key has to be a valid Guid"
        ) from None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(user: User, at: dt.datetime, *, interactive: bool = True, success: bool = True) -> None:
    """A sign-in attempt at `at`, as Entra folds it into signInActivity."""
    activity = dict(user.props.get(SIGN_IN) or {})
    request_id = str(uuid.uuid4())
    if interactive:
        activity["lastSignInDateTime"] = _iso(at)
        activity["lastSignInRequestId"] = request_id
    else:
        activity["lastNonInteractiveSignInDateTime"] = _iso(at)
        activity["lastNonInteractiveSignInRequestId"] = request_id
    if success:
        activity["lastSuccessfulSignInDateTime"] = _iso(at)
        activity["lastSuccessfulSignInRequestId"] = request_id
    for key in ("lastSignIn", "lastNonInteractiveSignIn", "lastSuccessfulSignIn"):
        activity.setdefault(f"{key}DateTime", None)
        activity.setdefault(f"{key}RequestId", None)
    # Not a directory change: sign-in data lives outside the user object, so delta does not
    # report it (and refuses to $select it).
    user.props[SIGN_IN] = activity


def parse_time(value: object, where: str) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError(f"{where}: 'at' must be an ISO 8601 date and time")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{where}: 'at' must be an ISO 8601 date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def record_from_control(tenant: EntraTenant, body: dict) -> int:
    """`POST /_sandbox/entra/{id}/sign-ins`: {"sign_ins": [{"user": id or UPN, "at": ISO,
    "interactive": true, "success": true}]} (or one such object); `"at": null` clears the
    user's sign-in activity. Checks everything before changing anything."""
    items = body.get("sign_ins", [body])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("sign_ins must be a list of objects")
    planned = []
    for n, item in enumerate(items):
        where = f"sign_ins[{n}]"
        user = tenant.live_user(str(item.get("user", "")))
        if user is None:
            raise ValueError(f"{where}: no live user {item.get('user')!r}")
        at = None if item.get("at") is None else parse_time(item["at"], where)
        planned.append(
            (user, at, bool(item.get("interactive", True)), bool(item.get("success", True)))
        )
    for user, at, interactive, success in planned:
        if at is None:
            user.props.pop(SIGN_IN, None)
        else:
            record(user, at, interactive=interactive, success=success)
    return len(planned)
