"""Users' `lastLogin`, set through the control API: `POST /_sandbox/okta/{id}/sign-ins`.

Okta keeps `lastLogin` on the user ("Timestamp of the last login"); a sign-in does not change
`lastUpdated`, so a `lastUpdated gt` search does not find users who only signed in.
"""

from __future__ import annotations

import datetime as dt

from .errors import OktaError
from .org import OktaOrg


def _stamp(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: 'at' must be an ISO 8601 date and time")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{where}: 'at' must be an ISO 8601 date and time") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_from_control(org: OktaOrg, body: dict) -> int:
    """{"sign_ins": [{"user": id or login, "at": ISO or null}]} (or one such object); checks
    everything before changing anything."""
    items = body.get("sign_ins", [body])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("sign_ins must be a list of objects")
    planned = []
    for n, item in enumerate(items):
        where = f"sign_ins[{n}]"
        try:
            user = org.find_user(str(item.get("user", "")))
        except OktaError:
            raise ValueError(f"{where}: no user {item.get('user')!r}") from None
        planned.append((user, None if item.get("at") is None else _stamp(item["at"], where)))
    for user, stamp in planned:
        user.last_login = stamp
    return len(planned)
