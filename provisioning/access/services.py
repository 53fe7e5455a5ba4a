"""Access requests: file, approve, deny, cancel, extend, revoke; time-bound grants that end
by themselves; stale requests that expire. Each action is one transaction with its audit
event; the grant or removal is a Job of the engine (same steps, audit and retries), and the
e-mails go out on commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.audit.events import record
from provisioning.access import notifications
from provisioning.engine.desired import manages, merge_templates
from provisioning.events import describe
from provisioning.events.models import Event
from provisioning.events.publish import emit
from provisioning.jobs import ask
from provisioning.models import AccessRequest, Identity, Job, RequestableResource, Step
from provisioning.models_access import approvers_of, is_for
from tenants import access
from tenants.models import Tenant

Status = AccessRequest.Status
NOTICE_DAYS = (7, 1)
AUTO_APPROVE_ATTRIBUTES = ("department", "job_title", "office", "company", "usage_location")

# What a revoke ends: a grant, or an approval whose grant job may still be on its way.
ENDABLE = (Status.APPROVED, Status.GRANTED)
NOT_ENDABLE = "Only approved or granted access can be ended."


class AccessRequestError(Exception):
    """A refusal with a message for the person who tried."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# -- requestable resources --------------------------------------------------------------------


def save_requestable(resource: RequestableResource, *, named=(), actor, http_request=None):
    """Create or change a requestable group/app (picked from the directory's live list)."""
    if resource.time_bound and not resource.max_days:
        raise AccessRequestError("Time-bound access needs a maximum duration in days.")
    if resource.auto_approve_attribute and (
        resource.auto_approve_attribute not in AUTO_APPROVE_ATTRIBUTES
        or not resource.auto_approve_value
    ):
        raise AccessRequestError("An auto-approve rule needs a known attribute and a value.")
    if resource.connection.tenant_id != resource.tenant_id:
        raise AccessRequestError("That directory is not this tenant's.")
    created = resource.pk is None
    with transaction.atomic():
        resource.created_by = resource.created_by or _user(actor)
        resource.save()
        resource.named_approvers.set(
            [u for u in named if access.is_client_admin(u) and _admin_of(u, resource.tenant)]
        )
        record(
            "requestable.create" if created else "requestable.update",
            actor=actor,
            tenant=resource.tenant,
            target=resource,
            after=_describe(resource),
            request=http_request,
        )
    return resource


def _describe(resource: RequestableResource) -> dict:
    return {
        "name": resource.name,
        "kind": resource.kind,
        "directory": resource.connection.label,
        "approvers": resource.approvers,
        "named_approvers": [u.get_username() for u in resource.named_approvers.all()],
        "time_bound": resource.time_bound,
        "max_days": resource.max_days,
        "auto_approve": rule_text(resource),
        "is_active": resource.is_active,
    }


def rule_text(resource: RequestableResource) -> str:
    if not resource.auto_approve_attribute:
        return ""
    return f"{resource.auto_approve_attribute} is “{resource.auto_approve_value}”"


# -- who may do what --------------------------------------------------------------------------


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def _admin_of(user, tenant: Tenant) -> bool:
    return user.tenantassignment_set.filter(tenant=tenant).exists()


def can_decide(user, access_request: AccessRequest) -> bool:
    """An approver of the resource, neither the person who asked nor the one it is for."""
    if access_request.requested_by_id == user.pk or is_for(user, access_request.identity):
        return False
    return any(a.pk == user.pk for a in approvers_of(access_request.resource))


def can_revoke(user, access_request: AccessRequest) -> bool:
    """The MSP's operators, or a client admin among the resource's approvers (the one who
    approved by mistake takes it back): taking access away asks no second person."""
    if access.may_operate(user):
        return True
    if not access.may_revoke_requests(user):
        return False
    return any(a.pk == user.pk for a in approvers_of(access_request.resource))


def offers_revoke(user, access_request: AccessRequest) -> bool:
    """Whether a page shows this person the request's Revoke button now."""
    return access_request.status in ENDABLE and can_revoke(user, access_request)


def require_revoker(user, access_request: AccessRequest) -> None:
    if not can_revoke(user, access_request):
        raise PermissionDenied("Only the MSP or an approver of this access may revoke it.")


