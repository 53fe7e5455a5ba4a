"""The filters identity providers send to GET /Users, and the RFC 7644 §3.4.2.2 grammar the
endpoint says it supports (ServiceProviderConfig filter.supported): a valuePath on the
multi-valued `emails`, `and`, `or`, `not (…)`, parentheses, `pr`, every comparison operator,
dates compared as dates. What it does not support is a 400 invalidFilter naming the part."""

from __future__ import annotations

import datetime as dt

import pytest

from provisioning.models import Identity
from tests.scim.test_scim_endpoint import ENTERPRISE, ada, call, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(client, scim):
    """Beside the tenant's Pat Member (Sales, no title, no externalId): Ada (Analyst,
    Finance), Grace (Lead Engineer, Engineering), Linus (no title, last modified in 2020)."""
    bodies = [
        ada(),
        ada(
            userName="grace@alpha.test",
            externalId="okta-00u2",
            name={"givenName": "Grace", "familyName": "Hopper"},
            emails=[{"value": "grace@hopper-corp.com", "type": "work", "primary": True}],
            title="Lead Engineer",
            **{ENTERPRISE: {"department": "Engineering", "employeeNumber": "E-43"}},
        ),
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "linus@alpha.test",
            "externalId": "okta-00u3",
            "name": {"givenName": "Linus", "familyName": "Torvalds"},
        },
    ]
    for body in bodies:
        made = call(client, scim, "post", url(scim), body)
        assert made.status_code == 201, made.content
    old = dt.datetime(2020, 6, 1, tzinfo=dt.UTC)
    Identity.objects.filter(username="linus@alpha.test").update(updated_at=old)


def found(client, scim, text: str, method: str = "get"):
    if method == "get":
        response = client.get(
            url(scim), {"filter": text}, HTTP_AUTHORIZATION=f"Bearer {scim.clear}"
        )
    else:
        search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
        response = call(
            client, scim, "post", url(scim, "scim_users_search"), search | {"filter": text}
        )
    return response


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {u["userName"].split("@")[0] for u in response.json().get("Resources", [])}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Microsoft Entra provisioning's matching queries, and Okta's.
        ('userName eq "GRACE@alpha.test"', {"grace"}),
        ('externalId eq "okta-00u2"', {"grace"}),
        ('emails[type eq "work"].value eq "grace@hopper-corp.com"', {"grace"}),
        ('emails[type eq "work"].value eq "GRACE@Hopper-Corp.com"', {"grace"}),
        # A valuePath on a multi-valued attribute, with a boolean filter inside.
        ('emails[type eq "work" and value co "-corp.com"]', {"ada", "grace"}),
        ('emails[type eq "home"]', set()),
        ('emails[value ew "alpha-corp.com" or primary eq false]', {"ada"}),
        ('emails.value sw "grace@"', {"grace"}),
        ('emails co "hopper"', {"grace"}),
        # or, not, parentheses, pr.
        ('userName eq "ada@alpha.test" or userName eq "linus@alpha.test"', {"ada", "linus"}),
        ('not (userName eq "ada@alpha.test")', {"grace", "linus", "pat.member"}),
        ("not(title pr)", {"linus", "pat.member"}),
        ('(title co "LEAD" or title sw "ana") and active eq true', {"ada", "grace"}),
        ('title pr and not (externalId eq "okta-00u1" or externalId eq "okta-00u3")', {"grace"}),
        # The other operators, on strings (case-insensitive where the schema says so).
        ('externalId ne "okta-00u1"', {"grace", "linus", "pat.member"}),
        ('userName ew "@ALPHA.TEST" and name.familyName gt "L"', {"ada", "linus", "pat.member"}),
        ('name.givenName ge "grace" and name.givenName le "grace"', {"grace"}),
        ('name.familyName lt "lovelace"', {"grace"}),
        (f'{ENTERPRISE}:department eq "finance"', {"ada"}),
        (f'{ENTERPRISE}:employeeNumber eq "E-43"', {"grace"}),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "lin"', {"linus"}),
        # Dates compared as dates (RFC 7644 §3.4.2.2: dateTime attributes compare in time).
        ('meta.lastModified gt "2021-01-01T00:00:00Z"', {"ada", "grace", "pat.member"}),
        ('meta.lastModified lt "2020-06-01T02:00:00+01:00"', {"linus"}),
        ('meta.lastModified le "2020-06-01T00:00:00Z"', {"linus"}),
        (
            'meta.created pr and meta.created ge "2000-01-01T00:00:00Z"',
            {"ada", "grace", "linus", "pat.member"},
        ),
    ],
)
def test_a_supported_filter_finds_exactly_the_people_it_describes(
    client, scim, people, text, expected
):
    assert names(found(client, scim, text)) == expected
    assert names(found(client, scim, text, "post")) == expected


