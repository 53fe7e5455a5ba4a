"""What the People page and a person's page read: Person rows of one tenant, filtered and in
keyset pages ordered by (sort_name, id), and a person's accounts with their access by name.

Every function takes the tenant the view got from tenants.access and filters by it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from provisioning.connectors.factory import connector_type
from provisioning.inventory import catalog
from provisioning.inventory.models import Account, Person
from tenants.models import DirectoryConnection, Tenant

PAGE_SIZE = 50
ACCESS_KINDS = (("groups", "group_ids"), ("licenses", "licence_ids"), ("apps", "app_ids"))


@dataclass
class Page:
    people: list[Person]
    next_after: int | None = None  # the id the next page starts after
    previous_before: int | None = None  # the id the previous page ends before
    moved: bool = False  # the page link's row is gone: this is the first page instead
    first: bool = True


@dataclass
class Counts:
    accounts: int
    people: int
    managed: int
    out_of_scope: int

    @property
    def unmanaged(self) -> int:
        return self.people - self.managed


def counts_of(tenant: Tenant) -> Counts:
    """Live accounts, and people by managed and scope: one aggregate over the people (every
    live account belongs to one of them once matched)."""
    totals = Person.objects.filter(tenant=tenant).aggregate(
        accounts=Coalesce(Sum("accounts_count"), 0),
        people=Count("pk"),
        managed=Count("pk", filter=Q(identity__isnull=False)),
        out_of_scope=Count("pk", filter=Q(in_scope=False)),
    )
    return Counts(**totals)


def unread_directories(tenant: Tenant) -> list[DirectoryConnection]:
    """The tenant's connections whose inventory has never finished a read: until it has, the
    People page knows only the people the portal manages there."""
    return list(
        DirectoryConnection.objects.filter(tenant=tenant)
        .filter(Q(inventory_cursor__isnull=True) | Q(inventory_cursor__finished_at__isnull=True))
        .select_related("inventory_cursor")
        .order_by("pk")
    )


def people_of(tenant: Tenant, filters: dict) -> QuerySet[Person]:
    """The tenant's people that pass the filters (a PeopleFilterForm's cleaned data)."""
    people = Person.objects.filter(tenant=tenant)
    if text := (filters.get("q") or "").casefold():
        people = people.filter(search__contains=text)
    match filters.get("who"):
        case "managed":
            people = people.filter(identity__isnull=False)
        case "unmanaged":
            people = people.filter(identity__isnull=True)
    if filters.get("status"):
        people = people.filter(enabled=filters["status"] == "enabled")
    if filters.get("scope"):
        people = people.filter(in_scope=filters["scope"] == "in")
    if filters.get("licensed"):
        people = people.filter(licensed=filters["licensed"] == "yes")
    if days := filters.get("idle_days"):
        since = timezone.now() - timedelta(days=days)
        people = people.filter(Q(last_sign_in__lt=since) | Q(last_sign_in__isnull=True))
    if connection_id := filters.get("directory"):
        live_there = Account.objects.filter(
            person=OuterRef("pk"), connection_id=connection_id, deleted=False
        )
        people = people.filter(Exists(live_there))
    return people


def page_of(people: QuerySet[Person], after: int | None, before: int | None) -> Page:
    """One page of `people` by (sort_name, id): after a row, before a row, or the first."""
    anchor_id = after or before
    if not anchor_id:
        return _first_page(people)
    anchor = people.filter(pk=anchor_id).values_list("sort_name", "pk").first()
    if anchor is None:
        # The row left the list (matched anew, filtered out, gone): start again.
        return _first_page(people, moved=True)
    name, pk = anchor
    rows = _rows(people)
    if after:
        # sort_name >= name as well, so that the database seeks to the row in its index
        # instead of reading every row before it.
        later = rows.filter(sort_name__gte=name).filter(Q(sort_name__gt=name) | Q(pk__gt=pk))
        chunk = list(later[: PAGE_SIZE + 1])
        page = Page(chunk[:PAGE_SIZE], first=False)
        page.previous_before = chunk[0].pk if chunk else None
        page.next_after = chunk[PAGE_SIZE - 1].pk if len(chunk) > PAGE_SIZE else None
        return page
    earlier = rows.filter(sort_name__lte=name).filter(Q(sort_name__lt=name) | Q(pk__lt=pk))
    chunk = list(earlier.order_by("-sort_name", "-pk")[: PAGE_SIZE + 1])
    if len(chunk) <= PAGE_SIZE:  # back at the start: the first page, whole
        return _first_page(people)
    chunk = chunk[:PAGE_SIZE][::-1]
    return Page(chunk, next_after=chunk[-1].pk, previous_before=chunk[0].pk, first=False)


def _rows(people: QuerySet[Person]) -> QuerySet[Person]:
    return people.select_related("identity").order_by("sort_name", "pk")


def _first_page(people: QuerySet[Person], moved: bool = False) -> Page:
    chunk = list(_rows(people)[: PAGE_SIZE + 1])
    page = Page(chunk[:PAGE_SIZE], moved=moved)
    page.next_after = chunk[PAGE_SIZE - 1].pk if len(chunk) > PAGE_SIZE else None
    return page


def directories_of(tenant: Tenant, people: list[Person]) -> dict[int, list[DirectoryConnection]]:
    """person id -> the connections they have a live account in (one query)."""
    connections = {c.pk: c for c in tenant.connections.all()}
    pairs = (
        Account.objects.filter(tenant=tenant, person__in=[p.pk for p in people], deleted=False)
        .values_list("person_id", "connection_id")
        .distinct()
    )
    found: dict[int, list[DirectoryConnection]] = defaultdict(list)
    for person_id, connection_id in sorted(pairs, key=lambda pair: connections[pair[1]].kind):
        found[person_id].append(connections[connection_id])
    return found


# -- one person ---------------------------------------------------------------------------------


def get_person_for(tenant: Tenant, person_id: int) -> Person | None:
    return Person.objects.filter(tenant=tenant, pk=person_id).select_related("identity").first()


@dataclass
class AccountView:
    account: Account
    # kind -> names, for the kinds the directory's accounts hold: licences only where it sells
    # them, apps not in a SCIM app (it is one).
    access: dict[str, list[str]] = field(default_factory=dict)
    # The inventory does not read who is in a SCIM app's groups (catalog.read_kinds): none
    # known is not none held.
    groups_unread: bool = False


@dataclass(frozen=True)
class HeldKinds:
    held: tuple[str, ...]  # what the directory's accounts can hold
    read: tuple[str, ...]  # what inventory reads find on them


def held_kinds(connection: DirectoryConnection) -> HeldKinds:
    """Every account can be in groups; licences and apps where the inventory reads them
    (licences in Entra ID, apps in Entra ID and Okta)."""
    read = catalog.read_kinds(connector_type(connection))
    return HeldKinds(("groups",) + tuple(kind for kind in read if kind != "groups"), read)


def accounts_of(person: Person) -> list[AccountView]:
    """The person's accounts, live first, per directory, with their access by name."""
    accounts = list(
        person.accounts.filter(tenant_id=person.tenant_id)
        .select_related("connection")
        .order_by("deleted", "connection__kind", "pk")
    )
    names: dict[tuple[int, str], dict[str, str]] = {}
    views = []
    for account in accounts:
        kinds = held_kinds(account.connection)
        view = AccountView(account, groups_unread="groups" not in kinds.read)
        for kind, column in ACCESS_KINDS:
            if kind not in kinds.held:
                continue
            key = (account.connection_id, kind)
            if key not in names:
                names[key] = catalog.names(account.connection, kind)
            ids = getattr(account, column) or []
            view.access[kind] = sorted((names[key].get(i, i) for i in ids), key=str.casefold)
        views.append(view)
    return views
