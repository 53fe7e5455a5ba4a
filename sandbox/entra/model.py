"""One emulated Entra ID directory: users, groups, SKUs, service principals, app registrations.

User and group properties are kept as Graph property dicts so that `$select`, `$filter` and
PATCH work on them directly. Every change goes through the tenant's methods (`touch`,
`add_member`, ...), which number it and record it in the change log that delta queries read
(sandbox/entra/changes.py).
"""

from __future__ import annotations

import bisect
import datetime as dt
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.behaviour import Behaviour, BehaviourSettings, Stats
from sandbox.entra.access_token import access_token
from sandbox.entra.changes import ALL, ChangeLog
from sandbox.entra.role_state import RoleState
from sandbox.entra.rules import matches_rule

TOKEN_LIFETIME_S = 3600
SOFT_DELETE_DAYS = 30
# "Delta tokens are only valid for a specific period ... For directory objects, the limit is
# seven days." (Graph, delta-query-overview, Token duration)
DELTA_TOKEN_LIFETIME_S = 7 * 86400
# Subscriptions that include Microsoft Entra ID P1 or P2, which signInActivity needs
# ("Details for this property require a Microsoft Entra ID P1 or P2 license", user resource).
PREMIUM_SKUS = frozenset(
    {"AAD_PREMIUM", "AAD_PREMIUM_P2", "EMS", "EMSPREMIUM", "SPE_E3", "SPE_E5", "SPB"}
)
DEFAULT_ACCESS_ROLE = "00000000-0000-0000-0000-000000000000"
# The longest a client secret may live when added in the Entra admin center (24 months).
SECRET_LIFETIME_DAYS = 730
ALL_PERMISSIONS = [
    "User.ReadWrite.All",
    "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All",
    "Directory.ReadWrite.All",
    "Organization.Read.All",
    "Application.Read.All",
    "AppRoleAssignment.ReadWrite.All",
    "AuditLog.Read.All",  # users' signInActivity
    "RoleManagement.ReadWrite.Directory",  # directory roles and PIM (sandbox/entra/roles.py)
    "AdministrativeUnit.ReadWrite.All",  # administrative units (admin_units.py)
    "MailboxSettings.ReadWrite",  # automatic replies, inbox rules (sandbox/entra/mail.py)
    "Files.ReadWrite.All",  # OneDrive sharing (sandbox/entra/drive.py)
    "UserAuthenticationMethod.ReadWrite.All",  # Temporary Access Passes (sandbox/entra/tap.py)
]


# Called after a user joins or leaves a group (by hand or by rule), once the membership is
# in place: (tenant, group, user id). Group-based licensing registers here (group_licences.py).
MEMBERSHIP_HOOKS: list[Callable[[EntraTenant, Group, str], None]] = []


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unset_properties() -> dict[str, Any]:
    """A new user's optional properties as Graph answers them before anyone sets them (user
    resource: null, and an empty businessPhones collection), fresh for each user."""
    return {
        "businessPhones": [],
        "givenName": None,
        "surname": None,
        "jobTitle": None,
        "mail": None,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "department": None,
        "usageLocation": None,
        "employeeId": None,
        "companyName": None,
    }


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class AppRegistration:
    client_id: str
    client_secret: str
    display_name: str = "MSP provisioning portal"
    permissions: list[str] = field(default_factory=lambda: list(ALL_PERMISSIONS))
    certificates: list[str] = field(default_factory=list)  # PEM, for client assertions
    object_id: str = field(default_factory=lambda: new_id())  # the application's own id
    # Graph's passwordCredentials (sandbox/entra/applications.py): the secret in use gets one
    # when the app is made; the control API moves its endDateTime or adds others.
    password_credentials: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.client_secret and not self.password_credentials:
            self.password_credentials.append(in_use_credential(self.client_secret))

    def secret_has_expired(self, now: dt.datetime | None = None) -> bool:
        """The secret the app signs in with ended (its passwordCredential's endDateTime)."""
        now = now or dt.datetime.now(dt.UTC)
        hint = self.client_secret[:3]
        for credential in self.password_credentials:
            if credential["hint"] == hint and credential.get("endDateTime"):
                end = dt.datetime.fromisoformat(credential["endDateTime"].replace("Z", "+00:00"))
                return end <= now
        return False


