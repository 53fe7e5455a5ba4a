"""Events about a person bound to client tenants: recorded in those tenants' chains.

A client admin belongs to one tenant, an account manager may be assigned to some: their
sign-ins, second-factor events, password resets and staff changes belong to the trail of
the tenants they act for, where that tenant's own readers (its client admin, its account
manager) see them. Everyone else (MSP admins, technicians, account managers of every tenant,
a username nobody has) stays on the MSP-wide chain.

Which tenants a person is bound to is known to ``tenants`` (the layer above), which
registers the look-up here when it is ready (``tenants.apps``), as the engine's
``outcomes`` hooks are registered from above. See docs/audit.md, *Events about people*.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .events import HasPk, event_for, record_all
from .models import AuditEvent

# user -> the tenants whose trail records events about them (none: the MSP-wide chain)
PersonTenants = Callable[[Any], Iterable[HasPk]]

_lookups: list[PersonTenants] = []


def on_person_tenants(lookup: PersonTenants) -> PersonTenants:
    """Register `lookup(user)`: the tenants an event about `user` is recorded for."""
    if lookup not in _lookups:
        _lookups.append(lookup)
    return lookup


def tenants_of(person: Any) -> list[HasPk]:
    """The tenants bound to `person` (a saved User), each once, in the order looked up;
    none for None, an anonymous user, or a person bound to no tenant."""
    if person is None or getattr(person, "pk", None) is None:
        return []
    found: dict[Any, HasPk] = {}
    for lookup in _lookups:
        for tenant in lookup(person):
            found.setdefault(tenant.pk, tenant)
    return list(found.values())


def record_about(person: Any, action: str, **fields: Any) -> list[AuditEvent]:
    """``record(action, **fields)`` for an event about `person`: one event in the chain of
    each tenant bound to them, instead of the MSP-wide chain; on the MSP-wide chain when
    there is none. MSP admins read every chain, so they still see each one."""
    if "tenant" in fields:
        raise TypeError("record_about chooses the tenant: pass none")
    tenants = tenants_of(person) or [None]
    return record_all([event_for(action, tenant=tenant, **fields) for tenant in tenants])
