"""Adopting many people at once: a preview of what adopting a selection would do (who with
which template, who is refused and why), and the adoption itself, person by person, each
with the best template that adds nothing (or none)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from portal.audit.events import record
from provisioning.inventory.adoption import AdoptionRefused, adopt
from provisioning.inventory.adoption_draft import WOULD_CHANGE, Draft, Known, draft
from provisioning.inventory.adoption_patterns import shared_access
from provisioning.inventory.adoption_suggest import best_match, rank, templates_of
from provisioning.inventory.models import Account, Person
from tenants.models import DirectoryConnection, RoleTemplate, Tenant

CHUNK = 500
SAMPLES = 50


@dataclass
class BulkRow:
    person: Person
    template: RoleTemplate | None
    exceptions: int
    refusal: str = ""
    directories: list[str] = field(default_factory=list)  # managed in these only
    # The SCIM apps they have an account in, named when no directory holds one (Draft's).
    apps_in: list[DirectoryConnection] = field(default_factory=list)


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
    # the access each adoptable person without a template holds alike -> people
    patterns: Counter = field(default_factory=Counter)

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


def _chosen(
    person: Person, accounts: list[Account], known: Known, templates
) -> tuple[list[RoleTemplate], Draft | None]:
    """Bulk adoption's choice: the best template if adopting with it changes nothing in any
    directory (it adds no access, and no attribute such as its usage location), else none;
    with the draft of adopting with that template, when one was made to judge it."""
    best = best_match(rank(accounts, known.catalogue, templates)) if accounts else None
    if best is None or person.identity_id is not None:
        return [], None
    result = draft(person, [best], known=known, accounts=accounts)
    return ([], None) if result.changes else ([best], result)


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
            chosen, result = _chosen(person, mine, known, templates)
            result = result or draft(person, chosen, known=known, accounts=mine)
            _count(preview, person, result, chosen)
            if not (result.refusal or result.changes):
                known.taken(result.fields)
                signature = None if chosen else shared_access(mine, known.catalogue)
                if signature:  # adopted with no template: what they hold alike with others
                    preview.patterns[signature] += 1
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
        directories = [c.label for c in result.directories_in]
        preview.samples.append(
            BulkRow(person, template, exceptions, refusal, directories, result.apps_in)
        )


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
            chosen, _ = _chosen(person, accounts.get(person.pk, []), known, templates)
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
