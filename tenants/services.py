"""Every change to tenants, connections and role templates: one transaction, one audit event."""

import copy
from collections.abc import Callable

from django.db import transaction

from portal.audit.events import record, snapshot
from portal.audit.models import AuditEvent
from tenants import crypto, slugs
from tenants.models import DirectoryConnection, RoleTemplate, Tenant

CONNECTION_AUDIT_FIELDS = [
    "kind",
    "name",
    "scim_base_url",
    "scim_auth",
    "scim_token_url",
    "scim_profile",
    "directory_id",
    "client_id",
    "login_base_url",
    "graph_base_url",
    "org_url",
    "secret_set_at",
    "secret_expires_on",
]


def save_tenant(tenant: Tenant, *, actor, request=None) -> Tenant:
    """Create or update a tenant; ValidationError for a reserved slug (tenants.slugs)."""
    slugs.require_unreserved(tenant.slug)
    creating = tenant.pk is None
    before = None if creating else snapshot(Tenant.objects.get(pk=tenant.pk))
    with transaction.atomic():
        tenant.save()
        record(
            "tenant.create" if creating else "tenant.update",
            actor=actor,
            tenant=tenant,
            target=tenant,
            before=before,
            after=snapshot(tenant),
            request=request,
        )
    return tenant


def save_connection(
    connection: DirectoryConnection, *, new_secret: str = "", actor, request=None
) -> DirectoryConnection:
    """Create or update a connection; a non-empty `new_secret` replaces the stored one."""
    creating = connection.pk is None
    before = (
        None
        if creating
        else snapshot(DirectoryConnection.objects.get(pk=connection.pk), CONNECTION_AUDIT_FIELDS)
    )
    if new_secret:
        connection.set_secret(new_secret)
    with transaction.atomic():
        connection.save()
        after = snapshot(connection, CONNECTION_AUDIT_FIELDS)
        after["replaced_fields"] = ["secret"] if new_secret and not creating else []
        record(
            "connection.create" if creating else "connection.update",
            actor=actor,
            tenant=connection.tenant,
            target=connection,
            before=before,
            after=after,
            request=request,
        )
    return connection


def save_discovery(connection: DirectoryConnection, discovered: dict, *, actor, request=None):
    """What a SCIM app's Test connection read of its support (PATCH, filter, page size,
    groups, enterprise extension), kept so that the jobs need not read it again."""
    if connection.scim_discovered == discovered:
        return
    with transaction.atomic():
        before = {"scim_discovered": connection.scim_discovered}
        connection.scim_discovered = discovered
        connection.save(update_fields=["scim_discovered"])
        record(
            "connection.discover",
            actor=actor,
            tenant=connection.tenant,
            target=connection,
            before=before,
            after={"scim_discovered": discovered},
            request=request,
        )


def rotate_connection_secret(connection: DirectoryConnection) -> bool:
    """Re-encrypt with the first configured key; False when nothing is stored."""
    if not connection.secret_ciphertext:
        return False
    with transaction.atomic():
        locked = DirectoryConnection.objects.select_for_update().get(pk=connection.pk)
        locked.secret_ciphertext = crypto.rotate(locked.secret_ciphertext)
        locked.save(update_fields=["secret_ciphertext"])
        record(
            "connection.rotate_key",
            actor="system",
            tenant=locked.tenant,
            target=locked,
            after={"re_encrypted_with": "first configured key"},
        )
    return True


# What a role template gives its members: a change to any of these changes their desired state.
GIVES = (
    "groups",
    "licenses",
    "apps",
    "department",
    "job_title",
    "usage_location",
    "company",
    "office",
    "scim_apps",
)
# Called in the transaction that changes what a template gives (before a delete), with the
# template, the actor and the request: registered from above (provisioning asks its members'
# desired state again), since this app imports none of them.
TemplateChanged = Callable[..., None]
_on_template_changed: list[TemplateChanged] = []


def on_template_changed(callback: TemplateChanged) -> None:
    if callback not in _on_template_changed:
        _on_template_changed.append(callback)


# Called in a deletion's transaction, before the template goes, with the template, the actor
# and the request: what the layers above hold of it (inbound SCIM's role rules) goes on the
# trail as it goes, rather than by a silent cascade.
TemplateDeleted = Callable[..., None]
_on_template_deleted: list[TemplateDeleted] = []


def on_template_deleted(callback: TemplateDeleted) -> None:
    if callback not in _on_template_deleted:
        _on_template_deleted.append(callback)


# How many people such a change reaches (the deletion page says it): counted from above as
# well, where who is still managed is known.
CountHolders = Callable[[RoleTemplate], int]
_holder_counts: list[CountHolders] = []


