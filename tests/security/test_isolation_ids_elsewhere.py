"""Tenant A's ids where a view might trust them: behind tenant B's own slug in the path, and
in the body of every POST (the forms' id fields, htmx values). tests/test_isolation_crawl.py
aims whole URLs at A; this aims at the seams between B's URL and the object it fetches."""

import pytest
from django.urls import reverse

from portal.models import Role
from tests.test_isolation_crawl import (
    OTHER_PARAMS,
    PUBLIC,
    ROUTE_PARAMS,
    TENANT_PARAMS,
    access_request_of,
    held_batch_of,
    iter_named_patterns,
    markers_of,
    snapshot_of_a,
    unmanaged_person_of,
)

ROLES = [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN]


def _body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


def _kwargs(keys, name, slug_world, object_world, extra) -> tuple[dict, bool]:
    """The URL's parameters: the tenant slug of `slug_world`, every object of `object_world`;
    and whether an object of `object_world` is in it."""
    kwargs, foreign = {}, False
    overrides = ROUTE_PARAMS.get(name, {})
    for key in keys:
        if key in overrides:
            kwargs[key] = overrides[key](slug_world, extra)
        elif key == "tenant":
            kwargs[key] = slug_world.tenant.slug
        elif key in TENANT_PARAMS:
            kwargs[key] = TENANT_PARAMS[key](object_world)
            foreign = foreign or key not in ("target", "attribute")
        else:
            kwargs[key] = OTHER_PARAMS[key](slug_world, extra)
    return kwargs, foreign


def mixed_urls(alpha, bravo, extra) -> list[tuple[str, str]]:
    """B's tenant slug with A's object ids, for every URL that has both."""
    urls = []
    for name, keys in iter_named_patterns():
        if name in PUBLIC or "tenant" not in keys:
            continue
        kwargs, foreign = _kwargs(keys, name, bravo, alpha, extra)
        if foreign:
            urls.append((name, reverse(name, kwargs=kwargs)))
    return urls


def own_urls(bravo, extra) -> list[tuple[str, str]]:
    """Every URL of the project with B's own slug and objects."""
    urls = []
    for name, keys in iter_named_patterns():
        if name in PUBLIC:
            continue
        kwargs, _ = _kwargs(keys, name, bravo, bravo, extra)
        urls.append((name, reverse(name, kwargs=kwargs)))
    return urls


def ids_of_a(alpha) -> dict:
    """A value from tenant A for every id-bearing field name of the portal's forms."""
    resource = access_request_of(alpha).resource_id
    person = unmanaged_person_of(alpha).pk
    return {
        "tenant": alpha.tenant.slug,
        "tenants": [alpha.tenant.pk],
        "identity": alpha.identity.pk,
        "identity_id": alpha.identity.pk,
        "person": person,
        "person_id": person,
        "resource": resource,
        "resource_id": resource,
        "role_template": alpha.template.pk,
        "role_templates": [alpha.template.pk],
        "templates": [alpha.template.pk],
        "template": alpha.template.pk,
        "job": alpha.job.pk,
        "job_id": alpha.job.pk,
        "batch": held_batch_of(alpha).pk,
        "request": access_request_of(alpha).pk,
        "connection": alpha.connection.pk,
        "named_approvers": [alpha.client_admin.pk],
        "approvers": [alpha.client_admin.pk],
        "first_name": "Mallory",
        "last_name": "Crosstenant",
        "reason": "crawl",
        "confirm": "on",
        "decision": "approve",
        "action": "save",
    }


@pytest.fixture
def extra(msp_template):
    return {"msp_template": msp_template}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_b_slug_with_a_object_is_404(client, alpha, bravo, extra, role, method):
    urls = mixed_urls(alpha, bravo, extra)
    assert len(urls) > 40, "the mixed crawl lost its URLs"
    client.force_login(bravo.people[role])
    before = snapshot_of_a(alpha)
    for name, url in urls:
        response = getattr(client, method)(url)
        where = f"{role} {method.upper()} {name} {url} -> {response.status_code}"
        # 403: B's own tenant, a role that may not act there at all (checked before the id).
        assert response.status_code in (403, 404, 405), where
        body = _body(response)
        for marker in markers_of(alpha):
            assert marker not in body, f"{where} shows {marker!r}"
    assert snapshot_of_a(alpha) == before, "a request of tenant B changed tenant A"


# The technician: the role whose views read the most ids (the others are refused first).
@pytest.mark.parametrize("role", [Role.TECHNICIAN])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_ids_in_b_queries_and_bodies_reach_nothing_of_a(
    client, alpha, bravo, extra, role, method
):
    """GET: the ids in the query string (filters, prefills); POST: in the body (forms, htmx
    values), sent as htmx would send them."""
    urls = own_urls(bravo, extra)
    values_of_a = ids_of_a(alpha)
    client.force_login(bravo.people[role])
    before = snapshot_of_a(alpha)
    for name, url in urls:
        response = getattr(client, method)(url, values_of_a, HTTP_HX_REQUEST="true")
        where = f"{role} {method.upper()} {name} {url} -> {response.status_code}"
        assert response.status_code < 500, where
        body = _body(response)
        for marker in markers_of(alpha):
            assert marker not in body, f"{where} shows {marker!r}"
    assert snapshot_of_a(alpha) == before, "a request of tenant B changed tenant A"
