"""Every URL of the project, as every role of tenant B and as anonymous, aimed at tenant A.

The crawl reads the URLconf, so it grows by itself as later issues add URLs. A URL whose path
parameter it cannot fill fails the test: add the parameter to OBJECT_PARAMS below.
"""

from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.models import Identity, Job
from tenants.models import DirectoryConnection, RoleTemplate, Tenant
from tenants.outbox.models import SentEmail

# hr_webhook has no session: the HMAC signature guards it (tests/provisioning/test_hr_webhook.py).
# The password reset pages are for people who cannot sign in (tests/security/test_mfa_and_signin).
# A first sign-in's one-time page is for its recipient, who may have no portal account: its
# unguessable token is the key (tests/provisioning/test_first_sign_in.py).
# The SCIM endpoint has no session either: a tenant's bearer token guards it, and another
# tenant's token gets 404 (tests/scim/).
SCIM_ENDPOINT = {
    "scim_service_provider_config",
    "scim_schemas",
    "scim_schema",
    "scim_resource_types",
    "scim_resource_type",
    "scim_users",
    "scim_users_search",
    "scim_user",
    "scim_groups",
    "scim_groups_search",
    "scim_group",
    "scim_unknown",
    "scim_root",
    "scim_root_unslashed",
}
PUBLIC = SCIM_ENDPOINT | {
    "first_sign_in_view",
    "login",
    "logout",
    "hr_webhook",
    "api_unknown",  # the API's 404 problem for a path that is no route (tests/api/)
    "api_problem_types",  # what each problem type of the API means (no tenant's data)
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
}
# The REST API answers a token, not a session: tests/api/test_api_isolation_crawl.py crawls
# every route of its OpenAPI schema the same way.
SKIPPED_NAMESPACES = {"admin", "djdt", "api_v1"}

# Path parameter -> how to take it from tenant A's world (tenant-owned objects: 404 for B).
TENANT_PARAMS = {
    "tenant": lambda world: world.tenant.slug,
    "connection_id": lambda world: world.connection.pk,
    "template_id": lambda world: world.template.pk,
    "identity_id": lambda world: world.identity.pk,
    "job_id": lambda world: world.job.pk,
    "batch_id": lambda world: held_batch_of(world).pk,
    "request_id": lambda world: access_request_of(world).pk,
    "resource_id": lambda world: access_request_of(world).resource_id,
    "action_request_id": lambda world: action_request_of(world).pk,
    "person_id": lambda world: unmanaged_person_of(world).pk,
    "drift_id": lambda world: drift_of(world).pk,
    "token_id": lambda world: scim_token_of(world).pk,
    "rule_id": lambda world: scim_rule_of(world).pk,
    "endpoint_id": lambda world: webhook_delivery_of(world).endpoint_id,
    "delivery_id": lambda world: webhook_delivery_of(world).pk,
    # An API token of the tenant's technician: a person's own (MSP admins reach any).
    "api_token_id": lambda world: api_token_of(world).pk,
    # An attribute mapping's target and attribute (tenants/mappings/defaults.py).
    "target": lambda world: "entra",
    "attribute": lambda world: "job_title",
}
# Parameters that are not tenant-owned: only a role check stands in front of them (403).
OTHER_PARAMS = {
    "kind": lambda world, extra: "entra",
    "msp_template_id": lambda world, extra: extra["msp_template"].pk,
    # A password reset link (public): a made-up one is answered "this link no longer works".
    "uidb64": lambda world, extra: "MQ",
    "token": lambda world, extra: "set-password",
    # An e-mail in the outbox (MSP admins only).
    "email_id": lambda world, extra: SentEmail.objects.create(subject="Hello", recipients="x@y").pk,
    # The SCIM endpoint's own path parts (its token guards them).
    "schema_id": lambda world, extra: "urn:ietf:params:scim:schemas:core:2.0:User",
    "name": lambda world, extra: "User",
    "user_id": lambda world, extra: str(world.identity.pk),
    "group_id": lambda world, extra: str(world.template.pk),
    "rest": lambda world, extra: "Unknown",
}

# The MSP's own webhook endpoints (every tenant's events): MSP admins only, so a 403.
MSP_WEBHOOK_PARAMS = {
    "endpoint_id": lambda world, extra: webhook_delivery_of(None).endpoint_id,
    "delivery_id": lambda world, extra: webhook_delivery_of(None).pk,
}
MSP_WEBHOOK_PAGES = ("endpoint", "edit", "rotate", "test", "switch_on", "delete", "redeliver")

# Routes whose parameter means something else there: staff pages' person is a portal user.
ROUTE_PARAMS = {
    "staff_edit": {"person_id": lambda world, extra: world.client_admin.pk},
    "staff_mfa_reset": {"person_id": lambda world, extra: world.client_admin.pk},
    "staff_unlock": {"person_id": lambda world, extra: world.client_admin.pk},
    **{f"outbound_msp_{page}": MSP_WEBHOOK_PARAMS for page in MSP_WEBHOOK_PAGES},
}


