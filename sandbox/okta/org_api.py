"""/api/v1/org: the org's general settings (what a "test connection" may read first)."""

from __future__ import annotations

from .pipeline import Call, Reply


def get_org(call: Call) -> Reply:
    org = call.org
    return Reply(
        200,
        {
            "id": org.okta_id,
            "subdomain": org.id,
            "companyName": org.name,
            "status": "ACTIVE",
            "created": org.created,
            "lastUpdated": org.created,
            "_links": {"self": {"href": f"{call.base}/api/v1/org"}},
        },
    )
