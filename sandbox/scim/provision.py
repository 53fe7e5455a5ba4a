"""Creating SCIM apps from a control API body: `{"slug", "name", "flavour", "token"?,
"client_id"?, "client_secret"?, "token_lifetime_s"?, "behaviour"?}`."""

from __future__ import annotations

import re
from typing import Any

from sandbox.scim.flavours import FLAVOURS
from sandbox.scim.model import ScimApp

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class SlugTaken(Exception):
    pass


def create_app(state: Any, body: dict) -> ScimApp:
    """Raises ValueError on a bad body, SlugTaken when the slug exists."""
    slug, name, flavour = body.get("slug"), body.get("name"), body.get("flavour", "full")
    token = body.get("token")
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise ValueError("slug must be lower-case letters, digits and dashes")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name is required")
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {', '.join(FLAVOURS)}")
    if token is not None and (not isinstance(token, str) or len(token) < 8):
        raise ValueError("token must be a string of at least 8 characters")
    client_id, client_secret = body.get("client_id"), body.get("client_secret")
    if client_id is not None and (not isinstance(client_id, str) or not client_id.strip()):
        raise ValueError("client_id must be a non-empty string")
    if client_secret is not None and (not isinstance(client_secret, str) or len(client_secret) < 8):
        raise ValueError("client_secret must be a string of at least 8 characters")
    if slug in state.scim:
        raise SlugTaken(slug)
    app = ScimApp(slug, name.strip(), flavour, token, client_id, client_secret)
    if "token_lifetime_s" in body:
        app.update_settings({"token_lifetime_s": body["token_lifetime_s"]})
    if body.get("behaviour"):
        app.behaviour.update(body["behaviour"])
    state.scim[slug] = app
    return app
