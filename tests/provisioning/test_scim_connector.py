"""The SCIM connector against the sandbox's SCIM apps, one of each flavour, over HTTPS through
scim2-client: what each call leaves in the app, and how the app's errors are classified."""

import asyncio

import httpx2
import pytest

from provisioning.connectors import bridge
from provisioning.connectors.base import AccessState, NewUser, refuse_private_addresses
from provisioning.connectors.errors import (
    USERNAME,
    AuthenticationError,
    ConflictError,
    EndpointRefusedError,
    PermanentError,
    ThrottledError,
    TransientError,
)
from provisioning.connectors.scim import ScimConnector, _only_to
from tenants import endpoints
from tests.provisioning.scim_apps import PROFILES, make_app

FLAVOURS = ["full", "slack", "zoom"]


def connector_for(app, token: str | None = None) -> ScimConnector:
    return ScimConnector(
        base_url=app.base_url, secret=token or app.token, profile=PROFILES[app.flavour]
    )


def run(coroutine):
    return bridge.run(coroutine, timeout=30)


def joiner(username: str, **attributes) -> NewUser:
    return NewUser(
        username=username,
        first_name="Ada",
        last_name="Lovelace",
        display_name="Ada Lovelace",
        email=username,
        password="",
        attributes={"department": "Sales", "job_title": "Account Executive", **attributes},
    )


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_user_is_created_found_changed_disabled_enabled_and_deleted(on_sandbox, flavour):
    app = make_app(on_sandbox, flavour)
    scim = connector_for(app)
    created = run(scim.create_user(joiner("ada@co.example", external_id="17")))
    held = app.user("ada@co.example")
    assert held["active"] is True and held["name"]["givenName"] == "Ada"
    assert held["title"] == "Account Executive" and held["externalId"] == "17"
    assert [e["value"] for e in held["emails"]] == ["ada@co.example"]
    enterprise = held.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    if scim.discovered.enterprise:
        assert enterprise["department"] == "Sales"
    else:  # the app declares no enterprise extension: nothing of it is sent
        assert enterprise is None and "department" not in scim.compared_attributes

    found = run(scim.find_user("ADA@co.example"))
    assert found is not None and found.id == created.id
    assert run(scim.find_user("nobody@co.example")) is None

    run(scim.update_user(created.id, {"job_title": "Director", "last_name": "Byron"}))
    held = app.user("ada@co.example")
    assert held["title"] == "Director" and held["name"]["familyName"] == "Byron"

    run(scim.disable_user(created.id))
    assert app.user("ada@co.example")["active"] is False
    assert run(scim.get_user(created.id)).enabled is False
    run(scim.enable_user(created.id))
    assert app.user("ada@co.example")["active"] is True

    run(scim.delete_user(created.id))
    if flavour == "slack":  # Slack's DELETE "Sets a Slack user to deactivated"
        assert app.user("ada@co.example")["active"] is False
    else:
        assert app.user("ada@co.example") is None
    run(scim.delete_user(created.id))  # already gone (or deactivated): done


def test_a_user_the_app_cannot_take_is_permanent_at_once_and_sends_nothing(on_sandbox):
    """A document of ours that SCIM's own schema refuses (an e-mail without an @: a SCIM
    joiner's userName that is no address) fails the same way every time: it was an
    "unexpected" error, read as the app's unreadable answer, logged with its traceback and
    tried eight times (found by scim2-tester's joiners in the demo, whose userNames are
    UUIDs)."""
    app = make_app(on_sandbox, "full")
    scim = connector_for(app)
    with pytest.raises(PermanentError) as refused:
        run(scim.create_user(joiner("8733d2c0-f984-4f1a-a1d0-a9106599fbea")))
    assert not isinstance(refused.value, TransientError)
    assert "emails" in refused.value.message and "@" in refused.value.message
    assert app.user("8733d2c0-f984-4f1a-a1d0-a9106599fbea") is None


