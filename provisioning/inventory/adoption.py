"""Adoption: a person the directories show and the portal does not manage becomes a managed
Identity linked to their existing accounts, and nothing changes in any directory.

The person's desired state (engine/desired.py) is made equal to what their accounts hold:

- names, e-mail and employee id from the accounts, and the attributes the engine compares
  as the person's own overrides, so no template or tenant default changes them;
- the role templates the technician confirms; the access they explain is recorded as the
  portal's (`DirectoryAccount.managed`), so a later move takes it away as it would from
  someone the portal onboarded;
- every group, licence and app no template explains as an access exception of its
  connection (a restore after a leave gives exceptions back, as it does for anyone); groups
  the directory fills itself (rule-based, built in) are neither;
- accounts whose sign-in is blocked: a person who has left, with leave options that block
  sign-in and remove nothing (a leaver with the same options when the offboarding form
  comes next, since that form takes leavers).

The person is managed only in the directory connections they hold an account in
(`Identity.directories`): the engine creates no account for them in the others (a
technician may add them to one later, `lifecycle.add_to_directory`).

Before anything is saved, the desired state is compared with the inventory's rows: an
adoption that would change something (a template adding access, a tenant default filling an
empty attribute) is refused unless the technician confirms the change. Once saved, the
engine's own builder (`desired_for`) is asked again, and the same comparison decides.

`offboard` adopts and hands the person to `lifecycle.request_offboarding` in one
transaction; the pages offer the same through the identity's own offboarding and move forms.

What an adoption would record and change is worked out in adoption_draft.py, the templates
suggested in adoption_suggest.py, and many people at once in adoption_bulk.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction

from portal.audit.events import record
from provisioning.engine.desired import desired_for
from provisioning.inventory import matching
from provisioning.inventory.adoption_draft import (
    TAKEN,
    WOULD_CHANGE,
    Draft,
    Known,
    differences,
    draft,
)
from provisioning.inventory.models import Account, Person
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, DirectoryAccount, Identity, Job
from tenants.models import RoleTemplate


class AdoptionRefused(Exception):
    """Nothing was saved: why, and what the engine would change (when that is why)."""

    def __init__(self, message: str, changes: Sequence[str] = (), *, refused_as: str = ""):
        super().__init__(message)
        self.message = message
        self.changes = list(changes)
        self.refused_as = refused_as  # the reason in a few words


# -- adopting ----------------------------------------------------------------------------------


def adopt(
    person: Person,
    templates: Sequence[RoleTemplate],
    by,
    *,
    reason: str = "",
    confirm_changes: bool = False,
    http_request=None,
    known: Known | None = None,
    to_offboard: bool = False,
) -> Identity:
    """Make `person` a managed Identity linked to their accounts, in one transaction, with
    its audit event; no job is asked and nothing is sent. Raises AdoptionRefused (nothing
    saved) for a person out of scope, managed already or colliding with someone managed,
    and for an adoption the engine would act on unless `confirm_changes`.

    `to_offboard`: the offboarding form comes next, and it takes a leaver, not someone who
    has left: a disabled person is adopted as a leaver (the same desired state; the first
    verified job makes them someone who has left)."""
    with transaction.atomic():
        identity, result = _adopt(person, templates, known, confirm_changes, leaver=to_offboard)
        if getattr(by, "pk", None):  # who took them over (the person page names them)
            identity.created_by = by
            identity.save(update_fields=["created_by"])
        _audit(identity, result, by, reason, confirm_changes, http_request)
    return identity


def _adopt(person, templates, known, confirm_changes, *, leaving=False, leaver=False):
    # The person's row only: the tenant's row locked for update would make every job and
    # audit event of the tenant wait at commit (a deferred foreign key's key share) while the
    # adoption waits for the audit head one of them holds (a deadlock).
    locked = Person.objects.select_for_update(of=("self",)).select_related("tenant")
    person = locked.get(pk=person.pk)
    known = known or Known(person.tenant)
    result = draft(person, templates, known=known)
    if result.refusal:
        raise AdoptionRefused(result.refusal, refused_as=result.refused_as)
    if leaver and result.status == Identity.Status.LEFT:
        result.status = Identity.Status.LEAVER
    if leaving:
        result.status, result.leave_options = Identity.Status.ACTIVE, {}
    elif result.changes and not confirm_changes:
        raise AdoptionRefused(_would_change(person), result.changes, refused_as=WOULD_CHANGE)
    try:
        with transaction.atomic():
            identity = _save(result)
    except IntegrityError:  # someone took the username or employee id meanwhile
        raise AdoptionRefused(
            f"{result.fields['username']} was taken meanwhile; look at the person again.",
            refused_as=TAKEN,
        ) from None
    if not leaving:
        confirmed = _engine_changes(identity, result, known)
        if confirmed and not confirm_changes:
            raise AdoptionRefused(_would_change(person), confirmed, refused_as=WOULD_CHANGE)
    known.taken(result.fields)
    _link_person(identity, result.accounts)
    return identity, result


def _link_person(identity: Identity, accounts: list[Account]) -> None:
    """The identity's Person row holds their accounts (the matching hooks on Identity and
    DirectoryAccount usually did it already; asking costs one query)."""
    linked = Account.objects.filter(pk__in=[a.pk for a in accounts], person__identity=identity)
    if linked.count() != len(accounts):
        matching.person_for_identity(identity)


def _would_change(person: Person) -> str:
    return (
        f"Nothing was adopted: adopting {person} like this would change their accounts (the "
        "changes are listed beside). To adopt them with these changes, tick “Adopt anyway”; "
        "or choose other role templates."
    )


def _save(result: Draft) -> Identity:
    tenant = result.person.tenant
    identity = Identity.objects.create(
        tenant=tenant,
        status=result.status,
        leave_options=result.leave_options,
        access_exceptions=result.exceptions,
        directories=result.directories,
        **result.fields,
    )
    identity.role_templates.set(result.templates)
    for account in result.accounts:
        DirectoryAccount.objects.create(
            identity=identity,
            connection_id=account.connection_id,
            remote_id=account.remote_id,
            managed=result.managed.get(account.connection_id, {}),
        )
    return identity


def _engine_changes(identity: Identity, result: Draft, known: Known) -> list[str]:
    """The same comparison, with the desired state the engine's own builder makes now."""
    changes = []
    for connection in known.connections:
        account = next((a for a in result.accounts if a.connection_id == connection.pk), None)
        desired = desired_for(identity, connection)
        changes += differences(connection, desired, account, known.catalogue, result.managed)
    return changes


