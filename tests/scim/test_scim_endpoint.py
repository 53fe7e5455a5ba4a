"""The SCIM endpoint through Django's test client: discovery, the join / move / leave /
restore / delete semantics, filters, paging and errors, and what the audit trail says."""

from __future__ import annotations

import json
import logging

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.models import Identity, Job
from provisioning.scim import tokens

pytestmark = pytest.mark.django_db

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def url(scim, name="scim_users", **kwargs):
    return reverse(name, kwargs={"tenant": scim.tenant.slug, **kwargs})


def call(client, scim, method, path, body=None, token=None, raw=None):
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return getattr(client, method)(
        path,
        data=data,
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {token or scim.clear}",
    )


def ada(**extra) -> dict:
    return {
        "schemas": [USER, ENTERPRISE],
        "userName": "ada@alpha.test",
        "externalId": "okta-00u1",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada.lovelace@alpha-corp.com", "type": "work", "primary": True}],
        "title": "Analyst",
        "active": True,
        ENTERPRISE: {"department": "Finance", "employeeNumber": "E-42"},
    } | extra


def test_a_name_okta_would_refuse_is_invalid_and_creates_nobody(client, scim):
    """The tenant has an Okta directory: a family name over Okta's 50 characters would be
    created in Entra and then refused by Okta, so the request is refused whole."""
    long_name = {"givenName": "Ada", "familyName": "L" * 51}
    response = call(client, scim, "post", url(scim), ada(name=long_name))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["scimType"] == "invalidValue"
    assert "name.familyName: Okta takes at most 50 characters here (51 given)" in body["detail"]
    assert not Identity.objects.filter(tenant=scim.tenant, username="ada@alpha.test").exists()


def test_a_username_entra_would_refuse_is_invalid_and_creates_nobody(client, scim):
    user_name = f"{'a' * 65}@alpha.test"
    response = call(client, scim, "post", url(scim), ada(userName=user_name))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["scimType"] == "invalidValue"
    assert "userName: Entra takes at most 64 characters before the @ (65 given)" in body["detail"]
    assert not Identity.objects.filter(tenant=scim.tenant, username=user_name).exists()


@pytest.mark.parametrize(
    "user_name",
    [
        "ceo@bravo.test",  # another client's domain: the account would carry their address
        "ada@alpha.test.evil.example",
        "ada lovelace@alpha.test",
        "<b>ada</b>@alpha.test",
        "ada\u202e@alpha.test",
        "<b>ada</b>",
    ],
)
def test_a_username_outside_the_tenants_domains_or_form_is_invalid(client, scim, bravo, user_name):
    """userName is the UPN and Okta login: the onboarding form's rule, one of the tenant's
    domains and a username's characters, holds for an identity provider too."""
    response = call(client, scim, "post", url(scim), ada(userName=user_name))
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidValue"
    assert "userName" in response.json()["detail"]
    assert not Identity.objects.filter(external_id="okta-00u1").exists()


def test_a_username_of_another_of_the_tenants_domains_in_capitals_joins(client, scim):
    response = call(client, scim, "post", url(scim), ada(userName="Ada.Lovelace@Alpha-EU.test"))
    assert response.status_code == 201, response.content


def test_post_is_a_join_with_the_rules_templates(client, scim):
    response = call(client, scim, "post", url(scim), ada())
    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    person = Identity.objects.get(tenant=scim.tenant, username="ada@alpha.test")
    assert body["id"] == str(person.pk)
    assert response["Location"].endswith(f"/Users/{person.pk}")
    assert body["active"] is True and body["externalId"] == "okta-00u1"
    assert body[ENTERPRISE]["department"] == "Finance"
    assert [t.name for t in person.role_templates.all()] == ["Finance"]
    assert (person.email, person.employee_id, person.external_id) == (
        "ada.lovelace@alpha-corp.com",
        "E-42",
        "okta-00u1",
    )
    assert person.attributes == {"department": "Finance", "job_title": "Analyst"}
    assert person.jobs.get().kind == Job.Kind.JOIN
    event = AuditEvent.objects.get(action="scim.user_create")
    assert event.actor_display == "SCIM token Okta production"


