"""The desired state of a person in one directory, as data, from one builder.

`desired_for(identity, connection)` is the only place that decides what a person should
have: their lifecycle status and dates, their role templates and own overrides, their live
access grants, the leave under way (its options: disable mode, kept groups, what to strip)
and the access recorded as an exception when they left. Every action changes the inputs
(in its own transaction) and asks for a reconciliation; the planner only compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

from provisioning.engine import memo
from tenants import mappings
from tenants.lifecycle_settings import HANDOVER_FIELDS  # a leave's mail, files and reports
from tenants.models import AttributeMapping, RoleTemplate

ATTRIBUTE_NAMES = ("department", "job_title", "usage_location", "company", "office")
# In access_exceptions, an app account adopted as it was (refs of the account), which keeps
# it though no template or grant gives the app.
KEPT_ACCOUNT = "account"
# An adopted person's "usage_location" when none of their accounts held one (kept by moves).
NO_USAGE_LOCATION = ""
# Mapped values that are the state's own fields; every other mapped value is an attribute.
MAPPED_FIELDS = ("first_name", "last_name", "display_name", "email")
ACCESS_KINDS = ("groups", "licenses", "apps")
# What happens to access a person holds but should not have, per kind:
MANAGED = "managed"  # remove what the portal gave and no longer wants (a mover)
STRIP = "strip"  # remove everything held but the kept groups (a leaver)
KEEP = "keep"  # remove nothing (a leave whose options keep it)


@dataclass(frozen=True)
class DesiredState:
    username: str
    first_name: str
    last_name: str
    display_name: str
    email: str
    present: bool = True  # False: the account must not exist (deleted, or not yet created)
    enabled: bool | None = True  # None: leave sign-in as it is
    attributes: dict = field(default_factory=dict)
    groups: tuple[str, ...] = ()  # names or ids that must be held
    licenses: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()
    removal: dict = field(default_factory=lambda: dict.fromkeys(ACCESS_KINDS, MANAGED))
    keep_groups: tuple[str, ...] = ()
    disable_mode: str = ""  # a connector's disable mode (Okta: suspend or deactivate)
    leaving: bool = False
    # What the active person would hold: access a leave strips beyond this is an exception.
    explained: dict = field(default_factory=dict)
    version: int = 0
    manager: str = ""  # who they report to, as named on the person ("": left as it is)
    # A leave's mail and files options (engine/mailbox.py), e.g. {"auto_reply": True, ...}.
    handover: dict = field(default_factory=dict)
    # False: a directory the person is not managed in (`manages`): the engine reads, creates,
    # changes and deletes no account there, whatever holds their username.
    managed_here: bool = True

    def wanted(self, kind: str) -> tuple[str, ...]:
        return getattr(self, kind)


def merge_templates(templates, tenant, overrides: dict, extra_groups=()) -> dict:
    """Attributes, groups, licences and apps of `templates` (in order), then `overrides`."""
    from_templates: dict = {}
    groups, licenses, apps = [], [], []
    for template in templates:
        for name in ATTRIBUTE_NAMES:
            if value := getattr(template, name):
                from_templates.setdefault(name, value)  # the first template that sets it wins
        groups += template.groups
        licenses += template.licenses
        apps += template.apps
    given = {k: v for k, v in overrides.items() if v not in (None, "")}
    # The tenant's usage location is the default of people the portal makes. An adopted
    # person whose accounts hold none has "" (NO_USAGE_LOCATION): none is imposed on them.
    own_none = overrides.get("usage_location") == NO_USAGE_LOCATION
    default = {} if own_none else {"usage_location": tenant.default_usage_location}
    attributes = default | from_templates | given
    return {
        "attributes": attributes,
        "groups": tuple(dict.fromkeys([*groups, *extra_groups])),
        "licenses": tuple(dict.fromkeys(licenses)),
        "apps": tuple(dict.fromkeys(apps)),
    }


def names_stand_in(name: str, value: str, held: str, desired: DesiredState) -> bool:
    """An optional display name (Okta's, a SCIM app's) the account holds none of, wanted as
    just the first and last name: the directory shows the names for it, so a reconciliation
    does not fill it in (Okta users made in its admin console have none: adopting them must
    not write one)."""
    full = f"{desired.first_name} {desired.last_name}".strip()
    return name == "display_name" and not held and value == full


def licence_choices_with(identity, answers: dict[str, str]) -> dict[str, str]:
    """The person's licence choices with `answers` (SKU -> replacement, "" to go without)
    on top: read as the identity is now (under its lock, where the caller saves them). The
    one merge for every answer: a form's dry run, a job's question, a drift gone without."""
    return {**(identity.license_choices or {}), **answers}


def with_choices(licenses: tuple[str, ...], choices: dict | None) -> tuple[str, ...]:
    """`choices` maps a SKU with no free seat to its replacement ("" = go without)."""
    if not choices:
        return licenses
    return tuple(dict.fromkeys(filter(None, (choices.get(sku, sku) for sku in licenses))))


def active_state(
    person: dict,
    templates,
    tenant,
    *,
    grants=(),
    exceptions: dict | None = None,
    connection=None,
) -> DesiredState:
    """What an active person holds: templates, their own overrides and extra groups, the
    licence choices made at onboarding, live grants and restored exceptions. `person` holds
    username, first_name, last_name, display_name, email, attributes, extra_groups and
    license_choices (an Identity's fields, or a form's before there is one), and may hold
    employee_id, start_date and end_date. With a `connection`, its attribute mappings."""
    merged = merge_templates(
        templates, tenant, person.get("attributes") or {}, person.get("extra_groups") or ()
    )
    exceptions = exceptions or {}
    access = {
        "groups": merged["groups"],
        "licenses": with_choices(merged["licenses"], person.get("license_choices")),
        "apps": merged["apps"],
    }
    for kind in ACCESS_KINDS:
        extra = [g["id"] or g["name"] for g in grants if g["kind"] == kind]
        extra += [ref.get("id") or ref["name"] for ref in exceptions.get(kind, [])]
        access[kind] = tuple(dict.fromkeys([*access[kind], *extra]))
    state = DesiredState(
        username=person["username"],
        first_name=person["first_name"],
        last_name=person["last_name"],
        display_name=person["display_name"],
        email=person["email"],
        attributes=merged["attributes"],
        manager=str((person.get("attributes") or {}).get("manager") or "").strip(),
        **access,
    )
    return with_mapping(state, connection, person) if connection is not None else state


def with_mapping(state: DesiredState, connection, person: dict) -> DesiredState:
    """`state` as `connection`'s attribute mappings send it (tenants/mappings), its rows read
    in one query. Without rows the defaults are today's lists: `state` as it is. A value
    that maps to "" is left out, as an empty attribute is today; the names a directory
    requires stay the person's own."""
    target = mappings.target_key_for(connection)
    overrides = memo.remembered(
        ("mappings", connection.tenant_id, target),
        lambda: _overrides(connection.tenant_id, target),
    )
    if not overrides:
        return state
    values = mappings.apply(connection.tenant_id, target, mapping_source(state, person), overrides)
    attributes = dict(state.attributes)
    for name in mappings.attributes_of(target):
        if name in MAPPED_FIELDS:
            continue
        if values.get(name):
            attributes[name] = values[name]
        else:
            attributes.pop(name, None)
    names = {name: values[name] for name in MAPPED_FIELDS if values.get(name)}
    return _replace(state, attributes=attributes, **names)