@pytest.mark.parametrize("flavour", ["full", "slack"])
def test_group_members_are_added_and_removed(on_sandbox, flavour):
    app = make_app(on_sandbox, flavour, groups=["Engineering", "Sales"])
    scim = connector_for(app)
    user = run(scim.create_user(joiner("grace@co.example")))
    groups = {g.name: g.id for g in run(scim.groups(fresh=True))}
    assert set(groups) == {"Engineering", "Sales"}
    assert scim.discovered.group_patch is (flavour == "full")  # slack: the group is PUT whole

    run(scim.add_to_group(user.id, groups["Engineering"]))
    run(scim.add_to_group(user.id, groups["Sales"]))
    assert app.groups_of(user.id) == {"Engineering", "Sales"}
    _, access = run(scim.read_state(user.id))
    assert access.groups == {groups["Engineering"], groups["Sales"]}

    run(scim.remove_from_group(user.id, groups["Sales"]))
    assert app.groups_of(user.id) == {"Engineering"}
    run(scim.remove_from_group(user.id, groups["Sales"]))  # not a member: nothing to do
    assert app.groups_of(user.id) == {"Engineering"}


def test_an_app_without_groups_has_none_to_give(on_sandbox):
    app = make_app(on_sandbox, "zoom")
    scim = connector_for(app)
    user = run(scim.create_user(joiner("zed@co.example")))
    assert run(scim.groups(fresh=True)) == []
    assert run(scim.access_of(user.id)).groups == frozenset()
    assert scim.discovered.max_results <= 100 and not scim.discovered.groups


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_users_are_read_through_every_page(on_sandbox, flavour):
    app = make_app(on_sandbox, flavour)
    scim = connector_for(app)
    names = {f"p{i:03}@co.example" for i in range(105)}
    for name in sorted(names):
        app.add_user(name, "P", name[:4])
    assert set(run(scim.list_usernames())) == names  # zoom: 100 a page at most
    assert run(scim.find_user("p104@co.example")).username == "p104@co.example"
    cursor, seen = "", set()
    while True:
        page = run(scim.users_changes(cursor))
        seen |= {a.username for a in page.accounts}
        if not page.more:
            break
        cursor = page.cursor
    assert seen == names


def test_a_taken_username_is_a_conflict_naming_the_holder(on_sandbox):
    app = make_app(on_sandbox, "full")
    holder = app.add_user("ada@co.example", "Ada", "Lovelace")
    with pytest.raises(ConflictError) as refused:
        run(connector_for(app).create_user(joiner("ada@co.example")))
    assert refused.value.field == USERNAME and refused.value.status == 409
    assert refused.value.existing.id == holder


def test_throttling_gives_the_apps_retry_time(on_sandbox):
    app = make_app(on_sandbox, "slack")
    scim = connector_for(app)
    run(scim.list_usernames())  # discovered first: the throttled call is the read itself
    app.behave(throttle_next=1)
    with pytest.raises(ThrottledError) as throttled:
        run(scim.find_user("ada@co.example"))
    assert throttled.value.retry_after is not None and throttled.value.retry_after > 0
    assert run(scim.find_user("ada@co.example")) is None  # the next call goes through


def test_a_refused_token_says_so(on_sandbox):
    app = make_app(on_sandbox, "full")
    with pytest.raises(AuthenticationError):
        run(connector_for(app, token="not-the-token").probe())  # noqa: S106 - a wrong one


def test_nothing_goes_to_another_origin(on_sandbox):
    app = make_app(on_sandbox, "full")
    hook = _only_to([endpoints.parse(app.base_url)])
    asyncio.run(hook(httpx2.Request("GET", f"{app.base_url}/Users?startIndex=2")))  # its own
    elsewhere = httpx2.Request("GET", "https://scim.elsewhere.example/v2/Users")
    with pytest.raises(EndpointRefusedError):
        asyncio.run(hook(elsewhere))
    private = ScimConnector(base_url="https://10.0.0.8/scim/v2", secret="t")  # noqa: S106
    with pytest.raises(EndpointRefusedError):
        run(private.probe())


@pytest.mark.parametrize(
    "url", ["https://127.1/scim/v2", "https://2130706433/scim/v2", "https://0x7f.0.0.1/scim/v2"]
)
def test_a_loopback_address_in_shorthand_is_refused_before_anything_is_sent(url):
    with pytest.raises(endpoints.EndpointError):
        endpoints.check_allowed(endpoints.Service.SCIM_APP, url)
    shorthand = ScimConnector(base_url=url, secret="t")  # noqa: S106
    with pytest.raises(EndpointRefusedError):
        run(shorthand.probe())


def test_a_name_that_resolves_to_this_machine_gets_no_request(on_sandbox):
    with pytest.raises(EndpointRefusedError, match="resolves to 127.0.0.1"):
        run(refuse_private_addresses("https://localhost/scim/v2"))
    run(refuse_private_addresses(f"{on_sandbox.url}/scim/x/v2"))  # the sandbox's own origin


