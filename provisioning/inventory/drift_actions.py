"""What a person does with a drift item: converge it (a reconciliation job), accept it (the
difference becomes part of what the portal wants) or dismiss it (hidden while it persists);
and auto-converge, which `drift.detect` asks for when the tenant's policy says so."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from portal.audit.events import record
from provisioning.engine.desired import licence_choices_with, template_access
from provisioning.inventory.models import Drift, Person
from provisioning.jobs import new_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, DirectoryAccount, Identity, Job
from tenants.models import Tenant

Kind, Status = Drift.Kind, Drift.Status
IN_FLIGHT = (Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.WAITING)
# Jobs that keep auto-converge from asking another one (a held one waits for a person).
UNFINISHED = (*IN_FLIGHT, Job.Status.HELD)
# Accepting these changes the desired state, so the difference is gone after it.
ACCEPT_CHANGES_DESIRED = (Kind.EXTRA, Kind.MISSING)
CONVERGIBLE = (Status.OPEN, Status.DISMISSED)
ACCEPTABLE = (Status.OPEN, Status.DISMISSED)
REASON_MIN, REASON_MAX = 3, 500


class DriftError(Exception):
    """An action a drift item does not allow (said to the person as it is)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- converge ---------------------------------------------------------------------------------


# Jobs that change what the portal wants of a person and make their directories so. Not the
# periodic reconciliation (it takes from an active person only what the portal gave, and runs
# so often that it would hide every converge), nor a grant's or a retry's narrower job.
SETTLING_KINDS = (Job.Kind.JOIN, Job.Kind.CHANGE, Job.Kind.LEAVE, Job.Kind.RESTORE, Job.Kind.DELETE)
SETTLED = (Job.Status.SUCCEEDED, Job.Status.PARTIAL)


def settled_since_seen(items: list[Drift]) -> dict[int, Job]:
    """Each open item's person's latest settling job that ended after the item was last seen,
    by item id: one query, over the jobs that ended since the oldest of those sightings. Such
    an item awaits the next inventory read: the job may have settled it, so it is not
    converged (the page offers no Converge, and `converge_person` refuses it)."""
    open_items = [i for i in items if i.status == Status.OPEN and i.identity_id is not None]
    if not open_items:
        return {}
    latest: dict[int, Job] = {}
    jobs = Job.objects.filter(
        identity_id__in={i.identity_id for i in open_items},
        finished_at__gt=min(i.last_seen_at for i in open_items),
        kind__in=SETTLING_KINDS,
        status__in=SETTLED,
    ).order_by("identity_id", "-finished_at", "-pk")
    for job in jobs.only("pk", "kind", "status", "identity_id", "finished_at"):
        latest.setdefault(job.identity_id, job)
    return {
        i.pk: latest[i.identity_id]
        for i in open_items
        if i.identity_id in latest and latest[i.identity_id].finished_at > i.last_seen_at
    }


def converge(drift: Drift, by, *, http_request=None) -> Job:
    """A reconciliation of the item's person; the item is converging until the next detect
    after the job ends finds it gone (resolved) or still there (open again)."""
    return converge_person(drift.person, by, items=[drift.pk], http_request=http_request)


def converge_person(
    person: Person, by, *, items: list[int] | None = None, http_request=None, hold_in=None
) -> Job:
    """One reconciliation for the person's open items (or `items` of them). Extra access is
    made the portal's to remove first (added to `DirectoryAccount.managed`): a job takes
    away from an active person only what the portal gave."""
    if person.identity_id is None:
        raise DriftError("Nobody manages this person: adopt them first.")
    with transaction.atomic():
        identity = Identity.objects.select_for_update().get(pk=person.identity_id)
        chosen = Drift.objects.select_for_update().filter(person=person)
        wanted = {"status": Status.OPEN} if items is None else {"pk__in": items}
        chosen = list(chosen.filter(status__in=CONVERGIBLE, **wanted).select_related("connection"))
        awaiting = settled_since_seen(chosen)
        if items is not None and awaiting:
            job = next(iter(awaiting.values()))
            raise DriftError(
                f"This item awaits the next inventory read: it was last seen before "
                f"{job.label} #{job.pk} ended, which may have settled it. "
                "Nothing was queued."
            )
        chosen = [d for d in chosen if d.pk not in awaiting]
        if not chosen:
            raise DriftError(
                "Nothing open to converge for this person"
                + (": the open items await the next inventory read." if awaiting else ".")
            )
        _give_removal(identity, [d for d in chosen if d.kind == Kind.EXTRA])
        job = new_job(
            identity,
            Job.Kind.RECONCILE,
            {"drift": [d.pk for d in chosen]},
            actor=by,
            at=None,
            batch=hold_in,
            hold=hold_in is not None,
        )
        Drift.objects.filter(pk__in=[d.pk for d in chosen]).update(
            status=Status.CONVERGING, job=job
        )
        record(
            "drift.converge",
            actor=by,
            tenant=identity.tenant,
            target=identity,
            before={"items": [_described(d) for d in chosen]},
            after={"job": job.pk, "status": job.status},
            request=http_request,
            job_id=job.pk,
        )
    return job


