"""Tenants and their role templates (read)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema

from provisioning.api import scope
from provisioning.api.paging import Page, PageQuery, page_of
from provisioning.api.schemas import ERRORS
from tenants.models import RoleTemplate, Tenant

router = Router()


class TenantOut(Schema):
    slug: str
    name: str
    primary_domain: str
    is_active: bool

    @staticmethod
    def of(tenant: Tenant) -> dict:
        return {
            "slug": tenant.slug,
            "name": tenant.name,
            "primary_domain": tenant.primary_domain,
            "is_active": tenant.is_active,
        }


class RoleTemplateOut(Schema):
    id: int
    name: str
    description: str
    department: str
    job_title: str
    groups: list[str]
    licenses: list[str]

    @staticmethod
    def of(template: RoleTemplate) -> dict:
        return {
            "id": template.pk,
            "name": template.name,
            "description": template.description,
            "department": template.department,
            "job_title": template.job_title,
            "groups": [str(g) for g in template.groups],
            "licenses": [str(sku) for sku in template.licenses],
        }


@router.get("", response={200: Page[TenantOut], **ERRORS}, summary="Tenants you may see")
def list_tenants(request: HttpRequest, page: Query[PageQuery]):
    return page_of(scope.tenants_of(request.auth), page, TenantOut.of)


@router.get("/{slug}", response={200: TenantOut, **ERRORS}, summary="One tenant")
def get_tenant(request: HttpRequest, slug: str):
    return TenantOut.of(scope.tenant_for(request.auth, slug))


@router.get(
    "/{slug}/role-templates",
    response={200: Page[RoleTemplateOut], **ERRORS},
    summary="A tenant's role templates",
)
def list_role_templates(request: HttpRequest, slug: str, page: Query[PageQuery]):
    tenant = scope.tenant_for(request.auth, slug)
    return page_of(tenant.role_templates.all(), page, RoleTemplateOut.of)
