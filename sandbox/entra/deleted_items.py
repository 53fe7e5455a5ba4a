"""/directory/deletedItems: deleted users (users.py shows them) and deleted Microsoft 365
groups, read, restored and purged by id.

A Microsoft 365 group is kept 30 days with its members; a security group or a distribution
list is deleted for good ("Microsoft 365 groups are moved to a temporary container and can be
restored within 30 days … This isn't applicable to Security groups and Distribution groups
which are permanently deleted immediately": api-reference/v1.0/api/group-delete.md;
directory-deleteditems-list.md, -get.md, -restore.md, -delete.md). Its mail is free meanwhile,
as a deleted user's is, so a restore onto an address taken since is the ObjectConflict a
user's restore gets.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.entra.addresses import check_mail, group_proxies
from sandbox.entra.errors import GraphError, not_found
from sandbox.entra.groups import DEFAULT_SELECT, SELECTABLE, group_view
from sandbox.entra.model import Group, User
from sandbox.entra.odata import check_select, paged, select
from sandbox.entra.router import (
    GROUP_READ,
    GROUP_WRITE,
    USER_READ,
    USER_WRITE,
    GraphRequest,
    GraphResponse,
    router,
)
from sandbox.entra.users import AS_DIRECTORY_OBJECT, get_deleted, purge_deleted, restore_deleted

READ = tuple(dict.fromkeys(USER_READ + GROUP_READ))
WRITE = tuple(dict.fromkeys(USER_WRITE + GROUP_WRITE))


def _deleted(req: GraphRequest) -> User | Group:
    key = req.params["id"]
    found = req.tenant.deleted_user(key) or req.tenant.deleted_group(key)
    if found is None:
        raise not_found(key)
    return found


def _require(req: GraphRequest, permissions: tuple[str, ...]) -> None:
    """The permission of the deleted object's kind (users: User.*, groups: Group.*), as the
    restore reference lists them per type."""
    if not any(p in req.tenant.apps[req.client_id].permissions for p in permissions):
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )


def deleted_group_view(group: Group, query: dict[str, str]) -> dict[str, Any]:
    """A deleted group, as selected (as users.deleted_view shows a deleted user)."""
    deleted = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(group.deleted_at or 0))
    props = {"proxyAddresses": group_proxies(group.props.get("mail")), **group.props}
    obj = {**props, "deletedDateTime": deleted, "@odata.type": "#microsoft.graph.group"}
    return select(obj, query, (*DEFAULT_SELECT, "deletedDateTime"))


def _list_deleted_groups(req: GraphRequest) -> GraphResponse:
    check_select(req.query, SELECTABLE)
    req.tenant.purge_expired()
    items = [deleted_group_view(g, req.query) for g in req.tenant.deleted_groups.values()]
    url = f"{req.base_url}/directory/deletedItems/microsoft.graph.group"
    return GraphResponse(200, paged(items, req.query, url, f"{req.base_url}/$metadata#groups"))


for _cast in ("microsoft.graph.group", "graph.group"):
    router.add("GET", f"/directory/deletedItems/{_cast}", GROUP_READ)(_list_deleted_groups)


@router.add("GET", "/directory/deletedItems/{id}", READ)
def get_deleted_item(req: GraphRequest) -> GraphResponse:
    found = _deleted(req)
    if isinstance(found, User):
        _require(req, USER_READ)
        return get_deleted(req, found)
    _require(req, GROUP_READ)
    check_select(req.query, AS_DIRECTORY_OBJECT)
    return GraphResponse(200, deleted_group_view(found, req.query))


@router.add("POST", "/directory/deletedItems/{id}/restore", WRITE)
def restore_deleted_item(req: GraphRequest) -> GraphResponse:
    found = _deleted(req)
    if isinstance(found, User):
        _require(req, USER_WRITE)
        return restore_deleted(req, found)
    _require(req, GROUP_WRITE)
    check_mail(req.tenant, found.props.get("mail"), None)
    req.tenant.restore_group(found)
    return GraphResponse(200, group_view(found, {}))


@router.add("DELETE", "/directory/deletedItems/{id}", WRITE)
def purge_deleted_item(req: GraphRequest) -> GraphResponse:
    found = _deleted(req)
    if isinstance(found, User):
        _require(req, USER_WRITE)
        return purge_deleted(req, found)
    _require(req, GROUP_WRITE)
    req.tenant.purge_group(found)
    return GraphResponse(204)
