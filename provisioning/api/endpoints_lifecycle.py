"""Onboard, change, offboard and restore people; retry and cancel jobs. Each answers
`202 Accepted` with the job that does it (and a `Location` header pointing at it).

The same people may do it as on the pages (technicians and MSP admins), the same forms
validate it (bound with the JSON body and the tenant), and the same service functions do it;
the onboarding and the change run the pages' dry run first, and refuse what it blocks."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from ninja import Router
from pydantic import Field, StringConstraints

from provisioning import services
from provisioning.api import scope
from provisioning.api.filters import MAX_ID, TEXT, PathId, PathSlug
from provisioning.api.form_rules import (
    COUNTRY_OR_BLANK,
    NO_MARKUP_LINE,
    USERNAME_OR_BLANK,
    described,
    plain_name,
    plain_text,
)
from provisioning.api.idempotency import IdempotencyKey, idempotent
from provisioning.api.problems import Problem
from provisioning.api.schemas import ERRORS
from provisioning.api.writing import (
    CONFLICT,
    JobAccepted,
    WriteIn,
    accepted,
    conflict,
    examples,
    invalid,
    job_first,
    located,
    person_first,
    tenant_first,
    wall_clock,
)
from provisioning.forms import OnboardingForm
from provisioning.lifecycle import queries as queries_lifecycle
from provisioning.lifecycle import services as lifecycle
from provisioning.lifecycle.forms import (
    CHANGE_ATTRIBUTES,
    MAX_AUTO_REPLY,
    MAX_DELETE_AFTER_DAYS,
    ChangeForm,
    OffboardingForm,
)
from provisioning.models import Batch, Identity, Job
from provisioning.seats import (
    GO_WITHOUT,
    LICENSE_CHOICE_PREFIX,
    MAX_POSTED_CHOICES,
    MAX_SKU_LENGTH,
    license_choices_for,
    posted_license_choices,
    unanswered_blockers,
)
from tenants import access, clock
from tenants.forms import MAX_ITEM_LENGTH, MAX_LIST_ITEMS

router = Router(tags=["Lifecycle"])
OPERATORS = access.OPERATOR_ROLES
ACCEPTED = {202: JobAccepted, **ERRORS, **CONFLICT}

OneLine = Annotated[
    str,
    StringConstraints(max_length=MAX_ITEM_LENGTH, pattern=r"^[^\r\n]*$"),
    Field(**described(NO_MARKUP_LINE)),  # the form refuses < and > in its own words
]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SKU_LENGTH, pattern=TEXT)]
TemplateId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _keys_as_property_names(schema: dict) -> None:
    """pydantic states a dict's key pattern as `patternProperties`, under which JSON Schema
    leaves a key that fails the pattern free (and the API refuses it, 422): the pattern is
    the keys' own rule (`propertyNames`), and every value has the values' schema."""
    ((pattern, values),) = schema.pop("patternProperties").items()
    schema["propertyNames"] = {**schema.get("propertyNames", {}), "pattern": pattern}
    schema["additionalProperties"] = values


LicenseChoices = Annotated[
    dict[Sku, Annotated[str, StringConstraints(max_length=MAX_SKU_LENGTH, pattern=TEXT)]],
    Field(
        json_schema_extra=_keys_as_property_names,
        max_length=MAX_POSTED_CHOICES,
        description="For a licence without a free seat (or whose last seat this takes): SKU "
        "→ the SKU to use instead, or an empty string to go without it. A blocked request's "
        "problem names the SKUs that need an answer.",
    ),
]
Groups = Annotated[list[OneLine], Field(max_length=MAX_LIST_ITEMS)]


# -- onboard ----------------------------------------------------------------------------------


class OnboardIn(WriteIn):
    model_config = examples(
        {"first_name": "Ada", "last_name": "Lovelace", "role_templates": [1]},
        {
            "first_name": "Grace",
            "last_name": "Hopper",
            "role_templates": [1, 2],
            "job_title": "Lead Engineer",
            "usage_location": "GB",
            "extra_groups": ["VPN Users"],
        },
    )
    first_name: str = plain_name(
        "Given name; at most 50 characters where the tenant has Okta.", max_length=64
    )
    last_name: str = plain_name(
        "Family name; at most 50 characters where the tenant has Okta.", max_length=64
    )
    role_templates: list[TemplateId] = Field(
        min_length=1,
        max_length=50,
        description="Ids of the tenant's role templates (GET /tenants/{slug}/role-templates); "
        "the first one's naming rule makes the username.",
    )
    start_date: date | None = Field(
        None,
        description="First working day, from 30 days ago to a year ahead; none: today in the "
        "tenant's time zone. A future start creates the account disabled now and enables it "
        "that morning.",
    )
    username: str = Field(
        "",
        max_length=254,
        description="Instead of the naming rule's, e.g. ada.lovelace@contoso.com: in one of "
        "the tenant's domains and not taken in the portal.",
        **described(USERNAME_OR_BLANK),
    )
    department: str = plain_text("", "Blank: the role template's.", max_length=64)
    job_title: str = plain_text("", "Blank: the role template's.", max_length=128)
    manager: str = plain_text(
        "",
        "Username or display name of the manager, matching one directory account.",
        max_length=160,
    )
    usage_location: str = Field(
        "",
        max_length=2,
        description="An ISO 3166 country code, e.g. GB (not UK); blank: the role template's.",
        **described(COUNTRY_OR_BLANK),
    )
    extra_groups: Groups = Field([], description="Groups besides the role templates'.")
    license_choices: LicenseChoices = {}
    different_person: bool = Field(
        False,
        description="True only when a person of the same name has the naming rule's username "
        "in the portal already and this joiner is someone else (a numbered username); "
        "otherwise such a request is refused as the same person sent again.",
    )


def _onboarding_form(tenant, body: OnboardIn) -> OnboardingForm:
    data = body.model_dump()
    data["start_date"] = body.start_date or clock.tenant_today(tenant)
    data["extra_groups"] = "\n".join(body.extra_groups)
    return OnboardingForm(data, tenant=tenant)


def _posted(choices: dict[str, str]) -> dict[str, str]:
    """The body's licence answers in the form's shape, through the form's own caps."""
    return posted_license_choices(
        {LICENSE_CHOICE_PREFIX + sku: value or GO_WITHOUT for sku, value in choices.items()}
    )