def webhook_delivery_of(world):
    """A delivery to a webhook endpoint of the tenant (one per world; the MSP's for None)."""
    from provisioning.outbound.models import Delivery, WebhookEndpoint

    tenant = world.tenant if world else None
    name = f"{tenant.name} PSA" if tenant else "MSP PSA"
    endpoint = WebhookEndpoint.objects.filter(tenant=tenant).first()
    if endpoint is None:
        endpoint = WebhookEndpoint(
            tenant=tenant, name=name, url="https://psa.example.com/in", kinds=["job.failed"]
        )
        endpoint.set_secret("whsec_c2VjcmV0LW9mLXRoZS1jcmF3bA==")
        endpoint.save()
    return endpoint.deliveries.first() or Delivery.objects.create(
        endpoint=endpoint, kind="webhook.test"
    )


def unmanaged_person_of(world):
    """A person of the tenant's directories whom the portal does not manage, with an account."""
    from provisioning.inventory.models import Account, Person

    person, made = Person.objects.get_or_create(
        tenant=world.tenant,
        key=f"crawl-{world.tenant.slug}",
        defaults={"display_name": f"{world.tenant.name} Unmanaged", "in_scope": True},
    )
    if made:
        Account.objects.create(
            connection=world.connection,
            tenant=world.tenant,
            remote_id=f"crawl-{world.tenant.slug}",
            username=f"unmanaged@{world.tenant.slug}.example",
            display_name=person.display_name,
            person=person,
            in_scope=True,
        )
    return person


def scim_token_of(world):
    """A SCIM token of the tenant (one per world)."""
    from provisioning.scim.models import ScimToken

    token, _ = ScimToken.objects.get_or_create(
        tenant=world.tenant,
        name=f"{world.tenant.name} IdP",
        defaults={"prefix": "scim_crawl", "token_sha256": f"crawl-{world.tenant.slug}"},
    )
    return token


def api_token_of(world):
    """An API token of the tenant's technician (one per world)."""
    from provisioning.api.models import ApiToken

    token, _ = ApiToken.objects.get_or_create(
        user=world.technician,
        name=f"{world.tenant.name} PSA",
        defaults={
            "prefix": "mpp_crawl",
            "token_sha256": f"crawl-{world.tenant.slug}",
            "expires_at": timezone.now() + timedelta(days=30),
        },
    )
    return token


def scim_rule_of(world):
    """A SCIM role rule of the tenant (one per world)."""
    from provisioning.scim.models import RoleRule

    rule, _ = RoleRule.objects.get_or_create(
        tenant=world.tenant, attribute="default", role_template=world.template
    )
    return rule


def drift_of(world):
    """An open drift item of the tenant's managed person (one per world)."""
    from provisioning.inventory.models import Drift, Person

    found = Drift.objects.filter(tenant=world.tenant).first()
    return found or Drift.objects.create(
        tenant=world.tenant,
        person=Person.objects.get(identity=world.identity),
        identity=world.identity,
        connection=world.connection,
        kind=Drift.Kind.EXTRA,
        access_kind="groups",
        ref_id="g-1",
        ref_name=f"{world.tenant.name} Finance",
        detail="Holds the group",
    )


def held_batch_of(world):
    """A held batch of the tenant (one per world), for the batch URLs."""
    from provisioning.models import Batch

    batch, _ = Batch.objects.get_or_create(
        tenant=world.tenant, kind=Batch.Kind.CSV_OFFBOARD, status=Batch.Status.HELD
    )
    return batch


def access_request_of(world):
    """A pending access request of the tenant (one per world), for the request URLs."""
    from provisioning.models import AccessRequest, RequestableResource

    resource, _ = RequestableResource.objects.get_or_create(
        tenant=world.tenant,
        connection=world.connection,
        kind="group",
        remote_id="group-1",
        defaults={"name": f"{world.tenant.name} VPN"},
    )
    found = AccessRequest.objects.filter(tenant=world.tenant).first()
    return found or AccessRequest.objects.create(
        tenant=world.tenant,
        identity=world.identity,
        resource=resource,
        reason="crawl",
        requested_by=world.technician,
    )


def action_request_of(world):
    """An open request to act of the tenant (one per world), for the action request URLs."""
    from provisioning.models import ActionRequest

    found = ActionRequest.objects.filter(tenant=world.tenant).first()
    return found or ActionRequest.objects.create(
        tenant=world.tenant,
        kind="offboard",
        identity=world.identity,
        requested_by=world.client_admin,
    )


