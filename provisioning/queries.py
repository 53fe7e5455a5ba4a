"""Read-only look-ups for the provisioning pages: scoped fetches, and a directory's view of a
person. Nothing here changes the database or a directory; changes go through services.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from portal.audit.models import AuditEvent
from provisioning.connectors import bridge
from provisioning.connectors.app_roles import split_entry
from provisioning.connectors.base import DirectoryUser, Resource
from provisioning.connectors.errors import ConnectorError, NotFoundError
from provisioning.connectors.factory import connector_for, connector_type
from provisioning.engine.desired import DesiredState, desired_for, desired_for_display
from provisioning.engine.planner import NEVER_CLEARED, built_in_note, rule_based_note
from provisioning.engine.roles import has_roles
from provisioning.models import DirectoryAccount, Identity, Job
from tenants import access
from tenants.crypto import CredentialError
from tenants.models import DirectoryConnection

IDENTITY_TARGET_TYPE = "provisioning.identity"
READ_TIMEOUT_S = 20.0


def jobs_for(user) -> QuerySet[Job]:
    """The jobs of every tenant this person may see, newest first."""
    return Job.objects.filter(tenant__in=access.tenants_for(user)).select_related(
        "tenant", "identity", "requested_by"
    )


def get_job_for(user, job_id: int, roles: Iterable[str] = access.READ_ROLES) -> Job:
    """A job of one of the person's tenants (else 404), for a role in `roles` (else 403)."""
    job = get_object_or_404(jobs_for(user), pk=job_id)
    access.require_role(user, roles)
    return job


def get_identity_for(
    user, tenant_slug: str, identity_id: int, roles: Iterable[str] = access.READ_ROLES
) -> Identity:
    tenant = access.get_tenant_for(user, tenant_slug, roles)
    return get_object_or_404(
        Identity.objects.select_related("tenant", "created_by"), tenant=tenant, pk=identity_id
    )


def audit_events_of(identity: Identity, limit: int = 100) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            tenant_id=identity.tenant_id,
            target_type=IDENTITY_TARGET_TYPE,
            target_id=str(identity.pk),
        )[:limit]
    )


# -- desired vs actual ---------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One kind of access (groups, licences, apps): what should be there and what is."""

    label: str
    desired: tuple[str, ...]
    actual: tuple[str, ...]
    # Held because the directory puts every user in it (Okta's Everyone), or by a rule (an
    # Entra dynamic group): no access the portal gave or could take, so told apart from what
    # the person holds beyond their roles.
    built_in: tuple[str, ...] = ()
    by_rule: tuple[str, ...] = ()

    def _held(self, wanted: str, have: set[str]) -> bool:
        # A template names an app alone or with the role it gives ("Slack / Member",
        # connectors/app_roles.py): either way the account holds the app.
        if wanted.casefold() in have:
            return True
        app, role = split_entry(wanted) if self.label == "Apps" else (wanted, "")
        return bool(role) and app.casefold() in have

    @property
    def missing(self) -> list[str]:
        have = {a.casefold() for a in self.actual}
        return [d for d in self.desired if not self._held(d, have)]

    @property
    def desired_shown(self) -> list[tuple[str, str]]:
        """Each wanted entry as (name, role): "Slack / Member" beside the "Slack" the directory
        holds read as a difference; the app is named as the directory names it, its role apart."""
        return self._named(self.desired)

    @property
    def missing_shown(self) -> list[str]:
        return [f"{name} (as {role})" if role else name for name, role in self._named(self.missing)]

    def _named(self, entries) -> list[tuple[str, str]]:
        return [split_entry(d) if self.label == "Apps" else (d, "") for d in entries]

    @property
    def built_in_notes(self) -> list[str]:
        return [built_in_note(name) for name in self.built_in] + [
            rule_based_note(name) + "." for name in self.by_rule
        ]

    @property
    def extra(self) -> list[str]:
        return [
            a
            for a in self.actual
            if a not in self.built_in
            and a not in self.by_rule
            and not any(self._held(d, {a.casefold()}) for d in self.desired)
        ]


@dataclass(frozen=True)
class AttributeRow:
    name: str
    desired: str
    actual: str
    compared: bool = True  # False: the engine does not keep it equal (a leaver, a blank)

    @property
    def matches(self) -> bool:
        return not self.compared or (self.desired or "") == (self.actual or "")


