"""The database's side of a directory account: its id, and the access the portal gave."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Exists
from django.utils import timezone

from provisioning.connectors.factory import connector_type
from provisioning.engine import licences, memo, planner
from provisioning.engine.parking import LeaseLost, held
from provisioning.engine.plans import replication_window
from provisioning.models import DirectoryAccount, Job, Step

ADDS = {add: kind for kind, (add, _, _) in planner.ACCESS_ACTIONS.items()}
REMOVALS = {remove: kind for kind, (_, remove, _) in planner.ACCESS_ACTIONS.items()}


def accounts_of(identity) -> dict[int, DirectoryAccount]:
    """The person's directory accounts by connection id: read once per run of a job
    (engine/memo.py); the run's own writes keep these same rows current."""
    return memo.remembered(
        ("accounts", identity.pk),
        lambda: {a.connection_id: a for a in DirectoryAccount.objects.filter(identity=identity)},
    )


def account_for(job: Job, connection) -> DirectoryAccount:
    accounts = accounts_of(job.identity)
    if connection.pk not in accounts:
        accounts[connection.pk] = _new_account(job.identity, connection)
    return accounts[connection.pk]


def _new_account(identity, connection) -> DirectoryAccount:
    try:
        with transaction.atomic():
            return DirectoryAccount.objects.create(identity=identity, connection=connection)
    except IntegrityError:  # made since the run read the person's accounts (an adoption)
        return DirectoryAccount.objects.get(identity=identity, connection=connection)


def link_account(account: DirectoryAccount, remote_id: str, created: bool, *, job: Job) -> None:
    """Written only while `job`'s run still holds it (`save_held`)."""
    save_held(job, account, _link(account, remote_id, created))


def save_held(job: Job, account: DirectoryAccount, fields: list[str]) -> None:
    """Save `fields` of the account only while no other run has claimed `job` since this
    one (parking.held): a run that woke up past its lease read the directory before the run
    that took over, and its record of the account must not overwrite that run's."""
    values = {name: getattr(account, name) for name in fields}
    if not DirectoryAccount.objects.filter(
        Exists(Job.objects.filter(held(job))), pk=account.pk
    ).update(**values):
        raise LeaseLost


def _link(account: DirectoryAccount, remote_id: str, created: bool) -> list[str]:
    account.remote_id = remote_id
    account.last_synced_at = timezone.now()
    account.missing_since = None
    if created:
        account.created_remotely_at = timezone.now()
    return ["remote_id", "last_synced_at", "created_remotely_at", "missing_since"]


def applied(account: DirectoryAccount, step: Step, result: dict) -> list[str]:
    """What a succeeded step changes in the database's record of the account, made on
    `account`; the fields it changed, which the caller saves (once for a batch of steps)."""
    action = step.action
    if action == planner.CREATE_USER and result.get("user_id") and result.get("created"):
        account.managed = _set_attributes(account, step.params.get("attributes") or {}, fresh=True)
        return [*_link(account, result["user_id"], True), "managed"]
    if action in (planner.CREATE_USER, planner.LINK_USER) and result.get("user_id"):
        return _link(account, result["user_id"], result.get("created", False))
    if action == planner.UPDATE_USER:
        account.managed = _set_attributes(account, step.params.get("attributes") or {})
        return ["managed"]
    if action in ADDS or action in REMOVALS:
        _track(account, step)
        return ["managed"]
    if action == licences.SET_LICENSES:
        account.managed = licences.managed_after(account.managed or {}, step.params)
        return ["managed"]
    if action == planner.DELETE_USER and connector_type(step.connection).soft_deletes:
        # Gone by our own hand: no need to wait for the replication window to say so.
        account.missing_since = timezone.now() - replication_window() * 2
        return ["missing_since"]
    if action in (planner.DELETE_USER, planner.PURGE_USER):
        account.remote_id, account.created_remotely_at, account.missing_since = "", None, None
        account.managed = {}
        return ["remote_id", "created_remotely_at", "missing_since", "managed"]
    return []


def maybe_applied(account: DirectoryAccount, step: Step) -> list[str]:
    """As `applied`, for a step given up with no answer (steps.settle): it may still be
    carried out. What it adds or sets becomes the portal's to take away or clear again (if
    it never lands, nothing is taken: only access still held is removed, only a value still
    held cleared); what it removes or clears stays the portal's, as if it had not run."""
    action, params = step.action, step.params
    if action in ADDS:
        _track(account, step)
        return ["managed"]
    if action == licences.SET_LICENSES:
        adds_only = {**params, "remove": [], "removed": []}
        account.managed = licences.managed_after(account.managed or {}, adds_only)
        return ["managed"]
    if action == planner.UPDATE_USER:
        values = {k: v for k, v in (params.get("attributes") or {}).items() if v not in (None, "")}
        account.managed = _set_attributes(account, values)
        return ["managed"]
    return []


def _set_attributes(account: DirectoryAccount, changed: dict, fresh: bool = False) -> dict:
    """`managed` with the names of the attributes the portal set on the account
    (`managed["attributes"]`, from nothing for the account it has just made): the ones it
    clears again when the desired state has none. A clear ends that."""
    managed = dict(account.managed or {})
    names = set() if fresh else set(managed.get("attributes", []))
    for name, value in changed.items():
        if value in (None, ""):
            names.discard(name)
        else:
            names.add(name)
    return {**managed, "attributes": sorted(names)}


def _track(account: DirectoryAccount, step: Step) -> None:
    """An add makes the access the portal's to take away again; a removal ends that."""
    kind = ADDS.get(step.action) or REMOVALS[step.action]
    param = planner.ACCESS_ACTIONS[kind][2]
    resource_id = step.params[param]
    managed = dict(account.managed or {})
    refs = [r for r in managed.get(kind, []) if r.get("id") != resource_id]
    if step.action in ADDS:
        refs.append({"id": resource_id, "name": step.target_name})
    managed[kind] = refs
    account.managed = managed