def iter_named_patterns(resolver: URLResolver = None, namespace: str = "", params=()):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        keys = tuple(getattr(entry.pattern, "converters", {}).keys())
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            if ns in SKIPPED_NAMESPACES:
                continue
            inner = f"{namespace}{ns}:" if ns else namespace
            yield from iter_named_patterns(entry, inner, params + keys)
        elif isinstance(entry, URLPattern):
            assert entry.name, f"Every URL needs a name; {entry.pattern} has none."
            yield f"{namespace}{entry.name}", params + keys


def crawl_urls(world, extra) -> list[tuple[str, str, bool]]:
    """(name, url, aims at a tenant-owned object) for every named URL of the project."""
    urls = []
    for name, keys in iter_named_patterns():
        if name in PUBLIC:
            continue
        kwargs = {}
        overrides = ROUTE_PARAMS.get(name, {})
        for key in keys:
            if key in overrides:
                kwargs[key] = overrides[key](world, extra)
            elif key in TENANT_PARAMS:
                kwargs[key] = TENANT_PARAMS[key](world)
            elif key in OTHER_PARAMS:
                kwargs[key] = OTHER_PARAMS[key](world, extra)
            else:
                pytest.fail(f"The crawl cannot fill <{key}> of URL {name!r}: add it to the crawl.")
        tenant_owned = any(key in TENANT_PARAMS and key not in overrides for key in keys)
        urls.append((name, reverse(name, kwargs=kwargs), tenant_owned))
    return urls


def markers_of(world) -> list[str]:
    return [
        world.tenant.name,
        world.tenant.primary_domain,
        world.template.name,
        world.connection.directory_id,
        world.okta_connection.org_url,
        world.identity.display_name,
    ]


def snapshot_of_a(world) -> tuple:
    tenant = world.tenant
    return (
        # Tenant A's chain: B's people may change their own settings (the global chain).
        AuditEvent.objects.filter(tenant_id=tenant.pk).count(),
        Tenant.objects.filter(pk=tenant.pk).values().get(),
        list(RoleTemplate.objects.filter(tenant=tenant).order_by("pk").values()),
        list(DirectoryConnection.objects.filter(tenant=tenant).order_by("pk").values()),
        list(Identity.objects.filter(tenant=tenant).order_by("pk").values()),
        list(Job.objects.filter(tenant=tenant).order_by("pk").values()),
    )


@pytest.fixture
def crawl(alpha, bravo, msp_template):
    return crawl_urls(alpha, {"msp_template": msp_template})


def test_crawl_covers_the_project(crawl):
    names = {name for name, _, _ in crawl}
    assert {"dashboard", "tenant_detail", "role_edit", "connection_edit", "staff_edit"} <= names


@pytest.mark.parametrize("method", ["get", "head", "post"])
def test_anonymous_is_sent_to_login(client, crawl, method):
    for name, url, _ in crawl:
        response = getattr(client, method)(url)
        if response.status_code == 405:
            continue
        assert response.status_code == 302, f"{method.upper()} {name} {url}"
        assert response["Location"].startswith(reverse("login")), name


TENANT_ROLES = (Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN)


# HEAD runs the GET's view (portal/head.py): one role's crawl shows the middleware lets no
# check go; every role's GET crawl covers the views themselves.
@pytest.mark.parametrize(
    "role,method",
    [
        *((role, method) for role in TENANT_ROLES for method in ("get", "post")),
        (Role.TECHNICIAN, "head"),
    ],
)
def test_tenant_b_never_sees_or_changes_tenant_a(client, alpha, bravo, crawl, role, method):
    client.force_login(bravo.people[role])
    before = snapshot_of_a(alpha)
    for name, url, tenant_owned in crawl:
        response = getattr(client, method)(url)
        where = f"{role} {method.upper()} {name} {url} -> {response.status_code}"
        if tenant_owned:
            assert response.status_code in (404, 405), where
        else:
            assert response.status_code in (200, 302, 403, 404, 405), where
        content = b"".join(response.streaming_content) if response.streaming else response.content
        body = content.decode(errors="replace")
        for marker in markers_of(alpha):
            assert marker not in body, f"{where} shows {marker!r}"
    assert snapshot_of_a(alpha) == before, "a request of tenant B changed tenant A"


def test_client_admin_of_b_gets_404_for_every_object_of_a(client, alpha, bravo, crawl):
    client.force_login(bravo.client_admin)
    for name, url, tenant_owned in crawl:
        if tenant_owned:
            assert client.get(url).status_code in (404, 405), name


def test_django_admin_is_for_msp_admins_only(client, alpha, bravo, msp_admin):
    for person in bravo.people.values():
        client.force_login(person)
        response = client.get(reverse("admin:index"))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(msp_admin)
    assert client.get(reverse("admin:index")).status_code == 200
