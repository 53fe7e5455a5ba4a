"""One emulated SaaS app that speaks SCIM 2.0: its identity (slug, name, flavour, bearer
token), the users and groups it holds, and the shared behaviour/stats of every sandbox
directory.

Stored resources are plain dicts in canonical attribute spelling, without `schemas` and with
`meta` as {created, lastModified, version (an int)}; `render` in resources.py makes the wire
form.
"""

from __future__ import annotations

import copy
import datetime as dt
import secrets
import time
import uuid

from sandbox.behaviour import Behaviour, Stats
from sandbox.scim.flavours import FLAVOURS, Flavour
from sandbox.scim.paths import ResourceSchemas
from sandbox.scim.schema import ENTERPRISE, GROUP, USER

# How a garbled answer comes: an HTML page, no body at all, or JSON that is no SCIM resource.
GARBLES = ("html", "empty", "shape")
TOKEN_LIFETIME_S = 3600  # an OAuth access token's default lifetime (`expires_in`)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ScimApp:
    def __init__(
        self,
        slug: str,
        name: str,
        flavour: str,
        token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown flavour {flavour!r}; use one of {', '.join(FLAVOURS)}")
        self.id = slug  # the Directory protocol's key
        self.slug = slug
        self.name = name
        self.flavour_name = flavour
        self.token = token or secrets.token_urlsafe(24)
        # OAuth 2.0 client credentials (oauth.py); issued tokens are kept in memory only.
        self.client_id = client_id or f"{slug}-client"
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.token_lifetime_s = TOKEN_LIFETIME_S
        self.access_tokens: dict[str, float] = {}  # token -> when it expires (monotonic)
        self.users: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}
        self.behaviour = Behaviour()
        self.stats = Stats()
        # The next this many answers with a body come garbled (`garble_as`), as an app behind a
        # proxy's error page or a half-deployed release answers: the status stays a success.
        self.garble_next = 0
        self.garble_as = "html"
        self.garble_on = ""  # only answers to this method ("POST", ...); "": any

    @property
    def flavour(self) -> Flavour:
        return FLAVOURS[self.flavour_name]

    def user_schemas(self) -> ResourceSchemas:
        return ResourceSchemas(USER, (ENTERPRISE,) if self.flavour.enterprise else ())

    def group_schemas(self) -> ResourceSchemas:
        return ResourceSchemas(GROUP)

    def store(self, kind: str) -> dict[str, dict]:
        return self.users if kind == "User" else self.groups

    def add(self, kind: str, data: dict, item_id: str | None = None) -> dict:
        """Store a new resource (already validated); the server assigns `id` and `meta` (the
        demo seed chooses ids, so that they are the same on every run)."""
        stamp = now_iso()
        item = {**copy.deepcopy(data), "id": item_id or uuid.uuid4().hex}
        item["meta"] = {"created": stamp, "lastModified": stamp, "version": 1}
        self.store(kind)[item["id"]] = item
        return item

    def replace(self, kind: str, item_id: str, data: dict) -> dict:
        old = self.store(kind)[item_id]
        meta = old["meta"]
        item = {**copy.deepcopy(data), "id": item_id}
        item["meta"] = {**meta, "lastModified": now_iso(), "version": meta["version"] + 1}
        self.store(kind)[item_id] = item
        return item

    def remove_user(self, user_id: str) -> None:
        del self.users[user_id]
        for group in self.groups.values():
            members = group.get("members") or []
            kept = [m for m in members if m.get("value") != user_id]
            if len(kept) != len(members):
                group["members"] = kept
                if not kept:
                    del group["members"]  # unassigned, not empty (RFC 7643 §2.5)
                group["meta"] = {
                    **group["meta"],
                    "lastModified": now_iso(),
                    "version": group["meta"]["version"] + 1,
                }

    def groups_of(self, user_id: str) -> list[dict]:
        return [
            g
            for g in self.groups.values()
            if any(m.get("value") == user_id for m in g.get("members") or [])
        ]

    # OAuth access tokens -------------------------------------------------------------------

    def issue_token(self) -> tuple[str, int]:
        """A new access token and its lifetime in seconds; expired ones are forgotten."""
        now = time.monotonic()
        self.access_tokens = {t: end for t, end in self.access_tokens.items() if end > now}
        token = secrets.token_urlsafe(32)
        self.access_tokens[token] = now + self.token_lifetime_s
        return token, self.token_lifetime_s

    def takes_access_token(self, given: str) -> bool:
        """An issued token that has not expired (RFC 6750 §3.1: else `invalid_token`)."""
        expires = self.access_tokens.get(given)
        return expires is not None and time.monotonic() < expires

    def expire_tokens(self) -> int:
        """Every issued token expires now (the control API's way to test a renewal)."""
        count = len(self.access_tokens)
        self.access_tokens = {t: 0.0 for t in self.access_tokens}
        return count

    def settings(self) -> dict:
        return {
            "token_lifetime_s": self.token_lifetime_s,
            "garble_next": self.garble_next,
            "garble_as": self.garble_as,
            "garble_on": self.garble_on,
        }

    def update_settings(self, data: dict) -> None:
        """Apply a partial update from the control API; raises ValueError, changing nothing."""
        unknown = set(data) - set(self.settings())
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        merged = {**self.settings(), **data}
        lifetime, garble_next = merged["token_lifetime_s"], merged["garble_next"]
        if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 1:
            raise ValueError("token_lifetime_s must be a whole number of seconds, at least 1")
        if isinstance(garble_next, bool) or not isinstance(garble_next, int) or garble_next < 0:
            raise ValueError("garble_next must be a whole number, at least 0")
        if merged["garble_as"] not in GARBLES:
            raise ValueError(f"garble_as must be one of {', '.join(GARBLES)}")
        if merged["garble_on"] not in ("", "GET", "POST", "PUT", "PATCH"):
            raise ValueError("garble_on must be GET, POST, PUT, PATCH or empty (any)")
        self.token_lifetime_s, self.garble_next = lifetime, garble_next
        self.garble_as, self.garble_on = merged["garble_as"], merged["garble_on"]

    def garbles(self, method: str, status: int, body) -> bool:
        """Whether this answer comes garbled (`garble_next`), counting it if so."""
        if self.garble_next < 1 or body is None or not 200 <= status < 300:
            return False
        if self.garble_on and method != self.garble_on:
            return False
        self.garble_next -= 1
        return True

    # State ---------------------------------------------------------------------------------

    def to_state(self) -> dict:
        """What the control API shows: the app and everything it holds."""
        users = [{k: v for k, v in u.items() if k != "password"} for u in self.users.values()]
        return {
            "slug": self.slug,
            "name": self.name,
            "flavour": self.flavour_name,
            "users": copy.deepcopy(users),
            "groups": list(copy.deepcopy(self.groups).values()),
            "behaviour": self.behaviour.as_dict(),
        }

    def to_json(self) -> dict:
        """For the state file: everything, the token and passwords included."""
        return {
            **self.to_state(),
            "users": list(self.users.values()),
            "token": self.token,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "token_lifetime_s": self.token_lifetime_s,
        }

    @classmethod
    def from_json(cls, data: dict) -> ScimApp:
        app = cls(
            data["slug"],
            data["name"],
            data["flavour"],
            data["token"],
            data.get("client_id"),
            data.get("client_secret"),
        )
        app.token_lifetime_s = data.get("token_lifetime_s", TOKEN_LIFETIME_S)
        app.users = {u["id"]: u for u in data.get("users", [])}
        app.groups = {g["id"]: g for g in data.get("groups", [])}
        if data.get("behaviour"):
            app.behaviour.update(data["behaviour"])
        return app
