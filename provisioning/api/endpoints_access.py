"""Access requests: list a tenant's, file one, decide on one, revoke one; and what a tenant
lets people request (the ids a new request names).

As on the pages: anyone who sees the tenant lists; technicians, MSP admins and client admins
file (provisioning.access.forms.AccessRequestForm validates); the resource's approvers (the
tenant's client admins, or the ones it names), never the requester, decide; the MSP's
operators and those approvers revoke."""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from pydantic import Field

from portal.models import Role
from provisioning.access import queries as queries_access
from provisioning.access import services as ar
from provisioning.access.forms import AccessRequestForm, DecisionForm, RevokeForm
from provisioning.api import scope
from provisioning.api.filters import MAX_ID, PathId, PathSlug
from provisioning.api.form_rules import NO_MARKUP, described
from provisioning.api.idempotency import IdempotencyKey, idempotent
from provisioning.api.models import ApiToken
from provisioning.api.paging import Page, PageQuery, page_of
from provisioning.api.schemas import ERRORS
from provisioning.api.writing import (
    CONFLICT,
    ScopedTokenAuth,
    WriteIn,
    conflict,
    examples,
    invalid,
    job_url,
    path_id,
    tenant_first,
    wall_clock,
)
from provisioning.models import AccessRequest, RequestableResource
from tenants import access

router = Router(tags=["Access requests"])
FILE_ROLES = (Role.MSP_ADMIN, Role.TECHNICIAN, Role.CLIENT_ADMIN)
# Literal, not the TextChoices: see writing.JobKind.
ResourceKind = Literal[tuple(RequestableResource.Kind.values)]
RequestStatus = Literal[tuple(AccessRequest.Status.values)]
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
Reason = Annotated[str, Field(min_length=1, max_length=2000, **described(NO_MARKUP))]


class ResourceOut(Schema):
    id: int
    name: str
    kind: ResourceKind = Field(description="A group or an app.")
    directory: str = Field(description="The directory connection it lives in.")
    description: str
    time_bound: bool = Field(description="A request must give `ends_at`.")
    max_days: int | None = Field(description="The longest grant, for time-bound access.")
    is_active: bool = Field(description="Only active resources can be requested.")

    @staticmethod
    def of(resource: RequestableResource) -> dict:
        return {
            "id": resource.pk,
            "name": resource.name,
            "kind": resource.kind,
            "directory": resource.connection.label,
            "description": resource.description,
            "time_bound": resource.time_bound,
            "max_days": resource.max_days,
            "is_active": resource.is_active,
        }


class AccessRequestOut(Schema):
    id: int
    tenant: str = Field(description="The tenant's slug.")
    person: int = Field(description="The person's id (GET /people/{id}).")
    person_name: str
    resource: int = Field(description="The requestable resource's id.")
    resource_name: str
    status: RequestStatus
    reason: str
    ends_at: datetime | None = Field(description="When the access ends; null: until removed.")
    requested_by: str | None = Field(description="Who asked (null: the system).")
    decided_by: str | None = Field(description="Who decided (null: a rule, or not yet).")
    decided_by_rule: str = Field(description="The auto-approve rule that approved it, if one.")
    decision_reason: str
    decided_at: datetime | None
    grant_job: str | None = Field(description="The job that grants it, in this API.")
    end_job: str | None = Field(
        description="The job that takes it away (a revoke, its end), in this API."
    )
    created_at: datetime

    @staticmethod
    def of(request: AccessRequest) -> dict:
        return {
            "id": request.pk,
            "tenant": request.tenant.slug,
            "person": request.identity_id,
            "person_name": request.identity.display_name,
            "resource": request.resource_id,
            "resource_name": request.resource.name,
            "status": request.status,
            "reason": request.reason,
            "ends_at": request.ends_at,
            "requested_by": _name(request.requested_by),
            "decided_by": _name(request.decided_by),
            "decided_by_rule": request.decided_by_rule,
            "decision_reason": request.decision_reason,
            "decided_at": request.decided_at,
            "grant_job": job_url(request.grant_job_id) if request.grant_job_id else None,
            "end_job": job_url(request.end_job_id) if request.end_job_id else None,
            "created_at": request.created_at,
        }