def in_use_credential(secret: str, end: str | None = None) -> dict:
    """A passwordCredential for `secret`: the hint is its first three characters (Graph)."""
    now = dt.datetime.now(dt.UTC)
    default_end = now + dt.timedelta(days=SECRET_LIFETIME_DAYS)
    return {
        "customKeyIdentifier": None,
        "displayName": "Provisioning portal",
        "endDateTime": end or default_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hint": secret[:3],
        "keyId": new_id(),
        "secretText": None,
        "startDateTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@dataclass
class Sku:
    sku_id: str
    sku_part_number: str
    enabled: int

    def to_json(self) -> dict:
        return {
            "skuId": self.sku_id,
            "skuPartNumber": self.sku_part_number,
            "enabled": self.enabled,
        }


STATES = "licenseAssignmentStates"  # group_licences.py


def direct_of(user: User) -> dict[str, list[str]]:
    """The user's direct licence assignments: SKU id -> disabled plan ids."""
    states = user.props.get(STATES)
    held = user.props.get("assignedLicenses") or []
    if states is None:  # seeded or generated users: everything they hold is direct
        return {lic["skuId"]: list(lic.get("disabledPlans") or []) for lic in held}
    return {
        s["skuId"]: list(s.get("disabledPlans") or [])
        for s in states
        if s.get("assignedByGroup") is None
    }


@dataclass
class User:
    props: dict[str, Any]
    password: str = ""
    seq: int = 0  # the tenant's change counter at this user's last change (for delta)
    deleted_at: float | None = None  # epoch seconds of the soft delete
    created_mono: float = 0.0  # monotonic creation time, for replication lag
    changed: dict[str, int] = field(default_factory=dict)  # property -> seq of its last change
    dynamic: set[str] = field(default_factory=set)  # the rule-based groups it is in now
    manager_id: str | None = None  # sandbox/entra/manager.py
    mailbox: dict = field(default_factory=dict)  # settings and inbox rules (mail.py)
    drive_permissions: list[dict] = field(default_factory=list)  # OneDrive root (drive.py)

    @property
    def id(self) -> str:
        return self.props["id"]

    def to_json(self) -> dict:
        return {
            "props": self.props,
            "password": self.password,
            "seq": self.seq,
            "deleted_at": self.deleted_at,
            "changed": self.changed,
            "manager_id": self.manager_id,
            "mailbox": self.mailbox,
            "drive_permissions": self.drive_permissions,
        }

    @classmethod
    def from_json(cls, data: dict) -> User:
        user = cls(
            data["props"], data.get("password", ""), data.get("seq", 0), data.get("deleted_at")
        )
        user.changed = dict(data.get("changed") or {ALL: user.seq})
        user.manager_id = data.get("manager_id")
        user.mailbox = dict(data.get("mailbox") or {})
        user.drive_permissions = list(data.get("drive_permissions") or [])
        return user


@dataclass
class Group:
    props: dict[str, Any]
    members: dict[str, None] = field(default_factory=dict)  # static member ids, an ordered set
    created_mono: float = 0.0
    seq: int = 0  # the tenant's change counter at this group's last change (for delta)
    changed: dict[str, int] = field(default_factory=dict)  # property -> seq of its last change
    deleted_at: float | None = None  # epoch seconds of a Microsoft 365 group's soft delete

    @property
    def id(self) -> str:
        return self.props["id"]

    @property
    def rule(self) -> str | None:
        if "DynamicMembership" in (self.props.get("groupTypes") or []):
            return self.props.get("membershipRule")
        return None

    def to_json(self) -> dict:
        return {
            "props": self.props,
            "members": list(self.members),
            "seq": self.seq,
            "changed": self.changed,
            "deleted_at": self.deleted_at,
        }

    @property
    def unified(self) -> bool:
        return "Unified" in (self.props.get("groupTypes") or [])

    @classmethod
    def from_json(cls, data: dict) -> Group:
        group = cls(data["props"], dict.fromkeys(data.get("members", [])))
        group.seq = data.get("seq", 0)
        group.deleted_at = data.get("deleted_at")
        group.changed = dict(data.get("changed") or {ALL: group.seq})
        return group


@dataclass
class ServicePrincipal:
    id: str
    app_id: str
    display_name: str
    app_roles: list[dict]

    def to_graph(self) -> dict:
        return {
            "id": self.id,
            "appId": self.app_id,
            "displayName": self.display_name,
            "servicePrincipalType": "Application",
            "accountEnabled": True,
            "appRoleAssignmentRequired": True,
            "appRoles": self.app_roles,
        }

    def role(self, role_id: str) -> dict | None:
        if role_id == DEFAULT_ACCESS_ROLE:
            return {"id": role_id, "value": None, "displayName": "Default Access"}
        return next((r for r in self.app_roles if r["id"] == role_id), None)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "app_id": self.app_id,
            "display_name": self.display_name,
            "app_roles": self.app_roles,
        }

    @classmethod
    def from_json(cls, data: dict) -> ServicePrincipal:
        return cls(data["id"], data["app_id"], data["display_name"], data["app_roles"])


