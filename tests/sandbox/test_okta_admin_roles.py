"""An Okta API token acts with its admin's standard roles, through the real okta SDK:
`GET /api/v1/users/me` is that admin, `GET /api/v1/users/{id}/roles` their role assignments
(another user's only for a Super Administrator), and each write needs a role that allows it
(else 403 E0000006, as a Read-only Administrator's token gets)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from okta.client import Client
from okta.errors.okta_api_error import OktaAPIError
from okta.models import AppUserAssignRequest, CreateUserRequest

from tests.sandbox.okta_support import user_body

ROLES = {
    "super": ["SUPER_ADMIN"],
    "reader": ["READ_ONLY_ADMIN"],
    "members": ["GROUP_MEMBERSHIP_ADMIN"],
    "apps": ["APP_ADMIN"],
    "helpdesk": ["HELP_DESK_ADMIN"],
}


@pytest.fixture(scope="module")
def roles_org(okta_sandbox):
    """An org with one token per admin: {"org": ..., "tokens": {name: token}, ids}."""
    org_id = f"t-{uuid.uuid4().hex[:10]}"
    tokens = {name: f"{org_id}-{name}-{uuid.uuid4().hex}" for name in ROLES}
    body = {
        "id": org_id,
        "name": f"Roles org {org_id}",
        "api_token": tokens["super"],
        "read_only_tokens": [tokens["reader"]],
        "admin_tokens": [
            {"token": tokens[name], "roles": ROLES[name]}
            for name in ("members", "apps", "helpdesk")
        ],
        "groups": [{"name": "Sales"}],
        "apps": [{"name": "slack", "label": "Slack"}],
        "users": [user_body("ann@example.com")],
    }
    created = okta_sandbox.control.post("/_sandbox/okta/orgs", json=body)
    assert created.status_code == 201, created.text
    state = created.json()
    return {
        "url": f"{okta_sandbox.url}/okta/{org_id}",
        "tokens": tokens,
        "sales": next(g["id"] for g in state["groups"] if g["name"] == "Sales"),
        "slack": state["apps"][0]["id"],
        "ann": state["users"][0]["id"],
    }


def as_admin(okta_sandbox, org, name, work):
    """Run `work(client)` with an okta SDK client holding the `name` admin's token."""

    async def go():
        async with okta_sandbox.sdk_session() as session:
            config = {"orgUrl": org["url"], "token": org["tokens"][name]}
            client = Client({**config, "rateLimit": {"maxRetries": 0}})
            client.get_request_executor().set_session(session)
            return await work(client)

    return asyncio.run(go())


def role_types(assignments) -> list[str]:
    return [a.actual_instance.type.value for a in assignments]


def refused(answer, status: int = 403, code: str = "E0000006") -> None:
    error = answer[-1]
    assert isinstance(error, OktaAPIError), answer
    assert (error.status, error.error_code) == (status, code), error


@pytest.mark.parametrize("name", ["super", "reader", "helpdesk"])
def test_me_is_the_tokens_admin_and_lists_their_roles(okta_sandbox, roles_org, name):
    async def work(client):
        me, _, error = await client.get_user("me")
        assert error is None, error
        assert me.status.value == "ACTIVE" and me.profile.login.startswith("admin")
        assert me.id != roles_org["ann"]
        found, _, error = await client.list_assigned_roles_for_user(me.id)
        assert error is None, error
        return found

    found = as_admin(okta_sandbox, roles_org, name, work)
    assert role_types(found) == ROLES[name]
    assert found[0].actual_instance.assignment_type.value == "USER"
    assert found[0].actual_instance.status.value == "ACTIVE"


def test_only_a_super_admin_reads_another_users_roles(okta_sandbox, roles_org):
    async def super_reads(client):
        ann, _, error = await client.list_assigned_roles_for_user(roles_org["ann"])
        assert error is None and ann == []  # no admin roles
        refused(await client.list_assigned_roles_for_user("00unobody000000000000"), 404, "E0000007")
        me, _, _ = await client.get_user("me")
        return me.id

    super_id = as_admin(okta_sandbox, roles_org, "super", super_reads)

    async def reader_reads(client):
        refused(await client.list_assigned_roles_for_user(super_id))
        refused(await client.list_assigned_roles_for_user(roles_org["ann"]))

    as_admin(okta_sandbox, roles_org, "reader", reader_reads)


def new_user(login: str) -> CreateUserRequest:
    return CreateUserRequest.from_dict(user_body(login))


@pytest.mark.parametrize(
    "name,may",
    [
        ("reader", set()),
        ("members", {"members"}),
        ("apps", {"apps"}),
        ("helpdesk", {"password"}),
        ("super", {"create", "members", "apps", "password"}),
    ],
)
def test_each_write_needs_a_role_that_allows_it(okta_sandbox, roles_org, name, may):
    sales, slack, ann = roles_org["sales"], roles_org["slack"], roles_org["ann"]

    async def work(client):
        answers = {
            "create": await client.create_user(new_user(f"{name}-{uuid.uuid4().hex[:6]}@ex.com")),
            "members": await client.assign_user_to_group(sales, ann),
            "apps": await client.assign_user_to_application(
                slack, AppUserAssignRequest.from_dict({"id": ann, "scope": "USER"})
            ),
            "password": await client.reset_password(ann, send_email=False),
        }
        assert (await client.list_users(limit=1))[-1] is None  # every admin reads
        return answers

    answers = as_admin(okta_sandbox, roles_org, name, work)
    for what, answer in answers.items():
        if what in may:
            assert answer[-1] is None, (what, answer)
        else:
            refused(answer)