def _blockers(preview, posted: dict[str, str]) -> list[str]:
    """What stops the onboarding and change pages' dry run from going ahead: a directory it
    cannot read, and a licence without a free seat that has no answer."""
    blockers = [
        f"{connection.label} could not be read, so the plan cannot be checked: {error}"
        for connection, _, error in preview.plans
        if error
    ]
    return blockers + unanswered_blockers(preview, license_choices_for(preview, posted), posted)


def blocked(blockers: list[str]) -> Problem:
    detail = "The dry run found something to settle first: " + " ".join(blockers)
    return Problem(409, detail, kind="blocked", blockers=blockers)


@router.post(
    "/tenants/{slug}/people",
    response=ACCEPTED,
    auth=tenant_first(OPERATORS),
    summary="Onboard a person",
    url_name="onboard",
)
@located
@idempotent
def onboard(
    request: HttpRequest,
    slug: PathSlug,
    body: OnboardIn,
    idempotency_key: IdempotencyKey = None,
    response: HttpResponse = None,
):
    """Validated as the onboarding page does; then its dry run (the username, and the plan
    per directory) must find nothing blocking; then the join job is queued."""
    tenant = scope.tenant_for(request.auth, slug, OPERATORS, writes=True)
    form = _onboarding_form(tenant, body)
    if not form.is_valid():
        raise invalid(form)
    posted = _posted(body.license_choices)
    onboarding = form.onboarding_request(posted)
    preview = services.preview_onboarding(tenant, onboarding)
    if blockers := _blockers(preview, posted):
        raise blocked(blockers)
    try:
        job = services.request_onboarding(
            tenant, onboarding, username=preview.username, actor=request.user, http_request=request
        )
    except IntegrityError as exc:
        raise conflict(f"{preview.username} was just taken in this portal: try again.") from exc
    return accepted(job)


# -- change -----------------------------------------------------------------------------------


class ChangeIn(WriteIn):
    """Only what is sent changes; what is left out stays as the person has it."""

    model_config = examples(
        {"job_title": "Senior Analyst", "department": "Finance"},
        {"role_templates": [2], "at": "2027-01-04T09:00:00"},
    )

    role_templates: list[TemplateId] | None = Field(
        None, min_length=1, max_length=50, description="The person's role templates from now."
    )
    department: str | None = plain_text(None, "Blank: the role's.", max_length=64)
    job_title: str | None = plain_text(None, "Blank: the role's.", max_length=128)
    office: str | None = plain_text(None, "Blank: the role's.", max_length=128)
    usage_location: str | None = Field(
        None,
        max_length=2,
        description="An ISO 3166 country code, e.g. GB (not UK).",
        **described(COUNTRY_OR_BLANK),
    )
    extra_groups: Groups | None = Field(None, description="Groups besides the role templates'.")
    at: datetime | None = Field(
        None,
        description="When it takes effect (ISO 8601; without an offset, the tenant's local "
        "time); none: now.",
    )
    license_choices: LicenseChoices = {}


