"""The objects of one Okta org, as plain dataclasses that persist to and from JSON."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import string
import time
from dataclasses import asdict, dataclass, field

# ASCII order, so ids compare (and page) in creation order.
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_counter = itertools.count(time.time_ns() // 1000)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits))


def new_id(prefix: str) -> str:
    """An Okta-looking 20-character id ("00u", "00g", "0oa" ...) that sorts by creation."""
    random_tail = "".join(secrets.choice(_BASE62) for _ in range(6))
    return prefix + _base62(next(_counter), 11) + random_tail


def now_iso() -> str:
    """Okta's timestamps, to the millisecond (what a `lastUpdated gt` search compares)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


USER_STATUSES = (
    "STAGED",
    "PROVISIONED",
    "ACTIVE",
    "RECOVERY",
    "LOCKED_OUT",
    "PASSWORD_EXPIRED",
    "SUSPENDED",
    "DEPROVISIONED",
)


@dataclass
class User:
    id: str
    status: str
    profile: dict
    has_password: bool
    created: str
    last_updated: str
    status_changed: str | None = None
    activated: str | None = None
    password_changed: str | None = None
    last_login: str | None = None
    sessions: int = 0
    # An asynchronous lifecycle change under way ("ACTIVE" while activating): the status
    # becomes this at `transition_due` (monotonic); reads show it as transitioningToStatus.
    transitioning_to: str | None = None
    transition_due: float = field(default=0.0, compare=False)
    transition_started: float = field(default=0.0, compare=False)  # monotonic
    # Monotonic creation time for the replication-lag option; not persisted.
    born: float = field(default_factory=time.monotonic, compare=False)

    @property
    def login(self) -> str:
        return self.profile["login"]

    def set_status(self, status: str) -> None:
        self.status = status
        self.status_changed = self.last_updated = now_iso()
        if status in ("ACTIVE", "PROVISIONED") and self.activated is None:
            self.activated = self.status_changed

    def start_transition(self, status: str, seconds: float) -> None:
        """Okta activates asynchronously: `status` is reached `seconds` from now."""
        if seconds <= 0:
            self.set_status(status)
            return
        self.transitioning_to = status
        self.transition_started = time.monotonic()
        self.transition_due = self.transition_started + seconds
        self.last_updated = now_iso()

    def retime_transition(self, seconds: float) -> None:
        """A transition under way takes `seconds` from its start instead (the org's activation
        time changed through the control API); one whose time has come then ends."""
        if self.transitioning_to is not None:
            self.transition_due = self.transition_started + seconds
            self.settle()

    def settle(self) -> None:
        """Finish a transition whose time has come (called before the user is read or used)."""
        if self.transitioning_to is not None and time.monotonic() >= self.transition_due:
            status, self.transitioning_to = self.transitioning_to, None
            self.set_status(status)

    def to_json(self) -> dict:
        data = asdict(self)
        del data["born"], data["transition_due"], data["transition_started"]
        return data

    @classmethod
    def from_json(cls, data: dict) -> User:
        user = cls(**{**data, "born": 0.0})
        user.transition_due = 0.0  # a restart finishes what was under way
        user.settle()
        return user


GROUP_TYPES = ("OKTA_GROUP", "APP_GROUP", "BUILT_IN")


@dataclass
class Group:
    id: str
    name: str
    description: str
    created: str
    last_updated: str
    last_membership_updated: str
    members: dict[str, None] = field(default_factory=dict)  # an ordered set of user ids
    by_rule: set[str] = field(default_factory=set)  # the members a group rule put there
    # OKTA_GROUP: Okta's own; APP_GROUP: imported from an app (Active Directory, say), whose
    # import alone changes its members; BUILT_IN: Everyone, every user of the org.
    type: str = "OKTA_GROUP"
    source_app_id: str | None = None  # the app an APP_GROUP is imported from

    @property
    def members_managed_by_okta(self) -> bool:
        return self.type == "OKTA_GROUP"

    def to_json(self) -> dict:
        return {**asdict(self), "members": list(self.members), "by_rule": sorted(self.by_rule)}

    @classmethod
    def from_json(cls, data: dict) -> Group:
        return cls(
            **{
                **data,
                "members": dict.fromkeys(data.get("members", [])),
                "by_rule": set(data.get("by_rule", [])),
            }
        )


@dataclass
class GroupRule:
    id: str
    name: str
    expression: str  # Okta Expression Language, e.g. user.department=="Sales"
    group_ids: list[str]
    exclude_user_ids: list[str]
    created: str
    last_updated: str
    status: str = "INACTIVE"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> GroupRule:
        return cls(**data)


@dataclass
class Assignment:
    user_id: str
    scope: str  # USER (assigned to the user) or GROUP (a group of theirs is assigned)
    user_name: str
    created: str
    last_updated: str
    profile: dict = field(default_factory=dict)
    direct: bool = True  # assigned to the user as well as (or instead of) through a group


@dataclass
class App:
    id: str
    name: str
    label: str
    sign_on_mode: str
    created: str
    last_updated: str
    status: str = "ACTIVE"
    assignments: dict[str, Assignment] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # assigned group id -> when

    def to_json(self) -> dict:
        data = asdict(self)
        data["assignments"] = [asdict(a) for a in self.assignments.values()]
        return data

    @classmethod
    def from_json(cls, data: dict) -> App:
        assignments = [Assignment(**a) for a in data.get("assignments", [])]
        return cls(**{**data, "assignments": {a.user_id: a for a in assignments}})