def test_an_app_without_patch_gets_users_replaced_whole(on_sandbox):
    app = make_app(on_sandbox, "full")
    declared = {"patch": False, "filter": True, "max_results": 100, "groups": True}
    scim = ScimConnector(base_url=app.base_url, secret=app.token, discovered=declared)
    user = run(scim.create_user(joiner("put@co.example")))
    run(scim.update_user(user.id, {"job_title": "Director", "first_name": "Augusta"}))
    run(scim.disable_user(user.id))
    held = app.user("put@co.example")
    assert held["title"] == "Director" and held["name"]["givenName"] == "Augusta"
    assert held["active"] is False and held["name"]["familyName"] == "Lovelace"
    assert [e["value"] for e in held["emails"]] == ["put@co.example"]


def get_users(app) -> int:
    return app.control("GET", "/stats").json()["calls"].get("GET /Users", 0)


@pytest.mark.parametrize("flavour", ["full", "zoom"])
def test_many_lookups_are_answered_from_one_listing_as_find_user_would(on_sandbox, flavour):
    """A bulk preview's lookups: the users named, as `find_user` and `access_of` answer one
    by one (userName compared whatever its case), from the pages of one listing."""
    app = make_app(on_sandbox, flavour, groups=["Engineering"] if flavour == "full" else [])
    ada = app.add_user("Ada.Lovelace@co.example", "Ada", "Lovelace")
    app.add_user("grace@co.example", "Grace", "Hopper")
    for i in range(103):  # two pages: 100 a page
        app.add_user(f"p{i:03}@co.example", "P", f"{i:03}")
    scim = connector_for(app)
    if flavour == "full":
        run(scim.add_to_group(ada, next(g.id for g in run(scim.groups(fresh=True)))))
    asked = ["ada.lovelace@co.example", "GRACE@co.example", "nobody@co.example"]
    one_by_one = {}
    for name in asked:
        user = run(scim.find_user(name))
        one_by_one[name] = (user, run(scim.access_of(user.id))) if user else None
    assert one_by_one[asked[0]][1].groups or flavour == "zoom"

    app.control("DELETE", "/stats")
    assert run(scim.find_users(asked)) == one_by_one
    assert get_users(app) == 2  # the two pages, not a lookup per username

    # One username: its own lookup is one request, which no listing beats.
    assert run(scim.find_users(["grace@co.example"])) is None
    assert get_users(app) == 2


def test_an_app_that_cannot_filter_is_listed_once_for_every_lookup(on_sandbox):
    app = make_app(on_sandbox, "full")
    app.add_user("Ada@co.example", "Ada", "Lovelace")
    declared = {"patch": True, "filter": False, "max_results": 100, "groups": True}
    scim = ScimConnector(base_url=app.base_url, secret=app.token, discovered=declared)
    found = run(scim.find_users(["ada@CO.example"]))
    assert found == {"ada@CO.example": (run(scim.find_user("ada@co.example")), AccessState())}


@pytest.mark.parametrize(
    ("garble", "answer"),
    [
        ("html", "(text/html; charset=utf-8, 54 bytes)"),
        ("empty", "(no body, 0 bytes)"),
        ("shape", "(application/scim+json, 12 bytes)"),
    ],
)
def test_a_garbled_success_is_permanent_and_says_what_came(on_sandbox, garble, answer):
    """A 201 that is no SCIM message will not mend itself: a permanent failure (no retry),
    naming the app and what came (content type, size), never the body or the token."""
    app = make_app(on_sandbox, "full")
    scim = ScimConnector(base_url=app.base_url, secret=app.token, name="Litware (SCIM)")
    run(scim.list_usernames())  # discovered first: the garbled answer is the create's
    app.control("PUT", "/settings", json={"garble_next": 1, "garble_as": garble})

    with pytest.raises(PermanentError) as garbled:
        run(scim.create_user(joiner("ada@co.example")))

    message = garbled.value.message
    assert message.startswith("Litware (SCIM) answered") and answer in message
    assert "Another try will not mend it" in message
    assert app.token not in message and "Service Unavailable" not in message
    assert not isinstance(garbled.value, TransientError)
    assert app.user("ada@co.example") is not None  # the app made the user all the same
