"""The model the engine's model-based test compares the directories with.

It knows only what was asked (joins, moves, leaves, restores, in the order the services
accepted them) and the role templates as this module defines them; it never calls the
portal's planner or desired-state code. Per person and directory:

- join with template T: present, enabled, T's groups (and the extra groups), T's licences
  (Entra) and apps;
- move to T2: exactly T2's access. A move of someone who is leaving or has left changes
  their templates only: they stay disabled and stripped until a restore;
- leave: present, disabled, none of the access but the kept groups the person held;
- restore: present, enabled, the access of the templates the person has now;
- the last thing asked wins, whatever order the jobs ran in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The role templates of the test tenant. Every one gives "Staff" and none gives "Managers",
# which only an extra group gives (and moves keep the extra groups): so which kept groups a
# leaver "held" is the same whether it is read at the leave or after a later move.
TEMPLATES = {
    "Sales": {"groups": ["Staff", "Sales"], "licenses": ["SPE_E3"], "apps": ["Salesforce"]},
    "Support": {"groups": ["Staff", "VPN Users"], "licenses": ["EMS"], "apps": ["Slack"]},
    "Finance": {"groups": ["Staff", "Finance"], "licenses": [], "apps": ["Salesforce", "Slack"]},
}
EXTRA_GROUP = "Managers"
KEEP_CHOICES = ((), ("Staff",), (EXTRA_GROUP,))
KINDS = ("entra", "okta")
OKTA_ENABLED = ("ACTIVE", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT")


@dataclass(frozen=True)
class Account:
    """One person's account in one directory, as the model wants it or as the directory has it."""

    present: bool
    enabled: bool = False
    groups: frozenset[str] = frozenset()
    licenses: frozenset[str] = frozenset()
    apps: frozenset[str] = frozenset()
    detail: str = ""  # what the directory said beyond the compared fields (status, duplicates)


ABSENT = Account(present=False)


@dataclass
class Person:
    """What was asked for one person, in the order the services accepted it."""

    username: str
    template: str
    extra_groups: tuple[str, ...] = ()
    left: bool = False
    keep: tuple[str, ...] = ()  # the groups the leave asked to keep
    kept: frozenset[str] = frozenset()
    history: list[str] = field(default_factory=list)

    def role_groups(self) -> frozenset[str]:
        return frozenset(TEMPLATES[self.template]["groups"]) | frozenset(self.extra_groups)

    def move(self, template: str) -> None:
        self.template = template

    def leave(self, keep: tuple[str, ...]) -> None:
        self.keep, self.kept = keep, self.role_groups() & frozenset(keep)
        self.left = True

    def restore(self) -> None:
        self.left, self.keep, self.kept = False, (), frozenset()

    def expected(self, kind: str) -> Account:
        if self.left:
            return Account(present=True, enabled=False, groups=self.kept)
        template = TEMPLATES[self.template]
        return Account(
            present=True,
            enabled=True,
            groups=self.role_groups(),
            licenses=frozenset(template["licenses"]) if kind == "entra" else frozenset(),
            apps=frozenset(template["apps"]),
        )


def entra_account(state: dict, upn: str) -> Account:
    users = [
        u
        for u in state["users"]
        if u["userPrincipalName"].lower() == upn.lower() and not u.get("deleted")
    ]
    if not users:
        return ABSENT
    dynamic = {g["displayName"] for g in state["groups"] if g.get("membershipRule")}
    user = users[0]
    return Account(
        present=True,
        enabled=bool(user["accountEnabled"]),
        groups=frozenset(user["groups"]) - dynamic,  # rule-based groups follow attributes
        licenses=frozenset(user["licenses"]),
        apps=frozenset(a["app"] for a in user["appRoleAssignments"]),
        detail=f"{len(users)} accounts" if len(users) > 1 else "",
    )


def okta_account(state: dict, login: str) -> Account:
    users = [u for u in state["users"] if u["profile"]["login"].lower() == login.lower()]
    if not users:
        return ABSENT
    user = users[0]
    duplicates = f", {len(users)} accounts" if len(users) > 1 else ""
    return Account(
        present=True,
        enabled=user["status"] in OKTA_ENABLED,
        groups=frozenset(
            g["name"]
            for g in state["groups"]
            if user["id"] in g["members"] and g["type"] != "BUILT_IN"  # Everyone: Okta's
        ),
        apps=frozenset(a["label"] for a in state["apps"] if user["id"] in a["user_ids"]),
        detail=f"status {user['status']}{duplicates}",
    )


def differences(expected: Account, actual: Account) -> list[str]:
    """What differs, one line per field, in words a reader of a failed run can act on."""
    if expected.present != actual.present:
        return [f"account {'missing' if expected.present else 'present'}, model says otherwise"]
    if not expected.present:
        return []
    lines = []
    if expected.enabled != actual.enabled:
        detail = f" ({actual.detail})" if actual.detail else ""
        lines.append(f"enabled: want {expected.enabled}, has {actual.enabled}{detail}")
    for name in ("groups", "licenses", "apps"):
        want, has = getattr(expected, name), getattr(actual, name)
        if want != has:
            missing, extra = sorted(want - has), sorted(has - want)
            lines.append(f"{name}: missing {missing}, unexpected {extra}")
    if "accounts" in actual.detail:
        lines.append(f"duplicates: {actual.detail}")
    return lines