def test_no_department_rule_gives_the_default(client, scim):
    body = ada(**{ENTERPRISE: {"department": "Ops"}})
    assert call(client, scim, "post", url(scim), body).status_code == 201
    person = Identity.objects.get(username="ada@alpha.test")
    assert list(person.role_templates.all()) == [scim.world.template]


def test_duplicate_username_is_409_uniqueness(client, scim):
    assert call(client, scim, "post", url(scim), ada()).status_code == 201
    response = call(client, scim, "post", url(scim), ada(externalId="other"))
    assert response.status_code == 409
    assert response.json() == {
        "schemas": [ERROR],
        "status": "409",
        "scimType": "uniqueness",
        "detail": "userName ada@alpha.test exists already.",
    }


def test_malformed_body_is_invalid_syntax_and_changes_nothing(client, scim):
    before = Identity.objects.count(), Job.objects.count()
    response = call(client, scim, "post", url(scim), raw='{"userName": "x"')
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"
    assert response.json()["status"] == "400"
    assert (Identity.objects.count(), Job.objects.count()) == before
    assert AuditEvent.objects.filter(action="scim.reject").count() == 1


def test_filters_and_paging(client, scim):
    for n in range(3):
        body = ada(userName=f"p{n}@alpha.test", externalId=f"x{n}")
        body[ENTERPRISE] = {"department": "Finance", "employeeNumber": f"E{n}"}
        assert call(client, scim, "post", url(scim), body).status_code == 201
    found = call(client, scim, "get", url(scim) + '?filter=userName eq "P1@alpha.test"').json()
    assert found["totalResults"] == 1 and found["Resources"][0]["userName"] == "p1@alpha.test"
    found = call(client, scim, "get", url(scim) + '?filter=externalId eq "x2"').json()
    assert [u["userName"] for u in found["Resources"]] == ["p2@alpha.test"]
    both = 'userName eq "p0@alpha.test" and externalId eq "x1"'
    assert call(client, scim, "get", url(scim) + f"?filter={both}").json()["totalResults"] == 0
    page = call(client, scim, "get", url(scim) + "?startIndex=2&count=2").json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (4, 2, 2)
    big = call(client, scim, "get", url(scim) + "?count=100000").json()
    assert big["itemsPerPage"] == 4
    bad = call(client, scim, "get", url(scim) + '?filter=nickName co "x"')
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"


def test_a_search_request_body_takes_its_attributes_as_lists(client, scim):
    """RFC 7644 §3.4.3: a SearchRequest's attributes and excludedAttributes are JSON
    arrays of attribute names, not the comma-separated text of a query string."""
    assert call(client, scim, "post", url(scim), ada()).status_code == 201
    search = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "ada@alpha.test"',
        "attributes": ["userName", "title"],
    }
    found = call(client, scim, "post", url(scim, "scim_users_search"), search)
    assert found.status_code == 200, found.content
    user = found.json()["Resources"][0]
    assert (user["userName"], user["title"]) == ("ada@alpha.test", "Analyst")
    assert "name" not in user
    search = search | {"attributes": None, "excludedAttributes": ["title", "name"]}
    user = call(client, scim, "post", url(scim, "scim_users_search"), search).json()
    assert "title" not in user["Resources"][0] and "name" not in user["Resources"][0]
    assert user["Resources"][0]["userName"] == "ada@alpha.test"


def test_a_patch_of_an_attribute_the_schema_lacks_is_invalid_path(client, scim):
    """RFC 7644 §3.12: invalidPath, "the path attribute was invalid or malformed"."""
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    patch = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "nosuchattribute", "value": "x"}],
    }
    response = call(client, scim, "patch", url(scim, "scim_user", user_id=person_id), patch)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidPath"


