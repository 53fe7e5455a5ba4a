"""Okta's manager: the base user profile's `managerId` (the manager's `id`) and `manager`
(the manager's `displayName`), as the okta SDK's UserProfile documents them. A person's direct
reports are the users whose `profile.managerId` is theirs (a `search`, which covers any
profile attribute). `OktaConnector` exposes each as a thin method; the functions here take it
for its SDK client and its error translation, and return the SDK's users.
"""

from __future__ import annotations

from okta.models import UpdateUserRequest

from provisioning.connectors.base import DirectoryUser
from provisioning.connectors.errors import NotFoundError
from provisioning.connectors.okta_links import next_cursor

PAGE = 200
CANDIDATES = 6


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def manager_of(connector, user_id: str):
    """The user's manager as Okta holds it (by id; a login there resolves too), or None."""
    user, _ = await connector._call(connector._okta().get_user(user_id))
    profile = user.profile.to_dict() if user and user.profile else {}
    manager_id = profile.get("managerId")
    if not manager_id:
        return None
    try:
        found, _ = await connector._call(connector._okta().get_user(manager_id))
    except NotFoundError:
        return None  # a manager who is gone is no manager
    return found


async def set_manager(connector, user_id: str, manager: DirectoryUser) -> None:
    profile = {
        "managerId": manager.id,
        "manager": manager.attributes.get("display_name") or manager.username,
    }
    request = UpdateUserRequest.from_dict({"profile": profile})
    await connector._call(connector._okta().update_user(user_id, request))


async def _search(connector, expression: str, limit: int | None = None) -> list:
    found: list = []
    after = None
    while True:
        page, response = await connector._call(
            connector._okta().list_users(search=expression, limit=limit or PAGE, after=after)
        )
        found += list(page or [])
        if limit is not None and len(found) >= limit:
            return found[:limit]
        after = next_cursor(response)
        if not after:
            return found


async def direct_reports(connector, user_id: str) -> list:
    return await _search(connector, f"profile.managerId eq {quoted(user_id)}")


async def people_named(connector, name: str) -> list:
    """Those whose display name or e-mail equals `name` (a few, enough to name candidates)."""
    value = quoted(name)
    return await _search(
        connector, f"profile.displayName eq {value} or profile.email eq {value}", CANDIDATES
    )
