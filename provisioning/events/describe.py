"""The pieces events' data share, built one way wherever an event is emitted: a portal link,
a person, a connection. Ids, names and links only; never a secret."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.urls import reverse

from tenants.models import DirectoryConnection


def portal_url(name: str, **kwargs) -> str:
    return settings.PORTAL_URL.rstrip("/") + reverse(name, kwargs=kwargs)


def when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def person(identity) -> dict | None:
    """An Identity (provisioning.models) as a receiver reads it."""
    if identity is None:
        return None
    return {
        "id": identity.pk,
        "display_name": identity.display_name,
        "username": identity.username,
    }


def connection(conn: DirectoryConnection) -> dict:
    return {
        "id": conn.pk,
        "kind": conn.kind,
        "label": conn.label,
        # The tenant page, where the connection, its state and its credential's expiry show.
        "url": portal_url("tenant_detail", tenant=conn.tenant.slug) + f"#connection-{conn.pk}",
    }


def whom(data: dict) -> str:
    """Who (or what) an event's data is about, for a log line: its person, the people of its
    drift items, else its connection; "" when it names none."""
    if data.get("person"):
        return data["person"].get("display_name") or data["person"].get("username", "")
    names = list(dict.fromkeys(item["person"] for item in data.get("items", []) if item["person"]))
    if names:
        return _listed(names[:NAMED], max(data.get("people", 0), len(names)))
    return data.get("connection", {}).get("label", "")


NAMED = 2  # a log line's width


def _listed(names: list[str], total: int) -> str:
    if total > len(names):
        return f"{', '.join(names)} and {total - len(names)} more"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