def _overrides(tenant_id: int, target: str) -> dict[str, str]:
    """`mappings.overrides_for`, from the tenant's rows of every target as kept across runs
    (memo.across_runs), else read as before."""
    read = lambda: list(AttributeMapping.objects.filter(tenant_id=tenant_id))  # noqa: E731
    rows = memo.across_runs(tenant_id, "mappings", read)
    return {row.attribute: row.expression for row in rows if row.target == target}


def mapping_source(state: DesiredState, person: dict) -> dict[str, str]:
    """A person's attributes as a mapping reads them (tenants/mappings/defaults.py)."""
    dates = {name: person.get(name) or "" for name in ("start_date", "end_date")}
    return {
        "username": state.username,
        "first_name": state.first_name,
        "last_name": state.last_name,
        "display_name": state.display_name,
        "email": state.email,
        "employee_id": str(person.get("employee_id") or ""),
        "manager": state.manager,
        **{name: str(value) for name, value in state.attributes.items() if value is not None},
        **{name: getattr(value, "isoformat", value.__str__)() for name, value in dates.items()},
    }


def desired_for(identity, connection, *, templates=None, changes: dict | None = None, grants=None):
    """The one builder: `identity`'s desired state in `connection`'s directory now.

    A preview asks what it would be after an action: `templates` and `changes` (field name
    -> value: status, leave_options, attributes, extra_groups, license_choices,
    access_exceptions, directories) stand in for the saved ones. A directory the person is
    not managed in (`manages`) gets `managed_here` false: nothing is wanted or done there.
    `grants`: the person's live grants in this directory, when the caller has read many
    people's at once (`live_grants_by_person`).
    """
    view = _Fields(identity, changes or {})
    Status = identity.Status
    version_key = (identity.pk, identity.desired_version)
    if templates is None:
        templates = memo.remembered(("templates", *version_key), lambda: _templates(identity))
    templates = list(templates)
    if grants is None:
        grants = memo.remembered(("grants", *version_key), lambda: _live_grants(identity))
        grants = grants.get((identity.pk, connection.pk), [])
    exceptions = (view.access_exceptions or {}).get(str(connection.pk))
    version = {"version": identity.desired_version}
    if getattr(connection, "assigned_by_template", False):
        active = active_state(_person(view), templates, identity.tenant, connection=connection)
        active = in_app(active, templates, connection, grants, exceptions, identity.pk)
        if not active.present:  # no template or grant gives this app: no account in it
            return _replace(active, enabled=False, **version)
    else:
        active = active_state(
            _person(view),
            templates,
            identity.tenant,
            grants=grants,
            exceptions=exceptions,
            connection=connection,
        )
    if not manages(view.directories, connection):
        return _replace(
            active,
            present=False,
            enabled=None,
            groups=(),
            licenses=(),
            apps=(),
            removal=dict.fromkeys(ACCESS_KINDS, KEEP),
            managed_here=False,
            **version,
        )
    if view.status == Status.DELETED or _not_yet(identity):
        return _replace(active, present=False, enabled=False, **version)
    if leaving(view):
        return _leaving(active, view.leave_options or {}, version)
    return _replace(active, enabled=_enabled_now(identity), **version)


