"""Okta groups and apps over raw HTTP: listing, membership, app assignments."""

from __future__ import annotations

from tests.sandbox.okta_support import assert_okta_error, create, user_body


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [g["profile"]["name"] for g in response.json()]


def test_list_search_get_and_create_groups(org, api):
    assert names(api.get("/api/v1/groups")) == ["Everyone", "Sales", "Finance"]
    assert names(api.get("/api/v1/groups", params={"q": "fin"})) == ["Finance"]
    search = 'profile.name eq "Sales" and type eq "OKTA_GROUP"'
    assert names(api.get("/api/v1/groups", params={"search": search})) == ["Sales"]
    group = api.get(f"/api/v1/groups/{org.groups['Sales']}").json()
    assert group["type"] == "OKTA_GROUP" and group["id"].startswith("00g")
    assert_okta_error(api.get("/api/v1/groups/00gnothere"), 404, "E0000007")
    made = api.post("/api/v1/groups", json={"profile": {"name": "Managers"}})
    assert made.status_code == 200 and made.json()["profile"]["name"] == "Managers"
    assert_okta_error(api.post("/api/v1/groups", json={"profile": {}}), 400, "E0000001")


def test_membership_add_and_remove_are_idempotent(okta_sandbox, org, api):
    user = create(api, "member@example.com")
    url = f"/api/v1/groups/{org.groups['Sales']}/users/{user['id']}"
    assert api.put(url).status_code == 204
    assert api.put(url).status_code == 204
    members = api.get(f"/api/v1/groups/{org.groups['Sales']}/users").json()
    assert [m["id"] for m in members] == [user["id"]]
    state = okta_sandbox.state(org.id)
    assert [g["members"] for g in state["groups"] if g["name"] == "Sales"] == [[user["id"]]]
    assert api.delete(url).status_code == 204
    assert api.delete(url).status_code == 204
    assert api.get(f"/api/v1/groups/{org.groups['Sales']}/users").json() == []
    response = api.put(f"/api/v1/groups/{org.groups['Sales']}/users/00unobody")
    assert_okta_error(response, 404, "E0000007")


def test_group_members_page_with_links(org, api):
    group = org.groups["Finance"]
    for n in range(5):
        user = create(api, f"fin{n}@example.com")
        api.put(f"/api/v1/groups/{group}/users/{user['id']}")
    first = api.get(f"/api/v1/groups/{group}/users", params={"limit": 3})
    assert len(first.json()) == 3
    second = api.get(first.links["next"]["url"])
    assert len(second.json()) == 2 and "next" not in second.links


def test_apps_list_get_and_assignments(okta_sandbox, org, api):
    apps = api.get("/api/v1/apps").json()
    assert [(a["name"], a["label"], a["status"]) for a in apps] == [
        ("slack", "Slack", "ACTIVE"),
        ("zoom", "Zoom", "ACTIVE"),
    ]
    slack = org.apps["slack"]
    assert api.get(f"/api/v1/apps/{slack}").json()["label"] == "Slack"
    assert_okta_error(api.get("/api/v1/apps/0oanothere"), 404, "E0000007")

    user = create(api, "app.user@example.com")
    assigned = api.post(f"/api/v1/apps/{slack}/users", json={"id": user["id"], "scope": "USER"})
    assert assigned.status_code == 200
    assert assigned.json()["id"] == user["id"] and assigned.json()["scope"] == "USER"
    assert assigned.json()["credentials"]["userName"] == "app.user@example.com"
    listed = api.get(f"/api/v1/apps/{slack}/users").json()
    assert [a["id"] for a in listed] == [user["id"]]
    assert api.get(f"/api/v1/apps/{slack}/users/{user['id']}").status_code == 200
    [state_slack] = [a for a in okta_sandbox.state(org.id)["apps"] if a["name"] == "slack"]
    assert state_slack["user_ids"] == [user["id"]]

    assert api.delete(f"/api/v1/apps/{slack}/users/{user['id']}").status_code == 204
    assert_okta_error(api.get(f"/api/v1/apps/{slack}/users/{user['id']}"), 404, "E0000007")
    assert_okta_error(api.delete(f"/api/v1/apps/{slack}/users/{user['id']}"), 404, "E0000007")


def test_assignment_errors(org, api):
    slack = org.apps["slack"]
    response = api.post(f"/api/v1/apps/{slack}/users", json={"id": "00unobody"})
    assert_okta_error(response, 404, "E0000007")
    assert_okta_error(api.post(f"/api/v1/apps/{slack}/users", json={}), 400, "E0000001")
    gone = create(api, "gone@example.com")
    api.post(f"/api/v1/users/{gone['id']}/lifecycle/deactivate")
    response = api.post(f"/api/v1/apps/{slack}/users", json={"id": gone["id"]})
    assert_okta_error(response, 400, "E0000001")


