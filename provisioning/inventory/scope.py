"""Which accounts of a tenant's directories the portal may manage: the tenant's scope rules
over the inventory's rows, a preview of what a change of rules would do, and the answer the
engine asks before it touches an account (`protected_reason`).

An account is in scope when it passes every rule that is set (an empty list asks nothing)
and matches no excluded pattern; a deleted account is out. Out-of-scope accounts are never
changed by the portal. An account that leaves scope is left as it is unless the tenant says
otherwise: Entra's provisioning skips out-of-scope deletions the same way
(https://learn.microsoft.com/entra/identity/app-provisioning/skip-out-of-scope-deletions).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from django.db import transaction
from django.db.models import Count, Q

from portal import kept_sql
from portal.audit.events import record
from provisioning.engine import memo
from provisioning.inventory import matching
from provisioning.inventory.models import Account, Person, Policy
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, DirectoryAccount, Identity
from tenants.models import Tenant

DEFAULT_USER_TYPES = ["Member"]
DEFAULT_EXCLUDED_PATTERNS = [
    "svc-*",
    "svc_*",
    "*-svc",
    "admin-*",
    "*-admin",
    "breakglass*",
    "shared-*",
    "noreply*",
    "sync_*",
    "On-Premises Directory Synchronization*",
    # Meeting rooms' accounts (Zoom Rooms, Teams Rooms, room mailboxes) are devices', not
    # people's: adopting one made a "person" of a boardroom.
    "*zoomroom*",
    "room-*",
    "mtr-*",
]
MATCH_FIELDS = ["match_on", "match_attribute"]
RULE_FIELDS = [
    "user_types",
    "domains",
    "departments",
    "groups",
    "enabled_only",
    "excluded_patterns",
    "out_of_scope_action",
]
POLICY_FIELDS = [*MATCH_FIELDS, *RULE_FIELDS, "auto_converge", "stale_after_days"]
SAMPLES = 10
CHUNK = 2000
WRITE_BATCH = 500
REASON_LENGTH = Account._meta.get_field("scope_reason").max_length
# What the rules read of an account, and what a change writes.
SCANNED = [
    "pk",
    "connection_id",
    "remote_id",
    "username",
    "display_name",
    "user_type",
    "department",
    "group_ids",
    "enabled",
    "deleted",
    "in_scope",
    "scope_reason",
    "person_id",
]
# What the rules alone judge (the engine's question): no deletion, no stored verdict.
JUDGED = ["tenant", "username", "display_name", "user_type", "department", "group_ids", "enabled"]
STILL_MANAGED = (Identity.Status.JOINER, Identity.Status.ACTIVE)
LEAVING = (Identity.Status.LEAVER, Identity.Status.LEFT, Identity.Status.DELETED)


def default_rules() -> dict:
    return {
        "user_types": list(DEFAULT_USER_TYPES),
        "excluded_patterns": list(DEFAULT_EXCLUDED_PATTERNS),
    }


def policy_of(tenant: Tenant) -> Policy:
    """The tenant's policy, created with the defaults on first use."""
    policy, _ = Policy.objects.get_or_create(tenant=tenant, defaults=default_rules())
    return policy


def current_policy(tenant: Tenant | int) -> Policy:
    """The tenant's policy, or the defaults unsaved (for a read: no write on a page's GET or
    on the engine's path)."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    # In an engine run, as the run's claim read it with the job (apps.py, memo.tenant_row).
    stored = memo.tenant_row(
        "inventory_policy", tenant_id, lambda: Policy.objects.filter(tenant_id=tenant_id).first()
    )
    return stored or Policy(tenant_id=tenant_id, **default_rules())


# -- the rules --------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _excluded(patterns: tuple[str, ...]) -> re.Pattern | None:
    """One expression for every pattern, a named group each: one match per name says whether
    any pattern matches and which. Kept per patterns (a policy's are read on every job's
    verifying read; translating them again was most of `Rules.of`)."""
    if not patterns:
        return None
    joined = "|".join(
        f"(?P<p{i}>{fnmatch.translate(p.casefold())})" for i, p in enumerate(patterns)
    )
    return re.compile(joined, re.DOTALL)


def _folded(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().casefold() for v in values if v and v.strip())


@dataclass(frozen=True)
class Rules:
    """A policy's scope rules, folded and compiled once for a run over many accounts."""

    user_types: frozenset[str]
    domains: frozenset[str]
    departments: frozenset[str]
    group_ids: frozenset[str]
    enabled_only: bool
    patterns: tuple[str, ...]
    excluded: re.Pattern | None

    @classmethod
    def of(cls, policy: Policy) -> Rules:
        patterns = tuple(p for p in policy.excluded_patterns if p)
        return cls(
            user_types=_folded(policy.user_types),
            domains=_folded(policy.domains),
            departments=_folded(policy.departments),
            group_ids=frozenset(g["id"] for g in policy.groups if g.get("id")),
            enabled_only=policy.enabled_only,
            patterns=patterns,
            excluded=_excluded(patterns),
        )

    def reason_out(self, account) -> str:
        """Why the account is out of scope by the rules alone; "" when it is in."""
        pattern = self.excluded_by(account)
        if pattern:
            return f"matches excluded pattern {pattern}"
        user_type = (account.user_type or "").casefold()
        if self.user_types and user_type and user_type not in self.user_types:
            return f"user type {account.user_type} is not in scope"
        domain = domain_of(account.username)
        if self.domains and domain not in self.domains:
            return f"domain {domain or '(none)'} is not in scope"
        department = (account.department or "").strip().casefold()
        if self.departments and department not in self.departments:
            return f"department {account.department or '(none)'} is not in scope"
        if self.group_ids and not self.group_ids.intersection(account.group_ids or ()):
            return "in none of the groups in scope"
        if self.enabled_only and not account.enabled:
            return "sign-in is blocked"
        return ""

    def excluded_by(self, account) -> str:
        if self.excluded is None:
            return ""
        for name in _names(account):
            found = self.excluded.match(name.casefold()) if name else None
            if found:
                return self.patterns[int(found.lastgroup[1:])]
        return ""


