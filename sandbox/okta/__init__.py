"""The sandbox's emulated Okta orgs (Management API subset), spoken to by the real okta SDK.

Public surface for the sandbox core: `OktaOrg`, `create_org`, `routes`, `seed_demo`.
"""

from __future__ import annotations

from .demo import seed_demo
from .org import OktaOrg
from .provision import create_org
from .routes import routes

__all__ = ["OktaOrg", "create_org", "routes", "seed_demo"]