@pytest.mark.parametrize(
    "path,value,named", [("active", "maybe", "active"), ("name.givenName", 42, "givenName")]
)
def test_a_patch_value_of_the_wrong_type_is_invalid_value_said_plainly(
    client, scim, path, value, named
):
    """RFC 7644 §3.12: invalidValue with a human-readable detail. The detail was pydantic's
    whole report ("1 validation error for User[EnterpriseExtension] … For further
    information visit https://errors.pydantic.dev/…"), the library's model and links."""
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": path, "value": value}]}
    response = call(client, scim, "patch", url(scim, "scim_user", user_id=person_id), patch)
    assert response.status_code == 400
    body = response.json()
    assert body["scimType"] == "invalidValue"
    assert body["detail"].endswith(f": {named}") and "\n" not in body["detail"]
    assert "pydantic" not in body["detail"] and "validation error for" not in body["detail"]
    person = Identity.objects.get(pk=person_id)
    assert person.status == Identity.Status.JOINER and person.first_name == "Ada"


def test_active_true_for_a_person_whose_hard_delete_failed_is_a_conflict(client, scim):
    """A rehire would start a new join beside the disabled account the failed delete left in
    the directory (leftover1): 409 in words (RFC 7644 §3.12), nothing changed."""
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    person = Identity.objects.get(pk=person_id)
    Identity.objects.filter(pk=person_id).update(status=Identity.Status.DELETED)
    failed = Job.objects.create(
        tenant=scim.tenant, identity=person, kind=Job.Kind.DELETE, status=Job.Status.FAILED
    )
    jobs = person.jobs.count()
    back = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]}
    response = call(client, scim, "patch", url(scim, "scim_user", user_id=person_id), back)
    assert response.status_code == 409, response.content
    assert f"delete job #{failed.pk} failed" in response.json()["detail"]
    person.refresh_from_db()
    assert person.status == Identity.Status.DELETED
    assert person.jobs.count() == jobs  # no rehire's join


def test_patch_department_is_a_move_and_active_false_a_leave_then_restore(client, scim):
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    one = url(scim, "scim_user", user_id=person_id)
    move = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": f"{ENTERPRISE}:department", "value": "Sales"}],
    }
    response = call(client, scim, "patch", one, move)
    assert response.status_code == 200, response.content
    person = Identity.objects.get(pk=person_id)
    assert list(person.role_templates.all()) == [scim.world.template]
    assert person.jobs.order_by("-pk").first().kind == Job.Kind.CHANGE
    leave = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    response = call(client, scim, "patch", one, leave)
    assert response.status_code == 200 and response.json()["active"] is False
    person.refresh_from_db()
    assert person.status == Identity.Status.LEAVER
    assert person.jobs.order_by("-pk").first().kind == Job.Kind.LEAVE
    back = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]}
    response = call(client, scim, "patch", one, back)
    assert response.json()["active"] is True
    person.refresh_from_db()
    assert person.status == Identity.Status.JOINER
    assert person.jobs.order_by("-pk").first().kind == Job.Kind.RESTORE


def test_a_user_posted_inactive_is_answered_inactive_as_it_is_then_read(client, scim):
    """RFC 7644 §3.3: the 201 carries the resource as created. A user posted with
    `active: false` is created and left at once (docs/scim.md); the answer said
    `active: true` (the person as they were before the leave) while a GET said false, so an
    identity provider would record an active account that the portal is disabling."""
    response = call(client, scim, "post", url(scim), ada(active=False))
    assert response.status_code == 201, response.content
    assert response.json()["active"] is False
    person = Identity.objects.get(pk=response.json()["id"])
    assert person.status == Identity.Status.LEAVER
    again = call(client, scim, "get", url(scim, "scim_user", user_id=person.pk))
    assert again.json()["active"] is False


def test_delete_is_a_leave_and_hides_the_user(client, scim):
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    one = url(scim, "scim_user", user_id=person_id)
    assert call(client, scim, "delete", one).status_code == 204
    person = Identity.objects.get(pk=person_id)
    assert person.status == Identity.Status.LEAVER
    assert call(client, scim, "get", one).status_code == 404


