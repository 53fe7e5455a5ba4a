"""The sandbox's emulated SaaS apps that speak SCIM 2.0 (RFC 7643, RFC 7644), in vendor
flavours (flavours.py). Spoken to by scim2-client in the tests, and by the portal's SCIM
connector.

Public surface for the sandbox core: `ScimApp`, `create_app`, `SlugTaken`, `routes`.
"""

from __future__ import annotations

from .model import ScimApp
from .provision import SlugTaken, create_app
from .routes import routes

__all__ = ["ScimApp", "SlugTaken", "create_app", "routes"]
