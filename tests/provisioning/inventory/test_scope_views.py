"""The takeover settings page: who may read and change it, every bad input refused with
nothing saved, and a change of rules previewed (counts and samples, nothing saved) before a
save with the same values, which counts again for itself."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.inventory import matching, scope
from provisioning.inventory.models import Account, Person, Policy, Resource

pytestmark = pytest.mark.django_db

OPERATORS = ["msp_admin", Role.TECHNICIAN]
READ_ONLY = [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN]


@pytest.fixture(autouse=True)
def quick_password_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def page(world) -> str:
    return reverse("inventory_policy", kwargs={"tenant": world.tenant.slug})


def person(world, role, msp_admin):
    return msp_admin if role == "msp_admin" else world.people[role]


@pytest.fixture
def directory(alpha):
    """Alpha's Entra directory as the inventory read it: people, a service account, guests,
    and two groups."""
    made = [
        Account(
            connection=alpha.connection,
            tenant=alpha.tenant,
            remote_id=f"u{i}",
            username=f"{name}@alpha.test",
            display_name=name.title(),
            user_type=kind,
            department=department,
            group_ids=groups,
        )
        for i, (name, kind, department, groups) in enumerate(
            [
                ("ada", "Member", "Sales", ["g-staff"]),
                ("bob", "Member", "Finance", ["g-staff"]),
                ("cy", "Member", "Sales", []),
                ("svc-backup", "Member", "", []),
                ("gus", "Guest", "", []),
            ]
        )
    ]
    Account.objects.bulk_create(made)
    for remote_id, name in [("g-staff", "Staff"), ("g-vpn", "VPN Users")]:
        Resource.objects.create(
            connection=alpha.connection, kind="groups", remote_id=remote_id, name=name
        )
    scope.apply_scope(alpha.tenant)
    matching.rematch(alpha.tenant)
    return made


def form_data(**changes) -> dict:
    data = {
        "match_on": "username",
        "match_attribute": "",
        "user_types": "Member",
        "domains": "",
        "departments": "",
        "enabled_only": "",
        "excluded_patterns": "\n".join(scope.DEFAULT_EXCLUDED_PATTERNS),
        "out_of_scope_action": "keep",
        "auto_converge": "",
        "stale_after_days": "90",
    }
    return {k: v for k, v in (data | changes).items() if v is not None}


def saved_state(world) -> tuple:
    policy = Policy.objects.filter(tenant=world.tenant).values().first()
    rows = list(Account.objects.filter(tenant=world.tenant).values_list("in_scope", "scope_reason"))
    events = AuditEvent.objects.filter(action="inventory.policy_changed").count()
    return policy, sorted(rows), events


def previewed_stamp(response) -> str:
    match = re.search(r'name="previewed" value="([0-9a-f]{64})"', response.content.decode())
    assert match, "the preview offers no save"
    return match.group(1)


@pytest.mark.parametrize("role", OPERATORS + READ_ONLY)
def test_every_reader_sees_the_rules_and_the_counts(client, alpha, msp_admin, directory, role):
    client.force_login(person(alpha, role, msp_admin))
    before = saved_state(alpha)

    response = client.get(page(alpha))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Takeover settings" in body and "svc-*" in body and "VPN Users" in body
    standing = response.context["standing"]
    assert (standing.in_scope, standing.out_of_scope) == (3, 2)
    assert ("matches excluded pattern svc-*", 1) in standing.reasons
    can_save = 'value="preview"' in body
    assert can_save is (role in OPERATORS)
    assert ("disabled" in str(response.context["form"]["user_types"])) is (role in READ_ONLY)
    assert saved_state(alpha) == before


@pytest.mark.parametrize("role", READ_ONLY)
def test_readers_may_not_change_it(client, alpha, directory, role):
    client.force_login(alpha.people[role])
    before = saved_state(alpha)

    for action in ("preview", "save"):
        response = client.post(page(alpha), form_data(departments="Sales", action=action))
        assert response.status_code == 403

    assert saved_state(alpha) == before


def test_another_tenants_people_get_404(client, alpha, bravo, directory):
    for role in (Role.TECHNICIAN, Role.CLIENT_ADMIN):
        client.force_login(bravo.people[role])
        assert client.get(page(alpha)).status_code == 404
        assert client.post(page(alpha), form_data(action="save")).status_code == 404


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"domains": "not a domain"}, "domains", "is not a domain name"),
        ({"user_types": "x" * 41}, "user_types", "longer than 40"),
        ({"excluded_patterns": "<script>*"}, "excluded_patterns", "plain text"),
        ({"departments": "\n".join(f"d{i}" for i in range(101))}, "departments", "At most 100"),
        ({"excluded_patterns": "y" * 30000}, "excluded_patterns", "at most"),
        ({"match_on": "attribute"}, "match_attribute", "Name the attribute"),
        ({"match_on": "attribute", "match_attribute": "a b"}, "match_attribute", "letters"),
        ({"match_on": "nickname"}, "match_on", "Select a valid choice"),
        ({"out_of_scope_action": "purge"}, "out_of_scope_action", "Select a valid choice"),
        ({"stale_after_days": "0"}, "stale_after_days", "greater than or equal to 1"),
        ({"stale_after_days": "9" * 5000}, "stale_after_days", "whole number"),
        ({"groups": ["g-unknown"]}, "groups", "Select a valid choice"),
    ],
)
def test_bad_input_says_what_is_wrong_and_saves_nothing(
    client, alpha, directory, changes, field, message
):
    client.force_login(alpha.technician)
    before = saved_state(alpha)

    for action in ("preview", "save"):
        response = client.post(page(alpha), form_data(**changes, action=action))
        assert response.status_code == 200
        errors = " ".join(response.context["form"].errors.get(field, []))
        assert message in errors, response.context["form"].errors
        assert "Nothing was saved" in response.content.decode()

    assert saved_state(alpha) == before


def test_a_change_is_previewed_then_saved_with_the_same_values(client, alpha, directory):
    client.force_login(alpha.technician)
    before = saved_state(alpha)
    change = form_data(departments="Sales", groups=["g-staff", "g-vpn"])

    preview = client.post(page(alpha), {**change, "action": "preview"})

    assert preview.status_code == 200
    shown = preview.context["change"]
    # bob (Finance) and cy (no group) leave; nothing enters
    assert (shown.entering, shown.leaving) == (0, 2)
    body = preview.content.decode()
    assert "bob@alpha.test" in body and "department Finance is not in scope" in body
    assert "Nothing has been saved yet" in body
    assert saved_state(alpha) == before

    saved = client.post(
        page(alpha), {**change, "action": "save", "previewed": previewed_stamp(preview)}
    )

    assert saved.status_code == 302 and saved["Location"] == page(alpha)
    policy = Policy.objects.get(tenant=alpha.tenant)
    assert policy.departments == ["Sales"]
    assert policy.groups == [
        {"id": "g-staff", "name": "Staff"},
        {"id": "g-vpn", "name": "VPN Users"},
    ]
    rows = dict(Account.objects.filter(tenant=alpha.tenant).values_list("remote_id", "in_scope"))
    assert rows == {"u0": True, "u1": False, "u2": False, "u3": False, "u4": False}
    people = dict(Person.objects.filter(tenant=alpha.tenant).values_list("username", "in_scope"))
    assert people["ada@alpha.test"] and not people["bob@alpha.test"]  # the People page follows
    event = AuditEvent.objects.get(action="inventory.policy_changed")
    assert (event.after["entering"], event.after["leaving"]) == (0, 2)
    assert event.actor_user_id == alpha.technician.pk
    followed = client.get(page(alpha)).content.decode()
    assert "0 accounts entered scope, 2 left it." in followed


def test_a_save_of_values_not_previewed_previews_them_instead(client, alpha, directory):
    client.force_login(alpha.technician)
    preview = client.post(page(alpha), form_data(departments="Sales", action="preview"))
    stamp = previewed_stamp(preview)
    before = saved_state(alpha)

    edited = client.post(
        page(alpha), form_data(departments="Finance", action="save", previewed=stamp)
    )
    unstamped = client.post(page(alpha), form_data(departments="Sales", action="save"))

    for response in (edited, unstamped):
        assert response.status_code == 200 and response.context["change"] is not None
    assert edited.context["change"].leaving == 2  # ada and cy (Sales) leave under Finance
    assert saved_state(alpha) == before


def test_a_new_matching_rule_is_saved_and_audited(client, alpha, directory):
    client.force_login(alpha.technician)
    change = form_data(match_on="attribute", match_attribute="employeeNumber")
    preview = client.post(page(alpha), {**change, "action": "preview"})

    client.post(page(alpha), {**change, "action": "save", "previewed": previewed_stamp(preview)})

    policy = Policy.objects.get(tenant=alpha.tenant)
    assert (policy.match_on, policy.match_attribute) == ("attribute", "employeeNumber")
    # matched again by the new rule: no account has the attribute, so each is its own person
    keys = set(Person.objects.filter(tenant=alpha.tenant).values_list("key", flat=True))
    assert {k for k in keys if k.startswith("account:")} and "ada@alpha.test" not in keys
    event = AuditEvent.objects.get(action="inventory.policy_changed")
    assert event.before["match_on"] == "username" and event.after["match_on"] == "attribute"