def test_wrong_token_401_and_other_tenant_404(client, scim, bravo, msp_admin):
    response = call(client, scim, "get", url(scim), token="scim_wrong")
    assert response.status_code == 401 and response.json()["schemas"] == [ERROR]
    _, other = tokens.issue(bravo.tenant, "Bravo IdP", actor=msp_admin)
    response = call(client, scim, "get", url(scim), token=other)
    assert response.status_code == 404 and response.json()["status"] == "404"
    assert AuditEvent.objects.filter(action="scim_token.refuse").count() == 2


@pytest.mark.parametrize("name", ["scim_user", "scim_group"])
@pytest.mark.parametrize("unknown", ["\u00b2", "99999999999999999999", "-1", "abc"])
def test_an_id_that_is_no_ones_is_404_in_scim_shape(client, scim, name, unknown):
    key = "user_id" if name == "scim_user" else "group_id"
    response = call(client, scim, "get", url(scim, name, **{key: unknown}))
    assert response.status_code == 404 and response.json()["schemas"] == [ERROR]


@pytest.mark.parametrize(
    "name,method,allowed",
    [
        ("scim_groups", "post", "GET, HEAD"),
        ("scim_service_provider_config", "put", "GET, HEAD"),
        ("scim_users", "delete", "GET, HEAD, POST"),
    ],
)
def test_a_method_a_resource_does_not_take_is_405_naming_the_ones_it_does(
    client, scim, name, method, allowed
):
    """RFC 9110 §15.5.6: a 405 carries Allow, so a client learns that the groups are
    read-only without trying each method."""
    response = call(client, scim, method, url(scim, name), {})
    assert response.status_code == 405 and response.json()["schemas"] == [ERROR]
    assert response["Allow"] == allowed


def test_revoked_token_is_refused(client, scim, msp_admin):
    tokens.revoke(scim.token, actor=msp_admin)
    assert call(client, scim, "get", url(scim)).status_code == 401


def test_discovery(client, scim):
    config = call(client, scim, "get", url(scim, "scim_service_provider_config")).json()
    assert config["filter"] == {"supported": True, "maxResults": 100}
    assert config["patch"] == {"supported": True} and config["bulk"]["supported"] is False
    types = call(client, scim, "get", url(scim, "scim_resource_types")).json()
    assert {t["name"] for t in types["Resources"]} == {"User", "Group"}
    schemas = call(client, scim, "get", url(scim, "scim_schemas")).json()
    assert ENTERPRISE in {s["id"] for s in schemas["Resources"]}
    groups = call(client, scim, "get", url(scim, "scim_groups")).json()
    assert {g["displayName"] for g in groups["Resources"]} == {"Alpha Ltd Sales", "Finance"}


def test_the_tenants_inbound_mapping_translates_the_user(client, scim):
    from tenants.models import AttributeMapping

    AttributeMapping.objects.create(
        tenant=scim.tenant, target="inbound-scim", attribute="office", expression='"Berlin"'
    )
    AttributeMapping.objects.create(
        tenant=scim.tenant,
        target="inbound-scim",
        attribute="job_title",
        expression="ToUpper([title])",
    )
    assert call(client, scim, "post", url(scim), ada()).status_code == 201
    person = Identity.objects.get(username="ada@alpha.test")
    assert person.attributes["office"] == "Berlin"
    assert person.attributes["job_title"] == "ANALYST"


def test_a_pushed_group_chooses_the_template(client, scim, msp_admin):
    from provisioning.scim import rules
    from provisioning.scim.models import RoleRule
    from tenants.models import RoleTemplate

    ops = RoleTemplate.objects.create(tenant=scim.tenant, name="Ops")
    rules.add(
        scim.tenant,
        attribute=RoleRule.Attribute.GROUP,
        value="okta-ops",
        template=ops,
        actor=msp_admin,
        http_request=None,
    )
    body = ada(roles=[{"value": "okta-ops"}])
    assert call(client, scim, "post", url(scim), body).status_code == 201
    person = Identity.objects.get(username="ada@alpha.test")
    assert {t.name for t in person.role_templates.all()} == {"Finance", "Ops"}


def test_no_matching_rule_and_no_default_is_refused(client, scim):
    from provisioning.scim.models import RoleRule

    RoleRule.objects.filter(attribute="default").delete()
    response = call(client, scim, "post", url(scim), ada(**{ENTERPRISE: {"department": "Ops"}}))
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    assert not Identity.objects.filter(username="ada@alpha.test").exists()