def on_count_holders(counter: CountHolders) -> None:
    if counter not in _holder_counts:
        _holder_counts.append(counter)


# Asked in the transaction of a change that takes what a template gives (its deletion, or
# groups, licences or apps removed) with the template, the change (the fields it sets; None:
# the deletion), the actor and the request: registered from above (provisioning's mass-change
# circuit breaker), which holds the change for an MSP admin when it reaches more people than
# the tenant allows and says why; "" lets it go ahead.
HoldMassChange = Callable[..., str]
_mass_change_holds: list[HoldMassChange] = []


def on_mass_change(callback: HoldMassChange) -> None:
    if callback not in _mass_change_holds:
        _mass_change_holds.append(callback)


# What a template gives that a change can take from its holders.
TAKES = ("groups", "licenses", "apps", "scim_apps")


def takes_access(before: dict, after: dict | None) -> bool:
    """Whether going from `before` to `after` (None: deleted) takes anything from holders."""
    if after is None:
        return True
    return any(x not in (after.get(f) or []) for f in TAKES for x in (before.get(f) or []))


def _held(template: RoleTemplate, change: dict | None, *, actor, request) -> str:
    for hold in _mass_change_holds:
        reason = hold(template, change, actor=actor, http_request=request)
        if reason:
            return reason
    return ""


def holders_of(template: RoleTemplate) -> int:
    """The people whose access a change or deletion of `template` changes."""
    return sum(count(template) for count in _holder_counts)


def _template_changed(template: RoleTemplate, *, actor, request) -> None:
    for callback in _on_template_changed:
        callback(template, actor=actor, http_request=request)


def save_role_template(
    template: RoleTemplate,
    *,
    actor,
    request=None,
    confirmed: bool = False,
    as_read: dict | None = None,
) -> str:
    """Create or update a template; an update of what it gives asks its members again (the
    desired state of each changes now, not at the next periodic check, and a job of theirs
    running meanwhile does not verify the template as it was). An update that takes access
    from more holders than the circuit breaker allows is held, nothing of it saved, until an
    MSP admin confirms it (`confirmed`). `as_read`: the template as its editor read it
    (`fields_of`); a field the editor left as read keeps the row's value when saved. Returns why
    it is held, "" when it is saved. `RoleTemplate.DoesNotExist`: an update of a template
    deleted meanwhile (saving it would make it again)."""
    creating = template.pk is None
    with transaction.atomic():
        before = None if creating else _locked_with_others_edits(template, as_read)
        after = snapshot(template)
        if before is not None and not confirmed and takes_access(before, after):
            changed = {f: v for f, v in after.items() if before.get(f) != v and f in EDITABLE}
            reason = _held(template, changed, actor=actor, request=request)
            if reason:
                return reason
        template.save()
        after = snapshot(template)
        # Its holders asked again (each locked) before the update is recorded, as a deletion
        # does: the record holds the tenant's audit head until commit, and a holder's leave,
        # change or job end that holds the person waits for that head (a deadlock).
        if before is not None and any(before.get(f) != after.get(f) for f in GIVES):
            _template_changed(template, actor=actor, request=request)
        record(
            "role_template.create" if creating else "role_template.update",
            actor=actor,
            tenant=template.tenant,
            target=template,
            before=before,
            after=after,
            request=request,
        )
    return ""


def _locked_with_others_edits(template: RoleTemplate, as_read: dict | None) -> dict:
    """Lock the template's row and give `template` its current value of every field its
    editor left as read (`as_read`): a held change confirmed, or another edit saved, since the
    editor's form read the row is not undone by writing the whole row back. `EditedSinceRead`
    when a field the editor changed was changed by someone else too. Returns the row as it
    is."""
    current = RoleTemplate.objects.select_for_update().get(pk=template.pk)
    if as_read is not None:
        read = {name: value for name, value in as_read.items() if name in _FIELD_NAMES}
        clashes = [
            name
            for name, value in read.items()
            if name in EDITABLE
            and getattr(current, name) != value
            and getattr(template, name) not in (value, getattr(current, name))
        ]
        if clashes:
            raise EditedSinceRead(current, clashes)
        for name, value in read.items():
            if getattr(template, name) == value:
                setattr(template, name, getattr(current, name))
    return snapshot(current)


def fields_of(template: RoleTemplate) -> dict:
    """Every field's value as `template` holds it now, apart from later edits in place."""
    fields = RoleTemplate._meta.concrete_fields
    return {f.attname: copy.deepcopy(f.value_from_object(template)) for f in fields}