def _give_removal(identity: Identity, extra: list[Drift]) -> None:
    by_connection: dict[int, list[Drift]] = defaultdict(list)
    for item in extra:
        by_connection[item.connection_id].append(item)
    for connection_id, items in by_connection.items():
        account = DirectoryAccount.objects.filter(
            identity=identity, connection_id=connection_id
        ).first()
        if account is None:
            continue
        managed = {k: list(v) for k, v in (account.managed or {}).items()}
        for item in items:
            refs = managed.setdefault(item.access_kind, [])
            if all(r.get("id") != item.ref_id for r in refs):
                refs.append({"id": item.ref_id, "name": item.ref_name})
        account.managed = managed
        account.save(update_fields=["managed"])


def auto_converge(tenant: Tenant, person_ids: set[int]) -> tuple[int, int]:
    """A reconciliation for each person with new drift, unless one is under way or held.
    More people than the tenant's mass-change limit are held in one batch for an MSP
    admin's confirmation, as the lifecycle holds mass offboarding. (converged, held)."""
    busy = Job.objects.filter(identity=OuterRef("identity_id"), status__in=UNFINISHED)
    people = list(
        Person.objects.filter(pk__in=person_ids, identity__isnull=False)
        .exclude(Exists(busy))
        .order_by("pk")
    )
    if not people:
        return 0, 0
    batch = _hold_batch(tenant, len(people))
    for person in people:
        try:
            converge_person(person, "system", hold_in=batch)
        except DriftError:
            continue
    record(
        "drift.auto_converge",
        actor="system",
        tenant=tenant,
        target=("batch", batch.pk, str(batch)) if batch else None,
        after={
            "people": [p.pk for p in people],
            "held": batch is not None,
            "reason": batch.hold_reason if batch else "",
        },
    )
    held = len(people) if batch else 0
    return len(people) - held, held


def _hold_batch(tenant: Tenant, people: int) -> Batch | None:
    managed = lifecycle.managed_count(tenant)
    limit = tenant.offboard_hold_limit(managed)
    if people <= 1 or people <= limit:
        return None
    # No batch kind of drift's own (that needs a migration): held runs are confirmed on the
    # schedule page, where scheduled leavers' are.
    batch = Batch.objects.create(
        tenant=tenant,
        kind=Batch.Kind.SCHEDULE,
        rows_total=people,
        rows_valid=people,
        options={"drift": True},
    )
    lifecycle.hold_batch(
        batch,
        f"Auto-converge of drift would change {people} of {managed} managed people; more "
        f"than {limit} at once needs an MSP admin's confirmation.",
    )
    return batch


# -- accept and dismiss -----------------------------------------------------------------------


def clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise DriftError(f"Give a reason of {REASON_MIN} to {REASON_MAX} characters.")
    return reason


def why_not_acceptable(drift: Drift) -> str:
    """Why the item cannot be accepted ("" when it can)."""
    if drift.status not in ACCEPTABLE:
        return f"It is {drift.get_status_display().lower()}."
    identity = drift.identity
    if identity is None:
        return "Nobody manages this person."
    if drift.kind == Kind.EXTRA and identity.status in lifecycle.LEAVING:
        return "A leave removes what it strips whatever the exceptions: converge or dismiss it."
    if drift.kind == Kind.MISSING and _going_without(identity, drift) is None:
        return (
            "The person's roles, extra groups or grants give it: change those (a move) to "
            "go without it."
        )
    return ""