def test_a_rename_is_refused_and_a_bad_patch_changes_nothing(client, scim):
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    one = url(scim, "scim_user", user_id=person_id)
    rename = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "userName", "value": "x@y.com"}],
    }
    response = call(client, scim, "patch", one, rename)
    assert response.status_code == 400 and response.json()["scimType"] == "mutability"
    jobs = Job.objects.count()
    bad = {"schemas": [PATCH], "Operations": [{"op": "jump", "path": "title", "value": "x"}]}
    response = call(client, scim, "patch", one, bad)
    assert response.status_code == 400
    person = Identity.objects.get(pk=person_id)
    assert (person.username, person.attributes["job_title"]) == ("ada@alpha.test", "Analyst")
    assert Job.objects.count() == jobs


def test_the_circuit_breaker_holds_a_run_of_scim_leavers(client, scim):
    scim.tenant.offboard_hold_count = 1
    scim.tenant.save()
    ids = []
    for n in range(3):
        body = ada(userName=f"l{n}@alpha.test", externalId=f"l{n}")
        body[ENTERPRISE] = {"department": "Finance"}
        ids.append(call(client, scim, "post", url(scim), body).json()["id"])
    leave = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    answers = [
        call(client, scim, "patch", url(scim, "scim_user", user_id=i), leave).json() for i in ids
    ]
    assert [a["active"] for a in answers] == [False, True, True]  # the 2nd leave is held
    held = Job.objects.filter(kind=Job.Kind.LEAVE, status=Job.Status.HELD)
    assert held.count() == 2 and held.first().batch.kind == "scim"
    assert held.first().batch.status == "held"


def test_a_caller_that_keeps_failing_gets_429_and_fills_nothing(client, scim, settings):
    settings.SCIM_REFUSALS_PER_MINUTE = 2
    meta = {"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": "Bearer scim_wrong"}
    for _ in range(2):
        assert client.get(url(scim), **meta).status_code == 401
    events = AuditEvent.objects.count()
    response = client.get(url(scim), **meta)
    assert response.status_code == 429 and response.json()["status"] == "429"
    assert AuditEvent.objects.count() == events
    other = {"REMOTE_ADDR": "203.0.113.10", "HTTP_AUTHORIZATION": f"Bearer {scim.clear}"}
    assert client.get(url(scim), **other).status_code == 200


def test_bulk_is_501_as_the_service_provider_config_says_it_is_unsupported(client, scim):
    """Bulk is OPTIONAL (RFC 7644 §3.7) and our ServiceProviderConfig says `bulk.supported:
    false`: a POST to /Bulk is 501 Not Implemented (§3.12) in the SCIM error shape, so an
    identity provider reads "not offered", not "wrong URL" (it was 404)."""
    config = call(client, scim, "get", url(scim, "scim_service_provider_config")).json()
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []}
    bulk = call(client, scim, "post", url(scim, "scim_unknown", rest="Bulk"), body)
    assert config["bulk"]["supported"] is False
    assert bulk.status_code == 501, bulk.content
    assert bulk.json()["schemas"] == [ERROR] and bulk.json()["status"] == "501"
    assert call(client, scim, "get", url(scim, "scim_unknown", rest="Nothing")).status_code == 404


@pytest.fixture
def request_log():
    """The records django.request writes while the test runs."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("rest", "body"),
    [
        (".search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}),
        ("Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]}),
    ],
    ids=["root-search", "bulk"],
)
def test_an_optional_operation_refused_with_501_is_logged_as_a_refusal(
    client, scim, request_log, rest, body
):
    """A search at the root is optional (RFC 7644 §3.4.3: "MAY"), and so is bulk (§3.7,
    `bulk.supported: false`): §3.12's 501 tells the client it is not offered. That is an
    answer the portal chose, not a failure of the server, so django.request logs it as it
    does a 4xx refusal (WARNING), not at ERROR with the server's own failures."""
    path = url(scim, "scim_unknown", rest=rest)
    response = call(client, scim, "post", path, body)
    assert response.status_code == 501, response.content
    assert response.json()["schemas"] == [ERROR] and response.json()["status"] == "501"
    assert [(r.levelname, r.getMessage()) for r in request_log] == [
        ("WARNING", f"Not Implemented: {path}")
    ]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "post"])