def test_org_created_with_users_in_groups_and_apps(okta_sandbox):
    seeded = {
        **user_body("seeded@example.com"),
        "status": "SUSPENDED",
        "groups": ["Sales"],
        "apps": ["zoom"],
    }
    org = okta_sandbox.new_org(users=[seeded])
    state = okta_sandbox.state(org.id)
    [user] = state["users"]
    assert user["status"] == "SUSPENDED"
    assert [g["members"] for g in state["groups"] if g["name"] == "Sales"] == [[user["id"]]]
    assert [a["user_ids"] for a in state["apps"] if a["name"] == "zoom"] == [[user["id"]]]


def _pages(api, url: str, **params) -> list[list[str]]:
    """The ids on each page, following Link rel="next" to the end."""
    response, pages = api.get(url, params=params), []
    while True:
        assert response.status_code == 200, response.text
        pages.append([item["id"] for item in response.json()])
        if "next" not in response.links:
            return pages
        assert "after=" in response.links["next"]["url"]
        response = api.get(response.links["next"]["url"])


def test_a_users_groups_page_two_hundred_at_a_time_with_links(okta_sandbox):
    """List all groups (of a user): `after` and `limit` (<= 200, default 200), pages linked
    by rel="next"; a limit above 200 gives 200."""
    many = [{"name": f"Team {n:03}"} for n in range(205)]
    seeded = {**user_body("many@example.com"), "groups": [g["name"] for g in many]}
    org = okta_sandbox.new_org(users=[seeded], extra_groups=many)
    with okta_sandbox.api(org) as api:
        [user] = api.get("/api/v1/users").json()
        url = f"/api/v1/users/{user['id']}/groups"
        every = {org.groups[g["name"]] for g in many} | {org.groups["Everyone"]}
        pages = _pages(api, url)
        assert [len(p) for p in pages] == [200, 6]
        assert set(sum(pages, [])) == every
        assert [len(p) for p in _pages(api, url, limit=1000)] == [200, 6]
        small = _pages(api, url, limit=100)
        assert [len(p) for p in small] == [100, 100, 6] and set(sum(small, [])) == every
        first = api.get(url, params={"limit": 2})
        assert first.links["self"]["url"].endswith(f"{url}?limit=2")
        assert f"{url}?after=" in first.links["next"]["url"]


def test_a_users_app_links_are_not_paged(okta_sandbox):
    """List all assigned app links takes no `after` or `limit`: every link, no next."""
    seeded = {**user_body("apps@example.com"), "apps": ["slack", "zoom"]}
    org = okta_sandbox.new_org(users=[seeded])
    with okta_sandbox.api(org) as api:
        [user] = api.get("/api/v1/users").json()
        links = api.get(f"/api/v1/users/{user['id']}/appLinks", params={"limit": 1})
        assert len(links.json()) == 2 and "next" not in links.links


def test_a_group_name_over_255_or_a_description_over_1024_characters_is_refused(org, api):
    """Okta's group profile: name 1 to 255 characters, description 0 to 1024 (help.okta.com,
    Workflows "Create Group": "Minimum length of one character and maximum length of 255
    characters" / "a maximum length of 1024 characters"). Longer is 400 E0000001, no group."""
    for profile, field in (
        ({"name": "G" * 256}, "name"),
        ({"name": "Long description", "description": "d" * 1025}, "description"),
        ({"name": "Numbered", "description": 5}, "description"),
    ):
        refused = api.post("/api/v1/groups", json={"profile": profile})
        error = assert_okta_error(refused, 400, "E0000001")
        assert error["errorSummary"] == f"Api validation failed: {field}"
    assert names(api.get("/api/v1/groups", params={"q": "G"})) == []
    assert names(api.get("/api/v1/groups", params={"q": "Long"})) == []
    assert names(api.get("/api/v1/groups", params={"q": "Numbered"})) == []

    taken = api.post(
        "/api/v1/groups", json={"profile": {"name": "H" * 255, "description": "d" * 1024}}
    )
    assert taken.status_code == 200, taken.text
    assert taken.json()["profile"]["name"] == "H" * 255