def _own_people(user) -> Q:
    """The requests for this portal person themselves (is_for as a query)."""
    address = (getattr(user, "email", "") or "").strip()
    if not address:
        return Q(pk__in=[])
    return Q(identity__email__iexact=address) | Q(identity__username__iexact=address)


def require_decider(user, access_request: AccessRequest) -> None:
    """403 unless the person may decide: asked before anything they sent is read."""
    if not can_decide(user, access_request):
        raise PermissionDenied(why_not(user, access_request))


def waiting_for(user):
    """Pending requests this person may decide on (the header's "waiting for you")."""
    if not access.is_client_admin(user):
        return AccessRequest.objects.none()
    tenants = user.tenantassignment_set.values("tenant")
    pending = AccessRequest.objects.filter(status=Status.PENDING, tenant__in=tenants).exclude(
        Q(requested_by=user) | _own_people(user)
    )
    return pending.filter(
        Q(resource__approvers=RequestableResource.Approvers.CLIENT_ADMINS)
        | Q(resource__named_approvers=user)
    ).distinct()


# -- events (webhooks, alert e-mails) ----------------------------------------------------------

# A pending request that is closed: which event tells of it (a cancellation tells nobody).
CLOSING_EVENTS = {
    Status.DENIED: Event.Kind.ACCESS_REQUEST_DENIED,
    Status.EXPIRED: Event.Kind.ACCESS_REQUEST_EXPIRED,
}


def emit_event(kind: str, access_request: AccessRequest, *, error: str = "") -> None:
    """Inside the caller's transaction, so the event exists exactly when the change does."""
    emit(
        kind,
        tenant=access_request.tenant,
        data={
            "access_request": {
                "id": access_request.pk,
                "status": access_request.status,
                "resource": access_request.resource.name,
                "reason": access_request.reason,
                "decision_reason": access_request.decision_reason,
                "ends_at": describe.when(access_request.ends_at),
                "error": error[:1000],
                "url": describe.portal_url(
                    "access_request_detail",
                    tenant=access_request.tenant.slug,
                    request_id=access_request.pk,
                ),
            },
            "person": describe.person(access_request.identity),
        },
    )


# -- requests ---------------------------------------------------------------------------------


def file_request(
    identity: Identity,
    resource: RequestableResource,
    *,
    reason: str,
    ends_at: datetime | None,
    actor,
    extends: AccessRequest | None = None,
    http_request=None,
) -> AccessRequest:
    """A new request: pending, or approved at once by the resource's auto-approve rule."""
    _check_request(identity, resource, reason, ends_at)
    _check_someone_decides(identity, resource, actor)
    with transaction.atomic():
        # One filing of a person at a time, checked under the lock: two at once (a double
        # click, two API calls) would each find no open request before either is written.
        _lock_active(identity)
        _check_nothing_open(identity, resource, extends)
        access_request = AccessRequest.objects.create(
            tenant=identity.tenant,
            identity=identity,
            resource=resource,
            reason=reason.strip(),
            ends_at=ends_at,
            requested_by=_user(actor),
            extends=extends,
        )
        record(
            "access.request",
            actor=actor,
            tenant=identity.tenant,
            target=identity,
            after={
                "request": access_request.pk,
                "resource": resource.name,
                "reason": access_request.reason,
                "ends_at": ends_at.isoformat() if ends_at else None,
                "extends": extends.pk if extends else None,
            },
            request=http_request,
        )
        emit_event(Event.Kind.ACCESS_REQUEST_FILED, access_request)
        if _auto_approves(resource, identity):
            _approve(access_request, actor="system", rule=rule_text(resource), reason="")
        else:
            notifications.on_commit("new_request", access_request)
    return access_request


def _check_request(identity, resource, reason, ends_at) -> None:
    if resource.tenant_id != identity.tenant_id or not resource.is_active:
        raise AccessRequestError(f"{resource.name} cannot be requested for this person.")
    if identity.status not in (Identity.Status.JOINER, Identity.Status.ACTIVE):
        raise AccessRequestError(f"{identity.display_name} is not an active person here.")
    listed = identity.directories is not None  # None: every directory (no query needed)
    if listed and not manages(identity.directories, resource.connection):
        raise AccessRequestError(
            f"{identity.display_name} is not in {resource.connection.label}: add them to it "
            "from their page first."
        )
    if not reason or not reason.strip():
        raise AccessRequestError("Give a reason: the approver decides on it.")
    now = timezone.now()
    if ends_at is not None and ends_at <= now:
        raise AccessRequestError("The end date must lie in the future.")
    if resource.time_bound:
        if ends_at is None:
            raise AccessRequestError(f"{resource.name} is time-bound: give an end date.")
        if ends_at > now + timedelta(days=resource.max_days):
            raise AccessRequestError(
                f"{resource.name} may be granted for at most {resource.max_days} days."
            )


