"""The demo history's people as real sandbox accounts, and a little drift to find.

`seed_demo_history` writes a month of past work (people, jobs, audit events) without calling
any directory. Once the sandbox runs, this gives each of those people the account their
history ends with: the active ones hold their templates' groups, licences and apps, the
leavers are disabled and stripped, the deleted have none; each linked as the portal's own
(DirectoryAccount, with what it gave as managed). Where no seat is free the person goes
without that licence (recorded as their licence choice, as onboarding does), and the last
seat of every SKU stays free for the technician's first joiner.

Then a little drift is made by hand, as a client's own admin would: one leaver's account is
enabled again and one active person is added to a group no template gives. The inventory's
first read finds both (the drift report). Directory calls go through the connectors, paced
by the connection's bucket like every other call.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from provisioning import throttle
from provisioning.connectors import bridge
from provisioning.connectors.app_roles import choose_user_role, split_entry
from provisioning.connectors.base import NewUser
from provisioning.connectors.errors import ConnectorError
from provisioning.connectors.factory import connector_for
from provisioning.engine.desired import desired_for
from provisioning.engine.elsewhere import owner_of
from provisioning.engine.planner import find
from provisioning.models import DirectoryAccount, Identity

logger = logging.getLogger(__name__)
HISTORY_EMPLOYEE_PREFIX = "H-"  # reports/demo_history.EMPLOYEE_PREFIX (reports is above us)
LIVE = (Identity.Status.ACTIVE, Identity.Status.LEAVER, Identity.Status.LEFT)
SLUGS = ("contoso", "fabrikam", "northwind")


_on_accounts_made: list[Callable[[], None]] = []


def on_accounts_made(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback()` once the demo history's accounts are made (`tasks.seed_demo_accounts`):
    what reads the directories for a page above (the dashboard's licence seats) reads them
    again, with the seats those accounts took."""
    if callback not in _on_accounts_made:
        _on_accounts_made.append(callback)
    return callback


def accounts_made() -> None:
    for callback in _on_accounts_made:
        callback()


def seed_accounts(slugs=SLUGS, stopping: Callable[[], bool] = lambda: False) -> dict[str, int]:
    """Accounts for the demo tenants' history people that have none yet, then the drift;
    counts of what was made. When `stopping()` turns true (the worker is asked to stop) it
    returns at the next person; the next demo start carries on with those still without."""
    made = {"accounts": 0, "without_seat": 0, "drift": 0}
    people = (
        Identity.objects.filter(
            tenant__slug__in=slugs,
            employee_id__startswith=HISTORY_EMPLOYEE_PREFIX,
            status__in=LIVE,
        )
        .exclude(accounts__remote_id__gt="")
        .select_related("tenant")
        .order_by("tenant_id", "pk")
    )
    seeders: dict[int, _Seeder] = {}
    for person in people:
        if stopping():
            return made
        for connection in person.tenant.connections.all():
            seeder = seeders.get(connection.pk) or seeders.setdefault(
                connection.pk, _Seeder(connection)
            )
            try:
                seeder.account_for(person, made)
            except ConnectorError as exc:
                logger.warning("Demo account of %s in %s: %s", person, connection, exc)
    for seeder in seeders.values():
        made["drift"] += seeder.drift()
    return made