@pytest.mark.parametrize("rest", ["Me", "Me/anything"])
def test_me_is_501_as_rfc_7644_asks_of_an_endpoint_without_it(client, scim, method, rest):
    """/Me (RFC 7644 §3.11) stands for the authenticated subject, and a token here is an
    identity provider's, no person: "A service provider that does NOT support this feature
    SHOULD respond with HTTP status code 501 (Not Implemented)". It was 404."""
    body = {"schemas": [USER], "userName": "me@alpha.test"} if method != "get" else None
    answer = call(client, scim, method, url(scim, "scim_unknown", rest=rest), body)
    assert answer.status_code == 501, answer.content
    assert answer.json()["schemas"] == [ERROR] and answer.json()["status"] == "501"
    assert answer["Content-Type"].startswith("application/scim+json")


@pytest.mark.parametrize(
    "schemas",
    [None, [], ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], [USER]],
    ids=["missing", "empty", "another-message", "a-resource"],
)
def test_a_patch_without_the_patch_op_schema_is_invalid_syntax_and_changes_nothing(
    client, scim, schemas
):
    """RFC 7644 §3.5.2: "The body of each request MUST contain the "schemas" attribute with
    the URI value of "urn:ietf:params:scim:api:messages:2.0:PatchOp""; §3.12: invalidSyntax,
    the body "did not conform to the request schema"."""
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    body = {"Operations": [{"op": "replace", "path": "title", "value": "Director"}]}
    if schemas is not None:
        body["schemas"] = schemas
    jobs = Job.objects.count()
    response = call(client, scim, "patch", url(scim, "scim_user", user_id=person_id), body)
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidSyntax"
    assert PATCH in response.json()["detail"]
    assert Identity.objects.get(pk=person_id).attributes["job_title"] == "Analyst"
    assert Job.objects.count() == jobs


NOT_A_PATCH_OP = [
    {"Operations": [{"op": "move", "path": "title", "value": "Director"}]},
    {"Operations": [{"op": "test", "path": "title", "value": "Analyst"}]},
    {"Operations": [{"op": 5, "path": "title", "value": "Director"}]},
    {"Operations": [{"path": "title", "value": "Director"}]},
    {"Operations": ["replace"]},
    {"Operations": []},
    {"Operations": {"op": "replace", "path": "title", "value": "Director"}},
    {},
]


@pytest.mark.parametrize("body", NOT_A_PATCH_OP)
def test_a_patch_op_message_of_the_wrong_shape_is_invalid_syntax_and_changes_nothing(
    client, scim, body
):
    """RFC 7644 §3.5.2: a PATCH body "MUST contain the attribute "Operations", whose value is
    an array of one or more PATCH operations", each with "exactly one "op" member" that is
    "add", "remove" or "replace"; one that does not "did not conform to the request schema":
    invalidSyntax (§3.12), as a PATCH without the PatchOp URN already was, and as the
    sandbox's SCIM apps answer (tests/sandbox/test_scim_patch.py). It was invalidValue, which
    §3.12 keeps for a value an attribute or operation cannot take."""
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    jobs = Job.objects.count()
    user_url = url(scim, "scim_user", user_id=person_id)
    response = call(client, scim, "patch", user_url, {"schemas": [PATCH]} | body)
    assert response.status_code == 400, response.content
    assert (response.json()["status"], response.json()["scimType"]) == ("400", "invalidSyntax")
    assert Identity.objects.get(pk=person_id).attributes["job_title"] == "Analyst"
    assert Job.objects.count() == jobs
    # An operation of the right shape without the value it needs is still invalidValue.
    no_value = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "title"}]}
    assert call(client, scim, "patch", user_url, no_value).json()["scimType"] == "invalidValue"


