"""What adopting a person would record, worked out from the inventory before anything is
saved: the Identity's fields, the access its templates explain and the exceptions, why it
cannot be adopted, and what the engine would change afterwards (see adoption.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from provisioning.connectors.factory import connector_type
from provisioning.engine.desired import (
    ACCESS_KINDS,
    ATTRIBUTE_NAMES,
    KEEP,
    KEPT_ACCOUNT,
    MANAGED,
    STRIP,
    DesiredState,
    active_state,
    in_app,
    manages,
    names_stand_in,
)
from provisioning.inventory.adoption_suggest import (
    Catalogue,
    _template_ids,
    held_of,
    kinds_of,
    live_accounts,
    observed,
    person_fields,
)
from provisioning.inventory.models import Account, Person
from provisioning.lifecycle import services as lifecycle
from provisioning.models import DirectoryAccount, Identity
from tenants.models import DirectoryConnection, RoleTemplate, Tenant

KIND_NOUNS = {"groups": "group", "licenses": "licence", "apps": "app", KEPT_ACCOUNT: "account"}
# A person whose every account is disabled is adopted as someone who has left: sign-in stays
# blocked, nothing is stripped, the account is never deleted by the portal.
LEFT_OPTIONS = lifecycle.OffboardingOptions(
    block_sign_in=True,
    okta_mode="suspend",
    revoke_sessions=False,
    reset_password=False,
    remove_groups=False,
    remove_licenses=False,
    remove_apps=False,
    delete_after_days=None,
)


# -- what adopting records ---------------------------------------------------------------------


@dataclass
class Draft:
    """An adoption worked out from the inventory, before anything is saved."""

    person: Person
    accounts: list[Account]
    templates: list[RoleTemplate]
    fields: dict = field(default_factory=dict)
    status: str = Identity.Status.ACTIVE
    leave_options: dict = field(default_factory=dict)
    exceptions: dict = field(default_factory=dict)  # str(connection id) -> kind -> refs
    managed: dict = field(default_factory=dict)  # connection id -> kind -> refs
    refusal: str = ""  # why it cannot be adopted, as a sentence
    refused_as: str = ""  # the same in a few words
    changes: list[str] = field(default_factory=list)  # what the engine would change
    # The tenant's directory connections they have an account in (managed only there), and
    # the others (no account is ever created for them there). SCIM apps are neither.
    directories_in: list[DirectoryConnection] = field(default_factory=list)
    directories_not_in: list[DirectoryConnection] = field(default_factory=list)
    # The SCIM apps they have an account in: named on the page beside the directories.
    apps_in: list[DirectoryConnection] = field(default_factory=list)

    @property
    def directories(self) -> list[int]:
        """`Identity.directories` of the adopted person."""
        return [c.pk for c in self.directories_in]

    @property
    def exception_names(self) -> list[tuple[str, str, str]]:
        """(directory, kind noun, name) of every exception, for the pages."""
        return self._named({int(cid): kinds for cid, kinds in self.exceptions.items()})

    @property
    def attribute_labels(self) -> list[tuple[str, str]]:
        """(label, value) of the attributes kept as theirs, for the pages. One they hold none
        of is kept as none only where no chosen template sets it (merge_templates)."""
        attributes = self.fields.get("attributes", {})
        set_by_templates = {n for t in self.templates for n in ATTRIBUTE_NAMES if getattr(t, n)}
        return [
            (name.replace("_", " ").capitalize(), value or "none")
            for name, value in attributes.items()
            if value or name not in set_by_templates
        ]

    @property
    def managed_names(self) -> list[tuple[str, str, str]]:
        """(directory, kind noun, name) of the access the templates explain."""
        return self._named(self.managed)

    def _named(self, refs: dict) -> list[tuple[str, str, str]]:
        labels = {a.connection_id: a.connection.label for a in self.accounts}
        return [
            (labels.get(cid, str(cid)), KIND_NOUNS[kind], ref["name"])
            for cid, kinds in refs.items()
            for kind, items in kinds.items()
            for ref in items
        ]


class Known:
    """What an adoption is checked against: the tenant's directories and catalogue, and the
    usernames, employee ids and linked accounts of the people it manages. `many=True` loads
    them once for a bulk adoption; otherwise each check asks the database."""

    def __init__(self, tenant: Tenant, *, many: bool = False):
        self.tenant = tenant
        self.connections = list(tenant.connections.order_by("kind"))
        self.catalogue = Catalogue(self.connections)
        self.many = many
        if many:
            managed = Identity.objects.filter(tenant=tenant)
            self._usernames = {
                u.casefold(): name for u, name in managed.values_list("username", "display_name")
            }
            self._employee_ids = dict(
                managed.exclude(employee_id="").values_list("employee_id", "display_name")
            )
            self._links = {
                (c, r): name
                for c, r, name in DirectoryAccount.objects.filter(identity__tenant=tenant)
                .exclude(remote_id="")
                .values_list("connection_id", "remote_id", "identity__display_name")
            }

    def holder_of_username(self, username: str) -> str | None:
        if self.many:
            return self._usernames.get(username.casefold())
        found = Identity.objects.filter(tenant=self.tenant, username__iexact=username).first()
        return found.display_name if found else None

    def holder_of_employee_id(self, employee_id: str) -> str | None:
        if self.many:
            return self._employee_ids.get(employee_id)
        found = Identity.objects.filter(tenant=self.tenant, employee_id=employee_id).first()
        return found.display_name if found else None

    def holder_of_account(self, account: Account) -> str | None:
        if self.many:
            return self._links.get((account.connection_id, account.remote_id))
        link = (
            DirectoryAccount.objects.filter(
                connection_id=account.connection_id, remote_id=account.remote_id
            )
            .select_related("identity")
            .first()
        )
        return link.identity.display_name if link else None

    def taken(self, fields: dict) -> None:
        """Note an adoption made in this run (bulk: two people may share a username)."""
        if self.many:
            self._usernames[fields["username"].casefold()] = fields["display_name"]
            if fields["employee_id"]:
                self._employee_ids[fields["employee_id"]] = fields["display_name"]


# Why an adoption is refused, in a few words (a bulk preview counts them).
MANAGED_ALREADY = "Managed already"
NO_ACCOUNT = "No account left"
OUT_OF_SCOPE = "Out of scope"
TWO_ACCOUNTS = "Two accounts in one directory"
FOREIGN_TEMPLATE = "Template of another tenant"
NO_USERNAME = "No username"
TAKEN = "Username or employee id of someone managed"
LINKED = "Account linked to someone managed"
WOULD_CHANGE = "Adopting would change their accounts"


def draft(
    person: Person,
    templates: Sequence[RoleTemplate],
    *,
    known: Known | None = None,
    accounts: list[Account] | None = None,
) -> Draft:
    """What adopting `person` with `templates` would record, why it cannot be done, and
    what the engine would change afterwards (nothing, when it can be adopted as it is)."""
    known = known or Known(person.tenant)
    accounts = live_accounts(person) if accounts is None else accounts
    result = Draft(person, accounts, list(templates))
    result.refused_as, result.refusal = _refusal(person, accounts, result.templates)
    if not accounts:
        return result
    result.fields = person_fields(accounts)
    _split_directories(result, known.connections)
    if not any(a.enabled for a in accounts):
        result.status = Identity.Status.LEFT
        result.leave_options = LEFT_OPTIONS.as_dict()
    _split_access(result, known.catalogue)
    if not result.refusal:
        result.refused_as, result.refusal = _collision(known, accounts, result.fields)
    result.changes = changes_of(result, known)
    return result


def _split_directories(result: Draft, connections: list[DirectoryConnection]) -> None:
    """The directories they hold an account in, where they are managed from now on, and the
    others, where the portal will create none for them; and the SCIM apps they hold one in."""
    held = {a.connection_id for a in result.accounts}
    for connection in connections:
        mine = connection.pk in held
        if connection.assigned_by_template:
            if mine:
                result.apps_in.append(connection)
        else:
            (result.directories_in if mine else result.directories_not_in).append(connection)


def _split_access(result: Draft, catalogue: Catalogue) -> None:
    """Held access the templates explain (the portal's from now on) and the rest
    (exceptions), per connection."""
    held = held_of(result.accounts, catalogue)
    for account in result.accounts:
        cid = account.connection_id
        explained: dict[str, set[str]] = defaultdict(set)
        for template in result.templates:
            for kind, ids in _template_ids(template, account.connection, catalogue)[0].items():
                explained[kind] |= ids
        for kind in ACCESS_KINDS:
            mine = held[cid][kind]
            ours = sorted(mine & explained[kind])
            rest = sorted(mine - explained[kind])
            if ours:
                result.managed.setdefault(cid, {})[kind] = [
                    catalogue.ref(cid, kind, i) for i in ours
                ]
            if rest:
                refs = [catalogue.ref(cid, kind, i) for i in rest]
                result.exceptions.setdefault(str(cid), {})[kind] = refs
        if getattr(account.connection, "assigned_by_template", False) and not any(
            t.scim_groups_for(cid) is not None for t in result.templates
        ):
            # an app account no chosen template gives: kept as theirs, not deleted
            ref = {"id": account.remote_id, "name": account.username}
            result.exceptions.setdefault(str(cid), {})[KEPT_ACCOUNT] = [ref]


def _refusal(person: Person, accounts: list[Account], templates) -> tuple[str, str]:
    if person.identity_id is not None:
        return MANAGED_ALREADY, f"{person} is managed already."
    if not accounts:
        return NO_ACCOUNT, f"{person} has no account left in any directory: nothing to adopt."
    out = [a for a in accounts if not a.in_scope]
    if out:
        reasons = "; ".join(
            f"{a.username or a.remote_id} in {a.connection.label}: "
            f"{a.scope_reason or 'not in scope'}"
            for a in out
        )
        return OUT_OF_SCOPE, f"Out of scope, so the portal may not manage it ({reasons})."
    per_connection = Counter(a.connection_id for a in accounts)
    if any(n > 1 for n in per_connection.values()):
        return TWO_ACCOUNTS, (
            "Two accounts of this person are in the same directory: adopting needs one per "
            "directory."
        )
    foreign = [t.name for t in templates if t.tenant_id != person.tenant_id]
    if foreign:
        return FOREIGN_TEMPLATE, f"Not a role template of this tenant: {', '.join(foreign)}."
    return "", ""


def _collision(known: Known, accounts: list[Account], fields: dict) -> tuple[str, str]:
    username = fields["username"]
    if not username:
        return NO_USERNAME, "The account has no username: the portal cannot manage it."
    holder = known.holder_of_username(username)
    if holder is not None:
        return TAKEN, (
            f"The username {username} belongs to {holder}, whom the portal manages already."
        )
    employee_id = fields["employee_id"]
    holder = known.holder_of_employee_id(employee_id) if employee_id else None
    if holder is not None:
        return TAKEN, (
            f"The employee id {employee_id} belongs to {holder}, whom the portal manages already."
        )
    for account in accounts:
        holder = known.holder_of_account(account)
        if holder is not None:
            return LINKED, f"{account.username} is linked to {holder} already."
    return "", ""


# -- comparing a desired state with the inventory ---------------------------------------------


def changes_of(result: Draft, known: Known) -> list[str]:
    """What the engine would change after this adoption, predicted from the inventory with
    the builder's active state (or a leaver's, whose options block sign-in only)."""
    tenant, catalogue = known.tenant, known.catalogue
    exceptions = result.exceptions
    changes = []
    for connection in known.connections:
        if not manages(result.directories, connection):
            continue  # not managed there: the engine creates nothing in it (desired.py)
        active = active_state(
            {**result.fields, "extra_groups": [], "license_choices": {}},
            result.templates,
            tenant,
            exceptions=exceptions.get(str(connection.pk)),
            connection=connection,
        )
        if getattr(connection, "assigned_by_template", False):
            # A SCIM app: an account only where a template gives the app, as the builder says.
            active = in_app(
                active, result.templates, connection, (), exceptions.get(str(connection.pk))
            )
            if not active.present:
                active = DesiredState(**{**active.__dict__, "enabled": False})
        if result.status == Identity.Status.LEFT:
            active = _left(active)
        account = next((a for a in result.accounts if a.connection_id == connection.pk), None)
        changes += differences(connection, active, account, catalogue, result.managed)
    return changes


def _left(active: DesiredState) -> DesiredState:
    """A leaver with LEFT_OPTIONS, as engine/desired.py builds one: sign-in blocked, no
    access wanted and none removed, attributes not compared."""
    return DesiredState(
        **{
            **active.__dict__,
            "enabled": False,
            "attributes": {},
            "groups": (),
            "licenses": (),
            "apps": (),
            "removal": dict.fromkeys(ACCESS_KINDS, KEEP),
            "leaving": True,
        }
    )


def differences(
    connection: DirectoryConnection,
    desired: DesiredState,
    account: Account | None,
    catalogue: Catalogue,
    managed: dict | None = None,
) -> list[str]:
    """The changes the planner would make to `account` (as the inventory shows it) for
    `desired`, in words; none when they are equal."""
    where = connection.label
    if account is None:
        return [f"create an account for {desired.username} in {where}"] if desired.present else []
    if not desired.present:
        return [f"delete {account.username} in {where}"]
    changes = []
    if desired.enabled and not account.enabled:
        changes.append(f"allow {account.username} to sign in to {where}")
    elif desired.enabled is False and account.enabled:
        changes.append(f"block sign-in of {account.username} in {where}")
    changes += _attribute_changes(connection, desired, account, where)
    held = held_of([account])[account.connection_id]
    for kind in kinds_of(connection):
        changes += _access_changes(connection, kind, desired, held[kind], catalogue, managed)
    return changes


def _attribute_changes(connection, desired: DesiredState, account: Account, where: str):
    if desired.leaving:
        return []
    compared = connector_type(connection).compared_attributes
    wanted = {
        "first_name": desired.first_name,
        "last_name": desired.last_name,
        "display_name": desired.display_name,
        **desired.attributes,
    }
    return [
        f"set {name.replace('_', ' ')} to “{value}” in {where} (now “{observed(account, name)}”)"
        for name, value in wanted.items()
        if value
        and name in compared
        and observed(account, name) != value
        and not names_stand_in(name, value, observed(account, name), desired)
    ]


def _access_changes(connection, kind, desired, held: set, catalogue, managed) -> list[str]:
    where, noun = connection.label, KIND_NOUNS[kind]
    changes, wanted_ids = [], set()
    for name in desired.wanted(kind):
        found = catalogue.resolve(connection.pk, kind, name)
        if found is None:
            changes.append(f"no {noun} “{name}” in {where}: a job would stop there")
            continue
        wanted_ids.add(found)
        if found not in held:
            changes.append(f"add {noun} {catalogue.name(connection.pk, kind, found)} in {where}")
    mode = desired.removal.get(kind, MANAGED)
    if mode == STRIP:
        kept = {k.casefold() for k in desired.keep_groups} if kind == "groups" else set()
        for remote_id in sorted(held - wanted_ids):
            name = catalogue.name(connection.pk, kind, remote_id)
            if name.casefold() not in kept and remote_id not in kept:
                changes.append(f"remove {noun} {name} in {where}")
    elif mode == MANAGED:
        for ref in (managed or {}).get(connection.pk, {}).get(kind, []):
            if ref["id"] in held and ref["id"] not in wanted_ids:
                changes.append(f"remove {noun} {ref['name']} in {where}")
    return changes
