"""Graph organization and domains: what a "test connection" reads to name the tenant, and
what a joiner's dry run reads to know whether a userPrincipalName's domain is verified and
managed (a federated one needs onPremisesImmutableId at the create: users.py)."""

from __future__ import annotations

from sandbox.entra.errors import not_found
from sandbox.entra.model import EntraTenant
from sandbox.entra.router import ORG_READ, USER_READ, GraphRequest, GraphResponse, router

ORG_PERMISSIONS = (*ORG_READ, *USER_READ)
# domain-list.md / domain-get.md: application "Domain.Read.All", higher "Domain.ReadWrite.All,
# Directory.Read.All" (Directory.ReadWrite.All holds Directory.Read.All).
DOMAIN_READ = (
    "Domain.Read.All",
    "Domain.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)


def authentication_type(tenant: EntraTenant, name: str) -> str:
    # domain.md: "The value is either Managed or Federated."
    return "Federated" if tenant.is_federated_domain(name) else "Managed"


def domain_view(tenant: EntraTenant, name: str) -> dict:
    """A domain as domain.md lists its properties (availabilityStatus and state: null, as
    Graph gives them outside an asynchronous operation)."""
    verified = tenant.is_verified_domain(name)
    return {
        "id": name,
        "authenticationType": authentication_type(tenant, name),
        "availabilityStatus": None,
        "isAdminManaged": True,
        "isDefault": name == tenant.domains[0],
        "isInitial": name.endswith(".onmicrosoft.example") or name == tenant.domains[-1],
        "isRoot": True,
        "isVerified": verified,
        "passwordNotificationWindowInDays": None,
        "passwordValidityPeriodInDays": None,
        "supportedServices": ["Email", "OfficeCommunicationsOnline"] if verified else [],
        "state": None,
    }


def organization_view(tenant: EntraTenant) -> dict:
    return {
        "id": tenant.id,
        "displayName": tenant.display_name,
        "tenantType": "AAD",
        "verifiedDomains": [
            {
                "name": d,
                "type": authentication_type(tenant, d),
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


@router.add("GET", "/domains", DOMAIN_READ)
def list_domains(req: GraphRequest) -> GraphResponse:
    names = [*req.tenant.domains, *req.tenant.unverified_domains]
    items = [domain_view(req.tenant, d) for d in names]
    return GraphResponse(
        200, {"@odata.context": f"{req.base_url}/$metadata#domains", "value": items}
    )


@router.add("GET", "/domains/{id}", DOMAIN_READ)
def get_domain(req: GraphRequest) -> GraphResponse:
    name = req.params["id"].lower()
    if name not in (d.lower() for d in [*req.tenant.domains, *req.tenant.unverified_domains]):
        raise not_found(req.params["id"])
    body = {"@odata.context": f"{req.base_url}/$metadata#domains/$entity"}
    return GraphResponse(200, {**body, **domain_view(req.tenant, name)})
