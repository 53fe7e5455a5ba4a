"""The demo directories' fixed ids and credentials, in one place.

The portal's `seed_demo` copies these values (it never imports the sandbox). They are demo
credentials for a local sandbox, not secrets.

Client configuration against a sandbox on SANDBOX_URL (default https://127.0.0.1:8765):
- Entra: authority = SANDBOX_URL, tenant id + client id + secret below, Graph base URL =
  SANDBOX_URL + "/v1.0", CA = var/sandbox/ca.pem.
- Okta: org URL = SANDBOX_URL + "/okta/<org id>", API token below, same CA.
- SCIM apps: base URL = SANDBOX_URL + "/scim/<slug>/v2", bearer token below, same CA.
"""

from __future__ import annotations

from sandbox.okta.demo import (
    FABRIKAM_API_TOKEN,
    FABRIKAM_ORG_ID,
    NORTHWIND_API_TOKEN,
    NORTHWIND_ORG_ID,
)
from sandbox.scim.demo import (
    CONTOSO_SLACK_NAME,
    CONTOSO_SLACK_SLUG,
    CONTOSO_SLACK_TOKEN,
    FABRIKAM_ZOOM_NAME,
    FABRIKAM_ZOOM_SLUG,
    FABRIKAM_ZOOM_TOKEN,
    NORTHWIND_DROPBOX_NAME,
    NORTHWIND_DROPBOX_SLUG,
    NORTHWIND_DROPBOX_TOKEN,
)

SANDBOX_URL = "https://127.0.0.1:8765"
SANDBOX_CA = "var/sandbox/ca.pem"  # relative to the repository root
GRAPH_BASE_URL = f"{SANDBOX_URL}/v1.0"

# Contoso: Entra ID only.
CONTOSO_TENANT_ID = "6f2c1a3e-5b7d-4c9e-8a1f-c0a7e5500001"
CONTOSO_DOMAIN = "contoso.example"
CONTOSO_OTHER_DOMAINS = ["contoso-uk.example", "contoso.onmicrosoft.example"]
CONTOSO_CLIENT_ID = "0c0a7e55-d3e0-4a11-9f00-c0a7e5500a01"
CONTOSO_CLIENT_SECRET = "contoso-demo-secret"  # noqa: S105 - demo credential

# Fabrikam: Okta only (org defined by the Okta emulation).
FABRIKAM_OKTA_ORG_ID = FABRIKAM_ORG_ID
FABRIKAM_OKTA_API_TOKEN = FABRIKAM_API_TOKEN
FABRIKAM_OKTA_ORG_URL = f"{SANDBOX_URL}/okta/{FABRIKAM_ORG_ID}"

# SCIM apps (sandbox/scim/demo.py): Contoso's "Slack" (flavour slack), Fabrikam's "Zoom"
# (flavour zoom), Northwind's "Dropbox" (flavour full: a generic SCIM app).
CONTOSO_SLACK_BASE_URL = f"{SANDBOX_URL}/scim/{CONTOSO_SLACK_SLUG}/v2"
FABRIKAM_ZOOM_BASE_URL = f"{SANDBOX_URL}/scim/{FABRIKAM_ZOOM_SLUG}/v2"
NORTHWIND_DROPBOX_BASE_URL = f"{SANDBOX_URL}/scim/{NORTHWIND_DROPBOX_SLUG}/v2"
SCIM_DEMO = {
    "contoso": {
        "slug": CONTOSO_SLACK_SLUG,
        "name": CONTOSO_SLACK_NAME,
        "flavour": "slack",
        "token": CONTOSO_SLACK_TOKEN,
        "base_url": CONTOSO_SLACK_BASE_URL,
    },
    "fabrikam": {
        "slug": FABRIKAM_ZOOM_SLUG,
        "name": FABRIKAM_ZOOM_NAME,
        "flavour": "zoom",
        "token": FABRIKAM_ZOOM_TOKEN,
        "base_url": FABRIKAM_ZOOM_BASE_URL,
    },
    "northwind": {
        "slug": NORTHWIND_DROPBOX_SLUG,
        "name": NORTHWIND_DROPBOX_NAME,
        "flavour": "full",
        "token": NORTHWIND_DROPBOX_TOKEN,
        "base_url": NORTHWIND_DROPBOX_BASE_URL,
    },
}

# Northwind: Entra ID, Okta and its Dropbox (SCIM).
NORTHWIND_TENANT_ID = "9a4d2b6c-1e3f-4a5b-8c7d-a0e7b1d00002"
NORTHWIND_DOMAIN = "northwind.example"
NORTHWIND_OTHER_DOMAINS = ["northwindtraders.example", "northwind.onmicrosoft.example"]
NORTHWIND_CLIENT_ID = "0a0e7b1d-d3e0-4a11-9f00-a0e7b1d00a02"
NORTHWIND_CLIENT_SECRET = "northwind-demo-secret"  # noqa: S105 - demo credential
NORTHWIND_OKTA_ORG_ID = NORTHWIND_ORG_ID
NORTHWIND_OKTA_API_TOKEN = NORTHWIND_API_TOKEN
NORTHWIND_OKTA_ORG_URL = f"{SANDBOX_URL}/okta/{NORTHWIND_ORG_ID}"

ENTRA_DEMO = {
    "contoso": {
        "display_name": "Contoso Ltd",
        "tenant_id": CONTOSO_TENANT_ID,
        "domain": CONTOSO_DOMAIN,
        "other_domains": CONTOSO_OTHER_DOMAINS,
        "client_id": CONTOSO_CLIENT_ID,
        "client_secret": CONTOSO_CLIENT_SECRET,
    },
    "northwind": {
        "display_name": "Northwind Traders",
        "tenant_id": NORTHWIND_TENANT_ID,
        "domain": NORTHWIND_DOMAIN,
        "other_domains": NORTHWIND_OTHER_DOMAINS,
        "client_id": NORTHWIND_CLIENT_ID,
        "client_secret": NORTHWIND_CLIENT_SECRET,
        # The demo shows a credential about to expire (and its alert) on Northwind's Entra.
        "secret_days_left": 21,
    },
}
