"""Graph organization and domains: what a "test connection" reads to name the tenant."""

from __future__ import annotations

from sandbox.entra.errors import not_found
from sandbox.entra.model import EntraTenant
from sandbox.entra.router import ORG_READ, USER_READ, GraphRequest, GraphResponse, router

ORG_PERMISSIONS = (*ORG_READ, *USER_READ)


def domain_view(tenant: EntraTenant, name: str) -> dict:
    return {
        "id": name,
        "authenticationType": "Managed",
        "isDefault": name == tenant.domains[0],
        "isInitial": name.endswith(".onmicrosoft.example") or name == tenant.domains[-1],
        "isVerified": True,
        "supportedServices": ["Email", "OfficeCommunicationsOnline"],
    }


def organization_view(tenant: EntraTenant) -> dict:
    return {
        "id": tenant.id,
        "displayName": tenant.display_name,
        "tenantType": "AAD",
        "verifiedDomains": [
            {
                "name": d,
                "type": "Managed",
                "isDefault": d == tenant.domains[0],
                "isInitial": domain_view(tenant, d)["isInitial"],
                "capabilities": "Email, OfficeCommunicationsOnline",
            }
            for d in tenant.domains
        ],
    }


@router.add("GET", "/organization", ORG_PERMISSIONS)
def list_organization(req: GraphRequest) -> GraphResponse:
    return GraphResponse(
        200,
        {
            "@odata.context": f"{req.base_url}/$metadata#organization",
            "value": [organization_view(req.tenant)],
        },
    )


@router.add("GET", "/organization/{id}", ORG_PERMISSIONS)
def get_organization(req: GraphRequest) -> GraphResponse:
    if req.params["id"].lower() != req.tenant.id:
        raise not_found(req.params["id"])
    return GraphResponse(200, organization_view(req.tenant))


@router.add("GET", "/domains", ORG_PERMISSIONS)
def list_domains(req: GraphRequest) -> GraphResponse:
    items = [domain_view(req.tenant, d) for d in req.tenant.domains]
    return GraphResponse(
        200, {"@odata.context": f"{req.base_url}/$metadata#domains", "value": items}
    )
