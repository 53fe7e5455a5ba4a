"""Builders for the base test world: two tenants, and a person of every role in each."""

import uuid
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from portal.models import Role, StaffProfile
from tenants.models import DirectoryConnection, RoleTemplate, Tenant, TenantAssignment

User = get_user_model()
PASSWORD = "correct-horse-battery-9"  # noqa: S105 - test data


def make_person(username: str, role: str, tenants=(), all_tenants: bool = False):
    user = User.objects.create_user(
        username, email=f"{username}@msp.test", password=PASSWORD, first_name=username.title()
    )
    if role == Role.MSP_ADMIN:
        user.is_staff = user.is_superuser = True
        user.save()
    StaffProfile.objects.create(user=user, role=role, all_tenants=all_tenants)
    for tenant in tenants:
        TenantAssignment.objects.create(user=user, tenant=tenant)
    return user


@dataclass
class TenantWorld:
    tenant: Tenant
    connection: DirectoryConnection
    okta_connection: DirectoryConnection
    template: RoleTemplate
    secret: str
    people: dict[str, object] = field(default_factory=dict)

    @property
    def technician(self):
        return self.people[Role.TECHNICIAN]

    @property
    def account_manager(self):
        return self.people[Role.ACCOUNT_MANAGER]

    @property
    def client_admin(self):
        return self.people[Role.CLIENT_ADMIN]


def make_tenant_world(slug: str, name: str) -> TenantWorld:
    tenant = Tenant.objects.create(
        name=name, slug=slug, primary_domain=f"{slug}.test", other_domains=[f"{slug}-eu.test"]
    )
    secret = f"{slug}-SECRET-do-not-leak-7c1f"
    connection = DirectoryConnection(
        tenant=tenant,
        kind="entra",
        directory_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, slug)),
        client_id="11111111-2222-4333-8444-555555555555",
    )
    connection.set_secret(secret)
    connection.save()
    okta = DirectoryConnection(tenant=tenant, kind="okta", org_url=f"https://{slug}.okta.test")
    okta.set_secret(f"{slug}-OKTA-TOKEN-do-not-leak-91d2")
    okta.save()
    template = RoleTemplate.objects.create(
        tenant=tenant,
        name=f"{name} Sales",
        groups=[f"{name} Sales Team"],
        licenses=["SPE_E3"],
        apps=[f"{name} CRM"],
        department="Sales",
    )
    world = TenantWorld(tenant, connection, okta, template, secret)
    world.people[Role.TECHNICIAN] = make_person(f"tech-{slug}", Role.TECHNICIAN, [tenant])
    world.people[Role.ACCOUNT_MANAGER] = make_person(f"am-{slug}", Role.ACCOUNT_MANAGER, [tenant])
    world.people[Role.CLIENT_ADMIN] = make_person(f"ca-{slug}", Role.CLIENT_ADMIN, [tenant])
    return world