@dataclass
class DirectoryView:
    """What one directory holds for the person, side by side with the desired state."""

    connection: DirectoryConnection
    error: str = ""
    user: DirectoryUser | None = None
    attributes: list[AttributeRow] = field(default_factory=list)
    access: list[Comparison] = field(default_factory=list)
    wanted: bool = True  # False: no account is desired here (an app no role or grant gives)
    managed: bool = True  # False: a directory the person is not in, not read at all

    @property
    def in_sync(self) -> bool:
        if not self.managed:
            return True
        if not self.wanted and self.user is None:
            return not self.error
        return (
            not self.error
            and self.user is not None
            and all(row.matches for row in self.attributes)
            and not any(c.missing for c in self.access)
        )


def managed_in(identity: Identity) -> list[str] | None:
    """The labels of the directory connections the person is managed in; None: every one."""
    if identity.directories is None:
        return None
    connections = identity.tenant.connections.filter(pk__in=identity.directories)
    return [c.label for c in connections.order_by("kind") if not c.assigned_by_template]


def directory_views(identity: Identity) -> tuple[DesiredState, list[DirectoryView]]:
    """The desired state, and each directory's actual state of the person (read live)."""
    accounts = {a.connection_id: a for a in DirectoryAccount.objects.filter(identity=identity)}
    views = []
    connections = list(identity.tenant.connections.order_by("kind"))
    overall = None
    for connection in connections:
        # A leaver should hold nothing: anything still there shows as "extra", not the role's
        # access as "missing" (the builder says so).
        desired = desired_for(identity, connection)
        if not desired.managed_here:  # whoever holds their username there is not them
            views.append(DirectoryView(connection, wanted=False, managed=False))
            continue
        overall = overall or desired
        account = accounts.get(connection.pk)
        remote_id = account.remote_id if account else ""
        set_here = tuple((account.managed or {}).get("attributes", ())) if account else ()
        try:
            connector = connector_for(connection)
            views.append(
                bridge.run(
                    _read(connector, connection, desired, remote_id, set_here), READ_TIMEOUT_S
                )
            )
        except CredentialError as exc:
            views.append(DirectoryView(connection, error=f"The stored secret is unusable: {exc}"))
        except ConnectorError as exc:
            views.append(DirectoryView(connection, error=exc.message or "No answer."))
        except TimeoutError:
            views.append(
                DirectoryView(connection, error=f"No answer within {READ_TIMEOUT_S:.0f} s.")
            )
    return overall or desired_for_display(identity), views


async def _read(
    connector, connection, desired: DesiredState, remote_id: str, set_here: tuple = ()
) -> DirectoryView:
    user = None
    if remote_id:
        try:
            user = await connector.get_user(remote_id)
        except NotFoundError:
            user = None
    if user is None:
        user = await connector.find_user(desired.username)
    view = DirectoryView(connection, user=user, wanted=desired.present)
    if user is None and not desired.present:
        return view  # nothing there, and nothing wanted: no rows to compare
    if user is None:
        view.attributes = _attribute_rows(desired, user, connector.compared_attributes, set_here)
        view.access = _comparisons(connector, desired, set(), set(), set())
        return view
    held = await connector.access_of(user.id)
    group_list, app_list = await connector.groups(), await connector.apps()
    groups, apps = _names(group_list, held.groups), _names(app_list, held.apps)
    licences = set()
    if connector.supports_licences:
        licences = _names(await connector.licenses(), held.licenses)
    # An exception kept at adoption names its group or app by id (engine/desired.py): shown
    # and compared by its name, as what the account holds is.
    desired = replace(
        desired,
        groups=_named(group_list, desired.groups),
        apps=_named(app_list, desired.apps),
    )
    view.access = _comparisons(connector, desired, groups, licences, apps, _filled_by(group_list))
    # After the reads: a SCIM app narrows what it holds once it has been discovered.
    view.attributes = _attribute_rows(desired, user, connector.compared_attributes, set_here)
    return view


def _filled_by(groups: list[Resource]) -> dict[str, tuple[str, ...]]:
    """The groups the directory fills itself: built in, and by a rule."""
    return {
        key: tuple(sorted(r.name for r in groups if r.detail.get(flag)))
        for key, flag in (("built_in", "builtin"), ("by_rule", "dynamic"))
    }


def _names(resources: list[Resource], ids: frozenset[str]) -> set[str]:
    return set(_named(resources, tuple(ids)))


def _named(resources: list[Resource], refs: tuple[str, ...]) -> tuple[str, ...]:
    """Each ref's name where it is the id of one of `resources`, else the ref as it is."""
    by_id = {r.id: r.name for r in resources}
    return tuple(by_id.get(ref, ref) for ref in refs)


