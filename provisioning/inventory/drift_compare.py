"""The comparison at the heart of drift: one account's inventory row against the desired
state in its directory, as a list of differences (not yet rows; `drift.detect` keeps them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from provisioning.connectors.app_roles import split_entry
from provisioning.engine.desired import ACCESS_KINDS, KEEP, MANAGED, STRIP, DesiredState
from provisioning.inventory.models import Account, Drift, Resource

Kind = Drift.Kind
NOUNS = {"groups": "group", "licenses": "licence", "apps": "app"}
REF_ID_LENGTH = Drift._meta.get_field("ref_id").max_length


@dataclass(frozen=True)
class Found:
    """One difference, before it is a row."""

    kind: str
    access_kind: str = ""
    ref_id: str = ""
    ref_name: str = ""
    detail: str = ""


class Catalog:
    """A connection's groups, licences and apps by id and by name (its Resource rows)."""

    def __init__(self, rows: Iterable[tuple[str, str, str, dict]]) -> None:
        self.names: dict[str, dict[str, str]] = defaultdict(dict)
        self.ids_by_name: dict[str, dict[str, str]] = defaultdict(dict)
        self.directory_kept: dict[str, set[str]] = defaultdict(set)
        self.everyones: set[str] = set()  # built-in groups: every account is in them
        self.granted_by: dict[str, frozenset[str]] = {}  # app id -> the groups that grant it
        for kind, remote_id, name, detail in rows:
            self.names[kind][remote_id] = name
            self.ids_by_name[kind].setdefault(name.casefold(), remote_id)
            if detail.get("dynamic") or detail.get("builtin"):
                self.directory_kept[kind].add(remote_id)
            if kind == "groups" and detail.get("builtin"):
                self.everyones.add(remote_id)
            if kind == "apps" and detail.get("granted_by"):
                self.granted_by[remote_id] = frozenset(detail["granted_by"])

    @classmethod
    def of(cls, connection_id: int) -> Catalog:
        return cls(
            Resource.objects.filter(connection_id=connection_id).values_list(
                "kind", "remote_id", "name", "detail"
            )
        )

    def knows(self, kind: str) -> bool:
        return bool(self.names.get(kind))

    def resolve(self, kind: str, wanted: str) -> str | None:
        """The id of a name or id as a template or grant gives it (any case), or None."""
        if wanted in self.names[kind]:
            return wanted
        return id_by_name(self.ids_by_name[kind], kind, wanted)

    def name(self, kind: str, remote_id: str) -> str:
        return self.names[kind].get(remote_id, remote_id)

    def through_groups(self, account: Account) -> set[str]:
        """The apps the account holds through a group it is in (Okta's scope GROUP): they go
        with the group, which is compared itself (the engine leaves them to it too,
        engine/group_sources.py), so they are never extra on their own."""
        groups = set(account.group_ids or ()) | self.everyones
        return {app for app in account.app_ids or () if self.granted_by.get(app, set()) & groups}


def id_by_name(ids_by_name: dict[str, str], kind: str, wanted: str) -> str | None:
    """The id of the name `wanted` (any case) among `ids_by_name` (casefolded name -> id).
    A template names an app alone or with the role it gives ("Slack / Member",
    connectors/app_roles.py): either way the account holds the app."""
    remote_id = ids_by_name.get(wanted.strip().casefold())
    if remote_id is None and kind == "apps":
        app, role = split_entry(wanted)
        remote_id = ids_by_name.get(app.casefold()) if role else None
    return remote_id


def compare(
    desired: DesiredState,
    account: Account | None,
    catalog: Catalog,
    *,
    kinds: tuple[str, ...] = ACCESS_KINDS,
    who: str = "",
) -> list[Found]:
    """The differences between one account's row (None: not in the inventory) and the
    desired state in its directory. `kinds`: the access kinds the directory has."""
    if account is None or account.deleted:
        if desired.present and not desired.leaving:
            where = "is in the deleted items" if account is not None else "is gone"
            return [Found(Kind.VANISHED, ref_id="account", detail=f"The linked account {where}.")]
        return []
    if not desired.present:
        detail = "The account is in the directory, but the person should have none now."
        return [Found(Kind.STATE, ref_id="present", detail=detail)]
    found = _state(desired, account, who)
    for kind in kinds:
        if catalog.knows(kind):  # no catalogue yet: names cannot be told apart from ids
            found += _access(desired, account, catalog, kind)
    return found


def _state(desired: DesiredState, account: Account, who: str) -> list[Found]:
    who = who or "the person"
    if desired.enabled is True and not account.enabled:
        detail = f"Sign-in is blocked in the directory, but {who} should be able to sign in."
    elif desired.enabled is False and account.enabled:
        # Drift is read once a leave job is over (done, or stopped part way: "Left" or
        # "Leaver"), never while it runs: "is leaving" read wrong beside a "Left" badge.
        why = "'s offboarding blocks it" if desired.leaving else " may not sign in yet"
        detail = f"Sign-in is allowed in the directory, but {who}{why}."
    else:
        return []
    return [Found(Kind.STATE, ref_id="sign-in", detail=detail)]


def _access(desired: DesiredState, account: Account, catalog: Catalog, kind: str) -> list[Found]:
    held = set(_held(account, kind))
    kept_by_directory = catalog.directory_kept[kind]
    if kind == "apps":
        kept_by_directory = kept_by_directory | catalog.through_groups(account)
    noun = NOUNS[kind]
    found, wanted_ids = [], set()
    for wanted in desired.wanted(kind):
        remote_id = catalog.resolve(kind, wanted)
        if remote_id is None:
            detail = f"Wanted {noun} “{wanted}” is not in this directory."
            found.append(Found(Kind.MISSING, kind, wanted[:REF_ID_LENGTH], wanted, detail))
            continue
        wanted_ids.add(remote_id)
        if remote_id not in held and remote_id not in kept_by_directory:
            name = catalog.name(kind, remote_id)
            detail = f"Should hold the {noun} {name}."
            found.append(Found(Kind.MISSING, kind, remote_id, name, detail))
    mode = desired.removal.get(kind, MANAGED)
    if mode == KEEP:
        return found
    kept = {k.casefold() for k in desired.keep_groups} if kind == "groups" else set()
    for remote_id in sorted(held - wanted_ids - kept_by_directory):
        name = catalog.name(kind, remote_id)
        if mode == STRIP and (remote_id.casefold() in kept or name.casefold() in kept):
            continue
        why = "the leave strips it" if mode == STRIP else "no role, grant or exception gives it"
        detail = f"Holds the {noun} {name}: {why}."
        found.append(Found(Kind.EXTRA, kind, remote_id, name, detail))
    return found


def _held(account: Account, kind: str) -> list[str]:
    return {"groups": account.group_ids, "licenses": account.licence_ids, "apps": account.app_ids}[
        kind
    ] or []
