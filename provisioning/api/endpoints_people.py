"""People (the portal's managed identities) and the directory accounts the inventory
observed (read)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from ninja import Query, Router, Schema
from pydantic import Field

from provisioning.api import scope
from provisioning.api.filters import Id, PathId, PathSlug, When, slug, text
from provisioning.api.paging import Page, PageQuery, page_of
from provisioning.api.schemas import ERRORS, absolute
from provisioning.inventory.models import Account
from provisioning.models import Identity
from provisioning.queries import ATTRIBUTE_LABELS
from tenants import access

router = Router(tags=["People"])

PersonStatus = Literal["joiner", "active", "leaver", "left", "deleted"]


class PeopleQuery(Schema):
    tenant: str | None = slug()
    status: PersonStatus | None = Field(None, description="Lifecycle status.")
    q: str | None = text(100, "Contained in the name, username or e-mail, any case.")
    department: str | None = text(200, "Exactly this department, any case.")
    role_template: Id | None = Field(None, description="Has this role template (its id).")
    updated_since: When | None = Field(None, description="Changed at or after this time.")


class TemplateRef(Schema):
    id: int
    name: str


class DirectoryId(Schema):
    connection_id: int
    connection: str = Field(description="The connection's label, e.g. Microsoft Entra ID.")
    kind: str
    directory_id: str = Field(description="The person's id in that directory.")


class DeletionOut(Schema):
    state: Literal["deleting", "failed"] = Field(
        description="deleting: the hard delete's job is under way; failed: it failed or "
        "partly failed, and the account is still in a directory until a retry succeeds."
    )
    job_id: int = Field(description="The hard delete's job.")
    error: str = Field(description="Why it failed (empty while it runs).")


class PersonOut(Schema):
    id: int
    tenant: str
    first_name: str
    last_name: str
    display_name: str
    username: str
    email: str
    employee_id: str
    status: PersonStatus = Field(
        description="Lifecycle status. deleted: asked to be deleted; `deletion` says whether "
        "the directories show it yet."
    )
    deletion: DeletionOut | None = Field(
        description="A hard delete that has started and not succeeded; null once it has "
        "(the account is gone) or when none started."
    )
    start_date: date | None
    end_date: date | None
    created_at: datetime
    updated_at: datetime
    role_templates: list[TemplateRef]
    attributes: dict[str, str] = Field(description="Directory attributes set for the person.")
    directory_ids: list[DirectoryId]
    url: str = Field(description="The person's page on the portal.")

    @staticmethod
    def of(identity: Identity) -> dict:
        return {
            "id": identity.pk,
            "tenant": identity.tenant.slug,
            "first_name": identity.first_name,
            "last_name": identity.last_name,
            "display_name": identity.display_name,
            "username": identity.username,
            "email": identity.email,
            "employee_id": identity.employee_id,
            "status": identity.status,
            "deletion": identity.deletion,
            "start_date": identity.start_date,
            "end_date": identity.end_date,
            "created_at": identity.created_at,
            "updated_at": identity.updated_at,
            "role_templates": [{"id": t.pk, "name": t.name} for t in identity.role_templates.all()],
            # Only the named, displayed attributes: anything else kept there stays inside.
            "attributes": {
                name: str(identity.attributes[name])
                for name in ATTRIBUTE_LABELS
                if isinstance(identity.attributes, dict) and identity.attributes.get(name)
            },
            "directory_ids": [
                {
                    "connection_id": account.connection_id,
                    "connection": account.connection.label,
                    "kind": account.connection.kind,
                    "directory_id": account.remote_id,
                }
                for account in identity.accounts.all()
                if account.remote_id
            ],
            "url": absolute(
                reverse(
                    "identity_detail",
                    kwargs={"tenant": identity.tenant.slug, "identity_id": identity.pk},
                )
            ),
        }


class AccountOut(Schema):
    id: int
    connection_id: int
    connection: str = Field(description="The connection's label.")
    kind: str
    directory_id: str = Field(description="The account's id in the directory.")
    username: str
    mail: str
    display_name: str
    enabled: bool
    deleted: bool
    person_id: int | None = Field(description="The managed person it is matched to, if any.")
    last_sign_in: datetime | None
    first_seen: datetime
    last_seen: datetime = Field(description="When the inventory last read it.")

    @staticmethod
    def of(account: Account) -> dict:
        return {
            "id": account.pk,
            "connection_id": account.connection_id,
            "connection": account.connection.label,
            "kind": account.connection.kind,
            "directory_id": account.remote_id,
            "username": account.username,
            "mail": account.mail,
            "display_name": account.display_name,
            "enabled": account.enabled,
            "deleted": account.deleted,
            "person_id": account.person.identity_id if account.person else None,
            "last_sign_in": account.last_sign_in,
            "first_seen": account.first_seen,
            "last_seen": account.last_seen,
        }


class AccountsQuery(Schema):
    connection: Id | None = Field(None, description="Only this connection (its id).")
    matched: bool | None = Field(
        None, description="true: only accounts matched to a managed person; false: only not."
    )
    enabled: bool | None = None
    q: str | None = text(100, "Contained in the username, e-mail or name, any case.")


def _with_details(people: QuerySet[Identity]) -> QuerySet[Identity]:
    return people.select_related("tenant").prefetch_related(
        "role_templates", "accounts__connection"
    )


@router.get("/people", response={200: Page[PersonOut], **ERRORS}, summary="People")
def list_people(request: HttpRequest, filters: Query[PeopleQuery], page: Query[PageQuery]):
    """The people the portal manages in the tenants you may see, newest first."""
    scope.require(request.auth, access.READ_ROLES, writes=False)
    people = scope.people_of(request.auth)
    if filters.tenant:
        people = people.filter(tenant=scope.tenant_for(request.auth, filters.tenant))
    if filters.status:
        people = people.filter(status=filters.status)
    if filters.q:
        people = people.filter(
            Q(display_name__icontains=filters.q)
            | Q(first_name__icontains=filters.q)
            | Q(last_name__icontains=filters.q)
            | Q(username__icontains=filters.q)
            | Q(email__icontains=filters.q)
        )
    if filters.department:
        people = people.filter(attributes__department__iexact=filters.department)
    if filters.role_template:
        people = people.filter(role_templates=filters.role_template)
    if filters.updated_since:
        people = people.filter(updated_at__gte=filters.updated_since)
    return page_of(_with_details(people.distinct()), page, PersonOut.of)


@router.get("/people/{id}", response={200: PersonOut, **ERRORS}, summary="One person")
def get_person(request: HttpRequest, id: PathId):
    """A person of a tenant you may see; another tenant's is 404."""
    return PersonOut.of(scope.person_for(request.auth, id, people=_with_details(Identity.objects)))


