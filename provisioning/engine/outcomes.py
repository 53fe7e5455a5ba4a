"""What happens when a job ends, or when the engine has read an account, registered from
above.

The engine knows no feature: lifecycle (the person's new status, the hard delete to come)
and access requests (a grant's end) register a callback here when the app is ready
(`provisioning.apps`), and the executor calls them all inside the transaction that finishes
the job, in the order they were registered. The inventory registers what keeps its rows
current from the engine's own reads (`provisioning.inventory.apps`)."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models.signals import post_save

from provisioning.connectors.base import AccessState, DirectoryUser
from provisioning.models import Identity, Job
from tenants.models import DirectoryConnection

# What a callback changed, as (before, after) for the job's job.finish event; None: nothing.
Noted = tuple[dict, dict] | None
JobFinished = Callable[[Job, str], Noted]
AccountRead = Callable[[DirectoryConnection, DirectoryUser, AccessState], None]

_on_finished: list[JobFinished] = []
_on_account_read: list[AccountRead] = []


def on_job_finished(callback: JobFinished) -> JobFinished:
    """Call `callback(job, status)` whenever a job ends (succeeded, partial or failed).
    `job.identity` is the person's row as read under its lock in the same transaction: a
    callback changes it and does not save it; the engine saves what the callbacks changed
    once, after them all (`person_changes`), with the reconciliation time a verified job sets."""
    if callback not in _on_finished:
        _on_finished.append(callback)
    return callback


def job_finished(job: Job, status: str) -> tuple[dict, dict]:
    """Run the callbacks; what they changed, (before, after), for the job.finish event the
    caller records in the same transaction, so the trail says what the job's end did."""
    before: dict = {}
    after: dict = {}
    for callback in _on_finished:
        if noted := callback(job, status):
            before.update(noted[0])
            after.update(noted[1])
    return before, after


def on_account_read(callback: AccountRead) -> AccountRead:
    """Call `callback(connection, user, access)` whenever a job's read of an account
    succeeds (its plan, and the read that verifies it)."""
    if callback not in _on_account_read:
        _on_account_read.append(callback)
    return callback


def account_read(connection: DirectoryConnection, user: DirectoryUser, access: AccessState) -> None:
    for callback in _on_account_read:
        callback(connection, user, access)


def person_as_read(person: Identity) -> dict:
    """The person's fields before the callbacks, for `person_changes`."""
    return {f.attname: f.value_from_object(person) for f in person._meta.concrete_fields}


def save_person(person: Identity, as_read: dict, **engine_fields) -> None:
    """Write the person's row once, as `person_changes` says (a save, or a plain UPDATE)."""
    values, saved = person_changes(person, as_read, **engine_fields)
    write_person(person, values, saved)


def write_person(person: Identity, values: dict, saved: bool) -> None:
    """`person_changes`' values written on their own: a save, or a plain UPDATE."""
    if saved:
        person.save(update_fields=list(values))
    elif values:
        Identity.objects.filter(pk=person.pk).update(**values)


def person_changes(person: Identity, as_read: dict, **engine_fields) -> tuple[dict, bool]:
    """What the job's end writes on the person, once, after the callbacks: the fields they
    changed (a save: `person_saved` then tells who listens, the inventory's row; updated_at
    with them) and the engine's own (`engine_fields`, e.g. the reconciliation time; on their
    own a plain UPDATE: nothing the person's row shows). The values by field name, and
    whether it is a save; the caller writes them (executor: with the job's row)."""
    changed = [name for name, value in as_read.items() if getattr(person, name) != value]
    for name, value in engine_fields.items():
        setattr(person, name, value)
    if not changed:
        return dict(engine_fields), False
    updated_at = Identity._meta.get_field("updated_at")
    updated_at.pre_save(person, add=False)  # auto_now, as a save sets it
    fields = [*changed, *engine_fields, "updated_at"]
    return {name: getattr(person, name) for name in fields}, True


def person_saved(person: Identity, fields: list[str]) -> None:
    """After `person_changes`' values were written: the signal a save sends (the inventory's
    summary of the person listens), with the same update_fields."""
    post_save.send(
        sender=Identity,
        instance=person,
        created=False,
        update_fields=frozenset(fields),
        raw=False,
        using=person._state.db or "default",
    )