def _comparisons(
    connector, desired: DesiredState, groups, licences, apps, filled_by: dict | None = None
) -> list[Comparison]:
    """Groups, and licences and apps where the directory has them (a SCIM app has neither:
    its "Apps – –" row compared nothing)."""
    held = tuple(sorted(groups, key=str.casefold))
    filled = {key: tuple(g for g in names if g in held) for key, names in (filled_by or {}).items()}
    rows = [Comparison("Groups", desired.groups, held, **filled)]
    if connector.supports_licences:
        rows.append(Comparison("Licences", desired.licenses, tuple(sorted(licences))))
    if assigns_apps(connector) or desired.apps:
        rows.append(Comparison("Apps", desired.apps, tuple(sorted(apps, key=str.casefold))))
    return rows


ATTRIBUTE_LABELS = {
    "display_name": "Display name",
    "department": "Department",
    "job_title": "Job title",
    "usage_location": "Usage location",
    "company": "Company",
    "office": "Office",
}


def _attribute_rows(
    desired: DesiredState, user: DirectoryUser | None, compared: tuple[str, ...], set_here=()
) -> list[AttributeRow]:
    """The attributes the directory holds (`compared`), compared as the planner compares
    them (engine/planner.py `_changed_attributes`): a leave changes none, and a blank
    desired value leaves the directory's own, unless the portal set it (`set_here`): then
    it is to be cleared."""
    wanted = {"display_name": desired.display_name, **desired.attributes}
    have = user.attributes if user else {}
    cleared = {n for n in set_here if n not in NEVER_CLEARED}
    return [
        AttributeRow(
            label,
            str(wanted.get(name) or ""),
            str(have.get(name) or ""),
            compared=not desired.leaving and (bool(wanted.get(name)) or name in cleared),
        )
        for name, label in ATTRIBUTE_LABELS.items()
        if name in compared and (wanted.get(name) or have.get(name))
    ]


@dataclass(frozen=True)
class VerifiedDirectory:
    connection: DirectoryConnection | None
    readback: dict
    # The read-back's columns the directory has at all: "licenses", "apps", "roles" (a SCIM
    # app has none of them; its 0 would read as "all removed").
    holds: frozenset[str] = frozenset(("licenses", "apps", "roles"))


def assigns_apps(connector) -> bool:
    """Whether the directory assigns apps (a SCIM app, an app of its own, has none)."""
    return hasattr(connector, "app_users")


def holds(connection: DirectoryConnection | None) -> frozenset[str]:
    """What of licences, apps and admin roles the directory has at all."""
    if connection is None:
        return VerifiedDirectory.holds
    connector = connector_type(connection)
    has = {
        "licenses": connector.supports_licences,
        "apps": assigns_apps(connector),
        "roles": has_roles(connector),
    }
    return frozenset(kind for kind, held in has.items() if held)


@dataclass(frozen=True)
class Verification:
    """A succeeded job's read-back, as its page shows it."""

    read_at: datetime | None
    version: int | None
    by_job: int | None
    directories: list[VerifiedDirectory]
    # A joiner created ahead of their start date: the scheduled job that allows sign-in on
    # the first day (its not_before), so the read-back's "blocked" is not read as a fault.
    enabled_by: Job | None = None


LEAVING_KINDS = (Job.Kind.LEAVE, Job.Kind.DELETE)


def verification_of(job: Job) -> Verification | None:
    record = job.verification or {}
    if not record:
        return None
    connections = {c.pk: c for c in job.tenant.connections.all()}
    read_at = record.get("read_at")
    directories = [
        VerifiedDirectory(connection, readback, holds(connection))
        for pk, readback in record.get("directories", {}).items()
        for connection in [connections.get(int(pk))]
    ]
    read = datetime.fromisoformat(read_at) if read_at else None
    blocked = any(d.readback.get("enabled") is False for d in directories)
    return Verification(
        read_at=read,
        version=record.get("desired_version"),
        by_job=record.get("by_job"),
        directories=directories,
        enabled_by=_enabled_later_by(job, read) if blocked else None,
    )


def _enabled_later_by(job: Job, read_at: datetime | None) -> Job | None:
    """The job (services._schedule_enable) that allows sign-in at the start of a joiner
    created ahead, when it was due after this job's read-back; none for a leave, whose
    blocked sign-in is its point."""
    if read_at is None or job.identity_id is None or job.kind in LEAVING_KINDS:
        return None
    return (
        Job.objects.filter(
            identity_id=job.identity_id,
            kind=Job.Kind.CHANGE,
            options__enable=True,
            not_before__gt=read_at,
        )
        .order_by("not_before")
        .first()
    )