def leaving(person) -> bool:
    """Whether the person's desired state is a leaver's (a leaver, or left): access only
    taken away, so a job writes it to the directories it could read before it waits for one
    it could not (executor.plan_job), whatever kind of job reads them."""
    return person.status in (person.Status.LEAVER, person.Status.LEFT)


def manages(directories: list[int] | None, connection) -> bool:
    """Whether a person whose `Identity.directories` is `directories` is managed in
    `connection`: in every directory when None (the people the portal onboards), else in
    those listed (an adopted person: where they had an account). A SCIM app's account goes
    by the role templates (`in_app`), whatever the list says."""
    if directories is None or getattr(connection, "assigned_by_template", False):
        return True
    return connection.pk in directories


def in_connection(active: DesiredState, templates, connection) -> DesiredState:
    """A joiner's active state (not saved yet: a preview) as `connection` sees it: unchanged
    in a directory, the app's account and groups in an app given by templates."""
    if getattr(connection, "assigned_by_template", False):
        return in_app(active, templates, connection, (), None)
    return active


def in_app(
    active: DesiredState, templates, connection, grants, exceptions, identity_id=None
) -> DesiredState:
    """The active state in an app a person gets only through a role template or a grant (a
    SCIM app): the account when one of them gives the app, with their groups there; the
    directory's own groups, licences and apps are not the app's."""
    given = [t.scim_groups_for(connection.pk) for t in templates]
    given = [groups for groups in given if groups is not None]
    granted = [g["id"] or g["name"] for g in grants if g["kind"] == "groups"]
    # an account the person held before adoption, kept as theirs (an exception of its own)
    kept = (exceptions or {}).get(KEPT_ACCOUNT)
    if not given and not granted and not kept:
        return _replace(active, present=False, groups=(), licenses=(), apps=())
    restored = [ref.get("id") or ref["name"] for ref in (exceptions or {}).get("groups", [])]
    groups = [name for names in given for name in names] + granted + restored
    attributes = dict(active.attributes)
    if identity_id is not None:  # the app's externalId: the portal's own id of the person
        attributes["external_id"] = str(identity_id)
    return _replace(
        active, groups=tuple(dict.fromkeys(groups)), licenses=(), apps=(), attributes=attributes
    )


class _Fields:
    """An identity's fields, with a preview's changes on top."""

    def __init__(self, identity, changes: dict) -> None:
        self._identity, self._changes = identity, changes

    def __getattr__(self, name: str):
        if name in self._changes:
            return self._changes[name]
        return getattr(self._identity, name)


def _leaving(active: DesiredState, options: dict, version: dict) -> DesiredState:
    explained = {kind: active.wanted(kind) for kind in ACCESS_KINDS}
    keep = tuple(options.get("keep_groups") or ())
    kept = {k.casefold() for k in keep}
    return _replace(
        active,
        enabled=False if options.get("block_sign_in", True) else None,
        attributes={},
        # The kept groups their role gives stay, as if the join had run before the leave.
        groups=tuple(g for g in active.groups if g.casefold() in kept),
        licenses=(),
        apps=(),
        removal={
            "groups": STRIP if options.get("remove_groups", True) else KEEP,
            "licenses": STRIP if options.get("remove_licenses", True) else KEEP,
            "apps": STRIP if options.get("remove_apps", True) else KEEP,
        },
        keep_groups=keep,
        disable_mode=options.get("okta_mode") or "",
        leaving=True,
        explained=explained,
        manager="",  # a leaver's manager stays: their handover needs it
        handover={name: options[name] for name in HANDOVER_FIELDS if options.get(name)},
        **version,
    )