def _audit(identity, result: Draft, by, reason, confirm_changes, http_request, **extra) -> None:
    record(
        "inventory.adopted",
        actor=by,
        tenant=identity.tenant,
        target=identity,
        after={
            "username": identity.username,
            "status": identity.status,
            "role_templates": [t.name for t in result.templates],
            "accounts": [
                {"connection": a.connection_id, "remote_id": a.remote_id, "enabled": a.enabled}
                for a in result.accounts
            ],
            "exceptions": result.exceptions,
            # managed only in these directories; none is created in the others
            "directories": [{"connection": c.pk, "label": c.label} for c in result.directories_in],
            "attributes": result.fields["attributes"],
            "changes_confirmed": result.changes if confirm_changes else [],
            "reason": reason[:500],
            **extra,
        },
        request=http_request,
    )


def offboard(
    person: Person,
    templates: Sequence[RoleTemplate],
    options: lifecycle.OffboardingOptions,
    by,
    *,
    at=None,
    reason: str = "",
    http_request=None,
) -> Job:
    """Adopt `person` and offboard them in one transaction (an account whose sign-in is
    blocked already gets what the options still do: access removed, deleted later). The
    leave goes through the circuit breaker with the person pages' (breaker23): counted with
    the tenant's leavers of the hour, held past the limit (adopted, the leave waiting for an
    MSP admin)."""
    with transaction.atomic():
        identity, result = _adopt(person, templates, None, True, leaving=True)
        # The breaker's tenant lock before the adoption's event takes the audit head: a
        # leave of the tenant holding the lock waits for the head otherwise (converge18).
        lifecycle.lock_leaves_of(identity.tenant)
        _audit(identity, result, by, reason, False, http_request, then="offboard")
        return lifecycle.offboard_in_window(
            identity,
            options,
            kind=Batch.Kind.PAGE,
            actor=by,
            at=at,
            row={"person": identity.pk, "username": identity.username, "adopted": True},
            http_request=http_request,
        )
