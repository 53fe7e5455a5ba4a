"""What the pages read of drift: a person's items with the actions each allows, grouped per
person, the counts by status, and the people nobody manages (queried live, never stored)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from provisioning.inventory.drift_actions import (
    CONVERGIBLE,
    Status,
    settled_since_seen,
    why_not_acceptable,
)
from provisioning.inventory.models import Drift, Person
from provisioning.models import Job
from tenants.models import Tenant

# People whose live accounts are all in scope and who have no identity: the portal may manage
# them and nobody does (over the Person rows' summary, which the People page filters too).
UNMANAGED = Q(identity__isnull=True, in_scope=True, accounts_count__gt=0)


def unmanaged_people(tenant: Tenant) -> QuerySet[Person]:
    """The tenant's people nobody manages, queried live: never stored as Drift rows, so
    50,000 of them cost no writes."""
    return Person.objects.filter(UNMANAGED, tenant=tenant)


# -- what the pages read ----------------------------------------------------------------------


@dataclass
class Entry:
    """An item as a page lists it, with the actions it allows."""

    item: Drift
    can_converge: bool
    can_dismiss: bool
    not_acceptable: str  # why it cannot be accepted ("" when it can)
    # An open item last seen before this job of the person ended (a leave, a move): the job
    # may have settled it, and only the next inventory read tells (drift.detect resolves or
    # keeps it). Its converge is not offered: that job made the directories what it wanted.
    seen_before: Job | None = None

    @property
    def awaits_read(self) -> bool:
        return self.seen_before is not None


@dataclass
class PersonDrift:
    """A person's items, as one block of the report or of the person's page."""

    person: Person
    entries: list[Entry]

    @property
    def open_count(self) -> int:
        """The open items "Converge all open" would act on (not those awaiting a read)."""
        return sum(e.item.status == Status.OPEN and not e.awaits_read for e in self.entries)


def entry(item: Drift, seen_before: Job | None = None) -> Entry:
    return Entry(
        item,
        can_converge=(
            item.status in CONVERGIBLE and item.identity_id is not None and seen_before is None
        ),
        can_dismiss=item.status == Status.OPEN,
        not_acceptable=why_not_acceptable(item),
        seen_before=seen_before,
    )


def blocks(people: Iterable[Person], rows: QuerySet[Drift]) -> list[PersonDrift]:
    """The items of `rows` grouped per person, in the order of `people`."""
    people = list(people)
    by_person: dict[int, list[Entry]] = defaultdict(list)
    chosen = (
        rows.filter(person__in=people)
        .select_related("connection", "job", "identity", "resolved_by")
        .order_by("connection_id", "kind", "access_kind", "ref_name", "pk")
    )
    chosen = list(chosen)
    since_seen = settled_since_seen(chosen)
    for item in chosen:
        by_person[item.person_id].append(entry(item, since_seen.get(item.pk)))
    return [PersonDrift(p, by_person[p.pk]) for p in people]


def open_of(person: Person | None) -> PersonDrift | None:
    """A person's open and converging items (None for no person, or one nobody manages:
    drift is a managed person's)."""
    if not person or person.identity_id is None:
        return None
    rows = Drift.objects.filter(person=person, status__in=Drift.OPEN_STATES)
    return blocks([person], rows)[0]


def counts_by_status(tenant: Tenant) -> dict[str, int]:
    rows = Drift.objects.filter(tenant=tenant).values("status").annotate(n=Count("id")).order_by()
    return {r["status"]: r["n"] for r in rows}