@router.post(
    "/people/{id}/change",
    response=ACCEPTED,
    auth=person_first(OPERATORS),
    summary="Change a person's roles or attributes (a mover)",
    url_name="change",
)
@located
@idempotent
def change(
    request: HttpRequest,
    id: PathId,
    body: ChangeIn,
    idempotency_key: IdempotencyKey = None,
    response: HttpResponse = None,
):
    identity = scope.person_for(request.auth, id, OPERATORS, writes=True)
    if identity.status in (Identity.Status.LEFT, Identity.Status.DELETED):
        raise conflict(
            f"{identity.display_name} has left: restore them before changing their role."
        )
    read = _laid_over(identity)
    form = ChangeForm(_change_data(identity, body), identity=identity)
    if not form.is_valid():
        raise invalid(form)
    posted = _posted(body.license_choices)
    change_request = form.change_request(posted)
    change_request.named = _named(body)
    preview = lifecycle.preview_change(identity, change_request, fresh_seats=True)
    if blockers := _blockers(preview, posted):
        raise blocked(blockers)
    with transaction.atomic():
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        if _laid_over(identity) != read:
            raise conflict(
                f"{identity.display_name} was changed by another request while this one was "
                "checked: read them again and send the change again."
            )
        job = lifecycle.request_change(
            identity,
            change_request,
            actor=request.user,
            at=form.cleaned_data["at"],
            http_request=request,
        )
    return accepted(job)


def _named(body: ChangeIn) -> list[str]:
    """What the body changes: a change scheduled for later sets only these when it falls
    due, over the person as they are then (one sent meanwhile keeps what it set)."""
    sent = body.model_dump(exclude_unset=True, exclude={"license_choices", "at"})
    return [name for name, value in sent.items() if value is not None]


def _laid_over(identity: Identity) -> tuple:
    """What a change's body is laid over. Another change committed between the read and the
    save (two tools at once) would otherwise be undone by this one's copy of the rest. Not
    the status: a join ending meanwhile (joiner to active) takes nothing a change sets."""
    templates = [t.pk for t in identity.role_templates.all()]
    return templates, identity.extra_groups, identity.attributes


def _change_data(identity: Identity, body: ChangeIn) -> dict:
    """The change form's data: what the person has now, with what was sent over it."""
    sent = body.model_dump(exclude_unset=True, exclude={"license_choices"})
    data = {
        "role_templates": [t.pk for t in identity.role_templates.all()],
        "extra_groups": "\n".join(identity.extra_groups),
        **{name: identity.attributes.get(name, "") for name in CHANGE_ATTRIBUTES},
    }
    data |= {name: value for name, value in sent.items() if value is not None}
    if body.extra_groups is not None:
        data["extra_groups"] = "\n".join(body.extra_groups)
    data["at"] = wall_clock(identity.tenant, body.at)
    return data


# -- offboard ---------------------------------------------------------------------------------


def option(name: str, **kwargs):
    """A field of the offboarding page's form, described as the page labels it."""
    field = OffboardingForm.base_fields[name]
    words = " ".join(str(part) for part in (field.label, field.help_text) if part)
    return Field(None, description=f"{words.rstrip('.')}. Left out: the tenant's preset.", **kwargs)


class OffboardIn(WriteIn):
    """What the offboarding does; what is left out is as the tenant's leaver preset says.
    The mail and OneDrive options apply where the tenant has Entra ID, `okta_mode` where it
    has Okta."""

    model_config = examples(
        {},
        {"revoke_sessions": True, "reset_password": True, "keep_groups": ["All Staff"]},
        {"okta_mode": "deactivate", "delete_after_days": 30, "at": "2027-01-29T17:00:00"},
    )

    block_sign_in: bool | None = option("block_sign_in")
    okta_mode: Literal["suspend", "deactivate"] | None = option("okta_mode")
    revoke_sessions: bool | None = option("revoke_sessions")
    reset_password: bool | None = option("reset_password")
    remove_groups: bool | None = option("remove_groups")
    keep_groups: Groups | None = Field(
        None, description="Groups kept (by name, in every directory) when removing groups."
    )
    remove_licenses: bool | None = option("remove_licenses")
    remove_apps: bool | None = option("remove_apps")
    auto_reply: bool | None = option("auto_reply")
    auto_reply_message: str | None = option("auto_reply_message", max_length=MAX_AUTO_REPLY)
    forward_to_manager: bool | None = option("forward_to_manager")
    files_to_manager: bool | None = option("files_to_manager")
    reassign_reports: bool | None = option("reassign_reports")
    convert_to_shared_mailbox: bool | None = option("convert_to_shared_mailbox")
    hide_from_address_list: bool | None = option("hide_from_address_list")
    delete_after_days: int | None = option("delete_after_days", ge=0, le=MAX_DELETE_AFTER_DAYS)
    at: datetime | None = Field(
        None,
        description="When (ISO 8601; without an offset, the tenant's local time); none: now.",
    )


