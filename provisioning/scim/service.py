"""SCIM requests as the portal's actions: POST a join, PUT/PATCH a move or a change of the
person's fields, `active` false a leave (through the circuit breaker, with the tenant's
preset), `active` true on a leaver a restore, DELETE a leave whose account is then deleted.

Each function is one transaction: the person's fields, the service calls, the SCIM side and
the audit event commit together, or nothing does. Errors are scim2-models exceptions, which
the endpoint answers as RFC 7644 §3.12 errors.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone
from scim2_models import (
    ConflictException,
    InvalidValueException,
    MutabilityException,
    UniquenessException,
)

from portal.audit.events import record
from portal.plain_text import name_problem
from provisioning import name_bounds, services
from provisioning.forms import USERNAME_RE
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, Identity, Job
from provisioning.scim import mapping, rules
from provisioning.scim.models import ScimPerson, ScimToken
from provisioning.scim.resources import ScimUser
from provisioning.scim.tokens import actor_of
from tenants.models import Tenant

OWN_FIELDS = ("first_name", "last_name", "display_name", "email", "external_id")
RULE_INPUTS = ("department", "job_title", "groups")
LIMITS = {
    "username": 254,
    "first_name": 64,
    "last_name": 64,
    "display_name": 160,
    "email": 254,
    "employee_id": 64,
    "external_id": 255,
    "department": 64,
    "job_title": 64,
    "company": 64,
    "office": 64,
    "manager": 254,
}

# The person's names and attributes, by the SCIM attribute they come from by default: the one
# rule of the forms, the CSV import and the HR webhook (portal/plain_text.py) holds here too,
# so no markup or spreadsheet formula reaches the pages' trail or the directories' reports.
PLAIN_TEXT = {
    "first_name": "name.givenName",
    "last_name": "name.familyName",
    "display_name": "displayName",
    "job_title": "title",
    "department": "department",
    "company": "organization",
    "office": "office",
}


def visible(tenant: Tenant):
    """The people a SCIM client of the tenant sees: all but those it deleted."""
    return (
        Identity.objects.filter(tenant=tenant)
        .exclude(scim__deleted_at__isnull=False)
        .select_related("scim")
        .order_by("pk")
    )


def create(tenant: Tenant, user: ScimUser, *, token: ScimToken, http_request) -> Identity:
    fields = mapping.person_fields(tenant, user)
    _check(fields)
    kinds = name_bounds.directory_kinds(tenant)
    _check_names(kinds, fields)
    if problem := name_bounds.username_too_long(fields["username"], kinds):
        raise InvalidValueException(detail=f"userName: {problem}")
    _check_username(tenant, fields["username"])
    existing = (
        Identity.objects.filter(tenant=tenant, username__iexact=fields["username"])
        .select_related("scim")
        .first()
    )
    if existing is not None:
        if not _deleted_over_scim(existing):
            raise UniquenessException(detail=f"userName {fields['username']} exists already.")
        return _recreate(existing, user, token=token, http_request=http_request)
    _check_employee_id(tenant, fields["employee_id"], None)
    templates = _templates(tenant, fields)
    request = services.OnboardingRequest(
        first_name=fields["first_name"],
        last_name=fields["last_name"],
        role_templates=templates,
        attributes=_attributes({}, fields),
        employee_id=fields["employee_id"],
    )
    actor = actor_of(token)
    with transaction.atomic():
        job = services.request_onboarding(
            tenant, request, username=fields["username"], actor=actor, http_request=http_request
        )
        identity = job.identity
        _save_own(identity, fields)
        ScimPerson.objects.create(identity=identity, groups=fields["groups"])
        jobs = [job]
        if not fields["active"]:  # an account the identity provider holds disabled
            jobs.append(_leave(identity, fields, actor, http_request, delete=False))
        _audit("scim.user_create", identity, token, jobs, http_request, fields=fields)
    # as created and, when posted inactive, left: the 201 shows that (RFC 7644 §3.3)
    return Identity.objects.get(pk=identity.pk)


def update(
    identity: Identity, user_of: Callable[[Identity], ScimUser], *, token: ScimToken, http_request
) -> Identity:
    """A PUT, or a PATCH: `user_of(person)` is the SCIM user the request asks for, given the
    person as the portal holds them (a PUT's body whatever they hold; a PATCH's operations
    applied to them). It is asked again under the person's lock: a PATCH applied to the person
    as read before it would put back what a request committed meanwhile had set (an API
    change's department, a terminate's leave), though that request was answered 2xx."""
    tenant = identity.tenant
    with transaction.atomic():
        # A leave may follow: the window's lock first, as it takes it. Only a user asked for
        # inactive leaves; a PATCH that does not name `active` keeps the person's, so one
        # who left meanwhile stays inactive and no leave follows.
        if not mapping.person_fields(tenant, user_of(identity))["active"]:
            lifecycle.lock_leaves_of(tenant)
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        old = mapping.fields_of(identity)
        new = _checked_update(identity, old, user_of(identity))
        jobs = _transition(identity, old, new, actor_of(token), http_request)
        _audit("scim.user_update", identity, token, jobs, http_request, fields=new, before=old)
    return Identity.objects.get(pk=identity.pk)


def _deleted_over_scim(identity: Identity) -> bool:
    scim = getattr(identity, "scim", None)
    return scim is not None and scim.deleted_at is not None


def _recreate(identity: Identity, user: ScimUser, *, token: ScimToken, http_request) -> Identity:
    """A POST of a userName whose user this client deleted: RFC 7644 §3.6 has the deleted
    resource left out of conflicts, so the create stands. The person is one row per
    username, so it is a rehire of that person (a restore before the hard delete, a new join
    after it: `request_restore`) with what the POST says, and the templates the rules choose
    for it, as for any join; a new SCIM resource, whose id is not the deleted one's."""
    tenant = identity.tenant
    if user.active is None:  # a create without `active` is an active user (RFC 7643 §4.1.1)
        user.active = True
    with transaction.atomic():
        if not user.active:
            lifecycle.lock_leaves_of(tenant)  # the lock a leave takes first, as `update` does
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        scim = ScimPerson.objects.select_for_update().get(identity=identity)
        if scim.deleted_at is None:  # another POST re-created them meanwhile
            raise UniquenessException(detail=f"userName {identity.username} exists already.")
        scim.recreated_at = timezone.now()  # before the changes: created <= lastModified
        old = mapping.fields_of(identity)
        new = _checked_update(identity, old, user)
        jobs = _transition(identity, old, new, actor_of(token), http_request, rechoose=True)
        scim.deleted_at, scim.generation = None, scim.generation + 1
        scim.save(update_fields=["deleted_at", "generation", "recreated_at"])
        _audit("scim.user_create", identity, token, jobs, http_request, fields=new, before=old)
    return Identity.objects.get(pk=identity.pk)