def _check_nothing_open(identity, resource, extends) -> None:
    live = AccessRequest.objects.filter(
        identity=identity, resource=resource, status__in=(Status.PENDING, *AccessRequest.LIVE)
    )
    if extends is not None:
        live = live.exclude(pk=extends.pk)
    if live.exists():
        raise AccessRequestError(
            f"{identity.display_name} already has an open request or grant for {resource.name}."
        )


def only_approver_of(tenant, user) -> list[RequestableResource]:
    """The tenant's requestables whose one approver is `user`, with no rule that approves on
    its own: what `user` cannot file (nobody approves their own request), said on the form
    before it is filled rather than after."""
    resources = tenant.requestables.filter(is_active=True, auto_approve_attribute="")
    return [
        r
        for r in resources.order_by("name")
        if (approvers := approvers_of(r)) and all(a.pk == user.pk for a in approvers)
    ]


def _check_someone_decides(identity, resource, actor) -> None:
    """Refuse a request that only its requester or its person could decide: nobody approves
    their own, nor access for themselves (`can_decide`), so it would wait until it expires."""
    user = _user(actor)
    if user is None or _auto_approves(resource, identity):
        return
    approvers = approvers_of(resource)
    if approvers and all(a.pk == user.pk for a in approvers):
        raise AccessRequestError(
            f"You are the only approver of {resource.name}, and nobody approves their own "
            "request: it would wait for no one. Ask your MSP: a technician files it and you "
            "approve it, or they name another approver."
        )
    if approvers and all(a.pk == user.pk or is_for(a, identity) for a in approvers):
        raise AccessRequestError(
            f"The only approver of {resource.name} is {identity.display_name}, the person "
            "it is for, and nobody approves access for themselves: it would wait for no one. "
            "Ask your MSP to name another approver."
        )


def _auto_approves(resource: RequestableResource, identity: Identity) -> bool:
    name = resource.auto_approve_attribute
    if not name:
        return False
    value = identity.attributes.get(name) or managed_attributes(identity).get(name, "")
    return str(value).casefold() == resource.auto_approve_value.casefold()


def managed_attributes(identity: Identity) -> dict:
    merged = merge_templates(list(identity.role_templates.all()), identity.tenant, {})
    return merged["attributes"] | identity.attributes


def approve(access_request: AccessRequest, *, actor, reason: str, http_request=None):
    if not reason or not reason.strip():
        raise AccessRequestError("Give a reason for the approval.")
    if not can_decide(actor, access_request):
        raise AccessRequestError(why_not(actor, access_request))
    if not access_request.resource.is_active:
        raise AccessRequestError(
            f"{access_request.resource.name} is no longer requestable: deny the request instead."
        )
    with transaction.atomic():
        _lock_active(access_request.identity)
        _approve(access_request, actor=actor, rule="", reason=reason.strip(), http=http_request)
    return access_request


def _lock_active(identity: Identity) -> None:
    """The person's row locked, and still a joiner or active person as it holds now: a leave
    (which changes the row under the same lock) asked after the caller read them must refuse
    a new grant. Its job would verify the leaver's state, which wants no access, and call the
    request granted; the leave's end closes only what was open before, and a restore would
    give that grant back unasked."""
    status = (
        Identity.objects.select_for_update()
        .filter(pk=identity.pk)
        .values_list("status", flat=True)
        .first()
    )
    if status not in (Identity.Status.JOINER, Identity.Status.ACTIVE):
        raise AccessRequestError(f"{identity.display_name} is not an active person here.")