@router.get(
    "/people/{id}/accounts",
    response={200: Page[AccountOut], **ERRORS},
    summary="A person's directory accounts",
)
def list_person_accounts(request: HttpRequest, id: PathId, page: Query[PageQuery]):
    """The person's accounts in each directory, as the inventory last read them."""
    person = scope.person_for(request.auth, id)
    accounts = Account.objects.filter(tenant=person.tenant, person__identity=person)
    return page_of(accounts.select_related("connection", "person"), page, AccountOut.of)


@router.get(
    "/tenants/{slug}/accounts",
    response={200: Page[AccountOut], **ERRORS},
    summary="A tenant's directory accounts",
    tags=["Directory accounts"],
)
def list_tenant_accounts(
    request: HttpRequest, slug: PathSlug, filters: Query[AccountsQuery], page: Query[PageQuery]
):
    """Every account the inventory read from the tenant's directories, managed or not."""
    tenant = scope.tenant_for(request.auth, slug)
    accounts = Account.objects.filter(tenant=tenant)
    if filters.connection:
        accounts = accounts.filter(connection_id=filters.connection)
    if filters.matched is not None:
        accounts = accounts.filter(person__identity__isnull=not filters.matched)
    if filters.enabled is not None:
        accounts = accounts.filter(enabled=filters.enabled)
    if filters.q:
        accounts = accounts.filter(
            Q(username__icontains=filters.q)
            | Q(mail__icontains=filters.q)
            | Q(display_name__icontains=filters.q)
        )
    return page_of(accounts.select_related("connection", "person"), page, AccountOut.of)
