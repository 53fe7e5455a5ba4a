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
import uuid

from sandbox.behaviour import Behaviour, Stats
from sandbox.scim.flavours import FLAVOURS, Flavour
from sandbox.scim.paths import ResourceSchemas
from sandbox.scim.schema import ENTERPRISE, GROUP, USER


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ScimApp:
    def __init__(self, slug: str, name: str, flavour: str, token: str | None = None) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown flavour {flavour!r}; use one of {', '.join(FLAVOURS)}")
        self.id = slug  # the Directory protocol's key
        self.slug = slug
        self.name = name
        self.flavour_name = flavour
        self.token = token or secrets.token_urlsafe(24)
        self.users: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}
        self.behaviour = Behaviour()
        self.stats = Stats()

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
        return {**self.to_state(), "users": list(self.users.values()), "token": self.token}

    @classmethod
    def from_json(cls, data: dict) -> ScimApp:
        app = cls(data["slug"], data["name"], data["flavour"], data["token"])
        app.users = {u["id"]: u for u in data.get("users", [])}
        app.groups = {g["id"]: g for g in data.get("groups", [])}
        if data.get("behaviour"):
            app.behaviour.update(data["behaviour"])
        return app