def _replace(state: DesiredState, **changes) -> DesiredState:
    return DesiredState(**{**state.__dict__, **changes})


def _person(identity) -> dict:
    return {
        "username": identity.username,
        "first_name": identity.first_name,
        "last_name": identity.last_name,
        "display_name": identity.display_name,
        "email": identity.email,
        "attributes": identity.attributes,
        "extra_groups": identity.extra_groups,
        "license_choices": identity.license_choices,
        "employee_id": identity.employee_id,
        "start_date": identity.start_date,
        "end_date": identity.end_date,
    }


def _templates(identity) -> list:
    """The person's role templates, in order: the tenant's templates as kept across runs
    (memo.across_runs) in the order of the ids the claim read with the person
    (`person_templates`), else read."""
    ids = memo.take(("template_ids", identity.pk, identity.desired_version))
    if ids is None:
        return list(identity.role_templates.all())
    read = lambda: list(RoleTemplate.objects.filter(tenant_id=identity.tenant_id))  # noqa: E731
    by_id = {t.pk: t for t in memo.across_runs(identity.tenant_id, "role_templates", read)}
    if not all(pk in by_id for pk in ids):  # an MSP-wide template (no tenant) among them
        return list(identity.role_templates.all())
    return [by_id[pk] for pk in ids]


def person_templates(identity_id: int):
    """The ids of the person's role templates, in the order `identity.role_templates.all()`
    gives them (by name): a queryset to read with the person (serial.claim)."""
    through = RoleTemplate.identities.through.objects.filter(identity_id=identity_id)
    return through.order_by("roletemplate__name").values_list("roletemplate_id", flat=True)


def _live_grants(identity) -> dict[tuple[int, int], list[dict]]:
    """The person's live grants in every directory, as the claim read them with the person,
    else read: one query, however many directories."""
    kept = memo.take(("live_grants", identity.pk, identity.desired_version))
    return kept if kept is not None else live_grants_by_person(identity=identity)


def live_grants_by_person(**where) -> dict[tuple[int, int], list[dict]]:
    """Live grants of the access requests `where` selects, by (identity id, connection id),
    in one query."""
    return grants_by_person(live_grants(**where))


def live_grants(**where):
    """The five columns a grant needs (`grants_by_person`), not two whole rows (request and
    resource) per grant: a queryset, to read alone or with the person (serial.claim)."""
    from provisioning.models_access import AccessRequest

    return AccessRequest.objects.filter(status__in=AccessRequest.LIVE, **where).values_list(
        "identity_id",
        "resource__connection_id",
        "resource__kind",
        "resource__name",
        "resource__remote_id",
    )


def grants_by_person(rows) -> dict[tuple[int, int], list[dict]]:
    """`live_grants` rows by (identity id, connection id)."""
    kinds = {"group": "groups", "app": "apps"}
    found: dict[tuple[int, int], list[dict]] = {}
    for identity_id, connection_id, kind, name, remote_id in rows:
        found.setdefault((identity_id, connection_id), []).append(
            {"kind": kinds[kind], "name": name, "id": remote_id}
        )
    return found


def is_live(identity) -> bool:
    """Their account should exist and let them sign in now."""
    return not _not_yet(identity) and _enabled_now(identity)


def _not_yet(identity) -> bool:
    """A join that waits for its start date (not created ahead) has no account before it."""
    return identity.provision_from is not None and identity.provision_from > timezone.now()


def _enabled_now(identity) -> bool:
    """Not before the start of a joiner created ahead (the scheduled enable clears it)."""
    return identity.enable_at is None or identity.enable_at <= timezone.now()


def template_access(identity) -> dict:
    """The groups, licences and apps the identity's templates and extra groups give."""
    merged = merge_templates(
        list(identity.role_templates.all()), identity.tenant, {}, identity.extra_groups
    )
    return {name: list(merged[name]) for name in ACCESS_KINDS}


def mapping_source_for(identity) -> dict[str, str]:
    """What an outbound mapping reads of `identity` (a mappings page's preview)."""
    person = _person(identity)
    state = active_state(person, list(identity.role_templates.all()), identity.tenant)
    return mapping_source(state, person)


def desired_for_display(identity) -> DesiredState:
    """The templates' side of the desired state, for a tenant with no directory connected."""
    return active_state(_person(identity), list(identity.role_templates.all()), identity.tenant)