def test_a_patch_op_message_is_read_without_regard_to_case(client, scim):
    """RFC 7643 §2.1: attribute names are case-insensitive; Entra sends "Replace"."""
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    body = {"schemas": [PATCH], "operations": [{"Op": "Replace", "path": "title", "value": "Lead"}]}
    response = call(client, scim, "patch", url(scim, "scim_user", user_id=person_id), body)
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Lead"


def test_a_search_or_a_user_without_its_schema_is_invalid_syntax(client, scim):
    """RFC 7644 §3.4.3: a SearchRequest names urn:…:SearchRequest in schemas; RFC 7643 §3:
    a resource's schemas (REQUIRED) names its core schema."""
    search = call(
        client,
        scim,
        "post",
        url(scim, "scim_users_search"),
        {"filter": 'userName eq "ada@alpha.test"'},
    )
    created = call(
        client, scim, "post", url(scim), {k: v for k, v in ada().items() if k != "schemas"}
    )
    assert search.status_code == 400 and search.json()["scimType"] == "invalidSyntax"
    assert created.status_code == 400 and created.json()["scimType"] == "invalidSyntax"
    assert not Identity.objects.filter(username="ada@alpha.test").exists()
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    replaced = call(
        client,
        scim,
        "put",
        url(scim, "scim_user", user_id=person_id),
        ada(schemas=[ENTERPRISE], title="Director"),
    )
    assert replaced.status_code == 400 and replaced.json()["scimType"] == "invalidSyntax"
    assert Identity.objects.get(pk=person_id).attributes["job_title"] == "Analyst"


def test_employee_number_is_advertised_unique_and_kept_unique_in_any_case(client, scim):
    """RFC 7643 §7: `uniqueness` "server" says a value is unique within the endpoint, and a
    client reads it from /Schemas before it writes. The endpoint refused a second user's
    employeeNumber (409 uniqueness) while its schema said "none"; and the number is
    `caseExact` false (§2.2), as its filter compares it, so "e-42" is the same as "E-42"."""
    schema = call(client, scim, "get", url(scim, "scim_schema", schema_id=ENTERPRISE)).json()
    (number,) = [a for a in schema["attributes"] if a["name"] == "employeeNumber"]
    assert (number["uniqueness"], number["caseExact"]) == ("server", False)
    assert call(client, scim, "post", url(scim), ada()).status_code == 201
    twin = ada(userName="twin@alpha.test", externalId="okta-00u2")
    twin[ENTERPRISE] = {"department": "Finance", "employeeNumber": "e-42"}
    response = call(client, scim, "post", url(scim), twin)
    assert response.status_code == 409, response.content
    assert response.json()["scimType"] == "uniqueness"
    assert not Identity.objects.filter(tenant=scim.tenant, username="twin@alpha.test").exists()


@pytest.mark.parametrize(
    "member",
    [
        {"startIndex": "abc"},
        {"startIndex": "2"},
        {"count": 1.5},
        {"count": True},
        {"attributes": "userName"},
        {"excludedAttributes": ["title", 5]},
    ],
)
def test_a_search_request_of_the_wrong_shape_is_invalid_syntax(client, scim, member):
    """RFC 7644 §3.4.3: a SearchRequest's startIndex and count are integers, its attributes
    and excludedAttributes lists of strings; another shape "did not conform to the request
    schema": invalidSyntax (§3.12, which lists it for a search), as the sandbox's SCIM apps
    answer (tests/sandbox/test_scim_filters.py). It was invalidValue, and "2" was read as 2."""
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]} | member
    response = call(client, scim, "post", url(scim, "scim_users_search"), search)
    assert response.status_code == 400, response.content
    assert (response.json()["status"], response.json()["scimType"]) == ("400", "invalidSyntax")
    assert next(iter(member)) in response.json()["detail"]


