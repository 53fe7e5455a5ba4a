"""The real okta SDK (3.4.6) against the sandbox: configured only with the org URL, the API
token and the sandbox CA (through its aiohttp session), with its own 429 retries off."""

from __future__ import annotations

import asyncio
import time

from okta.client import Client
from okta.models import (
    AppUserAssignRequest,
    CreateGroupRuleRequest,
    CreateUserRequest,
    UpdateUserRequest,
)
from okta.pagination import PaginationHelper

from tests.sandbox.okta_support import OktaSandbox, user_body


def sdk_client(org_url: str, token: str) -> Client:
    return Client({"orgUrl": org_url, "token": token, "rateLimit": {"maxRetries": 0}})


async def _round_trip(sandbox: OktaSandbox, org) -> str:
    async with sandbox.sdk_session() as session:
        client = sdk_client(org.url, org.token)
        client.get_request_executor().set_session(session)

        settings, _, error = await client.get_org_settings()
        assert error is None, error
        assert (settings.subdomain, settings.status) == (org.id, "ACTIVE")

        body = CreateUserRequest.from_dict(user_body("ada@example.com", department="Sales"))
        user, _, error = await client.create_user(body, activate=True)
        assert error is None, error
        assert user.status.value == "ACTIVE"

        _, _, error = await client.assign_user_to_group(org.groups["Sales"], user.id)
        assert error is None, error
        request = AppUserAssignRequest.from_dict({"id": user.id, "scope": "USER"})
        app_user, _, error = await client.assign_user_to_application(org.apps["slack"], request)
        assert error is None, error
        assert app_user.id == user.id

        again, _, error = await client.get_user("ada@example.com")
        assert error is None, error
        assert (again.id, again.profile.department) == (user.id, "Sales")
        groups, _, error = await client.list_user_groups(user.id)
        assert [g.profile.actual_instance.name for g in groups] == ["Everyone", "Sales"]

        _, _, error = await client.deactivate_user(user.id)
        assert error is None, error
        return user.id


def test_sdk_round_trip_create_group_app_read_deactivate(okta_sandbox):
    org = okta_sandbox.new_org()
    user_id = asyncio.run(_round_trip(okta_sandbox, org))

    state = okta_sandbox.state(org.id)
    [user] = [u for u in state["users"] if u["id"] == user_id]
    assert user["status"] == "DEPROVISIONED"
    [sales] = [g for g in state["groups"] if g["name"] == "Sales"]
    assert user_id in sales["members"]
    [slack] = [a for a in state["apps"] if a["name"] == "slack"]
    assert user_id not in slack["user_ids"]  # deactivation drops app assignments


async def _list_all(org, session) -> list[str]:
    client = sdk_client(org.url, org.token)
    client.get_request_executor().set_session(session)
    users, response, error = await client.list_users(limit=2)
    assert error is None, error
    logins = [u.profile.login for u in users]
    while after := PaginationHelper.extract_next_cursor(response.headers):
        users, response, error = await client.list_users(limit=2, after=after)
        assert error is None, error
        logins += [u.profile.login for u in users]
    return logins


def test_sdk_pages_through_users_with_the_after_cursor(okta_sandbox):
    seeded = [{"profile": user_body(f"u{n}@example.com")["profile"]} for n in range(5)]
    org = okta_sandbox.new_org(users=seeded)

    async def run() -> list[str]:
        async with okta_sandbox.sdk_session() as session:
            return await _list_all(org, session)

    assert asyncio.run(run()) == [f"u{n}@example.com" for n in range(5)]


async def _errors(sandbox: OktaSandbox, org) -> tuple:
    async with sandbox.sdk_session() as session:
        wrong = sdk_client(org.url, "not-the-token")
        wrong.get_request_executor().set_session(session)
        _, _, unauthorized = await wrong.list_users()
        client = sdk_client(org.url, org.token)
        client.get_request_executor().set_session(session)
        sandbox.set_behaviour(org.id, rate_per_s=1, burst=1)
        first = await client.list_users()
        _, _, throttled = await client.list_users()
        return unauthorized, first[2], throttled


def test_sdk_sees_okta_errors_and_429_without_crashing(okta_sandbox):
    org = okta_sandbox.new_org()
    unauthorized, first_error, throttled = asyncio.run(_errors(okta_sandbox, org))
    assert unauthorized.status == 401 and unauthorized.error_code == "E0000011"
    assert first_error is None
    assert throttled.status == 429 and throttled.error_code == "E0000047"


async def _retried(sandbox: OktaSandbox, org) -> tuple:
    async with sandbox.sdk_session() as session:
        client = Client({"orgUrl": org.url, "token": org.token, "rateLimit": {"maxRetries": 1}})
        client.get_request_executor().set_session(session)
        await client.list_users()
        started = time.monotonic()
        _, response, error = await client.list_users()
        return error, response.status_code, time.monotonic() - started


