"""What Entra ID keeps unique besides the id, and how the connector finds who holds it.

The userPrincipalName, and every SMTP address among the directory's proxyAddresses (a user's
mail is always one). Graph refuses a create or change onto a held value with 400 and an
`ObjectConflict` detail naming the property (microsoft-graph-docs#1508,
microsoft-graph-docs-contrib#8421). The holder of an address is found with
`proxyAddresses/any(p:p eq 'smtp:<address>')`, a filter Graph answers by default
(includes/filter-directory-objects.md: eq on proxyAddresses needs no advanced query
parameters), so the answer is not merely eventually consistent. Addresses compare ignoring
case, and the filter's `smtp:` matches the primary `SMTP:` as well.

Groups hold addresses too (a distribution list's, a Microsoft 365 group's mail is its primary
SMTP proxy address; resources/group.md), unique across users, groups and contacts
(azure-docs how-to-connect-syncservice-duplicate-attribute-resiliency.md): the same filter on
/groups finds such a holder.
"""

from __future__ import annotations

import re

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.main_error import MainError
from msgraph.generated.models.user import User
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from provisioning.connectors.errors import EMAIL, USERNAME

OBJECT_CONFLICT = "ObjectConflict"
FIELDS = {"userPrincipalName": USERNAME, "proxyAddresses": EMAIL}  # Graph's names -> ours
_PROPERTY = re.compile(r"same value for property (\w+) already exists")


def conflict_field(error: MainError | None) -> str:
    """What a 400 says another object holds, as ConflictError.field ("" if no conflict)."""
    if error is None:
        return ""
    prop = next(
        (d.target for d in error.details or [] if d.code == OBJECT_CONFLICT and d.target), ""
    )
    if not prop:
        found = _PROPERTY.search(error.message or "")  # answers that come without details
        prop = found[1] if found else ""
    return FIELDS.get(prop, prop)


def odata_text(value: str) -> str:
    """`value` as an OData string literal's content: a quote is doubled."""
    return value.replace("'", "''")


def holder_filter(address: str) -> str:
    return f"proxyAddresses/any(p:p eq '{odata_text('smtp:' + address)}')"


async def user_holding(connector, address: str, select: list[str]) -> User | None:
    """The user with `address` among its proxyAddresses, if any."""
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        filter=holder_filter(address), select=select, top=1
    )
    async with connector._errors():
        page = await connector._graph().users.get(RequestConfiguration(query_parameters=query))
    found = (page.value if page else None) or []
    return found[0] if found else None


async def group_holding(connector, address: str, select: list[str]) -> Group | None:
    """The group with `address` among its proxyAddresses, if any."""
    query = GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(
        filter=holder_filter(address), select=select, top=1
    )
    async with connector._errors():
        page = await connector._graph().groups.get(RequestConfiguration(query_parameters=query))
    found = (page.value if page else None) or []
    return found[0] if found else None