@dataclass
class AppRoleAssignment:
    id: str
    app_role_id: str
    principal_id: str
    resource_id: str
    created: str

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> AppRoleAssignment:
        return cls(**data)


@dataclass
class Token:
    client_id: str
    expires_at: float


class EntraTenant:
    def __init__(self, tenant_id: str, display_name: str, domains: list[str]) -> None:
        self.id = tenant_id
        self.display_name = display_name
        self.domains = domains  # verified; the first is the default
        # Verified domains whose authenticationType is Federated (sign-in at an on-premises
        # identity provider), and domains added but not verified: settings.py.
        self.federated_domains: list[str] = []
        self.unverified_domains: list[str] = []
        self.apps: dict[str, AppRegistration] = {}
        self.skus: dict[str, Sku] = {}
        self.users: dict[str, User] = {}
        self.upn_index: dict[str, str] = {}  # lower-case UPN -> user id
        self.groups: dict[str, Group] = {}
        self.rule_groups: dict[str, Group] = {}  # the dynamic ones among them
        self.deleted_groups: dict[str, Group] = {}  # Microsoft 365 groups, restorable 30 days
        self.service_principals: dict[str, ServicePrincipal] = {}
        self.assignments: dict[str, AppRoleAssignment] = {}
        self.tokens: dict[str, Token] = {}
        self.seq = 0
        # When each change since `seq_clock_base` was made (monotonic), for replication lag.
        self.seq_clock: list[float] = []
        self.seq_clock_base = 0
        self.token_lifetime_s = TOKEN_LIFETIME_S
        self.behaviour = Behaviour()
        self.stats = Stats()
        self.changes = ChangeLog(self.users)
        self.premium: bool | None = None  # None: the subscribed SKUs decide (PREMIUM_SKUS)
        self.delta_token_lifetime_s = DELTA_TOKEN_LIFETIME_S
        self.delta_secret = secrets.token_bytes(32)  # signs this tenant's delta state tokens
        # Delta tokens issued before these moments (epoch seconds) are refused: expired
        # (400 syncStateNotFound) or reset by "maintenance" (410 resyncRequired).
        self.delta_expired_before = 0.0
        self.delta_resync_before = 0.0
        self.delta_rounds: dict[str, Any] = {}  # open delta rounds (sandbox/entra/delta.py)
        self.roles = RoleState()  # directory roles, PIM, administrative units (roles.py)
        # (group id, user id) -> (monotonic time, added): the latest membership changes, for
        # `read_lag_ms` (stale_groups_of); not saved, as a replica catches up in seconds.
        self.member_writes: dict[tuple[str, str], tuple[float, bool]] = {}

    # Look-ups -------------------------------------------------------------------------------

    def is_verified_domain(self, domain: str) -> bool:
        return domain.lower() in (d.lower() for d in self.domains)

    def is_federated_domain(self, domain: str) -> bool:
        return domain.lower() in self.federated_domains

    def has_premium(self) -> bool:
        """Whether the tenant holds Microsoft Entra ID P1/P2, as signInActivity requires."""
        if self.premium is not None:
            return self.premium
        return any(s.sku_part_number in PREMIUM_SKUS and s.enabled > 0 for s in self.skus.values())

    def live_user(self, key: str) -> User | None:
        """A user that is not deleted, by id or userPrincipalName."""
        user = self.users.get(key) or self.users.get(self.upn_index.get(key.lower(), ""))
        if user is None or user.deleted_at is not None:
            return None
        return user

    def live_users(self) -> list[User]:
        return [u for u in self.users.values() if u.deleted_at is None]

    def deleted_user(self, user_id: str) -> User | None:
        self.purge_expired()
        user = self.users.get(user_id)
        return user if user is not None and user.deleted_at is not None else None

    def purge_expired(self) -> None:
        cutoff = time.time() - SOFT_DELETE_DAYS * 86400
        for user in [u for u in self.users.values() if u.deleted_at and u.deleted_at < cutoff]:
            self.hard_delete(user)
        for group in [g for g in self.deleted_groups.values() if (g.deleted_at or 0) < cutoff]:
            self.purge_group(group)

    def group_members(self, group: Group) -> list[User]:
        if group.rule is not None:
            return [u for u in self.live_users() if group.id in u.dynamic]
        found = (self.users.get(uid) for uid in group.members)
        return [u for u in found if u is not None and u.deleted_at is None]

    def groups_of(self, user: User) -> list[Group]:
        """The groups of a user; a soft-deleted user keeps its static ones (for a restore)."""
        return [
            g
            for g in self.groups.values()
            if (g.id in user.dynamic if g.rule is not None else user.id in g.members)
        ]

    def stale_groups_of(self, user: User) -> list[Group]:
        """The groups of a user as a lagging replica reads them (`read_lag_ms`): a membership
        added or removed less than that ago reads as it was before. Microsoft, "Designing for
        Eventual Consistency for Microsoft Entra" (devblogs.microsoft.com/identity, 2026): a
        write to a group membership "is accepted first and replicated asynchronously across
        directory replicas", and meanwhile "a read request [may] not return the latest data"
        (a successful write "does not guarantee that an immediate read will reflect" it)."""
        groups = self.groups_of(user)
        lag_s = self.behaviour.settings.read_lag_ms / 1000
        if lag_s <= 0 or not self.member_writes:
            return groups
        now = time.monotonic()
        before = {
            group_id: held
            for (group_id, user_id), (at, held) in self.member_writes.items()
            if user_id == user.id and now - at < lag_s
        }
        stale = [g for g in groups if before.get(g.id, True)]
        shown = {g.id for g in stale}
        return stale + [
            self.groups[group_id]
            for group_id, held in before.items()
            if held and group_id in self.groups and group_id not in shown
        ]

    def _note_member_write(self, group_id: str, user_id: str, *, added: bool) -> None:
        """Remember what a lagging replica shows of the membership: as it was before the
        first of the writes it has not caught up with, until `read_lag_ms` after the last."""
        lag_s = self.behaviour.settings.read_lag_ms / 1000
        if lag_s <= 0:
            return
        now = time.monotonic()
        previous = self.member_writes.get((group_id, user_id))
        held = previous[1] if previous is not None and now - previous[0] < lag_s else not added
        self.member_writes[(group_id, user_id)] = (now, held)

    def consumed(self, sku_id: str) -> int:
        return sum(
            1
            for u in self.live_users()
            if any(lic["skuId"] == sku_id for lic in u.props.get("assignedLicenses", []))
        )

    def assignments_of_user(self, user_id: str) -> list[AppRoleAssignment]:
        return [a for a in self.assignments.values() if a.principal_id == user_id]

    def assignments_to(self, sp_id: str) -> list[AppRoleAssignment]:
        return [a for a in self.assignments.values() if a.resource_id == sp_id]

    # Changes --------------------------------------------------------------------------------

    def next_seq(self) -> int:
        """The number of a new change."""
        self.seq += 1
        self.seq_clock.append(time.monotonic())
        return self.seq

    def settled_seq(self) -> int:
        """The last change older than the replication lag: what delta may show yet."""
        lag_ms = self.behaviour.settings.replication_lag_ms
        if lag_ms <= 0:
            return self.seq
        cutoff = time.monotonic() - lag_ms / 1000
        return self.seq_clock_base + bisect.bisect_right(self.seq_clock, cutoff)

    def touch(self, user: User, *names: str) -> None:
        """Record a change of `names` (all properties when none are named) of a user."""
        user.seq = self.next_seq()
        for name in names or (ALL,):
            user.changed[name] = self.seq
        self.changes.user_changed(self.seq, user.id)
        self._follow_rules(user)
        self.changes.compact()

    def _follow_rules(self, user: User) -> None:
        """Rule-based groups follow a user's properties (at once; Entra takes minutes)."""
        now = {
            g.id
            for g in self.rule_groups.values()
            if user.deleted_at is None and matches_rule(g.rule or "", user.props)
        }
        joined, left, user.dynamic = now - user.dynamic, user.dynamic - now, now
        for group_id in joined:
            self._member_changed(self.groups[group_id], user.id, added=True)
        for group_id in left:
            self._member_changed(self.groups[group_id], user.id, added=False)

    def touch_group(self, group: Group, *names: str) -> int:
        group.seq = self.next_seq()
        for name in names or (ALL,):
            group.changed[name] = self.seq
        return self.seq

    def _member_changed(self, group: Group, user_id: str, added: bool) -> None:
        self.changes.member(self.touch_group(group, "members"), group.id, user_id, added)
        for hook in MEMBERSHIP_HOOKS:
            hook(self, group, user_id)

    def add_group(self, group: Group) -> None:
        self.groups[group.id] = group
        self.touch_group(group)
        if group.rule is not None:
            self.rule_groups[group.id] = group
            self.apply_rule(group)

    def apply_rule(self, group: Group) -> None:
        """Evaluate a (new or changed) membership rule for every live user."""
        for user in self.live_users():
            inside = matches_rule(group.rule or "", user.props)
            if inside != (group.id in user.dynamic):
                (user.dynamic.add if inside else user.dynamic.discard)(group.id)
                self._member_changed(group, user.id, added=inside)

    def delete_group(self, group: Group) -> None:
        """A Microsoft 365 group goes to the deleted items for 30 days, with its members;
        security groups and distribution lists go for good (group-delete.md)."""
        del self.groups[group.id]
        self.rule_groups.pop(group.id, None)
        self.changes.deleted_groups[group.id] = self.next_seq()
        if group.rule is not None:
            for user in self.users.values():
                user.dynamic.discard(group.id)
        if group.unified:
            group.deleted_at = time.time()
            self.deleted_groups[group.id] = group

    def deleted_group(self, group_id: str) -> Group | None:
        self.purge_expired()
        return self.deleted_groups.get(group_id)

    def restore_group(self, group: Group) -> None:
        del self.deleted_groups[group.id]
        self.changes.deleted_groups.pop(group.id, None)
        group.deleted_at = None
        self.add_group(group)
        for user_id in group.members:  # back with its members, as a restored user is
            user = self.users.get(user_id)
            if user is not None and user.deleted_at is None:
                self._member_changed(group, user_id, added=True)

    def purge_group(self, group: Group) -> None:
        del self.deleted_groups[group.id]
        self.changes.deleted_groups[group.id] = self.next_seq()

    def add_member(self, group: Group, user: User) -> None:
        group.members[user.id] = None
        self._note_member_write(group.id, user.id, added=True)
        if user.deleted_at is None:
            self._member_changed(group, user.id, added=True)

    def remove_member(self, group: Group, user_id: str) -> None:
        del group.members[user_id]
        self._note_member_write(group.id, user_id, added=False)
        self._member_changed(group, user_id, added=False)

    def add_user(self, props: dict[str, Any], password: str) -> User:
        user = User(props=props, password=password, created_mono=time.monotonic())
        self.users[user.id] = user
        self.upn_index[props["userPrincipalName"].lower()] = user.id
        self.touch(user)
        return user

    def rename_upn(self, user: User, new_upn: str) -> None:
        self.upn_index.pop(user.props["userPrincipalName"].lower(), None)
        user.props["userPrincipalName"] = new_upn
        self.upn_index[new_upn.lower()] = user.id

    def soft_delete(self, user: User) -> None:
        """Deleted users leave their groups (delta reports it); a restore brings them back."""
        user.deleted_at = time.time()
        self.upn_index.pop(user.props["userPrincipalName"].lower(), None)
        for group in self.groups.values():
            if user.id in group.members:
                self._member_changed(group, user.id, added=False)
        self.touch(user)

    def restore(self, user: User) -> None:
        user.deleted_at = None
        self.upn_index[user.props["userPrincipalName"].lower()] = user.id
        for group in self.groups.values():
            if user.id in group.members:
                self._member_changed(group, user.id, added=True)
        self.touch(user)

    def hard_delete(self, user: User) -> None:
        self.users.pop(user.id, None)
        self.upn_index.pop(user.props["userPrincipalName"].lower(), None)
        for group in self.groups.values():
            group.members.pop(user.id, None)
        for assignment in self.assignments_of_user(user.id):
            del self.assignments[assignment.id]
        self.roles.forget(user.id)
        for report in self.users.values():
            if report.manager_id == user.id:
                report.manager_id = None
        self.changes.user_purged(self.next_seq(), user.id)

    def issue_token(self, client_id: str, lifetime_s: int = TOKEN_LIFETIME_S) -> str:
        now = time.time()
        for key in [k for k, t in self.tokens.items() if t.expires_at < now]:
            del self.tokens[key]
        token = access_token(self, client_id, now, lifetime_s)  # a JWT, as Entra issues
        self.tokens[token] = Token(client_id, now + lifetime_s)
        return token

    # Control API and persistence ------------------------------------------------------------

    def to_state(self) -> dict:
        skus = {s.sku_id: s for s in self.skus.values()}
        sps = self.service_principals

        def user_state(user: User) -> dict:
            props = {k: v for k, v in user.props.items() if k != "assignedLicenses"}
            licences = [lic["skuId"] for lic in user.props.get("assignedLicenses", [])]
            return {
                **props,
                "deleted": user.deleted_at is not None,
                "licenses": [skus[s].sku_part_number if s in skus else s for s in licences],
                "groups": [g.props["displayName"] for g in self.groups_of(user)],
                "appRoleAssignments": [
                    {
                        "id": a.id,
                        "app": sps[a.resource_id].display_name if a.resource_id in sps else None,
                        "resourceId": a.resource_id,
                        "appRoleId": a.app_role_id,
                    }
                    for a in self.assignments_of_user(user.id)
                ],
            }

        return {
            "kind": "entra",
            "id": self.id,
            "displayName": self.display_name,
            "domains": self.domains,
            "apps": [
                {
                    "clientId": a.client_id,
                    "displayName": a.display_name,
                    "permissions": a.permissions,
                }
                for a in self.apps.values()
            ],
            "behaviour": self.behaviour.as_dict(),
            "users": [user_state(u) for u in self.users.values()],
            "groups": [
                {
                    **g.props,
                    "members": [u.props["userPrincipalName"] for u in self.group_members(g)],
                }
                for g in self.groups.values()
            ],
            "subscribedSkus": [
                {**s.to_json(), "consumed": self.consumed(s.sku_id)} for s in self.skus.values()
            ],
            "servicePrincipals": [
                {
                    **sp.to_graph(),
                    "assignedTo": [a.principal_id for a in self.assignments_to(sp.id)],
                }
                for sp in sps.values()
            ],
            **self.roles.to_state(self.principal_name),
        }

    def principal_name(self, principal_id: str) -> str:
        """A user's UPN, or "app:<client id>" for a calling app's service principal."""
        user = self.users.get(principal_id)
        if user is not None:
            return user.props["userPrincipalName"]
        apps = self.roles.app_principals
        return next((f"app:{c}" for c, sp in apps.items() if sp == principal_id), principal_id)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "domains": self.domains,
            "apps": [a.__dict__ for a in self.apps.values()],
            "skus": [s.to_json() for s in self.skus.values()],
            "users": [u.to_json() for u in self.users.values()],
            "groups": [g.to_json() for g in self.groups.values()],
            "deleted_groups": [g.to_json() for g in self.deleted_groups.values()],
            "service_principals": [sp.to_json() for sp in self.service_principals.values()],
            "assignments": [a.to_json() for a in self.assignments.values()],
            "tokens": {k: t.__dict__ for k, t in self.tokens.items()},
            "seq": self.seq,
            "token_lifetime_s": self.token_lifetime_s,
            "behaviour": self.behaviour.as_dict(),
            "premium": self.premium,
            "federated_domains": self.federated_domains,
            "unverified_domains": self.unverified_domains,
            "delta_token_lifetime_s": self.delta_token_lifetime_s,
            "delta_secret": self.delta_secret.hex(),
            "delta_expired_before": self.delta_expired_before,
            "delta_resync_before": self.delta_resync_before,
            "changes": self.changes.to_json(),
            "roles": self.roles.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict) -> EntraTenant:
        tenant = cls(data["id"], data["display_name"], data["domains"])
        tenant.apps = {a["client_id"]: AppRegistration(**a) for a in data.get("apps", [])}
        tenant.skus = {
            s["skuId"]: Sku(s["skuId"], s["skuPartNumber"], s["enabled"])
            for s in data.get("skus", [])
        }
        for item in data.get("users", []):
            user = User.from_json(item)
            tenant.users[user.id] = user
            if user.deleted_at is None:
                tenant.upn_index[user.props["userPrincipalName"].lower()] = user.id
        tenant.groups = {g.id: g for g in map(Group.from_json, data.get("groups", []))}
        tenant.rule_groups = {g.id: g for g in tenant.groups.values() if g.rule is not None}
        tenant.deleted_groups = {
            g.id: g for g in map(Group.from_json, data.get("deleted_groups", []))
        }
        for user in tenant.live_users():
            user.dynamic = {
                g.id for g in tenant.rule_groups.values() if matches_rule(g.rule or "", user.props)
            }
        tenant.changes = ChangeLog.from_json(data.get("changes", {}), tenant.users)
        tenant.roles = RoleState.from_json(data.get("roles") or {})
        tenant.premium = data.get("premium")
        tenant.federated_domains = data.get("federated_domains", [])
        tenant.unverified_domains = data.get("unverified_domains", [])
        tenant.delta_token_lifetime_s = data.get("delta_token_lifetime_s", DELTA_TOKEN_LIFETIME_S)
        if data.get("delta_secret"):
            tenant.delta_secret = bytes.fromhex(data["delta_secret"])
        tenant.delta_expired_before = data.get("delta_expired_before", 0.0)
        tenant.delta_resync_before = data.get("delta_resync_before", 0.0)
        tenant.service_principals = {
            sp.id: sp for sp in map(ServicePrincipal.from_json, data.get("service_principals", []))
        }
        tenant.assignments = {
            a.id: a for a in map(AppRoleAssignment.from_json, data.get("assignments", []))
        }
        tenant.tokens = {k: Token(**t) for k, t in data.get("tokens", {}).items()}
        tenant.seq = tenant.seq_clock_base = data.get("seq", 0)
        tenant.token_lifetime_s = data.get("token_lifetime_s", TOKEN_LIFETIME_S)
        tenant.behaviour = Behaviour(BehaviourSettings(**data.get("behaviour", {})))
        return tenant
