"""What a read must show before it can count: the access writes the directory has taken
lately for the person's accounts (a group, licence or app added or removed).

Entra is eventually consistent: a write it accepted may not show in a read for a while. A
job's later round checks its read against the round before it. A job's first read has no
round of its own before it, yet the person's previous job may have written moments ago and
ended without reading back (a step failed, a choice is needed): that read is checked
against those writes, so that a stale replica showing the old state cannot verify a newer
ask that happens to want the old state (executor.read_lag).
"""

from __future__ import annotations

from datetime import datetime

from provisioning.engine import licences, planner
from provisioning.models import Step

# A new account, or none any more: what was written to the one before says nothing of it.
ACCOUNT_STEPS = (
    planner.CREATE_USER,
    planner.LINK_USER,
    planner.DELETE_USER,
    planner.PURGE_USER,
)

Wanted = dict[tuple[int, str, str], bool]  # (connection id, kind, resource id) -> held


def settled_since(job, since: datetime) -> list[Step]:
    """The succeeded steps of the person's jobs settled since `since`, in the order they
    were settled: one query. The job's own are among them: a retried job's first read comes
    after its earlier runs' writes, which undo what the jobs before it wrote (a leave's
    removals after the join's additions); without them that read would wait out the
    replication window for additions the job itself has since taken away."""
    steps = Step.objects.filter(
        job__identity_id=job.identity_id, status=Step.Status.SUCCEEDED, finished_at__gte=since
    )
    return list(steps.order_by("finished_at", "order"))


def wanted_after(steps: list[Step]) -> Wanted:
    """What each access the steps touched must read as after them, the last write to it
    winning (an Okta deactivation takes the apps it drops away); an account created, linked
    or deleted since forgets what came before it."""
    wanted: Wanted = {}
    for step in steps:
        connection = step.connection_id
        if step.action in ACCOUNT_STEPS:
            wanted = {key: held for key, held in wanted.items() if key[0] != connection}
        elif step.action == planner.DISABLE_USER:  # Okta's deactivate drops every app
            for app in step.params.get("drops_apps", []):
                wanted[(connection, "apps", app["id"])] = False
        elif step.action == licences.SET_LICENSES:
            for sku in step.params.get("add", []):
                wanted[(connection, "licenses", sku)] = True
            for sku in step.params.get("remove", []):
                wanted[(connection, "licenses", sku)] = False
        else:
            for kind, (add, remove, param) in planner.ACCESS_ACTIONS.items():
                if step.action in (add, remove):
                    wanted[(connection, kind, step.params.get(param))] = step.action == add
    return wanted


def shown(plans, wanted: Wanted) -> bool:
    """Whether the reads of `plans` show every write of `wanted` (a read without the
    account says nothing; a licence also held through a group does not read as removed)."""
    read = {plan.connection_id: plan for plan in plans}
    for (connection, kind, ref), held in wanted.items():
        plan = read.get(connection)
        if plan is None or plan.user is None:
            continue
        has = getattr(plan.access, kind)
        kept = plan.access.inherited_licenses if kind == "licenses" else frozenset()
        if held != (ref in (has if held else has - kept)):
            return False
    return True