def test_entras_manager_as_the_managers_bare_id_is_set_and_removed(client, scim):
    """Microsoft Entra's provisioning sends the manager as the manager's SCIM id alone, not as
    the complex `{"value": …}` of RFC 7643 §4.3 (learn.microsoft.com, "Tutorial: Develop and
    plan provisioning for a SCIM endpoint", *Update User [Add Manager]*; its SCIM validator's
    manager test, AzureAD/SCIMReferenceCode#156). It was 400 invalidValue, so every Entra user
    with a manager mapped (docs/scim.md's defaults) failed to update."""
    boss_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    grace = ada(userName="grace@alpha.test", externalId="okta-00u2", emails=[])
    grace[ENTERPRISE] = {"department": "Finance", "employeeNumber": "E-43"}
    person_id = call(client, scim, "post", url(scim), grace).json()["id"]
    one = url(scim, "scim_user", user_id=person_id)
    add = {
        "schemas": [PATCH],
        "Operations": [{"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss_id}],
    }
    response = call(client, scim, "patch", one, add)
    assert response.status_code == 200, response.content
    assert response.json()[ENTERPRISE]["manager"]["value"] == boss_id
    assert Identity.objects.get(pk=person_id).attributes["manager"] == "ada@alpha.test"
    remove = {"schemas": [PATCH], "Operations": [{"op": "Remove", "path": f"{ENTERPRISE}:manager"}]}
    response = call(client, scim, "patch", one, remove)
    assert response.status_code == 200, response.content
    assert "manager" not in response.json()[ENTERPRISE]
    assert not Identity.objects.get(pk=person_id).attributes.get("manager")


def test_entras_default_phone_and_address_updates_are_accepted_and_ignored(client, scim):
    """Entra's default mappings for a non-gallery app send the work phone and address as
    `Add` on a value-filtered path (`phoneNumbers[type eq "work"].value`) beside the
    attributes the portal keeps. The portal keeps no phone or address, so no value matched
    the filter and the whole PATCH was 400 noTarget: the display name in the same request
    was lost, every sync. As on POST and PUT (docs/scim.md, *Attributes*), an attribute of
    the RFC 7643 §4.1 User that /Schemas does not list is accepted and ignored."""
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    one = url(scim, "scim_user", user_id=person_id)
    operations = [
        {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+44 20 7946 0000"},
        {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "London"},
        {"op": "Replace", "path": "displayName", "value": "Ada King"},
        {"op": "Remove", "path": 'phoneNumbers[type eq "mobile"].value'},
    ]
    response = call(client, scim, "patch", one, {"schemas": [PATCH], "Operations": operations})
    assert response.status_code == 200, response.content
    assert response.json()["displayName"] == "Ada King"
    assert "phoneNumbers" not in response.json() and "addresses" not in response.json()
    assert Identity.objects.get(pk=person_id).display_name == "Ada King"


def test_a_put_that_leaves_out_active_does_not_restore_a_leaver(client, scim):
    """RFC 7644 §3.5.1: a readWrite attribute a PUT leaves out "MAY be assumed to be not
    asserted by the client". `active` left out was read as true, so an HR system's PUT of a
    leaver's new title (RFC 7643 §4.1.1 gives `active` no default) restored them: their
    accounts enabled and their access given back."""
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    one = url(scim, "scim_user", user_id=person_id)
    leave = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert call(client, scim, "patch", one, leave).status_code == 200
    replacement = ada(title="Senior Analyst")
    del replacement["active"]

    response = call(client, scim, "put", one, replacement)

    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    person = Identity.objects.get(pk=person_id)
    assert person.status == Identity.Status.LEAVER
    assert not person.jobs.filter(kind=Job.Kind.RESTORE).exists()


def test_a_patch_of_the_read_only_groups_is_still_a_mutability_error(client, scim):
    """RFC 7644 §3.5.2: "a client MUST NOT modify an attribute that has mutability
    "readOnly"", and such an operation SHALL be an error (§3.12: mutability). `groups` is
    the RFC 7643 §4.1.2 User's readOnly attribute: skipping the attributes the portal does
    not keep must not skip this refusal."""
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    operations = [{"op": "add", "path": "groups", "value": [{"value": "1"}]}]
    response = call(
        client,
        scim,
        "patch",
        url(scim, "scim_user", user_id=person_id),
        {"schemas": [PATCH], "Operations": operations},
    )
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "mutability"