def _checked_update(identity: Identity, old: dict, user: ScimUser) -> dict:
    tenant = identity.tenant
    if user.active is None:
        # RFC 7644 §3.5.1: left out of a PUT, "not asserted by the client": no leave, and
        # above all no restore of a leaver whose HR record was sent again without it.
        user.active = old["active"]
    new = mapping.person_fields(tenant, user, kept=old)
    _check(new)
    _check_names(name_bounds.directory_kinds(tenant), new)
    if new["username"].casefold() != old["username"].casefold():
        raise MutabilityException(
            detail="userName cannot change: the portal does not rename accounts. "
            "Create the new user and deactivate the old one."
        )
    _check_employee_id(tenant, new["employee_id"], identity)
    return new


def delete(identity: Identity, *, token: ScimToken, http_request) -> None:
    actor = actor_of(token)
    with transaction.atomic():
        # The breaker's window before the person, as `offboard_in_window` and the webhook, the
        # API and a file take them: the other order deadlocked with HR's terminate (converge18).
        lifecycle.lock_leaves_of(identity.tenant)
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        jobs = []
        if identity.status in (Identity.Status.JOINER, Identity.Status.ACTIVE):
            jobs.append(_leave(identity, mapping.fields_of(identity), actor, http_request, True))
        ScimPerson.objects.update_or_create(
            identity=identity, defaults={"deleted_at": timezone.now()}
        )
        _audit("scim.user_delete", identity, token, jobs, http_request)


# -- what a change means ----------------------------------------------------------------------


def _transition(
    identity: Identity, old: dict, new: dict, actor, http_request, rechoose: bool = False
) -> list[Job]:
    """The jobs a change from `old` to `new` asks for. `rechoose`: the rules choose the
    templates again even if their inputs are unchanged (a re-created user is a join)."""
    jobs = []
    managed = identity.status in (Identity.Status.JOINER, Identity.Status.ACTIVE)
    if old["active"] and not new["active"] and managed:
        _save_own(identity, new)
        _save_groups(identity, new)
        return [_leave(identity, new, actor, http_request, delete=False)]
    if new["active"] and identity.status in lifecycle.RESTORABLE:
        if refused := lifecycle.restore_refused(identity):
            raise ConflictException(detail=refused)  # RFC 7644 §3.12: 409, nothing changed
        jobs.append(lifecycle.request_restore(identity, actor=actor, http_request=http_request))
        identity.refresh_from_db()
        managed = True
    changed = any(old[key] != new[key] for key in (*OWN_FIELDS, *mapping.ATTRIBUTES))
    regroup = any(old[key] != new[key] for key in RULE_INPUTS) or (
        rechoose and set(_templates(identity.tenant, new)) != set(identity.role_templates.all())
    )
    _save_own(identity, new)
    _save_groups(identity, new)
    if not managed:  # a leaver's attributes count again only when restored: kept, no job
        identity.attributes = _attributes(identity.attributes, new)
        identity.employee_id = new["employee_id"]
        identity.save(update_fields=["attributes", "employee_id", "updated_at"])
        return jobs
    if changed or regroup or old["employee_id"] != new["employee_id"]:
        if new["employee_id"] != identity.employee_id:
            identity.employee_id = new["employee_id"]
            identity.save(update_fields=["employee_id", "updated_at"])
        templates = (
            _templates(identity.tenant, new) if regroup else list(identity.role_templates.all())
        )
        change = lifecycle.ChangeRequest(
            role_templates=templates, attributes=_attributes(identity.attributes, new)
        )
        jobs.append(
            lifecycle.request_change(identity, change, actor=actor, http_request=http_request)
        )
    return jobs