def domain_of(username: str) -> str:
    _, at, domain = (username or "").rpartition("@")
    return domain.casefold() if at else ""


def _names(account) -> tuple[str, str, str]:
    """Username, its local part and display name: what the excluded patterns look at."""
    username = account.username or ""
    return username, username.partition("@")[0], account.display_name or ""


def _verdict(rules: Rules, account) -> tuple[bool, str]:
    if account.deleted:
        return False, "deleted from the directory"
    reason = rules.reason_out(account)
    return not reason, reason[:REASON_LENGTH]


def account_in_scope(policy: Policy, account) -> tuple[bool, str]:
    """Whether the policy lets the portal manage `account`, and why not when it does not."""
    return _verdict(Rules.of(policy), account)


# -- what a policy does to the tenant's accounts ---------------------------------------------


@dataclass(frozen=True)
class Sample:
    username: str
    display_name: str
    reason: str = ""  # why it leaves scope


@dataclass
class ScopeChange:
    """What applying a policy changes: accounts entering and leaving scope, with samples,
    the managed people among the leavers, and the counts afterwards."""

    entering: int = 0
    leaving: int = 0
    in_scope: int = 0
    out_of_scope: int = 0
    entering_samples: list[Sample] = field(default_factory=list)
    leaving_samples: list[Sample] = field(default_factory=list)
    managed_leaving: list[int] = field(default_factory=list)  # Identity ids
    offboarding: list[int] = field(default_factory=list)  # the Leave jobs a save asked for
    held: bool = False  # those jobs wait for an MSP admin (the circuit breaker)
    # pk lists per (in_scope, reason): what the change writes
    writes: dict[tuple[bool, str], list[int]] = field(default_factory=dict, repr=False)
    changed_people: set[int] = field(default_factory=set, repr=False)

    @property
    def changed(self) -> int:
        return sum(len(pks) for pks in self.writes.values())

    def counts(self) -> dict:
        return {
            "entering": self.entering,
            "leaving": self.leaving,
            "in_scope": self.in_scope,
            "out_of_scope": self.out_of_scope,
            "managed_leaving": len(self.managed_leaving),
        }


def _rows(tenant: Tenant, rules: Rules) -> Iterator:
    """The tenant's accounts, as light rows, a chunk at a time (50,000 fit no list); their
    groups only when a rule asks for them (decoding them is most of a scan's time)."""
    fields = SCANNED if rules.group_ids else [f for f in SCANNED if f != "group_ids"]
    return (
        Account.objects.filter(tenant=tenant)
        .order_by()
        .values_list(*fields, named=True)
        .iterator(chunk_size=CHUNK)
    )


def evaluate(tenant: Tenant, policy: Policy) -> ScopeChange:
    """What `policy` would change in the tenant's accounts (nothing is written)."""
    rules = Rules.of(policy)
    change = ScopeChange()
    leaving_accounts = []
    for row in _rows(tenant, rules):
        in_scope, reason = _verdict(rules, row)
        change.in_scope += in_scope
        change.out_of_scope += not in_scope
        if (in_scope, reason) == (row.in_scope, row.scope_reason):
            continue
        change.writes.setdefault((in_scope, reason), []).append(row.pk)
        if row.person_id:
            change.changed_people.add(row.person_id)
        if in_scope and not row.in_scope:
            change.entering += 1
            if len(change.entering_samples) < SAMPLES:
                change.entering_samples.append(Sample(row.username, row.display_name))
        elif row.in_scope and not in_scope:
            change.leaving += 1
            leaving_accounts.append(row)
            if len(change.leaving_samples) < SAMPLES:
                change.leaving_samples.append(Sample(row.username, row.display_name, reason))
    change.managed_leaving = _managed_among(tenant, leaving_accounts)
    return change