def test_a_group_profile_property_outside_the_schema_is_refused(org, api):
    """The okta SDK's GroupProfile (Okta's OpenAPI text): "You can extend group profiles with
    custom properties, but you must first add the properties to the group profile schema
    before you can reference them"; the sandbox's orgs define none (as for users, strict5).
    The sandbox created the group and dropped the property."""
    before = names(api.get("/api/v1/groups"))
    for profile in ({"name": "Ops", "costCenter": "42"}, {"name": "Ops", "Description": "x"}):
        body = assert_okta_error(
            api.post("/api/v1/groups", json={"profile": profile}), 400, "E0000001"
        )
        unknown = next(k for k in profile if k not in ("name",))
        assert body["errorSummary"] == f"Api validation failed: {unknown}"
    assert names(api.get("/api/v1/groups")) == before
    made = api.post("/api/v1/groups", json={"profile": {"name": "Ops", "description": "Run"}})
    assert made.status_code == 200, made.text


def test_a_limit_below_the_published_minimum_is_refused(org, api):
    """The okta SDK 3.x (Okta's OpenAPI) bounds some lists' `limit` from below: group rules
    (`GroupRuleApi.list_group_rules`, 1..200), an app's users
    (`ApplicationUsersApi.list_application_users`, 1..500) and an app's groups
    (`ApplicationGroupsApi.list_application_group_assignments`, 20..200). A smaller `limit` is
    400 E0000001 on `limit` (Okta's text is not published); the sandbox read it as the default
    (or as the page size). Users publish no minimum: `limit=0` there still reads as the
    default."""
    slack = org.apps["slack"]
    for path, low in (
        ("/api/v1/groups/rules", "0"),
        (f"/api/v1/apps/{slack}/users", "0"),
        (f"/api/v1/apps/{slack}/users", "-1"),
        (f"/api/v1/apps/{slack}/groups", "19"),
    ):
        error = assert_okta_error(api.get(path, params={"limit": low}), 400, "E0000001")
        assert error["errorSummary"] == "Api validation failed: limit"
    for path, lowest in (
        ("/api/v1/groups/rules", "1"),
        (f"/api/v1/apps/{slack}/users", "1"),
        (f"/api/v1/apps/{slack}/groups", "20"),
    ):
        assert api.get(path, params={"limit": lowest}).status_code == 200
    assert api.get("/api/v1/users", params={"limit": "0"}).status_code == 200


def _names(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [g["profile"]["name"] for g in answer.json()]


def _next_link(answer) -> str | None:
    for value in answer.headers.get_list("link"):
        if value.endswith('rel="next"'):
            return value[1 : value.index(">")]
    return None


def test_a_group_search_is_sorted_by_sort_by_and_sort_order(okta_sandbox):
    """List Groups: `sortBy` "Specifies the field to sort by (for search queries only).
    `sortBy` can be any single property, for example `sortBy=profile.name`. Groups with the
    same value for the `sortBy` property are ordered by `id`"; `sortOrder` "`asc` or `desc`
    (for search queries only). This parameter is ignored if `sortBy` isn't present" (okta SDK
    3.x `GroupApi.list_groups`). The sandbox answered a sorted group search in id order, as
    it did users' before strict15."""
    extra = [
        {"name": "Zulu", "description": "Ops"},
        {"name": "Alpha", "description": "Ops"},
        {"name": "Mike", "description": "Dev"},
    ]
    org = okta_sandbox.new_org(extra_groups=extra)
    search = 'type eq "OKTA_GROUP"'
    with okta_sandbox.api(org) as api:
        asc = api.get("/api/v1/groups", params={"search": search, "sortBy": "profile.name"})
        assert _names(asc) == ["Alpha", "Finance", "Mike", "Sales", "Zulu"]
        desc_params = {"search": search, "sortBy": "profile.name", "sortOrder": "desc"}
        desc = api.get("/api/v1/groups", params=desc_params)
        assert _names(desc) == ["Zulu", "Sales", "Mike", "Finance", "Alpha"]
        # one value: by id, that is in the order they were made
        by_description = {"search": 'profile.description eq "Ops"', "sortBy": "profile.description"}
        assert _names(api.get("/api/v1/groups", params=by_description)) == ["Zulu", "Alpha"]
        # paged through the Link header, the order holds across pages
        pages: list[str] = []
        url: str | None = "/api/v1/groups"
        params: dict | None = {**desc_params, "limit": "2"}
        while url:
            answer = api.get(url, params=params)
            pages += _names(answer)
            url, params = _next_link(answer), None
        assert pages == _names(desc)
        # sortOrder without sortBy orders nothing
        unsorted = api.get("/api/v1/groups", params={"search": search, "sortOrder": "desc"})
        assert _names(unsorted) == ["Sales", "Finance", "Zulu", "Alpha", "Mike"]
