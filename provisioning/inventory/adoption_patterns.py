"""Role templates to make on day one of a takeover: the client's people hold access no template
of the portal explains yet, so bulk adoption gives them none. The access several of them hold
alike (in each directory of theirs) is proposed as a template; once it is saved, the preview
adopts them with it, as it adds nothing to what they hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from provisioning.inventory.adoption_suggest import Catalogue, held_of, kinds_of
from provisioning.inventory.models import Account

MIN_PEOPLE = 3  # fewer alike are adopted with their access as exceptions, as before
MAX_PROPOSALS = 5
KINDS = ("groups", "licenses", "apps")

Signature = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


@dataclass
class Proposal:
    name: str
    groups: list[str]
    licenses: list[str]
    apps: list[str]
    people: int
    url: str = ""  # the role form filled in with it

    def link(self, tenant_slug: str) -> str:
        """The role form of the tenant, filled in with this access."""
        fields = {"name": self.name, "back": "adopt"} | {
            kind: "\n".join(names) for kind in KINDS if (names := getattr(self, kind))
        }
        return f"{reverse('role_create', kwargs={'tenant': tenant_slug})}?{urlencode(fields)}"


def shared_access(accounts: Iterable[Account], catalogue: Catalogue) -> Signature | None:
    """The names of the access a person holds in every directory of theirs that has that kind
    (a template names its access once for all of them); None when that is nothing. A SCIM
    app's account is left out: a template gives an app's groups only with the app."""
    accounts = [a for a in accounts if not getattr(a.connection, "assigned_by_template", False)]
    held = held_of(accounts, catalogue)
    shared: dict[str, set[str] | None] = dict.fromkeys(KINDS)
    for account in accounts:
        for kind in kinds_of(account.connection):
            ids = held[account.connection_id][kind]
            names = {catalogue.name(account.connection_id, kind, i) for i in ids}
            shared[kind] = names if shared[kind] is None else shared[kind] & names
    signature = tuple(tuple(sorted(shared[kind] or ())) for kind in KINDS)
    return signature if any(signature) else None


def proposals(patterns: Counter, tenant_slug: str) -> list[Proposal]:
    """The access sets held alike by MIN_PEOPLE or more, most people first, each named after
    its first group that not every other set has."""
    common = Counter(g for groups, _, _ in patterns for g in set(groups))
    found = []
    for (groups, licenses, apps), people in patterns.most_common():
        if people < MIN_PEOPLE or len(found) == MAX_PROPOSALS:
            break
        telling = [g for g in groups if common[g] < len(patterns)] or list(groups)
        name = (telling or list(licenses) or list(apps))[0]
        proposal = Proposal(name[:80], list(groups), list(licenses), list(apps), people)
        proposal.url = proposal.link(tenant_slug)
        found.append(proposal)
    return found