def _leave(identity: Identity, fields: dict, actor, http_request, delete: bool) -> Job:
    """Through the circuit breaker, with the tenant's preset; a DELETE also deletes the
    account: after the preset's days, or at once when the preset keeps accounts."""
    options = lifecycle.OffboardingOptions.preset_for(identity.tenant)
    if delete and options.delete_after_days is None:
        options.delete_after_days = 0
    return lifecycle.offboard_in_window(
        identity,
        options,
        kind=Batch.Kind.SCIM,
        actor=actor,
        row={"user_name": fields["username"], "external_id": fields["external_id"]},
        http_request=http_request,
    )


def _templates(tenant: Tenant, fields: dict):
    try:
        return rules.templates_for(tenant, fields)
    except rules.NoRuleMatches as exc:
        raise InvalidValueException(detail=str(exc)) from None


def _attributes(current: dict, fields: dict) -> dict:
    merged = dict(current or {})
    for key in mapping.ATTRIBUTES:
        merged[key] = fields[key]
    return {k: v for k, v in merged.items() if v not in (None, "")}


def _save_own(identity: Identity, fields: dict) -> None:
    for key in OWN_FIELDS:
        setattr(identity, key, fields[key])
    identity.save(update_fields=[*OWN_FIELDS, "updated_at"])


def _save_groups(identity: Identity, fields: dict) -> None:
    ScimPerson.objects.update_or_create(identity=identity, defaults={"groups": fields["groups"]})


# -- checks -----------------------------------------------------------------------------------


def _check(fields: dict) -> None:
    if not fields["username"]:
        raise InvalidValueException(detail="userName is required.")
    if not fields["first_name"] and not fields["last_name"]:
        raise InvalidValueException(detail="A name is required (name.givenName or displayName).")
    for key, limit in LIMITS.items():
        if len(fields[key]) > limit:
            raise InvalidValueException(detail=f"{key} is longer than {limit} characters.")
    for value in fields["groups"]:
        if len(value) > 200:
            raise InvalidValueException(detail="A role value is longer than 200 characters.")
    for key, attribute in PLAIN_TEXT.items():
        if problem := name_problem(fields[key]):
            raise InvalidValueException(detail=f"{attribute} {problem}")


def _check_username(tenant: Tenant, username: str) -> None:
    """userName is the UPN and the Okta login: a username's characters (the onboarding
    form's), and its domain one of the tenant's, never another client's address. A bare
    login without a domain is left to the directories to judge, as before."""
    lowered = username.lower()
    if not USERNAME_RE.match(lowered if "@" in lowered else f"{lowered}@x"):
        raise InvalidValueException(
            detail=f"userName must be a username such as ada.lovelace@{tenant.primary_domain}: "
            "letters, digits, . _ - before the @."
        )
    domain = lowered.rpartition("@")[2]
    domains = [d.lower() for d in tenant.domains]
    if "@" in lowered and domain not in domains:
        raise InvalidValueException(
            detail=f"userName: {domain} is not a domain of this tenant ({', '.join(domains)})."
        )


def _check_names(kinds: frozenset[str], fields: dict) -> None:
    bound = name_bounds.longest_name(kinds)
    for key, attribute in (("first_name", "name.givenName"), ("last_name", "name.familyName")):
        if problem := name_bounds.name_too_long(fields[key], bound):
            raise InvalidValueException(detail=f"{attribute}: {problem}")


def _check_employee_id(tenant: Tenant, employee_id: str, identity: Identity | None) -> None:
    if not employee_id:
        return
    # caseExact false in the schema, as the filter compares it (RFC 7643 §2.2)
    others = Identity.objects.filter(tenant=tenant, employee_id__iexact=employee_id)
    if identity is not None:
        others = others.exclude(pk=identity.pk)
    if others.exists():
        raise UniquenessException(detail=f"employeeNumber {employee_id} belongs to another user.")


# -- the record -------------------------------------------------------------------------------


def _audit(action, identity, token, jobs, http_request, *, fields=None, before=None) -> None:
    after = {
        "token": token.name,
        "user_name": identity.username,
        "jobs": [job.pk for job in jobs],
        "job_kinds": [job.kind for job in jobs],
    }
    if fields is not None:
        after["fields"] = {k: v for k, v in fields.items() if v not in ("", [], None)}
    record(
        action,
        actor=actor_of(token),
        tenant=identity.tenant,
        target=identity,
        before={"fields": before} if before else None,
        after=after,
        request=http_request,
        job_id=jobs[-1].pk if jobs else None,
    )