def accept(drift: Drift, reason: str, by, *, http_request=None) -> Drift:
    """EXTRA: the access becomes an exception of the person in that directory (part of the
    desired state: no job removes it). MISSING: the person goes without it (a licence by
    the licence choice "go without", an exception by dropping it). STATE, VANISHED: an
    acknowledgement with its reason (the periodic reconciliation still converges them)."""
    reason = clean_reason(reason)
    with transaction.atomic():
        # The person before the item, as `converge_person` locks them: the other order
        # deadlocked with a converge of the same person (converge24).
        owner = Drift.objects.filter(pk=drift.pk).values_list("identity_id", flat=True)
        Identity.objects.select_for_update().filter(pk__in=owner).exists()
        drift = (
            Drift.objects.select_for_update(of=("self",))
            .select_related("identity")
            .get(pk=drift.pk)
        )
        if refusal := why_not_acceptable(drift):
            raise DriftError(f"This item cannot be accepted. {refusal}")
        identity = Identity.objects.select_for_update().get(pk=drift.identity_id)
        before = _desired_inputs(identity)
        if drift.kind == Kind.EXTRA:
            _add_exception(identity, drift)
        elif drift.kind == Kind.MISSING:
            _go_without(identity, drift)
        _decide(drift, Status.ACCEPTED, reason, by)
        record(
            "drift.accept",
            actor=by,
            tenant=drift.tenant,
            target=identity,
            before={"item": _described(drift), **before},
            after={"reason": reason, "status": drift.status, **_desired_inputs(identity)},
            request=http_request,
        )
    return drift


def dismiss(drift: Drift, reason: str, by, *, http_request=None) -> Drift:
    """Not worth acting on now: hidden from the open items while the difference persists;
    if it goes and comes back, it opens again."""
    reason = clean_reason(reason)
    with transaction.atomic():
        drift = Drift.objects.select_for_update().get(pk=drift.pk)
        if drift.status != Status.OPEN:
            raise DriftError(f"Only an open item can be dismissed; this one is {drift.status}.")
        _decide(drift, Status.DISMISSED, reason, by)
        record(
            "drift.dismiss",
            actor=by,
            tenant=drift.tenant,
            target=drift.identity or ("inventory.person", drift.person_id, str(drift.person)),
            before={"item": _described(drift)},
            after={"reason": reason, "status": drift.status},
            request=http_request,
        )
    return drift


def _decide(drift: Drift, status: str, reason: str, by) -> None:
    drift.status, drift.reason = status, reason
    drift.resolved_at, drift.resolved_by = timezone.now(), by if getattr(by, "pk", None) else None
    drift.save(update_fields=["status", "reason", "resolved_at", "resolved_by"])


def _add_exception(identity: Identity, drift: Drift) -> None:
    exceptions = {k: dict(v) for k, v in (identity.access_exceptions or {}).items()}
    mine = exceptions.setdefault(str(drift.connection_id), {})
    refs = list(mine.get(drift.access_kind, []))
    if all(r.get("id") != drift.ref_id for r in refs):
        refs.append({"id": drift.ref_id, "name": drift.ref_name})
    mine[drift.access_kind] = refs
    identity.access_exceptions = exceptions
    identity.save(update_fields=["access_exceptions", "updated_at"])


def _going_without(identity: Identity, drift: Drift) -> tuple[str, str] | None:
    """How the desired state can drop this wanted access: ("exception", ref) when an
    exception gives it, ("licence", sku) when a role's licence does; None otherwise."""
    names = {drift.ref_id.casefold(), drift.ref_name.casefold()}
    exceptions = (identity.access_exceptions or {}).get(str(drift.connection_id), {})
    for ref in exceptions.get(drift.access_kind, []):
        if {str(ref.get("id", "")).casefold(), str(ref.get("name", "")).casefold()} & names:
            return ("exception", ref.get("id") or ref.get("name"))
    if drift.access_kind == "licenses":
        choices = identity.license_choices or {}
        for sku in template_access(identity)["licenses"]:
            if str(choices.get(sku, sku)).casefold() in names:
                return ("licence", sku)
    return None


def _go_without(identity: Identity, drift: Drift) -> None:
    how, ref = _going_without(identity, drift)
    if how == "exception":
        exceptions = {k: dict(v) for k, v in (identity.access_exceptions or {}).items()}
        mine = exceptions[str(drift.connection_id)]
        mine[drift.access_kind] = [
            r for r in mine.get(drift.access_kind, []) if (r.get("id") or r.get("name")) != ref
        ]
        identity.access_exceptions = exceptions
        identity.save(update_fields=["access_exceptions", "updated_at"])
    else:
        # Per person, not per directory: licences exist in Entra only.
        identity.license_choices = licence_choices_with(identity, {ref: ""})
        identity.save(update_fields=["license_choices", "updated_at"])


def _desired_inputs(identity: Identity) -> dict:
    return {
        "access_exceptions": identity.access_exceptions or {},
        "license_choices": identity.license_choices or {},
    }


def _described(drift: Drift) -> dict:
    return {
        "id": drift.pk,
        "kind": drift.kind,
        "connection": drift.connection_id,
        "access": drift.access_kind,
        "ref": drift.ref_id,
        "name": drift.ref_name,
        "detail": drift.detail,
        "status": drift.status,
    }
