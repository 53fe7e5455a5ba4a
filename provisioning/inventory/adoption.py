"""Adoption: a person the directories show and the portal does not manage becomes a managed
Identity linked to their existing accounts, and nothing changes in any directory.

The person's desired state (engine/desired.py) is made equal to what their accounts hold:

- names, e-mail and employee id from the accounts, and the attributes the engine compares
  as the person's own overrides, so no template or tenant default changes them;
- the role templates the technician confirms; the access they explain is recorded as the
  portal's (`DirectoryAccount.managed`), so a later move takes it away as it would from
  someone the portal onboarded;
- every group, licence and app no template explains as an access exception of its
  connection (a restore after a leave gives exceptions back, as it does for anyone); groups
  the directory fills itself (rule-based, built in) are neither;
- accounts whose sign-in is blocked: a person who has left, with leave options that block
  sign-in and remove nothing (a leaver with the same options when the offboarding form
  comes next, since that form takes leavers).

Before anything is saved, the desired state is compared with the inventory's rows: an
adoption that would change something (a template adding access, a tenant default filling an
empty attribute, an account created in a directory where the person has none) is refused
unless the technician confirms the change. Once saved, the engine's own builder
(`desired_for`) is asked again, and the same comparison decides.

`offboard` adopts and hands the person to `lifecycle.request_offboarding` in one
transaction; the pages offer the same through the identity's own offboarding and move forms.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from portal.audit.events import record
from provisioning import lifecycle
from provisioning.connectors.factory import connector_type
from provisioning.engine.desired import (
    ACCESS_KINDS,
    ATTRIBUTE_NAMES,
    KEEP,
    MANAGED,
    STRIP,
    DesiredState,
    active_state,
    desired_for,
)
from provisioning.inventory import matching
from provisioning.inventory.models import Account, Person, Resource
from provisioning.models import DirectoryAccount, Identity, Job
from tenants.models import DirectoryConnection, RoleTemplate, Tenant

KIND_NOUNS = {"groups": "group", "licenses": "licence", "apps": "app"}
# The inventory keeps a user's other fields under the directory's own names (Graph, Okta).
OBSERVED_KEYS = {
    "job_title": ("jobTitle", "title"),
    "company": ("companyName", "organization"),
    "office": ("officeLocation",),
    "usage_location": ("usageLocation", "countryCode"),
}
# A person whose every account is disabled is adopted as someone who has left: sign-in stays
# blocked, nothing is stripped, the account is never deleted by the portal.
LEFT_OPTIONS = lifecycle.OffboardingOptions(
    block_sign_in=True,
    okta_mode="suspend",
    revoke_sessions=False,
    reset_password=False,
    remove_groups=False,
    remove_licenses=False,
    remove_apps=False,
    delete_after_days=None,
)
SUGGESTIONS = 5
ADDS_PENALTY = 0.5  # per share of a template's access the person lacks


class AdoptionRefused(Exception):
    """Nothing was saved: why, and what the engine would change (when that is why)."""

    def __init__(self, message: str, changes: Sequence[str] = (), *, refused_as: str = ""):
        super().__init__(message)
        self.message = message
        self.changes = list(changes)
        self.refused_as = refused_as  # the reason in a few words


# -- the catalogue: ids to names and back, per connection -------------------------------------


class Catalogue:
    """The tenant's groups, licences and apps per connection, as the inventory last read
    them (the catalogue's Resource rows), loaded once for many people."""

    def __init__(self, connections: Iterable[DirectoryConnection]):
        self._names: dict[tuple[int, str], dict[str, str]] = defaultdict(dict)
        self._by_name: dict[tuple[int, str], dict[str, str]] = defaultdict(dict)
        self._directory_kept: set[tuple[int, str]] = set()  # rule-based and built-in groups
        rows = (
            Resource.objects.filter(connection__in=[c.pk for c in connections])
            .order_by("pk")
            .values_list("connection_id", "kind", "remote_id", "name", "detail")
        )
        for connection_id, kind, remote_id, name, detail in rows:
            self._names[connection_id, kind][remote_id] = name
            self._by_name[connection_id, kind].setdefault(name.casefold(), remote_id)
            if (detail or {}).get("dynamic") or (detail or {}).get("builtin"):
                self._directory_kept.add((connection_id, remote_id))

    def directory_kept(self, connection_id: int, remote_id: str) -> bool:
        """A group whose members the directory decides (a rule, or built in)."""
        return (connection_id, remote_id) in self._directory_kept

    def name(self, connection_id: int, kind: str, remote_id: str) -> str:
        return self._names.get((connection_id, kind), {}).get(remote_id, remote_id)

    def resolve(self, connection_id: int, kind: str, wanted: str) -> str | None:
        """The id of `wanted` (an id, else a name in any case), as the planner finds it."""
        names = self._names.get((connection_id, kind), {})
        if wanted in names:
            return wanted
        return self._by_name.get((connection_id, kind), {}).get(wanted.strip().casefold())

    def ref(self, connection_id: int, kind: str, remote_id: str) -> dict:
        return {"id": remote_id, "name": self.name(connection_id, kind, remote_id)}


def kinds_of(connection: DirectoryConnection) -> tuple[str, ...]:
    """The kinds of access the engine compares in this directory (licences where it has them)."""
    supports = connector_type(connection).supports_licences
    return tuple(k for k in ACCESS_KINDS if k != "licenses" or supports)


def templates_of(tenant: Tenant):
    """The role templates a person of this tenant may have (the onboarding form's list)."""
    return RoleTemplate.objects.filter(tenant=tenant).order_by("name")


# -- what the accounts show --------------------------------------------------------------------


def observed(account: Account, name: str) -> str:
    """An account's value of one of the engine's attribute names ("" when it has none)."""
    if name in ("first_name", "last_name", "display_name", "department"):
        return getattr(account, name) or ""
    attributes = account.attributes or {}
    for key in OBSERVED_KEYS.get(name, ()):
        if attributes.get(key):
            return str(attributes[key])
    return ""


def live_accounts(person: Person) -> list[Account]:
    """The person's accounts the directories still hold, Entra first, then by age."""
    accounts = Account.objects.filter(person=person, deleted=False).select_related("connection")
    return sorted(accounts, key=lambda a: (a.connection.kind, a.connection_id, a.pk))


def held_of(accounts: Iterable[Account], catalogue: Catalogue | None = None) -> dict:
    """connection id -> kind -> the ids the account holds; with a catalogue, less the groups
    the directory decides itself (rule-based, built in), which no one adopts."""
    held = {}
    for a in accounts:
        groups = set(a.group_ids or ())
        if catalogue is not None:
            groups = {g for g in groups if not catalogue.directory_kept(a.connection_id, g)}
        held[a.connection_id] = {
            "groups": groups,
            "licenses": set(a.licence_ids or ()),
            "apps": set(a.app_ids or ()),
        }
    return held


def person_fields(accounts: list[Account]) -> dict:
    """The Identity's names, username, e-mail, employee id and attribute overrides."""

    def first(values) -> str:
        return next((v for v in values if v), "")

    first_name = first(a.first_name for a in accounts)
    last_name = first(a.last_name for a in accounts)
    username = first(a.username for a in accounts)
    display_name = first(a.display_name for a in accounts)
    mail = first(a.mail for a in accounts)
    email = mail or (username if "@" in username else "")
    attributes = {}
    for name in ATTRIBUTE_NAMES:
        if value := first(observed(a, name) for a in accounts):
            attributes[name] = value
    return {
        "first_name": first_name[:64],
        "last_name": last_name[:64],
        "display_name": (display_name or f"{first_name} {last_name}".strip() or username)[:160],
        "username": username[:254],
        "email": email[:254],
        "employee_id": first(a.employee_id for a in accounts)[:64],
        "attributes": attributes,
    }


# -- template suggestions ----------------------------------------------------------------------


@dataclass
class Suggestion:
    """One role template against what the person holds."""

    template: RoleTemplate
    score: float
    explains: dict[str, list[str]]  # kind -> names held that the template gives
    adds: dict[str, list[str]]  # kind -> names the template gives that are not held
    unknown: dict[str, list[str]]  # kind -> names a directory of theirs does not have
    sets: dict[str, str]  # attribute -> the template's value where the accounts have none

    @property
    def explained(self) -> int:
        return sum(len(v) for v in self.explains.values())

    @property
    def changes_nothing(self) -> bool:
        return not (self.adds or self.unknown)

    @property
    def note(self) -> str:
        if self.unknown:
            names = ", ".join(n for names in self.unknown.values() for n in names)
            return f"Names access their directory does not have ({names}): a job would stop."
        if self.adds:
            names = ", ".join(n for names in self.adds.values() for n in names)
            return (
                f"Would add {names}: not suggested as it is; adopt with it only if they "
                "should have it."
            )
        return "Explains access they hold and adds nothing."


def _template_ids(template, connection, catalogue) -> tuple[dict, dict]:
    """kind -> ids the template gives in this directory; kind -> names it cannot find."""
    ids: dict[str, set[str]] = {}
    unknown: dict[str, list[str]] = {}
    for kind in kinds_of(connection):
        for name in getattr(template, kind) or ():
            found = catalogue.resolve(connection.pk, kind, name)
            if found is None:
                unknown.setdefault(kind, []).append(name)
            else:
                ids.setdefault(kind, set()).add(found)
    return ids, unknown


def judge(template, accounts: list[Account], catalogue: Catalogue, attributes: dict) -> Suggestion:
    """How well `template` explains what `accounts` hold: Jaccard of its access and theirs,
    less a penalty for the share of its access they lack."""
    held = held_of(accounts, catalogue)
    explains, adds, unknown = defaultdict(list), defaultdict(list), defaultdict(list)
    given = lacking = both = 0
    for account in accounts:
        ids, missing = _template_ids(template, account.connection, catalogue)
        for kind, names in missing.items():
            unknown[kind] += [n for n in names if n not in unknown[kind]]
        for kind, wanted in ids.items():
            mine = held[account.connection_id][kind]
            given += len(wanted)
            both += len(wanted & mine)
            lacking += len(wanted - mine)
            for remote_id in sorted(wanted):
                name = catalogue.name(account.connection_id, kind, remote_id)
                bucket = explains if remote_id in mine else adds
                if name not in bucket[kind]:
                    bucket[kind].append(name)
    holding = sum(len(ids) for per in held.values() for ids in per.values())
    union = given + holding - both
    unknown_count = sum(len(v) for v in unknown.values())
    score = (both / union if union else 0.0) - ADDS_PENALTY * (lacking + unknown_count) / max(
        given + unknown_count, 1
    )
    sets = {
        name: getattr(template, name)
        for name in ATTRIBUTE_NAMES
        if getattr(template, name) and not attributes.get(name)
    }
    return Suggestion(template, round(score, 3), dict(explains), dict(adds), dict(unknown), sets)


def suggest_templates(
    person: Person, *, catalogue: Catalogue | None = None, templates=None, limit=SUGGESTIONS
) -> list[Suggestion]:
    """The tenant's role templates that explain some of the person's access, best first."""
    accounts = live_accounts(person)
    if not accounts:
        return []
    catalogue = catalogue or Catalogue(person.tenant.connections.all())
    templates = templates_of(person.tenant) if templates is None else templates
    return rank(accounts, catalogue, templates)[:limit]


def rank(accounts: list[Account], catalogue: Catalogue, templates) -> list[Suggestion]:
    attributes = person_fields(accounts)["attributes"]
    judged = [judge(t, accounts, catalogue, attributes) for t in templates]
    useful = [s for s in judged if s.explained]
    useful.sort(key=lambda s: (-s.score, sum(map(len, s.adds.values())), s.template.name))
    return useful


def best_match(suggestions: Sequence[Suggestion]) -> RoleTemplate | None:
    """The template bulk adoption chooses by itself: the best one that adds nothing."""
    return next((s.template for s in suggestions if s.changes_nothing), None)


# -- what adopting records ---------------------------------------------------------------------


@dataclass
class Draft:
    """An adoption worked out from the inventory, before anything is saved."""

    person: Person
    accounts: list[Account]
    templates: list[RoleTemplate]
    fields: dict = field(default_factory=dict)
    status: str = Identity.Status.ACTIVE
    leave_options: dict = field(default_factory=dict)
    exceptions: dict = field(default_factory=dict)  # str(connection id) -> kind -> refs
    managed: dict = field(default_factory=dict)  # connection id -> kind -> refs
    refusal: str = ""  # why it cannot be adopted, as a sentence
    refused_as: str = ""  # the same in a few words
    changes: list[str] = field(default_factory=list)  # what the engine would change

    @property
    def exception_names(self) -> list[tuple[str, str, str]]:
        """(directory, kind noun, name) of every exception, for the pages."""
        return self._named({int(cid): kinds for cid, kinds in self.exceptions.items()})

    @property
    def attribute_labels(self) -> list[tuple[str, str]]:
        """(label, value) of the attributes kept as theirs, for the pages."""
        attributes = self.fields.get("attributes", {})
        return [(name.replace("_", " ").capitalize(), value) for name, value in attributes.items()]

    @property
    def managed_names(self) -> list[tuple[str, str, str]]:
        """(directory, kind noun, name) of the access the templates explain."""
        return self._named(self.managed)

    def _named(self, refs: dict) -> list[tuple[str, str, str]]:
        labels = {a.connection_id: a.connection.get_kind_display() for a in self.accounts}
        return [
            (labels.get(cid, str(cid)), KIND_NOUNS[kind], ref["name"])
            for cid, kinds in refs.items()
            for kind, items in kinds.items()
            for ref in items
        ]


class Known:
    """What an adoption is checked against: the tenant's directories and catalogue, and the
    usernames, employee ids and linked accounts of the people it manages. `many=True` loads
    them once for a bulk adoption; otherwise each check asks the database."""

    def __init__(self, tenant: Tenant, *, many: bool = False):
        self.tenant = tenant
        self.connections = list(tenant.connections.order_by("kind"))
        self.catalogue = Catalogue(self.connections)
        self.many = many
        if many:
            managed = Identity.objects.filter(tenant=tenant)
            self._usernames = {
                u.casefold(): name for u, name in managed.values_list("username", "display_name")
            }
            self._employee_ids = dict(
                managed.exclude(employee_id="").values_list("employee_id", "display_name")
            )
            self._links = {
                (c, r): name
                for c, r, name in DirectoryAccount.objects.filter(identity__tenant=tenant)
                .exclude(remote_id="")
                .values_list("connection_id", "remote_id", "identity__display_name")
            }

    def holder_of_username(self, username: str) -> str | None:
        if self.many:
            return self._usernames.get(username.casefold())
        found = Identity.objects.filter(tenant=self.tenant, username__iexact=username).first()
        return found.display_name if found else None

    def holder_of_employee_id(self, employee_id: str) -> str | None:
        if self.many:
            return self._employee_ids.get(employee_id)
        found = Identity.objects.filter(tenant=self.tenant, employee_id=employee_id).first()
        return found.display_name if found else None

    def holder_of_account(self, account: Account) -> str | None:
        if self.many:
            return self._links.get((account.connection_id, account.remote_id))
        link = (
            DirectoryAccount.objects.filter(
                connection_id=account.connection_id, remote_id=account.remote_id
            )
            .select_related("identity")
            .first()
        )
        return link.identity.display_name if link else None

    def taken(self, fields: dict) -> None:
        """Note an adoption made in this run (bulk: two people may share a username)."""
        if self.many:
            self._usernames[fields["username"].casefold()] = fields["display_name"]
            if fields["employee_id"]:
                self._employee_ids[fields["employee_id"]] = fields["display_name"]


# Why an adoption is refused, in a few words (a bulk preview counts them).
MANAGED_ALREADY = "Managed already"
NO_ACCOUNT = "No account left"
OUT_OF_SCOPE = "Out of scope"
TWO_ACCOUNTS = "Two accounts in one directory"
FOREIGN_TEMPLATE = "Template of another tenant"
NO_USERNAME = "No username"
TAKEN = "Username or employee id of someone managed"
LINKED = "Account linked to someone managed"
WOULD_CHANGE = "Adopting would change their accounts"


def draft(
    person: Person,
    templates: Sequence[RoleTemplate],
    *,
    known: Known | None = None,
    accounts: list[Account] | None = None,
) -> Draft:
    """What adopting `person` with `templates` would record, why it cannot be done, and
    what the engine would change afterwards (nothing, when it can be adopted as it is)."""
    known = known or Known(person.tenant)
    accounts = live_accounts(person) if accounts is None else accounts
    result = Draft(person, accounts, list(templates))
    result.refused_as, result.refusal = _refusal(person, accounts, result.templates)
    if not accounts:
        return result
    result.fields = person_fields(accounts)
    if not any(a.enabled for a in accounts):
        result.status = Identity.Status.LEFT
        result.leave_options = LEFT_OPTIONS.as_dict()
    _split_access(result, known.catalogue)
    if not result.refusal:
        result.refused_as, result.refusal = _collision(known, accounts, result.fields)
    result.changes = changes_of(result, known)
    return result


def _split_access(result: Draft, catalogue: Catalogue) -> None:
    """Held access the templates explain (the portal's from now on) and the rest
    (exceptions), per connection."""
    held = held_of(result.accounts, catalogue)
    for account in result.accounts:
        cid = account.connection_id
        explained: dict[str, set[str]] = defaultdict(set)
        for template in result.templates:
            for kind, ids in _template_ids(template, account.connection, catalogue)[0].items():
                explained[kind] |= ids
        for kind in ACCESS_KINDS:
            mine = held[cid][kind]
            ours = sorted(mine & explained[kind])
            rest = sorted(mine - explained[kind])
            if ours:
                result.managed.setdefault(cid, {})[kind] = [
                    catalogue.ref(cid, kind, i) for i in ours
                ]
            if rest:
                refs = [catalogue.ref(cid, kind, i) for i in rest]
                result.exceptions.setdefault(str(cid), {})[kind] = refs


def _refusal(person: Person, accounts: list[Account], templates) -> tuple[str, str]:
    if person.identity_id is not None:
        return MANAGED_ALREADY, f"{person} is managed already."
    if not accounts:
        return NO_ACCOUNT, f"{person} has no account left in any directory: nothing to adopt."
    out = [a for a in accounts if not a.in_scope]
    if out:
        reasons = "; ".join(
            f"{a.username or a.remote_id} in {a.connection.get_kind_display()}: "
            f"{a.scope_reason or 'not in scope'}"
            for a in out
        )
        return OUT_OF_SCOPE, f"Out of scope, so the portal may not manage it ({reasons})."
    per_connection = Counter(a.connection_id for a in accounts)
    if any(n > 1 for n in per_connection.values()):
        return TWO_ACCOUNTS, (
            "Two accounts of this person are in the same directory: adopting needs one per "
            "directory."
        )
    foreign = [t.name for t in templates if t.tenant_id != person.tenant_id]
    if foreign:
        return FOREIGN_TEMPLATE, f"Not a role template of this tenant: {', '.join(foreign)}."
    return "", ""


def _collision(known: Known, accounts: list[Account], fields: dict) -> tuple[str, str]:
    username = fields["username"]
    if not username:
        return NO_USERNAME, "The account has no username: the portal cannot manage it."
    holder = known.holder_of_username(username)
    if holder is not None:
        return TAKEN, (
            f"The username {username} belongs to {holder}, whom the portal manages already."
        )
    employee_id = fields["employee_id"]
    holder = known.holder_of_employee_id(employee_id) if employee_id else None
    if holder is not None:
        return TAKEN, (
            f"The employee id {employee_id} belongs to {holder}, whom the portal manages already."
        )
    for account in accounts:
        holder = known.holder_of_account(account)
        if holder is not None:
            return LINKED, f"{account.username} is linked to {holder} already."
    return "", ""


# -- comparing a desired state with the inventory ---------------------------------------------


def changes_of(result: Draft, known: Known) -> list[str]:
    """What the engine would change after this adoption, predicted from the inventory with
    the builder's active state (or a leaver's, whose options block sign-in only)."""
    tenant, catalogue = known.tenant, known.catalogue
    exceptions = result.exceptions
    changes = []
    for connection in known.connections:
        active = active_state(
            {**result.fields, "extra_groups": [], "license_choices": {}},
            result.templates,
            tenant,
            exceptions=exceptions.get(str(connection.pk)),
        )
        if result.status == Identity.Status.LEFT:
            active = _left(active)
        account = next((a for a in result.accounts if a.connection_id == connection.pk), None)
        changes += differences(connection, active, account, catalogue, result.managed)
    return changes


def _left(active: DesiredState) -> DesiredState:
    """A leaver with LEFT_OPTIONS, as engine/desired.py builds one: sign-in blocked, no
    access wanted and none removed, attributes not compared."""
    return DesiredState(
        **{
            **active.__dict__,
            "enabled": False,
            "attributes": {},
            "groups": (),
            "licenses": (),
            "apps": (),
            "removal": dict.fromkeys(ACCESS_KINDS, KEEP),
            "leaving": True,
        }
    )


def differences(
    connection: DirectoryConnection,
    desired: DesiredState,
    account: Account | None,
    catalogue: Catalogue,
    managed: dict | None = None,
) -> list[str]:
    """The changes the planner would make to `account` (as the inventory shows it) for
    `desired`, in words; none when they are equal."""
    where = connection.get_kind_display()
    if account is None:
        return [f"create an account for {desired.username} in {where}"] if desired.present else []
    if not desired.present:
        return [f"delete {account.username} in {where}"]
    changes = []
    if desired.enabled and not account.enabled:
        changes.append(f"allow {account.username} to sign in to {where}")
    elif desired.enabled is False and account.enabled:
        changes.append(f"block sign-in of {account.username} in {where}")
    changes += _attribute_changes(connection, desired, account, where)
    held = held_of([account])[account.connection_id]
    for kind in kinds_of(connection):
        changes += _access_changes(connection, kind, desired, held[kind], catalogue, managed)
    return changes


def _attribute_changes(connection, desired: DesiredState, account: Account, where: str):
    if desired.leaving:
        return []
    compared = connector_type(connection).compared_attributes
    wanted = {
        "first_name": desired.first_name,
        "last_name": desired.last_name,
        "display_name": desired.display_name,
        **desired.attributes,
    }
    return [
        f"set {name.replace('_', ' ')} to “{value}” in {where} (now “{observed(account, name)}”)"
        for name, value in wanted.items()
        if value and name in compared and observed(account, name) != value
    ]


def _access_changes(connection, kind, desired, held: set, catalogue, managed) -> list[str]:
    where, noun = connection.get_kind_display(), KIND_NOUNS[kind]
    changes, wanted_ids = [], set()
    for name in desired.wanted(kind):
        found = catalogue.resolve(connection.pk, kind, name)
        if found is None:
            changes.append(f"no {noun} “{name}” in {where}: a job would stop there")
            continue
        wanted_ids.add(found)
        if found not in held:
            changes.append(f"add {noun} {catalogue.name(connection.pk, kind, found)} in {where}")
    mode = desired.removal.get(kind, MANAGED)
    if mode == STRIP:
        kept = {k.casefold() for k in desired.keep_groups} if kind == "groups" else set()
        for remote_id in sorted(held - wanted_ids):
            name = catalogue.name(connection.pk, kind, remote_id)
            if name.casefold() not in kept and remote_id not in kept:
                changes.append(f"remove {noun} {name} in {where}")
    elif mode == MANAGED:
        for ref in (managed or {}).get(connection.pk, {}).get(kind, []):
            if ref["id"] in held and ref["id"] not in wanted_ids:
                changes.append(f"remove {noun} {ref['name']} in {where}")
    return changes


# -- adopting ----------------------------------------------------------------------------------


def adopt(
    person: Person,
    templates: Sequence[RoleTemplate],
    by,
    *,
    reason: str = "",
    confirm_changes: bool = False,
    http_request=None,
    known: Known | None = None,
    to_offboard: bool = False,
) -> Identity:
    """Make `person` a managed Identity linked to their accounts, in one transaction, with
    its audit event; no job is asked and nothing is sent. Raises AdoptionRefused (nothing
    saved) for a person out of scope, managed already or colliding with someone managed,
    and for an adoption the engine would act on unless `confirm_changes`.

    `to_offboard`: the offboarding form comes next, and it takes a leaver, not someone who
    has left: a disabled person is adopted as a leaver (the same desired state; the first
    verified job makes them someone who has left)."""
    with transaction.atomic():
        identity, result = _adopt(person, templates, known, confirm_changes, leaver=to_offboard)
        _audit(identity, result, by, reason, confirm_changes, http_request)
    return identity


def _adopt(person, templates, known, confirm_changes, *, leaving=False, leaver=False):
    person = Person.objects.select_for_update().select_related("tenant").get(pk=person.pk)
    known = known or Known(person.tenant)
    result = draft(person, templates, known=known)
    if result.refusal:
        raise AdoptionRefused(result.refusal, refused_as=result.refused_as)
    if leaver and result.status == Identity.Status.LEFT:
        result.status = Identity.Status.LEAVER
    if leaving:
        result.status, result.leave_options = Identity.Status.ACTIVE, {}
    elif result.changes and not confirm_changes:
        raise AdoptionRefused(_would_change(person), result.changes, refused_as=WOULD_CHANGE)
    try:
        with transaction.atomic():
            identity = _save(result)
    except IntegrityError:  # someone took the username or employee id meanwhile
        raise AdoptionRefused(
            f"{result.fields['username']} was taken meanwhile; look at the person again.",
            refused_as=TAKEN,
        ) from None
    if not leaving:
        confirmed = _engine_changes(identity, result, known)
        if confirmed and not confirm_changes:
            raise AdoptionRefused(_would_change(person), confirmed, refused_as=WOULD_CHANGE)
    known.taken(result.fields)
    _link_person(identity, result.accounts)
    return identity, result


def _link_person(identity: Identity, accounts: list[Account]) -> None:
    """The identity's Person row holds their accounts (the matching hooks on Identity and
    DirectoryAccount usually did it already; asking costs one query)."""
    linked = Account.objects.filter(pk__in=[a.pk for a in accounts], person__identity=identity)
    if linked.count() != len(accounts):
        matching.person_for_identity(identity)


def _would_change(person: Person) -> str:
    return (
        f"Adopting {person} like this would change their accounts; adopt only changes nothing "
        "unless you confirm the changes."
    )


def _save(result: Draft) -> Identity:
    tenant = result.person.tenant
    identity = Identity.objects.create(
        tenant=tenant,
        status=result.status,
        leave_options=result.leave_options,
        access_exceptions=result.exceptions,
        **result.fields,
    )
    identity.role_templates.set(result.templates)
    for account in result.accounts:
        DirectoryAccount.objects.create(
            identity=identity,
            connection_id=account.connection_id,
            remote_id=account.remote_id,
            managed=result.managed.get(account.connection_id, {}),
        )
    return identity


def _engine_changes(identity: Identity, result: Draft, known: Known) -> list[str]:
    """The same comparison, with the desired state the engine's own builder makes now."""
    changes = []
    for connection in known.connections:
        account = next((a for a in result.accounts if a.connection_id == connection.pk), None)
        desired = desired_for(identity, connection)
        changes += differences(connection, desired, account, known.catalogue, result.managed)
    return changes


def _audit(identity, result: Draft, by, reason, confirm_changes, http_request, **extra) -> None:
    record(
        "inventory.adopted",
        actor=by,
        tenant=identity.tenant,
        target=identity,
        after={
            "username": identity.username,
            "status": identity.status,
            "role_templates": [t.name for t in result.templates],
            "accounts": [
                {"connection": a.connection_id, "remote_id": a.remote_id, "enabled": a.enabled}
                for a in result.accounts
            ],
            "exceptions": result.exceptions,
            "attributes": result.fields["attributes"],
            "changes_confirmed": result.changes if confirm_changes else [],
            "reason": reason[:500],
            **extra,
        },
        request=http_request,
    )


def offboard(
    person: Person,
    templates: Sequence[RoleTemplate],
    options: lifecycle.OffboardingOptions,
    by,
    *,
    at=None,
    reason: str = "",
    http_request=None,
) -> Job:
    """Adopt `person` and offboard them in one transaction (an account whose sign-in is
    blocked already gets what the options still do: access removed, deleted later)."""
    with transaction.atomic():
        identity, result = _adopt(person, templates, None, True, leaving=True)
        _audit(identity, result, by, reason, False, http_request, then="offboard")
        return lifecycle.request_offboarding(
            identity, options, actor=by, at=at, http_request=http_request
        )


# -- many people at once -----------------------------------------------------------------------

CHUNK = 500
SAMPLES = 50


@dataclass
class BulkRow:
    person: Person
    template: RoleTemplate | None
    exceptions: int
    refusal: str = ""


@dataclass
class BulkPreview:
    """What adopting a selection would do: who is adopted with which template (or none, all
    their access as exceptions), who is refused and why."""

    selected: int = 0
    adoptable: int = 0
    without_template: int = 0
    templates: Counter = field(default_factory=Counter)  # template name -> people
    refused: Counter = field(default_factory=Counter)  # reason in a few words -> people
    samples: list[BulkRow] = field(default_factory=list)
    person_ids: list[int] = field(default_factory=list)  # the adoptable, in order

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    @property
    def template_counts(self) -> list[tuple[str, int]]:
        return self.templates.most_common()

    @property
    def refusal_counts(self) -> list[tuple[str, int]]:
        return self.refused.most_common()


def selection(tenant: Tenant, people=None):
    """The people a People-page filter selected (a queryset), or everyone in scope."""
    if people is None:
        people = Person.objects.filter(in_scope=True)
    return people.filter(tenant=tenant).order_by("sort_name", "pk")


def _accounts_of(people: list[Person]) -> dict[int, list[Account]]:
    found: dict[int, list[Account]] = defaultdict(list)
    rows = Account.objects.filter(person__in=[p.pk for p in people], deleted=False)
    for account in rows.select_related("connection"):
        found[account.person_id].append(account)
    for accounts in found.values():
        accounts.sort(key=lambda a: (a.connection.kind, a.connection_id, a.pk))
    return found


def _chosen(accounts: list[Account], known: Known, templates) -> list[RoleTemplate]:
    """Bulk adoption's choice: the best template if it adds nothing, else none."""
    chosen = best_match(rank(accounts, known.catalogue, templates)) if accounts else None
    return [chosen] if chosen else []


def _in_chunks(people):
    for start in range(0, people.count(), CHUNK):
        yield list(people[start : start + CHUNK])


def preview_adoption(tenant: Tenant, people=None) -> BulkPreview:
    """Adopting the selection as adopt_many would, with nothing saved."""
    known = Known(tenant, many=True)
    templates = list(templates_of(tenant))
    preview = BulkPreview()
    for chunk in _in_chunks(selection(tenant, people).select_related("tenant")):
        accounts = _accounts_of(chunk)
        for person in chunk:
            mine = accounts.get(person.pk, [])
            chosen = _chosen(mine, known, templates) if person.identity_id is None else []
            result = draft(person, chosen, known=known, accounts=mine)
            _count(preview, person, result, chosen)
            if not (result.refusal or result.changes):
                known.taken(result.fields)
    return preview


def _count(preview: BulkPreview, person: Person, result: Draft, chosen) -> None:
    preview.selected += 1
    refused = result.refused_as or (WOULD_CHANGE if result.changes else "")
    if refused:
        preview.refused[refused] += 1
    else:
        preview.adoptable += 1
        preview.person_ids.append(person.pk)
        if chosen:
            preview.templates[chosen[0].name] += 1
        else:
            preview.without_template += 1
    if len(preview.samples) < SAMPLES:
        exceptions = sum(len(r) for kinds in result.exceptions.values() for r in kinds.values())
        template = chosen[0] if chosen else None
        refusal = result.refusal or ("; ".join(result.changes[:3]) if result.changes else "")
        preview.samples.append(BulkRow(person, template, exceptions, refusal))


@dataclass
class BulkResult:
    adopted: int = 0
    refused: Counter = field(default_factory=Counter)
    templates: Counter = field(default_factory=Counter)


def adopt_many(tenant: Tenant, person_ids: Sequence[int], by, *, reason: str = "") -> BulkResult:
    """Adopt these people of the tenant, each in its own transaction with its audit event,
    each with the best template that adds nothing (or none); one summary event at the end.
    Running it twice adopts no one twice (the managed are refused)."""
    known = Known(tenant, many=True)
    templates = list(templates_of(tenant))
    result = BulkResult()
    ids = list(dict.fromkeys(person_ids))
    for start in range(0, len(ids), CHUNK):
        people = Person.objects.filter(tenant=tenant, pk__in=ids[start : start + CHUNK])
        people = list(people.select_related("tenant").order_by("sort_name", "pk"))
        accounts = _accounts_of(people)
        for person in people:
            chosen = _chosen(accounts.get(person.pk, []), known, templates)
            try:
                adopt(person, chosen, by, reason=reason, known=known)
            except AdoptionRefused as refused:
                result.refused[refused.refused_as or "Refused"] += 1
                continue
            result.adopted += 1
            result.templates[chosen[0].name if chosen else ""] += 1
    missing = len(ids) - result.adopted - sum(result.refused.values())
    if missing:
        result.refused["Not a person of this tenant any more"] += missing
    _audit_many(tenant, by, reason, len(ids), result)
    return result


def _audit_many(tenant: Tenant, by, reason: str, selected: int, result: BulkResult) -> None:
    record(
        "inventory.adopted_many",
        actor=by,
        tenant=tenant,
        target=("tenant", tenant.pk, tenant.name),
        after={
            "selected": selected,
            "adopted": result.adopted,
            "refused": dict(result.refused),
            "role_templates": {k or "(none)": v for k, v in result.templates.items()},
            "reason": reason[:500],
        },
    )