def _name(user) -> str | None:
    return (user.get_full_name() or user.get_username()) if user is not None else None


class AccessRequestsQuery(Schema):
    status: RequestStatus | None = Field(None, description="Only requests in this state.")
    person: ObjectId | None = Field(None, description="Only this person's requests.")
    resource: ObjectId | None = Field(None, description="Only requests for this resource.")


class AccessRequestIn(WriteIn):
    model_config = examples(
        {"person": 42, "resource": 3, "reason": "Needs the VPN for the Q1 audit."},
        {"person": 42, "resource": 1, "reason": "Covers on-call", "ends_at": "2027-01-31T18:00"},
    )

    person: ObjectId = Field(description="An active person of the tenant (their id).")
    resource: ObjectId = Field(
        description="An active requestable resource of the tenant (GET "
        "/tenants/{slug}/requestable-resources)."
    )
    reason: Reason = Field(description="Why the person needs it: the approver decides on it.")
    ends_at: datetime | None = Field(
        None,
        description="When the access ends (ISO 8601; without an offset, the tenant's local "
        "time). Required for time-bound access, at most its `max_days` ahead; none: until "
        "someone removes it.",
    )


class DecisionIn(WriteIn):
    model_config = examples(
        {"decision": "approve", "reason": "Agreed with the team lead."},
        {"decision": "deny", "reason": "The VPN is for staff on contract only."},
    )

    decision: Literal["approve", "deny"] = Field(description="approve or deny.")
    reason: Reason = Field(description="Why; the requester sees it.")


class RevokeIn(WriteIn):
    model_config = examples({"reason": "Approved by mistake."}, {})

    reason: Reason | None = Field(None, description="Why, for the audit trail (optional).")


@router.get(
    "/tenants/{slug}/requestable-resources",
    response={200: Page[ResourceOut], **ERRORS},
    summary="What the tenant's people may request",
)
def list_requestables(request: HttpRequest, slug: PathSlug, page: Query[PageQuery]):
    tenant = scope.tenant_for(request.auth, slug)
    return page_of(queries_access.requestables_of(tenant), page, ResourceOut.of)


@router.get(
    "/tenants/{slug}/access-requests",
    response={200: Page[AccessRequestOut], **ERRORS},
    summary="A tenant's access requests",
)
def list_access_requests(
    request: HttpRequest,
    slug: PathSlug,
    filters: Query[AccessRequestsQuery],
    page: Query[PageQuery],
):
    tenant = scope.tenant_for(request.auth, slug)
    requests = queries_access.requests_of(tenant).select_related("tenant")
    if filters.status:
        requests = requests.filter(status=filters.status)
    if filters.person:
        requests = requests.filter(identity_id=filters.person)
    if filters.resource:
        requests = requests.filter(resource_id=filters.resource)
    return page_of(requests, page, AccessRequestOut.of)


@router.post(
    "/tenants/{slug}/access-requests",
    response={201: AccessRequestOut, **ERRORS, **CONFLICT},
    summary="File an access request",
    auth=tenant_first(FILE_ROLES),
)
@idempotent
def file_access_request(
    request: HttpRequest,
    slug: PathSlug,
    body: AccessRequestIn,
    idempotency_key: IdempotencyKey = None,
):
    """Pending until an approver decides, or approved at once by the resource's
    auto-approve rule (then its `grant_job` is under way)."""
    tenant = scope.tenant_for(request.auth, slug, FILE_ROLES, writes=True)
    data = {
        "identity": body.person,
        "resource": body.resource,
        "reason": body.reason,
        "ends_at": wall_clock(tenant, body.ends_at),
    }
    form = AccessRequestForm(data, tenant=tenant)
    if not form.is_valid():
        raise invalid(_with_api_names(form))
    cleaned = form.cleaned_data
    try:
        filed = ar.file_request(
            cleaned["identity"],
            cleaned["resource"],
            reason=cleaned["reason"],
            ends_at=cleaned["ends_at"],
            actor=request.user,
            http_request=request,
        )
    except ar.AccessRequestError as exc:
        raise conflict(exc.message) from exc
    return 201, AccessRequestOut.of(_fetched(filed.pk))