def test_sdk_own_429_retry_waits_for_the_reset_and_succeeds(okta_sandbox):
    """The headers the SDK's back-off reads (Date, X-Rate-Limit-Reset) are right; the portal
    sets maxRetries 0 and retries in its engine, but a default client must not crash."""
    org = okta_sandbox.new_org()
    okta_sandbox.set_behaviour(org.id, rate_per_s=5, burst=1)
    error, status, waited = asyncio.run(_retried(okta_sandbox, org))
    assert error is None and status == 200
    # It waits X-Rate-Limit-Reset - Date + 1 s; Date has whole seconds, so 1 to 3 s.
    assert 1 <= waited < 5
    assert okta_sandbox.stats(org.id)["throttled"] == 1


async def _every_call_the_connector_makes(sandbox: OktaSandbox, org) -> dict:
    async with sandbox.sdk_session() as session:
        client = sdk_client(org.url, org.token)
        client.get_request_executor().set_session(session)

        async def ok(awaitable):
            answer = await awaitable
            assert answer[-1] is None, answer[-1]
            return answer[0]

        body = CreateUserRequest.from_dict(user_body("grace@example.com"))
        user = await ok(client.create_user(body, activate=False))
        await ok(client.activate_user(user.id, send_email=False))
        update = UpdateUserRequest.from_dict({"profile": {"title": "Admiral"}})
        assert (await ok(client.update_user(user.id, update))).profile.title == "Admiral"
        await ok(client.assign_user_to_group(org.groups["Finance"], user.id))
        request = AppUserAssignRequest.from_dict({"id": user.id, "scope": "USER"})
        await ok(client.assign_user_to_application(org.apps["zoom"], request))
        links = await ok(client.list_app_links(user.id))
        await ok(client.suspend_user(user.id))
        await ok(client.unsuspend_user(user.id))
        await ok(client.revoke_user_sessions(user.id))
        await ok(client.unassign_user_from_group(org.groups["Finance"], user.id))
        await ok(client.unassign_user_from_application(org.apps["zoom"], user.id))
        apps = await ok(client.list_applications(limit=200))
        await ok(client.deactivate_user(user.id))
        await ok(client.delete_user(user.id))
        _, _, gone = await client.get_user(user.id)
        return {
            "links": [link.app_instance_id for link in links],
            "apps": sorted(a.label for a in apps),
            "gone": gone.status,
        }


def test_sdk_every_call_the_okta_connector_makes(okta_sandbox):
    org = okta_sandbox.new_org()
    seen = asyncio.run(_every_call_the_connector_makes(okta_sandbox, org))
    assert seen == {"links": [org.apps["zoom"]], "apps": ["Slack", "Zoom"], "gone": 404}
    assert okta_sandbox.state(org.id)["users"] == []


async def _rules_through_the_sdk(sandbox: OktaSandbox, org) -> tuple:
    async with sandbox.sdk_session() as session:
        client = sdk_client(org.url, org.token)
        client.get_request_executor().set_session(session)
        body = CreateGroupRuleRequest.from_dict(
            {
                "type": "group_rule",
                "name": "Sales people",
                "conditions": {
                    "expression": {
                        "value": 'user.department=="Sales"',
                        "type": "urn:okta:expression:1.0",
                    }
                },
                "actions": {"assignUserToGroups": {"groupIds": [org.groups["Sales"]]}},
            }
        )
        rule, _, error = await client.create_group_rule(body)
        assert error is None, error
        _, _, error = await client.activate_group_rule(rule.id)
        assert error is None, error
        listed, _, error = await client.list_group_rules()
        assert error is None, error
        return rule.status.value, [(r.name, r.status.value) for r in listed]


def test_sdk_group_rules(okta_sandbox):
    user = {**user_body("sales@example.com", department="Sales"), "status": "ACTIVE"}
    org = okta_sandbox.new_org(users=[user])
    created_status, listed = asyncio.run(_rules_through_the_sdk(okta_sandbox, org))
    assert created_status == "INACTIVE"
    assert listed == [("Sales people", "ACTIVE")]
    [sales] = [g for g in okta_sandbox.state(org.id)["groups"] if g["name"] == "Sales"]
    assert len(sales["members"]) == 1


async def _invalid_rule_through_the_sdk(sandbox: OktaSandbox, org) -> tuple:
    async with sandbox.sdk_session() as session:
        client = sdk_client(org.url, org.token)
        client.get_request_executor().set_session(session)
        body = CreateGroupRuleRequest.from_dict(
            {
                "type": "group_rule",
                "name": "Finance people",
                "conditions": {"expression": {"value": 'user.department=="Finance"'}},
                "actions": {"assignUserToGroups": {"groupIds": [org.groups["Finance"]]}},
            }
        )
        rule, _, error = await client.create_group_rule(body)
        assert error is None, error
        _, _, error = await client.delete_group(org.groups["Finance"])
        assert error is None, error
        read, _, error = await client.get_group_rule(rule.id)
        assert error is None, error
        *_, refused = await client.activate_group_rule(rule.id)  # (response, error) on an error
        return read.status.value, str(refused)


def test_sdk_reads_a_rule_made_invalid_by_its_groups_deletion(okta_sandbox):
    org = okta_sandbox.new_org()
    status, refused = asyncio.run(_invalid_rule_through_the_sdk(okta_sandbox, org))
    assert status == "INVALID"  # GroupRuleStatus knows it; the 3.x model has no allGroupsValid
    assert "Cannot activate or deactivate a Group Rule with the status INVALID." in refused
