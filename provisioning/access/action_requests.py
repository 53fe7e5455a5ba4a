"""Requests to act: a client admin asks the MSP to onboard or offboard someone; a technician
carries it out through the normal forms (the MSP's runbook) and marks it done with the job it
started, or declines it with a reason. Each action is one transaction with its audit event.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from portal.audit.events import record
from provisioning.models import ActionRequest, Identity, Job
from tenants.models import Tenant

Kind = ActionRequest.Kind
Status = ActionRequest.Status
ACTIVE_PEOPLE = (Identity.Status.JOINER, Identity.Status.ACTIVE)


class ActionRequestError(Exception):
    """A refusal with a message for the person who tried."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def describe(action_request: ActionRequest) -> str:
    details = action_request.details
    if action_request.kind == Kind.OFFBOARD:
        person = action_request.identity.display_name if action_request.identity else "someone"
        return f"Offboard {person}"
    return f"Onboard {details.get('first_name', '')} {details.get('last_name', '')}".strip()


def file_action_request(
    tenant: Tenant,
    kind: str,
    *,
    details: dict,
    note: str = "",
    identity: Identity | None = None,
    actor,
    http_request=None,
) -> ActionRequest:
    """A new open request to act, for the tenant's technicians."""
    _check(tenant, kind, details, identity)
    with transaction.atomic():
        action_request = ActionRequest.objects.create(
            tenant=tenant,
            kind=kind,
            identity=identity,
            details=details,
            note=note.strip(),
            requested_by=_user(actor),
        )
        record(
            "action_request.file",
            actor=actor,
            tenant=tenant,
            target=identity or _target(action_request),
            after={"request": action_request.pk, "kind": kind, "note": action_request.note}
            | details,
            request=http_request,
        )
    return action_request


def _check(tenant: Tenant, kind: str, details: dict, identity: Identity | None) -> None:
    if kind not in Kind.values:
        raise ActionRequestError("Ask for an onboarding or an offboarding.")
    if kind == Kind.ONBOARD:
        if not (details.get("first_name") and details.get("last_name")):
            raise ActionRequestError("Give the new person's first and last name.")
        return
    if identity is None or identity.tenant_id != tenant.pk:
        raise ActionRequestError("Choose the person to offboard.")
    if identity.status not in ACTIVE_PEOPLE:
        raise ActionRequestError(f"{identity.display_name} is not an active person here.")
    open_already = ActionRequest.objects.filter(
        tenant=tenant, kind=Kind.OFFBOARD, identity=identity, status=Status.OPEN
    )
    if open_already.exists():
        raise ActionRequestError(f"An offboarding of {identity.display_name} is asked for already.")


def _target(action_request: ActionRequest) -> tuple[str, int, str]:
    return ("provisioning.actionrequest", action_request.pk, describe(action_request))


def mark_done(
    action_request: ActionRequest, *, actor, job: Job | None = None, http_request=None
) -> ActionRequest:
    """A technician carried it out (with `job`, when one job did it)."""
    if job is not None and job.tenant_id != action_request.tenant_id:
        raise ActionRequestError("That job is not one of this tenant's.")
    return _close(
        action_request, Status.DONE, actor, http_request, job=job, after={"job": job and job.pk}
    )


def decline(
    action_request: ActionRequest, *, actor, reason: str, http_request=None
) -> ActionRequest:
    """The MSP will not do it; the client admin sees why."""
    if not reason or not reason.strip():
        raise ActionRequestError("Give a reason: the client admin sees it.")
    details = action_request.details | {"decline_reason": reason.strip()}
    return _close(
        action_request,
        Status.DECLINED,
        actor,
        http_request,
        details=details,
        after={"reason": reason.strip()},
    )


def _close(action_request, status: str, actor, http_request, *, after: dict, **changes):
    with transaction.atomic():
        closed = ActionRequest.objects.filter(pk=action_request.pk, status=Status.OPEN).update(
            status=status, handled_by=_user(actor), handled_at=timezone.now(), **changes
        )
        if not closed:
            raise ActionRequestError("This request has been handled already.")
        action_request.refresh_from_db()
        record(
            f"action_request.{status}",
            actor=actor,
            tenant=action_request.tenant,
            target=action_request.identity or _target(action_request),
            before={"status": Status.OPEN},
            after={"request": action_request.pk, "status": status} | after,
            request=http_request,
            job_id=action_request.job_id,
        )
    return action_request
