"""One emulated Okta org: its objects and the operations the API performs on them.

Operations raise `OktaError` and never await, so each one is atomic in the single asyncio
process that serves the sandbox.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sandbox.behaviour import Behaviour, Stats
from sandbox.countries import ISO_3166_ALPHA_2

from . import group_apps, rules
from .admins import Admin
from .errors import OktaError, forbidden, not_found, not_implemented, validation_failed
from .model import GROUP_TYPES, App, Assignment, Group, GroupRule, User, new_id, now_iso

REQUIRED_PROFILE = ("firstName", "lastName", "email", "login")
# The base profile's (minLength, maxLength): the OpenAPI spec bundled with the okta SDK 3.x
# (okta/models/user_profile.py); login's maximum from the Schemas API's base subschema table,
# https://developer.okta.com/docs/reference/api/schemas/#user-profile-base-subschema. Okta's
# cause for a value over its bound: "<field>: The field is too long" (Okta's Zones API doc shows
# that text for its `name`); "too short" is assumed by symmetry.
GROUP_NAME_MAX, GROUP_DESCRIPTION_MAX = 255, 1024

PROFILE_LENGTHS = {
    "login": (5, 100),
    "email": (5, 100),
    "secondEmail": (0, 100),
    "firstName": (1, 50),
    "lastName": (1, 50),
    "mobilePhone": (0, 100),
    "primaryPhone": (0, 100),
    "city": (0, 128),
    "state": (0, 128),
    "streetAddress": (0, 1024),
    "zipCode": (0, 50),
    "countryCode": (0, 2),
    "postalAddress": (0, 4096),
}
# The user profile's base properties, the 31 Okta defines (okta SDK UserProfile, from Okta's
# OpenAPI spec; help.okta.com "Profile types": "Okta has defined 31 default base attributes").
# "You can extend user profiles with custom properties. You must first add the custom property
# to the user profile schema before you reference it" (the same UserProfile text): the
# sandbox's orgs define no custom property, so any other name is refused, where the sandbox
# stored it. Okta's cause text for it is not published; the sandbox's says what is wrong.
BASE_PROFILE = frozenset(
    [
        "city",
        "costCenter",
        "countryCode",
        "department",
        "displayName",
        "division",
        "email",
        "employeeNumber",
        "firstName",
        "honorificPrefix",
        "honorificSuffix",
        "lastName",
        "locale",
        "login",
        "manager",
        "managerId",
        "middleName",
        "mobilePhone",
        "nickName",
        "organization",
        "postalAddress",
        "preferredLanguage",
        "primaryPhone",
        "profileUrl",
        "secondEmail",
        "state",
        "streetAddress",
        "timezone",
        "title",
        "userType",
        "zipCode",
    ]
)
EVERYONE = ("Everyone", "All users in your organization")
MAX_CREATE_GROUPS = 20  # groupIds of one create (Users API, "Create User in Group")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


POLICY_NOT_MET = (
    "Password requirements were not met. Password requirements: at least 8 characters, "
    "a lowercase letter, an uppercase letter, a number, no parts of your username."
)


def login_key(login: str) -> str:
    """A login as Okta compares logins for uniqueness: without regard to case or diacritics
    ("If one of your users has a login of Isaac.Brock@example.com, there cannot be another
    user whose login is isaac.brock@example.com, nor isáàc.bröck@example.com": the okta SDK's
    UserProfile.login, from Okta's OpenAPI spec)."""
    decomposed = unicodedata.normalize("NFKD", login.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def check_known(profile: dict) -> None:
    for name in profile:
        if name not in BASE_PROFILE:
            raise validation_failed(name, "The property is not defined in the user profile schema")


def _check_types(profile: dict) -> None:
    """Every base profile property is a string (okta SDK 3.x okta/models/user_profile.py, Okta's
    OpenAPI spec: each `StrictStr`) or null, and Okta does not coerce: "if you enter a wrong type
    the API rejects it with a 400 error message" (okta/okta-developer-docs#4483). The cause
    text is not published. The sandbox stored a number, list or boolean as given."""
    for name, value in profile.items():
        if name in BASE_PROFILE and value is not None and not isinstance(value, str):
            raise validation_failed(name, "Does not match required type")


def _check_lengths(profile: dict) -> None:
    for name, (shortest, longest) in PROFILE_LENGTHS.items():
        value = profile.get(name)
        if isinstance(value, str) and len(value) > longest:
            raise validation_failed(name, "The field is too long")
        if isinstance(value, str) and len(value) < shortest:
            raise validation_failed(name, "The field is too short")
    country = profile.get("countryCode")
    if isinstance(country, str) and country and country.upper() not in ISO_3166_ALPHA_2:
        # "For validation, see ISO 3166-1 alpha 2 "short" code format" (user_profile.py);
        # Okta's cause text for it is not published.
        raise validation_failed("countryCode", "Does not match required pattern")


def check_password(password: str, profile: dict) -> None:
    """Okta's default password policy; E0000001 on `password` when it is not met."""
    username = str(profile.get("login", "")).split("@")[0].lower()
    if (
        len(password) < 8
        or password.lower() == password
        or password.upper() == password
        or not any(c.isdigit() for c in password)
        or (len(username) >= 3 and username in password.lower())
    ):
        raise validation_failed("password", POLICY_NOT_MET)


class OktaOrg:
    def __init__(self, org_id: str, name: str, api_token: str) -> None:
        self.id = org_id
        self.name = name
        self.api_token = api_token  # a Super Administrator's token unless given other roles
        # Tokens of Read-only Administrators: GETs only, for testing "missing permission".
        self.read_only_tokens: list[str] = []
        # Every token's admin (admins.py): what it may write, GET /api/v1/users/me, its roles.
        self.admins: dict[str, Admin] = {}
        self.add_admin(api_token, ["SUPER_ADMIN"])
        self.okta_id = new_id("00o")  # what GET /api/v1/org calls the org's id
        self.created = now_iso()
        self.behaviour = Behaviour()
        self.stats = Stats()
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.apps: dict[str, App] = {}
        self.rules: dict[str, GroupRule] = {}
        self._by_login: dict[str, str] = {}  # login_key(login) -> user id
        self._by_id: list[User] | None = None  # users in id order, until one comes or goes
        # Seconds an activation takes (Okta activates asynchronously: transitioningToStatus).
        self.activation_s = 0.0
        self.everyone = self.create_group(*EVERYONE, group_type="BUILT_IN")

    def set_activation(self, seconds: float) -> None:
        """How long an activation takes from now on, and for those under way, counted from
        their start (so a test can hold an activation, then let it end, without racing it)."""
        self.activation_s = seconds
        for user in self.users.values():
            user.retime_transition(seconds)

    def add_admin(self, token: str, roles: list[str]) -> Admin:
        """The admin a token acts for (the same admin, with new roles, for a known token)."""
        earlier = self.admins.get(token)
        if earlier is not None:
            earlier.roles = roles
            return earlier
        admin = Admin(token, roles, f"admin{len(self.admins) + 1}@{self.id}.example")
        self.admins[token] = admin
        return admin

    # users -----------------------------------------------------------------

    def users_by_id(self) -> list[User]:
        """Every user in id order (creation order), which is how lists page."""
        if self._by_id is None:
            self._by_id = sorted(self.users.values(), key=lambda u: u.id)
        return self._by_id

    def find_user(self, id_or_login: str) -> User:
        user = self.users.get(id_or_login)
        if user is None:
            user = self.users.get(self._by_login.get(login_key(id_or_login), ""))
            if user is not None and user.login.lower() != id_or_login.lower():
                user = None  # the key ignores diacritics; a lookup by login does not
        if user is None:
            raise not_found(id_or_login, "User")
        user.settle()
        return user

    def _check_profile(self, profile: dict, owner: str | None) -> None:
        for name in REQUIRED_PROFILE:
            value = profile.get(name)
            if not isinstance(value, str) or not value.strip():
                raise validation_failed(name, "The field cannot be left blank")
        _check_types(profile)
        _check_lengths(profile)
        if not _EMAIL.match(profile["email"]):
            raise validation_failed("email", "Does not match required pattern")
        # secondEmail is validated as email is: "For validation, see RFC 5322 Section 3.2.3"
        # (okta SDK 3.x okta/models/user_profile.py, Okta's OpenAPI text); null clears it.
        second = profile.get("secondEmail")
        if second is not None and not (isinstance(second, str) and _EMAIL.match(second)):
            raise validation_failed("secondEmail", "Does not match required pattern")
        if not _EMAIL.match(profile["login"]):
            raise validation_failed("login", "Username must be in the form of an email address")
        holder = self._by_login.get(login_key(profile["login"]))
        if holder is not None and holder != owner:
            raise validation_failed(
                "login", "An object with this field already exists in the current organization"
            )

    def create_user(
        self,
        profile: dict,
        has_password: bool,
        activate: bool,
        group_ids: Sequence[str] = (),
        password: str | None = None,
    ) -> User:
        """A new user; `password`, when given, must meet the policy (seeds pass only the flag)."""
        check_known(profile)
        self._check_profile(profile, owner=None)
        if password is not None:
            check_password(password, profile)
        groups = self._groups_to_create_in(group_ids)
        stamp = now_iso()
        user = User(new_id("00u"), "STAGED", dict(profile), has_password, stamp, stamp)
        user.status_changed = None
        if has_password:
            user.password_changed = stamp
        if activate:  # asynchronous in Okta: see lifecycle.activate
            user.start_transition("ACTIVE" if has_password else "PROVISIONED", self.activation_s)
        self.users[user.id] = user
        self._by_id = None
        self._by_login[login_key(user.login)] = user.id
        self.add_member(self.everyone, user)
        for group in groups:
            self.add_member(group, user)
        rules.evaluate(self, [user])
        return user

    def _groups_to_create_in(self, group_ids: Sequence[str]) -> list[Group]:
        """The groups of a create's `groupIds`, checked before anything is made: any refusal
        refuses the whole create. Users API, "Create User in Group": "The request may specify
        up to 20 group ids". Okta documents no other answer: an unknown id is 404 as in every
        group call; Everyone is 501 (Okta Workflows' Create User card: "When you use a Group
        ID that corresponds to the default Everyone group ... a 501 Not Implemented error
        occurs"); an imported group is 403 E0000006, as a membership PUT to it is."""
        if not all(isinstance(gid, str) for gid in group_ids):
            raise validation_failed("groupIds", "Does not match required pattern")
        if len(group_ids) > MAX_CREATE_GROUPS:
            raise validation_failed("groupIds", f"At most {MAX_CREATE_GROUPS} groups")
        groups = [self.find_group(gid) for gid in group_ids]
        if any(group.type == "BUILT_IN" for group in groups):
            raise not_implemented()
        if not all(group.members_managed_by_okta for group in groups):
            raise forbidden()
        return groups

    def update_profile(self, user: User, profile: dict, replace: bool) -> None:
        check_known(profile)
        merged = dict(profile) if replace else {**user.profile, **profile}
        merged = {k: v for k, v in merged.items() if v is not None or k not in REQUIRED_PROFILE}
        self._check_profile(merged, owner=user.id)
        del self._by_login[login_key(user.login)]
        user.profile = merged
        self._by_login[login_key(user.login)] = user.id
        user.last_updated = now_iso()
        rules.evaluate(self, [user])

    def delete_user(self, user: User) -> None:
        del self.users[user.id]
        self._by_id = None
        self._by_login.pop(login_key(user.login), None)
        for group in self.groups.values():
            group.members.pop(user.id, None)
            group.by_rule.discard(user.id)
        self.drop_assignments(user)

    def drop_assignments(self, user: User) -> None:
        for app in self.apps.values():
            app.assignments.pop(user.id, None)

    def groups_of(self, user: User) -> list[Group]:
        return [g for g in self.groups.values() if user.id in g.members]

    def assignments_of(self, user: User) -> list[tuple[App, Assignment]]:
        return [(a, a.assignments[user.id]) for a in self.apps.values() if user.id in a.assignments]

    # groups ----------------------------------------------------------------

    def find_group(self, group_id: str) -> Group:
        group = self.groups.get(group_id)
        if group is None:
            raise not_found(group_id, "UserGroup")
        return group

    def delete_group(self, group: Group) -> None:
        """The group goes, and what it gave: its apps leave its members (unless held
        otherwise); a rule naming it becomes INVALID (rules.py)."""
        for app in self.apps.values():
            if group.id in app.groups:
                group_apps.unassign_group(self, app, group)
        del self.groups[group.id]
        rules.invalidate_rules_of(self, group.id)

    def create_group(
        self,
        name: str,
        description: str = "",
        group_type: str = "OKTA_GROUP",
        source_app_id: str | None = None,
    ) -> Group:
        if not isinstance(name, str) or not name.strip():
            raise validation_failed("name", "The field cannot be left blank")
        # A group's profile: "Name … Minimum length of one character and maximum length of 255
        # characters", "Description … a maximum length of 1024 characters" (help.okta.com,
        # Workflows connector reference, Okta "Create Group" / "Update Group"). Okta's cause
        # text for a longer one is not published: the user profile's "The field is too long".
        if len(name) > GROUP_NAME_MAX:
            raise validation_failed("name", "The field is too long")
        if not isinstance(description, str):
            raise validation_failed("description", "Does not match required pattern")
        if len(description) > GROUP_DESCRIPTION_MAX:
            raise validation_failed("description", "The field is too long")
        if any(g.name.lower() == name.lower() for g in self.groups.values()):
            raise validation_failed(
                "name", "An object with this field already exists in the current organization"
            )
        if group_type not in GROUP_TYPES:
            raise validation_failed("type", "Does not match required pattern")
        stamp = now_iso()
        group = Group(new_id("00g"), name, description or "", stamp, stamp, stamp)
        group.type, group.source_app_id = group_type, source_app_id
        self.groups[group.id] = group
        return group

    def add_member(self, group: Group, user: User, by_rule: bool = False) -> None:
        if user.id in group.members:
            if not by_rule:
                group.by_rule.discard(user.id)  # added by hand too: no longer the rule's
            return
        group.members[user.id] = None
        if by_rule:
            group.by_rule.add(user.id)
        group.last_membership_updated = now_iso()
        if group_apps.group_has_apps(self, group):
            group_apps.sync_user(self, user)

    def remove_member(self, group: Group, user_id: str, by_hand: bool = True) -> None:
        if by_hand and user_id in group.by_rule:
            rules.exclude_from_rules(self, group, user_id)
        group.by_rule.discard(user_id)
        if group.members.pop(user_id, 0) is None:
            group.last_membership_updated = now_iso()
            if user_id in self.users and group_apps.group_has_apps(self, group):
                group_apps.sync_user(self, self.users[user_id])

    # apps ------------------------------------------------------------------

    def find_app(self, app_id: str) -> App:
        app = self.apps.get(app_id)
        if app is None:
            raise not_found(app_id, "AppInstance")
        return app

    def create_app(self, name: str, label: str, sign_on_mode: str = "AUTO_LOGIN") -> App:
        for key, value in (("name", name), ("label", label)):
            if not isinstance(value, str) or not value.strip():
                raise validation_failed(key, "The field cannot be left blank")
        stamp = now_iso()
        app = App(new_id("0oa"), name, label, sign_on_mode, stamp, stamp)
        self.apps[app.id] = app
        return app

    def assign(self, app: App, user: User, scope: str, user_name: str | None) -> Assignment:
        if user.status == "DEPROVISIONED":
            raise OktaError(
                400, "E0000001", "Api validation failed: user", ["user: The user is deactivated"]
            )
        stamp = now_iso()
        current = app.assignments.get(user.id)
        if current is not None:
            current.direct, current.last_updated = True, stamp
            if not group_apps.granting_groups(self, app, user.id):
                current.scope = scope
            return current
        assignment = Assignment(user.id, scope, user_name or user.login, stamp, stamp)
        app.assignments[user.id] = assignment
        return assignment

    def find_assignment(self, app: App, user_id: str) -> Assignment:
        assignment = app.assignments.get(user_id)
        if assignment is None:
            raise not_found(user_id, "AppUser")
        return assignment

    # state and persistence -------------------------------------------------

    def to_state(self) -> dict:
        """The whole org as the control API shows it (and as it persists)."""
        return {
            "id": self.id,
            "name": self.name,
            "api_token": self.api_token,
            "read_only_tokens": list(self.read_only_tokens),
            "admins": [a.to_json() for a in self.admins.values()],
            "okta_id": self.okta_id,
            "created": self.created,
            "behaviour": self.behaviour.as_dict(),
            "users": [u.to_json() for u in self.users.values()],
            "groups": [g.to_json() for g in self.groups.values()],
            "apps": [{**a.to_json(), "user_ids": list(a.assignments)} for a in self.apps.values()],
            "rules": [r.to_json() for r in self.rules.values()],
            "activation_s": self.activation_s,
        }

    def to_json(self) -> dict:
        return self.to_state()

    @classmethod
    def from_json(cls, data: dict) -> OktaOrg:
        org = cls(data["id"], data["name"], data["api_token"])
        org.read_only_tokens = list(data.get("read_only_tokens", []))
        for token in org.read_only_tokens:  # state saved before admins were modelled
            org.add_admin(token, ["READ_ONLY_ADMIN"])
        for raw in data.get("admins", []):
            org.admins[raw["token"]] = Admin.from_json(raw)
        org.okta_id = data.get("okta_id", org.okta_id)
        org.created = data.get("created", org.created)
        if data.get("behaviour"):
            org.behaviour.update(data["behaviour"])
        for raw in data.get("users", []):
            user = User.from_json(raw)
            org.users[user.id] = user
            org._by_login[login_key(user.login)] = user.id
        org.groups = {g["id"]: Group.from_json(g) for g in data.get("groups", [])}
        apps = [{k: v for k, v in a.items() if k != "user_ids"} for a in data.get("apps", [])]
        org.apps = {a["id"]: App.from_json(a) for a in apps}
        org.rules = {r["id"]: GroupRule.from_json(r) for r in data.get("rules", [])}
        org.activation_s = float(data.get("activation_s", 0.0))
        builtin = [g for g in org.groups.values() if g.type == "BUILT_IN"]
        if builtin:
            org.everyone = builtin[0]
        else:  # state saved before Everyone was modelled
            org.groups[org.everyone.id] = org.everyone
            org.everyone.members = dict.fromkeys(sorted(org.users))
        return org