def form_fields_of(template: RoleTemplate) -> dict:
    """The fields the role form edits, as `template` holds them: what its page read, carried
    in the form (JSON: strings and lists) so that its POST knows what its editor changed."""
    return {name: copy.deepcopy(getattr(template, name)) for name in EDITABLE}


class EditedSinceRead(ValueError):
    """Someone else saved a change to fields this edit changes too, since its page read the
    template: saving would undo theirs unseen. Nothing is saved."""

    def __init__(self, current: RoleTemplate, fields: list[str]):
        self.fields = fields
        self.now = {name: getattr(current, name) for name in fields}
        self.by = _last_edit_of(current, fields)
        super().__init__(f"{', '.join(fields)} changed since the form was read")

    @property
    def changes(self) -> list[tuple[str, str]]:
        """Each field it clashed on, in words, and its value now."""
        return [(name.replace("_", " "), _shown(value)) for name, value in self.now.items()]


def _shown(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v.get("groups", v)) if isinstance(v, dict) else str(v) for v in value)
    return str(value)


def _last_edit_of(template: RoleTemplate, fields: list[str]) -> AuditEvent | None:
    """The latest audit event of the template that changed one of `fields`."""
    events = AuditEvent.objects.filter(
        target_type=template._meta.label_lower, target_id=str(template.pk)
    ).order_by("-timestamp", "-pk")
    for event in events[:50]:
        before, after = event.before or {}, event.after or {}
        if any(before.get(name) != after.get(name) for name in fields):
            return event
    return None


_FIELD_NAMES = {f.attname for f in RoleTemplate._meta.concrete_fields}


# The fields of a template that a held edit sets when an MSP admin confirms it.
EDITABLE = (*GIVES, "name", "description", "username_rule", "domain")


class HeldEditRefused(ValueError):
    """A held edit that can no longer be applied as it was asked for; nothing is done."""


class NameTaken(HeldEditRefused):
    """A held edit renames its template to a name another template of the tenant took while
    it waited."""


class EditedMeanwhile(HeldEditRefused):
    """A field the held edit sets was edited to something else while it waited: applying it
    would undo that later edit unseen."""


def apply_held_edit(
    template: RoleTemplate, change: dict, *, was: dict | None = None, actor, request=None
) -> None:
    """An MSP admin confirms a held edit: the fields it set, as it set them. `was`: those
    fields as they were when it was held (older holds have none)."""
    name = change.get("name")
    siblings = RoleTemplate.objects.filter(tenant=template.tenant).exclude(pk=template.pk)
    if name and siblings.filter(name=name).exists():
        raise NameTaken(f"Another role template is called “{name}” now: rename it first.")
    now = snapshot(template, was or ())
    edited = [f for f in (was or {}) if now.get(f) not in (was[f], change.get(f))]
    if edited:
        fields = ", ".join(f.replace("_", " ") for f in edited)
        raise EditedMeanwhile(
            f"the template was edited after this change was held ({fields}): cancel it and "
            "make the change again on the template as it is now."
        )
    for name, value in change.items():
        if name in EDITABLE:
            setattr(template, name, value)
    save_role_template(template, actor=actor, request=request, confirmed=True)


def copy_role_template(
    source: RoleTemplate, *, tenant: Tenant | None, name: str, actor, request=None
) -> RoleTemplate:
    """Clone a template within its tenant, or copy an MSP-wide one into a tenant."""
    copy = RoleTemplate.objects.get(pk=source.pk)
    copy.pk = None
    copy.tenant = tenant
    copy.name = name
    copy.copied_from = source
    if tenant and copy.domain and copy.domain not in tenant.domains:
        copy.domain = ""
    with transaction.atomic():
        copy.save()
        record(
            "role_template.copy",
            actor=actor,
            tenant=tenant,
            target=copy,
            before={"source_id": source.pk, "source_name": source.name},
            after=snapshot(copy),
            request=request,
        )
    return copy


def delete_role_template(
    template: RoleTemplate, *, actor, request=None, confirmed: bool = False
) -> str:
    """Delete a template, taking what it gives from its holders; held as an edit that takes
    access is (`save_role_template`). Returns why it is held, "" when it is deleted."""
    before = snapshot(template)
    target = ("tenants.roletemplate", str(template.pk), template.name)
    with transaction.atomic():
        if not confirmed:
            reason = _held(template, None, actor=actor, request=request)
            if reason:
                return reason
        _template_changed(template, actor=actor, request=request)  # while it has members
        for callback in _on_template_deleted:
            callback(template, actor=actor, request=request)
        template.delete()
        record(
            "role_template.delete",
            actor=actor,
            tenant=template.tenant,
            target=target,
            before=before,
            request=request,
        )
    return ""
