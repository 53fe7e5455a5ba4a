"""Which plan a job needs (by its kind)."""

from __future__ import annotations

from provisioning.engine import grants, offboarding, planner
from provisioning.engine.desired import desired_state, managed_access
from provisioning.models import AccessRequest, Identity, Job, RequestableResource, Step


def plan_for(job: Job, connector, connection, account):
    """The planning coroutine of `job` for one connection; reads the database first, here,
    because the coroutine runs on the bridge's event loop where the ORM may not be used."""
    identity = job.identity
    remote_id = account.remote_id if account else ""
    if job.kind in (Job.Kind.GRANT, Job.Kind.REVOKE):
        return _grant_plan(job, connector, connection, remote_id)
    if job.kind == Job.Kind.LEAVE:
        return offboarding.plan_offboarding(
            connector, connection.pk, identity.username, remote_id, job.options["offboard"]
        )
    if job.kind == Job.Kind.RESTORE:
        removed = removed_at_leave(job.options.get("leave_job"), connection.pk)
        return offboarding.plan_restore(
            connector, connection.pk, identity.username, remote_id, removed
        )
    if job.kind == Job.Kind.DELETE:
        return offboarding.plan_delete(connector, connection.pk, identity.username, remote_id)
    enabled = True if job.options.get("enable") else job.options.get("enabled")
    desired = desired_state(identity, job.options.get("license_choices"), enabled=enabled)
    return planner.plan_onboarding(
        connector,
        connection.pk,
        desired,
        remote_id,
        previous=job.options.get("previous"),
        link_existing=job.tenant.link_existing_accounts,
    )


def _grant_plan(job: Job, connector, connection, remote_id: str):
    """None for the tenant's other directories: a grant touches one."""
    access_request = AccessRequest.objects.select_related("resource").get(
        pk=job.options["access_request"]
    )
    resource = access_request.resource
    if resource.connection_id != connection.pk:
        return None
    grant = job.kind == Job.Kind.GRANT
    if not grant and not should_remove(access_request):
        return grants.kept(connection.pk, connector.kind, resource.name)
    spec = {"kind": resource.kind, "id": resource.remote_id, "name": resource.name}
    return grants.plan_grant(
        connector, connection.pk, job.identity.username, remote_id, spec, grant=grant
    )


def should_remove(access_request: AccessRequest) -> bool:
    """Remove only what this grant added, and nothing the person holds by other means: a
    role template of theirs, or another live grant of the same resource."""
    if not access_request.added_access:
        return False
    resource = access_request.resource
    managed = managed_access(access_request.identity)
    key = "groups" if resource.kind == RequestableResource.Kind.GROUP else "apps"
    names = {n.casefold() for n in managed[key]}
    if resource.name.casefold() in names or resource.remote_id in managed[key]:
        return False
    others = AccessRequest.objects.filter(
        identity=access_request.identity, resource=resource, status__in=AccessRequest.LIVE
    ).exclude(pk=access_request.pk)
    return not others.exists()


def removed_at_leave(leave_job_id: int | None, connection_id: int) -> offboarding.Removed:
    """What the offboarding job took from one connection: its succeeded removal steps."""
    if leave_job_id is None:
        return offboarding.Removed()
    leave = Job.objects.filter(pk=leave_job_id).first()
    if leave is None:
        return offboarding.Removed()
    steps = leave.steps.filter(connection_id=connection_id, status=Step.Status.SUCCEEDED)
    recorded = leave.options.get("recorded", {}).get(str(connection_id), {})
    return offboarding.removed_by(steps.order_by("order"), recorded)


def removed_by_job(leave: Job) -> dict[int, offboarding.Removed]:
    """Per connection id, what an offboarding removed (what a restore would put back)."""
    ids = leave.steps.values_list("connection_id", flat=True).distinct().order_by()
    return {cid: removed_at_leave(leave.pk, cid) for cid in ids}


def recorded(plan: planner.Plan) -> dict:
    """The attributes an offboarded account had, so that a restore can put them back."""
    attributes = plan.user.attributes if plan.user else {}
    return {name: attributes.get(name) for name in offboarding.RESTORABLE_ATTRIBUTES}


def mark_leaving(identity: Identity) -> None:
    if identity.status in (Identity.Status.JOINER, Identity.Status.ACTIVE):
        identity.status = Identity.Status.LEAVER
        identity.save(update_fields=["status", "updated_at"])