def _managed_among(tenant: Tenant, accounts: list) -> list[int]:
    """The managed people (joiners and active) who own one of `accounts`: by the link the
    engine keeps (connection, remote id), or by the Person the account was matched to."""
    if not accounts:
        return []
    linked = {(c, r): identity for c, r, identity in _links(tenant)}
    by_person = dict(
        Person.objects.filter(tenant=tenant, identity__status__in=STILL_MANAGED).values_list(
            "pk", "identity_id"
        )
    )
    found = []
    for account in accounts:
        identity = linked.get((account.connection_id, account.remote_id)) or by_person.get(
            account.person_id
        )
        if identity is not None:
            found.append(identity)
    return sorted(set(found))


def _links(tenant: Tenant):
    return DirectoryAccount.objects.filter(
        connection__tenant=tenant, identity__status__in=STILL_MANAGED
    ).values_list("connection_id", "remote_id", "identity_id")


def _write(change: ScopeChange) -> None:
    """One UPDATE per verdict and batch: the rows change together, whatever their number."""
    for (in_scope, reason), pks in change.writes.items():
        for start in range(0, len(pks), WRITE_BATCH):
            Account.objects.filter(pk__in=pks[start : start + WRITE_BATCH]).update(
                in_scope=in_scope, scope_reason=reason
            )


def apply_scope(tenant: Tenant, *, actor="system") -> ScopeChange:
    """Set every account's in_scope and scope_reason by the tenant's policy (rows that change
    only), and act on the managed people whose accounts left scope as the policy says."""
    with transaction.atomic():
        policy = policy_of(tenant)
        change = evaluate(tenant, policy)
        _write(change)
        _act_on_leavers(tenant, policy, change, actor=actor)
    # The people's summaries follow in the cycle: matching.rematch runs next (cycle.py).
    return change


def preview(tenant: Tenant, proposed_policy: Policy) -> ScopeChange:
    """What saving `proposed_policy` would change; nothing is saved."""
    return evaluate(tenant, proposed_policy)


def _follow_people(tenant: Tenant, change: ScopeChange, *, rematch: bool) -> None:
    """The People page's summaries (a person is in scope when all their accounts are); a new
    matching rule matches every account again."""
    if rematch:
        matching.rematch(tenant)
    elif change.changed_people:
        people = Person.objects.filter(tenant=tenant, pk__in=change.changed_people)
        matching.refresh_people(people)


@dataclass(frozen=True)
class Standing:
    """Where the tenant's live accounts stand now, as the last apply left them."""

    in_scope: int
    out_of_scope: int
    reasons: list[tuple[str, int]]  # the commonest reasons out, with their counts


