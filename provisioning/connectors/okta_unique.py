"""Who holds a login Okta refuses as taken.

Okta keeps logins unique without regard to case or diacritics: "If one of your users has a
login of Isaac.Brock@example.com, there cannot be another user whose login is
isaac.brock@example.com, nor isáàc.bröck@example.com" (the okta SDK's UserProfile.login, from
Okta's OpenAPI spec). A GET by login finds the login as written only, and List Users' `search`
cannot find an accented twin either: "Unlike with user logins, diacritical marks are
significant in search string values" (UserApi.list_users, `search`). What it offers is `co`
on `profile.login`: the logins that contain the part after the @ (a domain, which has no
accents) are listed, and compared as Okta compares them.
"""

from __future__ import annotations

import unicodedata

from provisioning.connectors.okta_links import next_cursor
from provisioning.connectors.okta_manager import PAGE, quoted


def login_key(login: str) -> str:
    """`login` as Okta compares logins for uniqueness: case and diacritics do not count."""
    decomposed = unicodedata.normalize("NFKD", login.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


async def twin_of(connector, login: str):
    """The SDK user whose login equals `login` but for case and diacritics, or None."""
    at, domain = login.rpartition("@")[1:]
    if not (at and domain):
        return None
    expression = f"profile.login co {quoted('@' + domain)}"
    key, after = login_key(login), None
    while True:
        page, response = await connector._call(
            connector._okta().list_users(search=expression, limit=PAGE, after=after)
        )
        for user in page or []:
            if user.profile and login_key(user.profile.login or "") == key:
                return user
        after = next_cursor(response)
        if not after:
            return None
