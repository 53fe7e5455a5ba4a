"""What a person's accounts show, read from the inventory, and the role templates that explain
it: the catalogue of a tenant's groups, licences and apps, the fields an adopted Identity
takes from the accounts, and the templates suggested for an adoption, best first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from provisioning.connectors.factory import connector_type
from provisioning.engine.desired import ACCESS_KINDS, ATTRIBUTE_NAMES, NO_USAGE_LOCATION
from provisioning.inventory.drift_compare import Catalog
from provisioning.inventory.models import Account, Person, Resource
from tenants.models import DirectoryConnection, RoleTemplate, Tenant

# The inventory keeps a user's other fields under the directory's own names (Graph, Okta).
OBSERVED_KEYS = {
    "job_title": ("jobTitle", "title"),
    "company": ("companyName", "organization"),
    "office": ("officeLocation",),
    "usage_location": ("usageLocation", "countryCode"),
}
SUGGESTIONS = 5
ADDS_PENALTY = 0.5  # per share of a template's access the person lacks


# -- the catalogue: ids to names and back, per connection -------------------------------------


class Catalogue:
    """The tenant's groups, licences and apps per connection, as the inventory last read
    them (the catalogue's Resource rows), loaded once for many people: drift's Catalog of
    each connection, so adoption and drift name, resolve and leave out the same access."""

    def __init__(self, connections: Iterable[DirectoryConnection]):
        by_connection: dict[int, list[tuple]] = defaultdict(list)
        rows = (
            Resource.objects.filter(connection__in=[c.pk for c in connections])
            .order_by("pk")  # of two resources of one name, the older answers to it
            .values_list("connection_id", "kind", "remote_id", "name", "detail")
        )
        for connection_id, kind, remote_id, name, detail in rows:
            by_connection[connection_id].append((kind, remote_id, name, detail or {}))
        self._catalogs = {pk: Catalog(its) for pk, its in by_connection.items()}

    def _of(self, connection_id: int) -> Catalog:
        return self._catalogs.get(connection_id) or Catalog(())

    def directory_kept(self, connection_id: int, remote_id: str) -> bool:
        """A group whose members the directory decides (a rule, or built in)."""
        return remote_id in self._of(connection_id).directory_kept["groups"]

    def through_groups(self, account: Account) -> set[str]:
        """The apps the account holds through a group it is in: they go with the group, so
        no one adopts them as access of their own."""
        return self._of(account.connection_id).through_groups(account)

    def name(self, connection_id: int, kind: str, remote_id: str) -> str:
        return self._of(connection_id).name(kind, remote_id)

    def resolve(self, connection_id: int, kind: str, wanted: str) -> str | None:
        """The id of `wanted` (an id, else a name in any case), as the planner finds it."""
        return self._of(connection_id).resolve(kind, wanted)

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
    the directory decides itself (rule-based, built in) and the apps a group gives, which no
    one adopts."""
    held = {}
    for a in accounts:
        groups, apps = set(a.group_ids or ()), set(a.app_ids or ())
        if catalogue is not None:
            groups = {g for g in groups if not catalogue.directory_kept(a.connection_id, g)}
            apps -= catalogue.through_groups(a)
        held[a.connection_id] = {
            "groups": groups,
            "licenses": set(a.licence_ids or ()),
            "apps": apps,
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
    # None held: adopting must not give them the tenant's default (engine/desired.py).
    attributes.setdefault("usage_location", NO_USAGE_LOCATION)
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
    if getattr(connection, "assigned_by_template", False):
        # A SCIM app: the template gives its groups there, or nothing when it does not give
        # the app (engine/desired.py `in_app`); its directory access is not the app's.
        given = {"groups": template.scim_groups_for(connection.pk) or []}
    else:
        given = {kind: getattr(template, kind) or () for kind in kinds_of(connection)}
    for kind, names in given.items():
        for name in names:
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