class _Seeder:
    """One connection's accounts, one call at a time through its bucket."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.connector = connector_for(connection)
        self.catalog = {
            kind: self._call(getattr(self.connector, kind)())
            for kind in ("groups", "licenses", "apps")
            if kind != "licenses" or self.connector.supports_licences
        }
        self.free = {
            sku.id: sku.detail["total"] - sku.detail["consumed"]
            for sku in self.catalog.get("licenses", [])
        }
        self.active: list[tuple[Identity, str]] = []  # (person, account id)
        self.leavers: list[tuple[Identity, str]] = []

    def _call(self, coroutine):
        while (wait := throttle.acquire(self.connection)) > 0:
            time.sleep(wait)
        return bridge.run(coroutine)

    def account_for(self, person: Identity, made: dict) -> None:
        desired = desired_for(person, self.connection)
        if not desired.present:  # e.g. an app none of their role templates gives
            return
        if self._call(self.connector.find_user(person.username)) is not None:
            return  # a name the directory has already: left as "no account"
        user = self._call(
            self.connector.create_user(
                NewUser(
                    username=person.username,
                    first_name=person.first_name,
                    last_name=person.last_name,
                    display_name=person.display_name,
                    email=person.email,
                    password=secrets.token_urlsafe(18) + "!a1",
                    enabled=desired.enabled is not False,
                    attributes=desired.attributes,
                )
            )
        )
        managed = self._give(person, user.id, desired, made)
        with transaction.atomic():
            DirectoryAccount.objects.update_or_create(
                identity=person,
                connection=self.connection,
                defaults={
                    "remote_id": user.id,
                    "created_remotely_at": person.created_at,
                    "last_synced_at": timezone.now(),
                    "managed": managed,
                },
            )
        made["accounts"] += 1
        (self.active if desired.enabled else self.leavers).append((person, user.id))

    def _give(self, person: Identity, user_id: str, desired, made: dict) -> dict:
        managed: dict[str, list] = {}
        for name in desired.groups:
            if group := find(self.catalog["groups"], name):
                self._call(self.connector.add_to_group(user_id, group.id))
                managed.setdefault("groups", []).append({"id": group.id, "name": group.name})
        for name in desired.licenses if "licenses" in self.catalog else ():
            sku = find(self.catalog["licenses"], name)
            if sku is None:
                continue
            if self.free.get(sku.id, 0) <= 1:  # the last seat stays free
                self._go_without(person, sku.name)
                made["without_seat"] += 1
                continue
            self._call(self.connector.set_licenses(user_id, [sku.id], []))
            self.free[sku.id] -= 1
            managed.setdefault("licenses", []).append({"id": sku.id, "name": sku.name})
        for name in desired.apps:
            if app := self._assign_app(user_id, name):
                managed.setdefault("apps", []).append({"id": app.id, "name": app.name})
        return managed

    def _assign_app(self, user_id: str, entry: str):
        """The app a template entry names, alone or with its role ("Slack / Member"), given
        with that role as the engine gives it; None when the directory has no such app."""
        app, role = find(self.catalog["apps"], entry), ""
        if app is None:
            app_name, role = split_entry(entry)
            app = find(self.catalog["apps"], app_name) if role else None
        if app is None:
            return None
        role_id = choose_user_role(app, role).role_id
        if role_id:
            self._call(self.connector.assign_app(user_id, app.id, role_id))
        else:
            self._call(self.connector.assign_app(user_id, app.id))
        return app

    def _go_without(self, person: Identity, sku_name: str) -> None:
        choices = dict(person.license_choices or {})
        choices[sku_name] = ""
        Identity.objects.filter(pk=person.pk).update(license_choices=choices)
        person.license_choices = choices

    def drift(self) -> int:
        """One leaver enabled again and one active person in a group by hand: what a client's
        own admin does behind the portal's back."""
        made = 0
        if self.connection.assigned_by_template:
            return made  # the directories' drift is enough to find; the apps stay as given
        if self.leavers:
            person, user_id = self.leavers[0]
            self._call(self.connector.enable_user(user_id))
            made += 1
        if self.active:
            person, user_id = self.active[-1]
            held = set(desired_for(person, self.connection).groups)
            extra = next(
                (g for g in self.catalog["groups"] if g.name not in held and _assignable(g)),
                None,
            )
            if extra is not None:
                self._call(self.connector.add_to_group(user_id, extra.id))
                made += 1
        return made


def _assignable(group) -> bool:
    detail = group.detail
    return not (
        detail.get("dynamic") or detail.get("builtin") or detail.get("imported") or owner_of(group)
    )
