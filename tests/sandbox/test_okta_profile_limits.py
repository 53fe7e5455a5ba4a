"""The base profile's length bounds, as Okta's user schema declares them (the Schemas API's
base subschema; the OpenAPI spec bundled with the okta SDK, okta/models/user_profile.py): a
value out of bounds is 400 E0000001 naming the field, on create and on update, and nothing is
written. Over raw HTTP: the okta SDK checks most of these bounds itself and would not send."""

from __future__ import annotations

import pytest

from tests.sandbox.okta_support import assert_okta_error, create, user_body

MAXIMA = {
    "firstName": 50,
    "lastName": 50,
    "mobilePhone": 100,
    "primaryPhone": 100,
    "secondEmail": 100,
    "city": 128,
    "state": 128,
    "streetAddress": 1024,
    "zipCode": 50,
    "countryCode": 2,
}


def value_of(prop: str, length: int) -> str:
    if prop == "secondEmail":
        return "s" * (length - len("@example.com")) + "@example.com"
    if prop == "countryCode":
        return "GBR"[:length]  # a country at the bound (ISO 3166), one letter over past it
    return "A" * length


@pytest.mark.parametrize(("prop", "limit"), sorted(MAXIMA.items()))
def test_a_value_over_its_maximum_length_is_refused(api, prop: str, limit: int) -> None:
    too_long = api.post(
        "/api/v1/users", json=user_body("over@example.com", **{prop: value_of(prop, limit + 1)})
    )
    error = assert_okta_error(too_long, 400, "E0000001")
    assert error["errorSummary"] == f"Api validation failed: {prop}"
    assert error["errorCauses"] == [{"errorSummary": f"{prop}: The field is too long"}]
    assert api.get("/api/v1/users/over@example.com").status_code == 404

    user = create(api, "edge@example.com", **{prop: value_of(prop, limit)})
    changed = api.post(
        f"/api/v1/users/{user['id']}", json={"profile": {prop: value_of(prop, limit + 1)}}
    )
    assert_okta_error(changed, 400, "E0000001")
    assert api.get(f"/api/v1/users/{user['id']}").json()["profile"][prop] == value_of(prop, limit)


def test_login_and_email_take_five_to_a_hundred_characters(api) -> None:
    long_login = "l" * 89 + "@example.com"  # 101 characters
    error = assert_okta_error(
        api.post("/api/v1/users", json=user_body(long_login)), 400, "E0000001"
    )
    assert error["errorCauses"][0]["errorSummary"].endswith(": The field is too long")
    body = user_body(long_login, firstName="L", email="short@example.com")
    error = assert_okta_error(api.post("/api/v1/users", json=body), 400, "E0000001")
    assert error["errorCauses"] == [{"errorSummary": "login: The field is too long"}]
    error = assert_okta_error(
        api.post("/api/v1/users", json=user_body("ok@example.com", email="a@b")), 400, "E0000001"
    )
    assert error["errorCauses"] == [{"errorSummary": "email: The field is too short"}]
    longest = "l" * 88 + "@example.com"  # 100 characters
    assert create(api, longest, firstName="L")["profile"]["login"] == longest


@pytest.mark.parametrize("code", ["UK", "EU", "XX"])
def test_a_country_code_that_is_no_iso_3166_country_is_refused(api, code: str) -> None:
    """countryCode is validated as an ISO 3166-1 alpha 2 code (user_profile.py, from Okta's
    OpenAPI spec): two letters that name no country are refused on create and on update."""
    refused = api.post("/api/v1/users", json=user_body("uk@example.com", countryCode=code))
    error = assert_okta_error(refused, 400, "E0000001")
    assert error["errorSummary"] == "Api validation failed: countryCode"
    assert api.get("/api/v1/users/uk@example.com").status_code == 404
    user = create(api, "gb@example.com", countryCode="GB")
    changed = api.post(f"/api/v1/users/{user['id']}", json={"profile": {"countryCode": code}})
    assert_okta_error(changed, 400, "E0000001")
    assert api.get(f"/api/v1/users/{user['id']}").json()["profile"]["countryCode"] == "GB"


@pytest.mark.parametrize("second", ["nope", "two@@example.com", "spaced out@example.com"])
def test_a_second_email_that_is_no_address_is_refused(api, second: str) -> None:
    """secondEmail is validated as email is ("For validation, see RFC 5322 Section 3.2.3",
    okta SDK 3.x okta/models/user_profile.py, from Okta's OpenAPI spec); the sandbox
    checked the primary email only and stored any second one."""
    refused = api.post("/api/v1/users", json=user_body("second@example.com", secondEmail=second))
    error = assert_okta_error(refused, 400, "E0000001")
    assert error["errorSummary"] == "Api validation failed: secondEmail"
    assert error["errorCauses"] == [
        {"errorSummary": "secondEmail: Does not match required pattern"}
    ]
    assert api.get("/api/v1/users/second@example.com").status_code == 404

    user = create(api, "second@example.com", secondEmail="backup@example.org")
    changed = api.post(f"/api/v1/users/{user['id']}", json={"profile": {"secondEmail": second}})
    assert_okta_error(changed, 400, "E0000001")
    profile = api.get(f"/api/v1/users/{user['id']}").json()["profile"]
    assert profile["secondEmail"] == "backup@example.org"
    cleared = api.post(f"/api/v1/users/{user['id']}", json={"profile": {"secondEmail": None}})
    assert cleared.status_code == 200, cleared.text


@pytest.mark.parametrize(
    ("prop", "value"),
    [("department", 5), ("title", ["Engineer"]), ("organization", True), ("managerId", 12)],
)
def test_a_base_profile_value_that_is_no_string_is_refused(api, prop: str, value) -> None:
    """Every property of the base user profile is a string (okta SDK 3.x
    okta/models/user_profile.py, Okta's OpenAPI spec: each one `StrictStr`), and Okta does not
    coerce types: "if you enter a wrong type the API rejects it with a 400 error message"
    (okta/okta-developer-docs#4483, Okta's answer). The sandbox stored a number, a list or a
    boolean, so a connector writing `department: 5` read it back as if Okta had taken it. The
    cause text is not published: the sandbox says "<p>: Does not match required type"."""
    refused = api.post("/api/v1/users", json=user_body("typed@example.com", **{prop: value}))
    error = assert_okta_error(refused, 400, "E0000001")
    assert error["errorSummary"] == f"Api validation failed: {prop}"
    assert error["errorCauses"] == [{"errorSummary": f"{prop}: Does not match required type"}]
    assert api.get("/api/v1/users/typed@example.com").status_code == 404

    user = create(api, "typed@example.com", **{prop: "kept"})
    for method in (api.post, api.put):
        body = user_body("typed@example.com", password=False, **{prop: value})
        changed = method(f"/api/v1/users/{user['id']}", json=body)
        assert_okta_error(changed, 400, "E0000001")
    assert api.get(f"/api/v1/users/{user['id']}").json()["profile"][prop] == "kept"
    cleared = api.post(f"/api/v1/users/{user['id']}", json={"profile": {prop: None}})
    assert cleared.status_code == 200, cleared.text