def _offboard_data(form_initial: dict, identity: Identity, body: OffboardIn) -> dict:
    sent = body.model_dump(exclude_unset=True, exclude={"at", "keep_groups"})
    data = {**form_initial, **{k: v for k, v in sent.items() if v is not None}}
    if "delete_after_days" in body.model_fields_set:
        data["delete_after_days"] = body.delete_after_days
    if body.keep_groups is not None:
        data["keep_group"] = body.keep_groups
    data["when"] = "at" if body.at else "now"
    data["at"] = wall_clock(identity.tenant, body.at)
    return data


def _refusal(identity: Identity) -> str:
    """As the offboarding page refuses: someone who has left, or is being offboarded."""
    if identity.status in (Identity.Status.LEFT, Identity.Status.DELETED):
        return f"{identity.display_name} has already left: there is nothing to offboard."
    leaving = queries_lifecycle.lifecycle_of(identity).in_flight_leave
    if leaving is not None:
        return f"An offboarding of {identity.display_name} is running already (job #{leaving.pk})."
    return ""


@router.post(
    "/people/{id}/offboard",
    response=ACCEPTED,
    auth=person_first(OPERATORS),
    summary="Offboard a person (a leaver)",
    url_name="offboard",
)
@located
@idempotent
def offboard(
    request: HttpRequest,
    id: PathId,
    body: OffboardIn,
    idempotency_key: IdempotencyKey = None,
    response: HttpResponse = None,
):
    """Through the tenant's circuit breaker, as the HR webhook and SCIM are: once the API has
    offboarded more of the tenant's people within an hour than its limit, the job is `held`
    until an MSP admin confirms the batch in the portal."""
    identity = scope.person_for(request.auth, id, OPERATORS, writes=True)
    if refusal := _refusal(identity):
        raise conflict(refusal)
    initial = OffboardingForm(identity=identity).initial
    form = OffboardingForm(_offboard_data(initial, identity, body), identity=identity)
    if not form.is_valid():
        raise invalid(form)
    try:
        job = lifecycle.offboard_in_window(
            identity,
            form.options(),
            kind=Batch.Kind.API,
            actor=request.user,
            at=form.cleaned_data["at"],
            row={"person": identity.pk, "username": identity.username},
            http_request=request,
        )
    except lifecycle.HasLeft as exc:  # their running leave ended since the check above
        identity.refresh_from_db()
        raise conflict(_refusal(identity)) from exc
    return accepted(job)


# -- restore ----------------------------------------------------------------------------------


@router.post(
    "/people/{id}/restore",
    response=ACCEPTED,
    auth=person_first(OPERATORS),
    summary="Restore a leaver, or rehire someone deleted",
    url_name="restore",
)
@located
@idempotent
def restore(
    request: HttpRequest,
    id: PathId,
    idempotency_key: IdempotencyKey = None,
    response: HttpResponse = None,
):
    identity = scope.person_for(request.auth, id, OPERATORS, writes=True)
    try:
        job = lifecycle.request_restore(identity, actor=request.user, http_request=request)
    except ValueError as error:
        raise conflict(str(error)) from error
    return accepted(job)


# -- jobs -------------------------------------------------------------------------------------


@router.post(
    "/jobs/{id}/retry",
    response=ACCEPTED,
    auth=job_first(OPERATORS),
    summary="Retry a failed job's failed steps",
    url_name="job_retry",
)
@located
@idempotent
def retry(
    request: HttpRequest,
    id: PathId,
    idempotency_key: IdempotencyKey = None,
    response: HttpResponse = None,
):
    job = scope.job_for(request.auth, id, OPERATORS, writes=True)
    if job.status not in (Job.Status.FAILED, Job.Status.PARTIAL):
        raise conflict(f"Job {job.pk} is {job.status}: only a failed or partial job is retried.")
    return accepted(services.retry_failed_steps(job, actor=request.user, http_request=request))


@router.post(
    "/jobs/{id}/cancel",
    response=ACCEPTED,
    auth=job_first(OPERATORS),
    summary="Cancel a scheduled or held job",
    url_name="job_cancel",
)
@located
@idempotent
def cancel(
    request: HttpRequest,
    id: PathId,
    idempotency_key: IdempotencyKey = None,
    response: HttpResponse = None,
):
    job = scope.job_for(request.auth, id, OPERATORS, writes=True)
    if not lifecycle.cancel_job(job, actor=request.user, http_request=request):
        job.refresh_from_db()
        raise conflict(f"Job {job.pk} is {job.status}: it can no longer be cancelled.")
    job.refresh_from_db()
    return accepted(job)
