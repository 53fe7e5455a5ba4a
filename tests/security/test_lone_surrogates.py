"""A lone surrogate (`"\\ud800"` in JSON) is no Unicode text: no database column stores it and
UTF-8 cannot encode it, so the SCIM endpoint refuses it where it reads the body, as it does a
NUL, before any field's rule. `externalId` and a filter's value have no name rule, and reached
the database: a 500 (UnicodeEncodeError) (attack14). The HR webhook already refused one as
not JSON; the API's fields refuse it by their patterns (422); a form's or a query string's
bytes are decoded with replacement characters, so none arrives there."""

import json

import pytest

from provisioning.models import Identity
from tests.scim.conftest import scim_world
from tests.scim.test_scim_endpoint import PATCH, ada, call, url

pytestmark = pytest.mark.django_db

LONE = "\ud800"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
def scim(alpha, msp_admin, settings):
    settings.SCIM_REFUSALS_PER_MINUTE = 100_000
    return scim_world(alpha, msp_admin)


def sent(client, scim, method, path, body):
    return call(client, scim, method, path, raw=json.dumps(body))  # keeps "\ud800" escaped


def assert_refused(response):
    assert response.status_code == 400, response.status_code
    assert response.json()["scimType"] == "invalidValue"
    assert "surrogate" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [ada(externalId=f"okta-{LONE}"), ada() | {f"x{LONE}": 1}, ada(nickName=f"A{LONE}")],
)
def test_a_new_user_with_a_lone_surrogate_is_a_400_and_creates_nobody(client, scim, body):
    assert_refused(sent(client, scim, "post", url(scim), body))
    assert not Identity.objects.filter(username="ada@alpha.test").exists()


def test_a_search_whose_filter_holds_a_lone_surrogate_is_a_400(client, scim):
    body = {"schemas": [SEARCH], "filter": f'externalId eq "okta-{LONE}"'}
    assert_refused(sent(client, scim, "post", url(scim, "scim_users_search"), body))


def test_a_change_to_a_lone_surrogate_is_a_400_and_changes_nothing(client, scim):
    created = sent(client, scim, "post", url(scim), ada())
    assert created.status_code == 201
    user = url(scim, "scim_user", user_id=created.json()["id"])
    operation = {"op": "replace", "path": "externalId", "value": f"okta-{LONE}"}
    assert_refused(
        sent(client, scim, "patch", user, {"schemas": [PATCH], "Operations": [operation]})
    )
    assert_refused(sent(client, scim, "put", user, ada(externalId=f"okta-{LONE}")))
    assert call(client, scim, "get", user).json()["externalId"] == "okta-00u1"