def _approve(access_request, *, actor, rule: str, reason: str, http=None) -> None:
    """Pending -> approved with a conditional UPDATE, so that of two approvers at the same
    moment exactly one wins; the winner's transaction starts the one grant job."""
    now = timezone.now()
    won = AccessRequest.objects.filter(pk=access_request.pk, status=Status.PENDING).update(
        status=Status.APPROVED,
        decided_by=_user(actor),
        decided_by_rule=rule,
        decision_reason=reason,
        decided_at=now,
    )
    if not won:
        raise AccessRequestError("This request has been decided already.")
    job = Job.objects.create(
        tenant=access_request.tenant,
        identity=access_request.identity,
        kind=Job.Kind.GRANT,
        requested_by=_user(actor),
        options={"access_request": access_request.pk},
    )
    AccessRequest.objects.filter(pk=access_request.pk).update(grant_job=job)
    access_request.refresh_from_db()
    record(
        "access.approve",
        actor=actor if not rule else "system",
        tenant=access_request.tenant,
        target=access_request.identity,
        before={"status": Status.PENDING},
        after={
            "request": access_request.pk,
            "resource": access_request.resource.name,
            "status": Status.APPROVED,
            "reason": reason,
            **({"auto_approved_by_rule": rule} if rule else {}),
        },
        request=http,
        job_id=job.pk,
    )
    ask(job)
    emit_event(Event.Kind.ACCESS_REQUEST_APPROVED, access_request)
    notifications.on_commit("decision", access_request)


def why_not(user, access_request: AccessRequest) -> str:
    if access_request.requested_by_id == user.pk:
        return "You asked for this access: someone else must approve it."
    if is_for(user, access_request.identity):
        return "This access is for you: someone else must approve it."
    return "You are not an approver of this resource."


def deny(access_request: AccessRequest, *, actor, reason: str, http_request=None):
    if not reason or not reason.strip():
        raise AccessRequestError("Give a reason for the denial.")
    if not can_decide(actor, access_request):
        raise AccessRequestError(why_not(actor, access_request))
    return _close(access_request, Status.DENIED, actor, reason.strip(), http_request, "decision")


def cancel(access_request: AccessRequest, *, actor, http_request=None):
    """The requester (or the MSP) withdraws a pending request."""
    return _close(access_request, Status.CANCELLED, actor, "", http_request, None)


def _close(access_request, status: str, actor, reason: str, http_request, notice):
    with transaction.atomic():
        closed = AccessRequest.objects.filter(pk=access_request.pk, status=Status.PENDING).update(
            status=status,
            decided_by=_user(actor),
            decision_reason=reason,
            decided_at=timezone.now(),
        )
        if not closed:
            raise AccessRequestError("This request has been decided already.")
        access_request.refresh_from_db()
        record(
            f"access.{status}" if status != Status.DENIED else "access.deny",
            actor=actor,
            tenant=access_request.tenant,
            target=access_request.identity,
            before={"status": Status.PENDING},
            after={"request": access_request.pk, "status": status, "reason": reason},
            request=http_request,
        )
        if status in CLOSING_EVENTS:
            emit_event(CLOSING_EVENTS[status], access_request)
        if notice:
            notifications.on_commit(notice, access_request)
    return access_request


def revoke(access_request: AccessRequest, *, actor, reason: str = "", http_request=None):
    """End a grant now (by hand); the job removes only what the grant added."""
    with transaction.atomic():
        return _end(
            access_request, actor=actor, final=Status.REVOKED, reason=reason, http=http_request
        )


def _end(access_request, *, actor, final: str, reason: str = "", http=None) -> AccessRequest:
    """Approved or granted -> ending: the grant no longer live, so the person's next pass
    (the grant's own job if it still runs, else the Remove access job) takes it away."""
    # The person's row first, as a job's end locks it before it moves the request: the
    # other order deadlocked with the grant job ending meanwhile. Under it, the status read
    # is the one the grant's end leaves (it moves the request under the same lock).
    Identity.objects.select_for_update().filter(pk=access_request.identity_id).exists()
    was = (
        AccessRequest.objects.filter(pk=access_request.pk, status__in=ENDABLE)
        .values_list("status", flat=True)
        .first()
    )
    moved = was and AccessRequest.objects.filter(pk=access_request.pk, status=was).update(
        status=Status.ENDING
    )
    if not moved:
        raise AccessRequestError(NOT_ENDABLE)
    job = Job.objects.create(
        tenant=access_request.tenant,
        identity=access_request.identity,
        kind=Job.Kind.REVOKE,
        requested_by=_user(actor),
        options={"access_request": access_request.pk, "final": final},
    )
    # The person's row before the tenant's audit chain, in the order a job's end holds them:
    # the other order deadlocked with a worker ending the person's previous grant.
    ask(job)
    AccessRequest.objects.filter(pk=access_request.pk).update(end_job=job)
    access_request.refresh_from_db()
    record(
        "access.end",
        actor=actor,
        tenant=access_request.tenant,
        target=access_request.identity,
        before={"status": was},
        after={
            "request": access_request.pk,
            "resource": access_request.resource.name,
            "ends_as": final,
            **({"reason": reason} if reason else {}),
        },
        request=http,
        job_id=job.pk,
    )
    return access_request