@router.post(
    "/access-requests/{id}/decision",
    response={200: AccessRequestOut, **ERRORS, **CONFLICT},
    summary="Approve or deny an access request",
    auth=ScopedTokenAuth(
        lambda token, path: _request_checked(token, path_id(path), ar.require_decider)
    ),
)
@idempotent
def decide(
    request: HttpRequest,
    id: PathId,
    body: DecisionIn,
    idempotency_key: IdempotencyKey = None,
):
    """For the resource's approvers only (client admins of the tenant, or the ones it
    names), never the person who asked; an approval starts the grant job."""
    access_request = _request_for(request.auth, id)
    form = DecisionForm({"decision": body.decision, "reason": body.reason})
    if not form.is_valid():
        raise invalid(form)
    decide_with = ar.approve if form.cleaned_data["decision"] == "approve" else ar.deny
    try:
        decide_with(
            access_request,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            http_request=request,
        )
    except ar.AccessRequestError as exc:
        raise conflict(exc.message) from exc
    return 200, AccessRequestOut.of(_fetched(access_request.pk))


@router.post(
    "/access-requests/{id}/revoke",
    response={200: AccessRequestOut, **ERRORS, **CONFLICT},
    summary="Revoke approved or granted access",
    auth=ScopedTokenAuth(
        lambda token, path: _request_checked(token, path_id(path), ar.require_revoker)
    ),
)
@idempotent
def revoke(
    request: HttpRequest,
    id: PathId,
    body: RevokeIn,
    idempotency_key: IdempotencyKey = None,
):
    """For the MSP's operators and the resource's approvers among the client admins, as on
    the page: the request moves to `ending` and its `end_job` takes away what the grant
    added, even while the grant job is still under way."""
    access_request = _request_for(request.auth, id)
    form = RevokeForm({"reason": body.reason or ""})
    if not form.is_valid():
        raise invalid(form)
    reason = form.cleaned_data["reason"]
    try:
        ar.revoke(access_request, actor=request.user, reason=reason, http_request=request)
    except ar.AccessRequestError as exc:
        raise conflict(exc.message) from exc
    return 200, AccessRequestOut.of(_fetched(access_request.pk))


def _request_checked(
    token: ApiToken, request_id: int | None, require: Callable[..., None]
) -> AccessRequest | None:
    """As `_request_for`, and 403 unless `require` (the service's decider or revoker check)
    lets the token's person act on it: checked with the token, before the body is read."""
    access_request = _request_for(token, request_id)
    if access_request is not None:
        require(token.user, access_request)
    return access_request


def _request_for(token: ApiToken, request_id: int | None) -> AccessRequest | None:
    """A request of the token's tenants (else 404), for a person who may read it (else 403):
    whether they may decide is the service's to say, as on the page."""
    if request_id is None:
        return None
    requests = AccessRequest.objects.filter(tenant__in=scope.tenants_of(token))
    access_request = get_object_or_404(requests.select_related("resource"), pk=request_id)
    scope.require(token, access.READ_ROLES, writes=True)
    return access_request


def _fetched(pk: int) -> AccessRequest:
    return AccessRequest.objects.select_related(
        "tenant", "identity", "resource", "requested_by", "decided_by"
    ).get(pk=pk)


def _with_api_names(form: AccessRequestForm) -> AccessRequestForm:
    """The form calls the person `identity`; this API calls them `person`."""
    if "identity" in form.errors:
        form.errors["person"] = form.errors.pop("identity")
    return form
