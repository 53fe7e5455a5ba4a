"""A number of more than 4,300 digits is a 4xx like any other bad number, never a 500:
Python's int() refuses to read one (CVE-2020-10735's limit, `sys.get_int_max_str_digits`),
and a check that tested the characters (isdigit, a regex) but not the length let it reach
int() in the API's path ids and the SCIM endpoint's paging (attack14)."""

from urllib.parse import urlencode

import pytest

from tests.scim.conftest import scim_world
from tests.scim.test_scim_endpoint import call, url

from ..api.conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def scim(alpha, msp_admin, settings):
    settings.SCIM_REFUSALS_PER_MINUTE = 100_000
    return scim_world(alpha, msp_admin)


HUGE = "9" * 4301  # one past int()'s limit
ZEROS = "0" * 4300 + "2"  # a small number written long


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/people/{HUGE}/change",
        f"/api/v1/people/{HUGE}/offboard",
        f"/api/v1/jobs/{HUGE}/retry",
        f"/api/v1/jobs/{HUGE}/cancel",
        f"/api/v1/access-requests/{HUGE}/decision",
    ],
)
def test_an_api_path_id_past_ints_limit_is_a_4xx(alpha, path):
    response = ApiClient(token_for(alpha.technician)).post(path, {})
    assert 400 <= response.status_code < 500, response.status_code
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("name", ["count", "startIndex"])
@pytest.mark.parametrize("value", [HUGE, f"-{HUGE}", f"+{HUGE}"])
def test_a_scim_paging_number_past_ints_limit_is_clamped_not_a_500(client, scim, name, value):
    response = call(client, scim, "get", f"{url(scim)}?{urlencode({name: value})}")
    assert response.status_code == 200, response.status_code
    body = response.json()
    assert body["totalResults"] >= 0


def test_a_scim_paging_number_with_many_leading_zeros_is_its_value(client, scim):
    response = call(client, scim, "get", f"{url(scim)}?count={ZEROS}")
    assert response.status_code == 200
    assert response.json()["itemsPerPage"] <= 2
