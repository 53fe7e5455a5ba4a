"""What the pages read of drift: a person's items with the actions each allows, grouped per
person, the counts by status, and the people nobody manages (queried live, never stored)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from provisioning.inventory.drift_actions import CONVERGIBLE, Status, why_not_acceptable
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


# Jobs that change what the portal wants of a person and make their directories so. Not the
# periodic reconciliation (it takes from an active person only what the portal gave, and runs
# so often that it would hide every converge), nor a grant's or a retry's narrower job.
SETTLING_KINDS = (Job.Kind.JOIN, Job.Kind.CHANGE, Job.Kind.LEAVE, Job.Kind.RESTORE, Job.Kind.DELETE)
SETTLED = (Job.Status.SUCCEEDED, Job.Status.PARTIAL)


def _jobs_since_seen(items: list[Drift]) -> dict[int, Job]:
    """Each open item's person's latest settling job that ended after the item was last seen,
    by item id: one query, over the jobs that ended since the oldest of those sightings."""
    open_items = [i for i in items if i.status == Status.OPEN and i.identity_id is not None]
    if not open_items:
        return {}
    latest: dict[int, Job] = {}
    jobs = Job.objects.filter(
        identity_id__in={i.identity_id for i in open_items},
        finished_at__gt=min(i.last_seen_at for i in open_items),
        kind__in=SETTLING_KINDS,
        status__in=SETTLED,
    ).order_by("identity_id", "-finished_at", "-pk")
    for job in jobs.only("pk", "kind", "status", "identity_id", "finished_at"):
        latest.setdefault(job.identity_id, job)
    return {
        i.pk: latest[i.identity_id]
        for i in open_items
        if i.identity_id in latest and latest[i.identity_id].finished_at > i.last_seen_at
    }


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
    since_seen = _jobs_since_seen(chosen)
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
