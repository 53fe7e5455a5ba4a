"""Builders for the base test world: two tenants, and a person of every role in each."""

import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from django.contrib.auth import get_user_model

from portal import unrecorded
from portal.mfa import REAUTH_SESSION_KEY
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
    identity: object = None  # provisioning.models.Identity, with one Job and one Step
    job: object = None

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
    world.identity, world.job = make_joiner(world)
    return world


def make_identity(tenant, first: str, last: str, **fields):
    """A person of `tenant` named `first last`, their username and email at its domain;
    `fields` as Identity takes them (a status, a leave's options)."""
    from provisioning.models import Identity

    address = f"{first.lower()}.{last.lower()}@{tenant.primary_domain}"
    return Identity.objects.create(
        tenant=tenant,
        first_name=first,
        last_name=last,
        display_name=f"{first} {last}",
        username=address,
        email=address,
        **fields,
    )


def make_joiner(world: TenantWorld, first: str = "Pat", last: str = "Member"):
    """A person of the tenant with one failed join job (one step): for pages and the crawl."""
    from provisioning.models import Identity, Job, Step

    identity = Identity.objects.create(
        tenant=world.tenant,
        first_name=first,
        last_name=f"{last}-{world.tenant.slug}",
        display_name=f"{first} {last}-{world.tenant.slug}",
        username=f"{first.lower()}.{last.lower()}@{world.tenant.primary_domain}",
        email=f"{first.lower()}.{last.lower()}@{world.tenant.primary_domain}",
        attributes={"department": "Sales"},
    )
    identity.role_templates.set([world.template])
    job = Job.objects.create(
        tenant=world.tenant,
        identity=identity,
        kind=Job.Kind.JOIN,
        status=Job.Status.FAILED,
        steps_total=1,
        steps_failed=1,
        planned=True,
        error="1 step failed.",
    )
    Step.objects.create(
        job=job,
        connection=world.connection,
        order=1,
        action=Step.Action.CREATE_USER,
        target_name=identity.username,
        status=Step.Status.FAILED,
        attempts=1,
        last_error="Insufficient privileges to complete the operation.",
        error_kind="permission",
    )
    return identity, job


def signed_in(client, person, *, seconds_ago: int = 0) -> None:
    """Signed in (the password typed `seconds_ago`), as the sign-in page leaves a session."""
    client.force_login(person)
    session = client.session
    session[REAUTH_SESSION_KEY] = int(time.time()) - seconds_ago
    session.save()


@contextmanager
def freeze_minute(minute: int):
    """The clock stands a second into `minute` (minutes since the epoch), for every budget and
    rate limit that counts by the minute."""
    with mock.patch("time.time", return_value=minute * unrecorded.WINDOW_SECONDS + 1.0):
        yield