def test_a_filter_is_answered_with_the_total_of_what_matched_before_paging(client, scim, people):
    response = client.get(
        url(scim),
        {"filter": 'not (userName eq "nobody@alpha.test")', "count": 1},
        HTTP_AUTHORIZATION=f"Bearer {scim.clear}",
    )
    assert response.json()["totalResults"] == 4 and response.json()["itemsPerPage"] == 1


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('nickName eq "ada"', "nickName"),
        ('name.formatted co "Ada"', "name.formatted"),
        ('roles[value eq "Sales"]', "roles"),
        ('emails[display eq "Ada"]', "display"),
        ('active co "t"', "active co"),
        ('meta.lastModified gt "yesterday"', "yesterday"),
        ("userName gt 5", "userName gt 5"),
        ("userName ne 5", "userName ne 5"),
        ('userName eq "ada\\u0000"', "NUL"),  # PostgreSQL refuses it in text: it was a 500
        ('meta.created gt "2020-13-01T00:00:00Z"', "2020-13-01"),
        ('meta.created lt "0001-01-01T00:00:00+01:00"', "0001-01-01"),
        ('meta.created le "9999-12-31T23:59:59-05:00"', "9999-12-31"),
        ('urn:example:params:scim:schemas:extension:other:2.0:User:badge eq "1"', "badge"),
    ],
)
def test_an_unsupported_part_is_an_invalid_filter_that_names_it(client, scim, people, text, named):
    response = found(client, scim, text)
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidFilter"
    assert named in response.json()["detail"]


def test_the_bounds_of_a_filter_hold(client, scim):
    too_long = " or ".join(['userName eq "someone.quite.long@alpha.test"'] * 40)
    response = found(client, scim, too_long)
    assert response.status_code == 400 and "too long" in response.json()["detail"]
    deep = "not (" * 40 + 'userName eq "a"' + ")" * 40
    response = found(client, scim, deep)
    assert response.status_code == 400 and "nests more than" in response.json()["detail"]


def test_groups_take_the_same_grammar_on_display_name(client, scim):
    response = client.get(
        url(scim, "scim_groups"),
        {"filter": 'displayName sw "fin" or not (displayName pr)'},
        HTTP_AUTHORIZATION=f"Bearer {scim.clear}",
    )
    assert response.status_code == 200, response.content
    assert [g["displayName"] for g in response.json()["Resources"]] == ["Finance"]
    bad = client.get(
        url(scim, "scim_groups"),
        {"filter": 'members[value eq "1"]'},
        HTTP_AUTHORIZATION=f"Bearer {scim.clear}",
    )
    assert bad.status_code == 400 and "members" in bad.json()["detail"]


def test_a_name_beyond_ascii_is_found_as_it_is_written(client, scim):
    """SQLite lower-cases ASCII only: the filter's value was lower-cased in Python (Ö → ö)
    and compared with the column lower-cased by the database (Ö stays), and never matched."""
    body = ada(name={"givenName": "Ömer", "familyName": "Şahin"})
    assert call(client, scim, "post", url(scim), body).status_code == 201
    for text in ('name.givenName eq "Ömer"', 'name.familyName sw "Şa"', 'name.givenName ge "Ömer"'):
        assert names(found(client, scim, text)) == {"ada"}, text


@pytest.mark.parametrize(
    "text",
    [
        "active eq True",
        "active eq FALSE",
        "active ne False",
        "title eq NULL",
        'emails[type eq "work" and primary eq TRUE]',
        'userName eq "ada@alpha.test" or active EQ tRuE',
    ],
)
def test_json_literals_in_another_case_are_no_value(client, scim, people, text):
    """RFC 7644 §3.4.2.2 takes compValue's `false / null / true` from JSON, whose "literal
    names MUST be lowercase" (RFC 7159 §3): scim2-models reads `True` as true."""
    response = found(client, scim, text)
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidFilter"
    assert "lowercase" in response.json()["detail"]


def test_a_literal_word_inside_a_string_is_only_text(client, scim, people):
    assert names(found(client, scim, 'title ne "eq True" and title pr')) == {"ada", "grace"}


def _id(username: str) -> str:
    return str(Identity.objects.get(username=username).pk)


def test_a_filter_on_id_finds_that_user(client, scim, people):
    """`id` is a common attribute every resource has (RFC 7643 §3.1), a filter may name any
    attribute (RFC 7644 §3.4.2.2); Entra's group checks send `id eq "…" and …`."""
    ada_id, grace_id = _id("ada@alpha.test"), _id("grace@alpha.test")
    assert names(found(client, scim, f'id eq "{ada_id}"')) == {"ada"}
    assert names(found(client, scim, f'id eq "{ada_id}" or ID EQ "{grace_id}"')) == {"ada", "grace"}
    assert names(found(client, scim, f'id ne "{ada_id}" and title pr', "post")) == {"grace"}
    core = "urn:ietf:params:scim:schemas:core:2.0:User"
    assert names(found(client, scim, f'{core}:id eq "{grace_id}"')) == {"grace"}
    for unknown in ("abc", "", " 1", "99999999999999999999999", f"{ada_id}.0"):
        assert names(found(client, scim, f'id eq "{unknown}"')) == set(), unknown
    assert names(found(client, scim, "id pr")) == {"ada", "grace", "linus", "pat.member"}


@pytest.mark.parametrize(("text", "named"), [("id eq 5", "id eq 5"), ('id sw "1"', "id sw")])
def test_an_id_is_an_opaque_string_compared_whole(client, scim, people, text, named):
    response = found(client, scim, text)
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidFilter"
    assert named in response.json()["detail"]


def test_groups_are_found_by_id(client, scim):
    response = client.get(
        url(scim, "scim_groups"),
        {"filter": f'id eq "{scim.finance.pk}"'},
        HTTP_AUTHORIZATION=f"Bearer {scim.clear}",
    )
    assert response.status_code == 200, response.content
    assert [g["displayName"] for g in response.json()["Resources"]] == ["Finance"]