NOTHING_TO_EXTEND = "This access has no end date: there is nothing to extend."


def extend(access_request: AccessRequest, *, ends_at, reason: str, actor, http_request=None):
    """A longer grant is a new request that needs a new approval."""
    if access_request.status != Status.GRANTED:
        raise AccessRequestError("Only granted access can be extended.")
    if access_request.ends_at is None:
        raise AccessRequestError(NOTHING_TO_EXTEND)
    if ends_at <= access_request.ends_at:
        raise AccessRequestError("An extension must end later than the current grant.")
    return file_request(
        access_request.identity,
        access_request.resource,
        reason=reason,
        ends_at=ends_at,
        actor=actor,
        extends=access_request,
        http_request=http_request,
    )


# -- what the engine tells us -----------------------------------------------------------------


def after_job(job: Job, status: str) -> None:
    """Registered with the engine (`engine.outcomes`): a grant's job ended, or a leaver's
    offboarding succeeded and their requests and grants close."""
    if job.kind in (Job.Kind.GRANT, Job.Kind.REVOKE):
        grant_finished(job, status)
    elif job.kind == Job.Kind.LEAVE and status == Job.Status.SUCCEEDED and _still_leaving(job):
        close_for_leaver(job.identity)


def _still_leaving(job: Job) -> bool:
    """The person, as the engine read them when the leave's job ended, is still leaving: a
    restore asked meanwhile (the job then verified it) brings their live grants back."""
    return job.identity is not None and job.identity.status in Identity.LEAVING_OR_GONE


def grant_finished(job: Job, status: str) -> None:
    """Called by the engine when a GRANT or REVOKE job ends (inside its transaction)."""
    access_request = AccessRequest.objects.filter(pk=job.options.get("access_request")).first()
    if access_request is None:
        return
    ok, was = status == Job.Status.SUCCEEDED, access_request.status
    if job.kind == Job.Kind.GRANT:
        _grant_ended(access_request, job, ok)
    elif ok:
        final = job.options.get("final", Status.ENDED)
        AccessRequest.objects.filter(pk=access_request.pk).update(status=final)
    # A removal that failed leaves the request ending: the access is still not wanted, so the
    # person's next pass (a retry, a change) takes it away rather than giving it back.
    access_request.refresh_from_db(fields=["status", "added_access"])
    _record_job_outcome(access_request, job, was, ok)


def _grant_ended(access_request: AccessRequest, job: Job, ok: bool) -> None:
    """Approved -> granted (or failed). Only from approved: a request revoked while its
    grant ran is no longer live, and the job's read-back (which read the revoke, or the
    Remove access job reads it after) verified its absence, not the grant."""
    added = _added_by(job, access_request.resource)
    moved = AccessRequest.objects.filter(pk=access_request.pk, status=Status.APPROVED).update(
        status=Status.GRANTED if ok else Status.FAILED, added_access=ok and added
    )
    if not moved:
        return
    if ok and access_request.extends_id:
        _hand_over(access_request, job)
    access_request.refresh_from_db()
    kind = Event.Kind.ACCESS_REQUEST_GRANTED if ok else Event.Kind.ACCESS_REQUEST_FAILED
    emit_event(kind, access_request, error=job.error if not ok else "")
    notifications.on_commit("grant_done" if ok else "grant_failed", access_request)


def _record_job_outcome(access_request: AccessRequest, job: Job, was: str, ok: bool) -> None:
    """When access was actually given or taken away (the job.finish beside it names only
    the job): the request's move, by the system, in the person's tenant chain."""
    record(
        "access.job_outcome",
        actor="system",
        tenant=access_request.tenant,
        target=access_request.identity,
        before={"status": was},
        after={
            "request": access_request.pk,
            "resource": access_request.resource.name,
            "status": access_request.status,
            "added_access": access_request.added_access,
        },
        result="success" if ok else "failure",
        job_id=job.pk,
    )