def standing(tenant: Tenant, reasons: int = 8) -> Standing:
    live = Account.objects.filter(tenant=tenant, deleted=False)
    counts = live.aggregate(
        inside=Count("pk", filter=Q(in_scope=True)), outside=Count("pk", filter=Q(in_scope=False))
    )
    common = (
        live.filter(in_scope=False)
        .values_list("scope_reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "scope_reason")[:reasons]
    )
    return Standing(
        counts["inside"], counts["outside"], [(r or "not judged yet", n) for r, n in common]
    )


# -- the out-of-scope action ------------------------------------------------------------------


def leave_options(tenant: Tenant, action: str) -> lifecycle.OffboardingOptions:
    """An offboarding for accounts that left scope: "disable" blocks sign-in and keeps the
    account and its access; "delete" is the tenant's own offboarding, deleted at once."""
    if action == Policy.OutOfScope.DISABLE:
        return lifecycle.OffboardingOptions(
            reset_password=False,
            remove_groups=False,
            remove_licenses=False,
            remove_apps=False,
            delete_after_days=None,
        )
    options = lifecycle.OffboardingOptions.preset_for(tenant)
    options.delete_after_days = 0
    return options


SCOPE_RUN = "Accounts that left scope"  # the name of a run's batch on the pages


def _act_on_leavers(tenant: Tenant, policy: Policy, change: ScopeChange, *, actor) -> None:
    """Offboard the managed people whose accounts left scope, when the policy says so; held
    for an MSP admin like any other run of leavers that trips the circuit breaker. The
    tenant's leavers of the breaker's window count with it, whichever path asked them
    (`lifecycle.leavers_of_the_hour`): a narrowing split in several saves, or one after
    leaves asked elsewhere, is held as the whole would be."""
    if policy.out_of_scope_action == Policy.OutOfScope.KEEP or not change.managed_leaving:
        return
    lifecycle.lock_leaves_of(tenant)  # two runs at once would not count each other
    options = leave_options(tenant, policy.out_of_scope_action)
    people = list(Identity.objects.filter(pk__in=change.managed_leaving, status__in=STILL_MANAGED))
    if not people:
        return
    earlier = lifecycle.leavers_of_the_hour(tenant) - {p.pk for p in people}
    total = len(people) + len(earlier)
    hold = lifecycle.would_hold(tenant, total)  # never one person alone: the limit is 1 or more
    # No batch kind of its own yet: a held run of leavers is confirmed on the schedule; one
    # that is not held is kept too, to count with the next run of the hour.
    batch = Batch.objects.create(
        tenant=tenant,
        kind=Batch.Kind.SCHEDULE,
        status=Batch.Status.STARTED,
        rows_total=len(people),
        rows_valid=len(people),
        filename=SCOPE_RUN,
        options={"offboard": options.as_dict(), "source": "scope"},
    )
    if hold:
        lifecycle.hold_batch(batch, lifecycle.hold_reason(tenant, total, len(earlier)))
    for person in people:
        try:
            job = lifecycle.request_offboarding(
                person, options, actor=actor, batch=batch, hold=hold
            )
        except lifecycle.HasLeft:  # another channel's leave ended since the read: as asked
            continue
        change.offboarding.append(job.pk)
    change.held = hold


# -- saving a policy --------------------------------------------------------------------------


def rules_of(policy: Policy) -> dict:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def proposed(tenant: Tenant, data: dict) -> Policy:
    """The tenant's policy with `data` (a settings form's cleaned values), unsaved."""
    policy = current_policy(tenant)
    for name in POLICY_FIELDS:
        if name in data:
            setattr(policy, name, data[name])
    return policy


def save_policy(tenant: Tenant, form_data: dict, by, *, request=None) -> ScopeChange:
    """Save the tenant's policy, apply its scope, audit both (rules before and after, and how
    many accounts entered and left scope); a new matching rule matches accounts again."""
    with transaction.atomic():
        stored = Policy.objects.select_for_update().get(pk=policy_of(tenant).pk)
        before = rules_of(stored)
        for name in POLICY_FIELDS:
            if name in form_data:
                setattr(stored, name, form_data[name])
        stored.save()
        after = rules_of(stored)
        rematch = any(before[name] != after[name] for name in MATCH_FIELDS)
        change = evaluate(tenant, stored)
        _write(change)
        _act_on_leavers(tenant, stored, change, actor=by)
        record(
            "inventory.policy_changed",
            actor=by,
            tenant=tenant,
            target=("inventory_policy", stored.pk, f"Takeover policy of {tenant.name}"),
            before=before,
            after={**after, **change.counts(), "offboarding_jobs": change.offboarding},
            request=request,
        )
        _follow_people(tenant, change, rematch=rematch)
    return change


# -- the engine's question --------------------------------------------------------------------


def judged_rows(connection_id: int, remote_id: str):
    """The inventory's rows of this account: none, and it is not protected."""
    return Account.objects.filter(connection_id=connection_id, remote_id=remote_id)


def _judged(connection_id: int, remote_id: str):
    """The inventory's row of this account, as the rules judge it (at most one)."""
    return kept_sql.first_of(judged_rows(connection_id, remote_id).only(*JUDGED))


def protected_reason(connection_id: int, remote_id: str) -> str:
    """Why the portal must leave this account alone ("" when it may change it): the
    inventory holds it and the tenant's rules put it out of scope. An account the inventory
    has not read (made by the portal, or not read yet) is not protected. The rules are asked
    afresh, so that a row not evaluated since its read is judged as apply_scope will judge
    it; deletion is not a reason here (the engine purges what it deleted itself)."""
    found = kept_sql.instances("protected_reason", _judged, connection_id, remote_id)
    account = found[0] if found else None
    if account is None:
        return ""
    policy = current_policy(account.tenant_id)
    reason = Rules.of(policy).reason_out(account)
    if not reason or _leaving_by_policy(policy, connection_id, remote_id):
        return ""
    return f"Out of scope: {reason}"[:300]


def _leaving_by_policy(policy: Policy, connection_id: int, remote_id: str) -> bool:
    """The one change an out-of-scope account may get: the offboarding the tenant asked for
    out-of-scope accounts (disable or delete) of a person who is leaving."""
    if policy.out_of_scope_action == Policy.OutOfScope.KEEP:
        return False
    return DirectoryAccount.objects.filter(
        connection_id=connection_id, remote_id=remote_id, identity__status__in=LEAVING
    ).exists()
