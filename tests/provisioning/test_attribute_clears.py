"""What the portal set on an account, and what it may clear there (engine/planner.py
`_changed_attributes`, engine/accounts.py `applied`). The directories' side is in
test_engine_clear_attributes.py."""

from __future__ import annotations

from dataclasses import replace

from provisioning.connectors.base import DirectoryUser
from provisioning.engine import accounts, planner
from provisioning.engine.desired import DesiredState
from provisioning.models import DirectoryAccount, Step
from provisioning.queries import _attribute_rows

COMPARED = ("first_name", "last_name", "display_name", "department", "job_title", "usage_location")
ADA = DesiredState("ada", "Ada", "Lovelace", "Ada Lovelace", "", attributes={"job_title": "Lead"})
HELD = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "display_name": "Ada Lovelace",
    "department": "Finance",
    "job_title": "Lead",
    "usage_location": "GB",
}


def changed(set_here, desired: DesiredState = ADA, held: dict = HELD) -> dict:
    user = DirectoryUser("u1", "ada", True, dict(held))
    return planner._changed_attributes(COMPARED, user, desired, set_here)


def test_what_the_portal_set_and_nothing_sets_now_is_cleared():
    assert changed(["department", "job_title"]) == {"department": None}


def test_what_the_portal_never_set_stays():
    assert changed([]) == {}
    assert changed(["job_title"]) == {}


def test_names_and_the_usage_location_are_never_cleared():
    nameless = replace(ADA, display_name="")
    assert changed(["display_name", "usage_location"], nameless) == {}


def test_nothing_held_nothing_to_clear_and_a_leave_clears_nothing():
    assert changed(["department"], held={**HELD, "department": None}) == {}
    assert changed(["department"], replace(ADA, leaving=True)) == {}


def test_the_step_says_what_it_clears():
    assert planner.update_label({"job_title": "Lead", "department": None}) == (
        "job_title, clear department"
    )


def test_the_record_follows_creates_updates_and_clears():
    account = DirectoryAccount(managed={"groups": [{"id": "g", "name": "Staff"}]})
    create = Step(action=planner.CREATE_USER, params={"attributes": {"department": "Finance"}})
    fields = accounts.applied(account, create, {"user_id": "u1", "created": True})
    assert "managed" in fields
    assert account.managed["attributes"] == ["department"]
    assert account.managed["groups"] == [{"id": "g", "name": "Staff"}]

    update = Step(action=planner.UPDATE_USER, params={"attributes": {"job_title": "Lead"}})
    assert accounts.applied(account, update, {}) == ["managed"]
    assert account.managed["attributes"] == ["department", "job_title"]

    clear = Step(action=planner.UPDATE_USER, params={"attributes": {"department": None}})
    accounts.applied(account, clear, {})
    assert account.managed["attributes"] == ["job_title"]


def test_a_linked_account_is_not_the_portals():
    account = DirectoryAccount(managed={})
    link = Step(action=planner.LINK_USER, params={"user_id": "u1"})
    accounts.applied(account, link, {"user_id": "u1", "linked": True})
    assert "attributes" not in account.managed
    create = Step(action=planner.CREATE_USER, params={"attributes": {"department": "Legal"}})
    accounts.applied(account, create, {"user_id": "u1", "linked": True})  # "already exists"
    assert "attributes" not in account.managed


def test_the_person_page_shows_what_is_to_be_cleared_as_not_matching():
    user = DirectoryUser("u1", "ada", True, dict(HELD))
    rows = {r.name: r for r in _attribute_rows(ADA, user, COMPARED, ["department"])}
    department = next(r for name, r in rows.items() if "epartment" in name)
    assert (department.desired, department.actual, department.matches) == ("", "Finance", False)
    rows = _attribute_rows(ADA, user, COMPARED, [])  # the account's own: not compared
    assert all(r.matches for r in rows)