def _added_by(job: Job, resource) -> bool:
    """Whether the job (or the one whose read-back verified it) added the resource: False
    when the person held it already, so its end takes nothing away."""
    job_ids = [job.pk, *([job.verification["by_job"]] if "by_job" in job.verification else [])]
    adds = Step.objects.filter(
        job_id__in=job_ids, status="succeeded", action__in=("add_group", "assign_app")
    )
    return any(resource.remote_id in step.params.values() for step in adds)


def _hand_over(extension: AccessRequest, job: Job) -> None:
    """An approved extension replaces the grant it extends (which ends without removal)."""
    old = extension.extends
    if AccessRequest.objects.filter(pk=old.pk, status=Status.GRANTED).update(status=Status.ENDED):
        record(
            "access.end",
            actor="system",
            tenant=old.tenant,
            target=old.identity,
            before={"status": Status.GRANTED},
            after={
                "request": old.pk,
                "resource": old.resource.name,
                "ends_as": Status.ENDED,
                "reason": f"Replaced by its extension, request {extension.pk}.",
            },
            job_id=job.pk,
        )
    AccessRequest.objects.filter(pk=extension.pk).update(
        added_access=old.added_access or extension.added_access
    )


# -- the clock (beat) -------------------------------------------------------------------------


def end_due_grants(now: datetime | None = None) -> int:
    now = now or timezone.now()
    due = AccessRequest.objects.filter(status=Status.GRANTED, ends_at__lte=now)
    ended = 0
    for access_request in due.select_related("tenant", "identity", "resource")[:500]:
        try:
            with transaction.atomic():
                _end(access_request, actor="system", final=Status.ENDED)
                emit_event(Event.Kind.ACCESS_REQUEST_EXPIRED, access_request)
            ended += 1
        except AccessRequestError:
            continue  # ended by someone else meanwhile
    return ended


def expire_stale_requests(now: datetime | None = None) -> int:
    now = now or timezone.now()
    expired = 0
    pending = AccessRequest.objects.filter(status=Status.PENDING).select_related("tenant")
    for access_request in pending:
        days = access_request.tenant.request_expiry_days
        if access_request.created_at + timedelta(days=days) > now:
            continue
        try:
            _close(access_request, Status.EXPIRED, "system", "No decision in time.", None, "stale")
            expired += 1
        except AccessRequestError:
            continue
    return expired


def send_expiry_notices(now: datetime | None = None) -> int:
    """Seven and one days before a grant ends, its approvers hear of it (and may extend)."""
    now = now or timezone.now()
    sent = 0
    soon = AccessRequest.objects.filter(
        status=Status.GRANTED, ends_at__lte=now + timedelta(days=max(NOTICE_DAYS))
    )
    for access_request in soon.select_related("resource", "identity", "tenant"):
        left = access_request.ends_at - now
        due = [d for d in NOTICE_DAYS if left <= timedelta(days=d)]
        tag = f"expiry-{min(due)}" if due else ""
        if not tag or tag in access_request.notices_sent:
            continue
        with transaction.atomic():
            access_request.notices_sent = [*access_request.notices_sent, tag]
            access_request.save(update_fields=["notices_sent", "updated_at"])
            notifications.on_commit("expiry", access_request)
        sent += 1
    return sent


def close_for_leaver(identity: Identity) -> int:
    """A leaver's pending requests are cancelled and their grants end (the offboarding took
    the access away); called when the offboarding succeeds. How many were closed."""
    reason = "The person left."
    closed = identity.access_requests.filter(status=Status.PENDING).update(
        status=Status.CANCELLED, decision_reason=reason, decided_at=timezone.now()
    )
    closed += identity.access_requests.filter(status=Status.GRANTED).update(status=Status.ENDED)
    failed_removals = identity.access_requests.filter(
        status=Status.ENDING, end_job__status__in=(Job.Status.FAILED, Job.Status.PARTIAL)
    ).select_related("end_job")
    for ending in failed_removals:  # the offboarding did what their own jobs could not
        final = ending.end_job.options.get("final", Status.ENDED)
        closed += identity.access_requests.filter(pk=ending.pk).update(status=final)
    if closed:
        record(
            "access.close_for_leaver",
            actor="system",
            tenant=identity.tenant,
            target=identity,
            after={"requests_closed": closed, "reason": reason},
        )
    return closed
