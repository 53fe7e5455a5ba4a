"""Graph administrative units: list, get, members, add and remove a member ($ref).

Sources: api-reference/v1.0/api/directory-list-administrativeunits.md,
administrativeunit-list-members.md, administrativeunit-post-members.md,
administrativeunit-delete-members.md (application permission AdministrativeUnit.ReadWrite.All).
"""

from __future__ import annotations

import re
import uuid

from sandbox.entra.errors import bad_request, not_found
from sandbox.entra.model import EntraTenant
from sandbox.entra.odata import paged, select
from sandbox.entra.role_state import AdminUnit
from sandbox.entra.roles import UNIT_SELECT, unit_object
from sandbox.entra.router import GraphRequest, GraphResponse, router
from sandbox.entra.users import DEFAULT_SELECT as USER_SELECT
from sandbox.entra.users import find_user

UNIT_READ = (
    "AdministrativeUnit.Read.All",
    "AdministrativeUnit.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
UNIT_WRITE = ("AdministrativeUnit.ReadWrite.All",)
BASE = "/directory/administrativeUnits"
_REF = re.compile(r"/(?:directoryObjects|users)(?:/|\(')(?P<id>[^/'()]+)'?\)?/?$")


def find_unit(req: GraphRequest) -> AdminUnit:
    unit = req.tenant.roles.admin_units.get(req.params["id"])
    if unit is None:
        raise not_found(req.params["id"])
    return unit


@router.add("GET", BASE, UNIT_READ)
def list_units(req: GraphRequest) -> GraphResponse:
    units = [unit_object(u) for u in req.tenant.roles.admin_units.values()]
    predicate = req.filter({"id": "id", "displayName": "displayName"}, "AdministrativeUnit")
    if predicate is not None:
        units = [u for u in units if predicate(u)]
    items = [select(u, req.query, UNIT_SELECT) for u in units]
    context = f"{req.base_url}/$metadata#directory/administrativeUnits"
    return GraphResponse(200, paged(items, req.query, f"{req.base_url}{BASE}", context))


@router.add("POST", BASE, UNIT_WRITE)
def create_unit(req: GraphRequest) -> GraphResponse:
    data = req.json()
    name = data.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise bad_request(
            "Invalid value specified for property 'displayName' of resource 'AdministrativeUnit'."
        )
    unit = AdminUnit(str(uuid.uuid4()), name, data.get("description"))
    req.tenant.roles.admin_units[unit.id] = unit
    body = {"@odata.context": f"{req.base_url}/$metadata#directory/administrativeUnits/$entity"}
    return GraphResponse(201, {**body, **unit_object(unit)})


@router.add("GET", BASE + "/{id}", UNIT_READ)
def get_unit(req: GraphRequest) -> GraphResponse:
    return GraphResponse(200, select(unit_object(find_unit(req)), req.query, UNIT_SELECT))


@router.add("GET", BASE + "/{id}/members", UNIT_READ)
def list_unit_members(req: GraphRequest) -> GraphResponse:
    unit = find_unit(req)
    users = [u for u in map(req.tenant.live_user, unit.members) if u is not None]
    items = [
        select({**u.props, "@odata.type": "#microsoft.graph.user"}, req.query, USER_SELECT)
        for u in users
    ]
    url = f"{req.base_url}{BASE}/{unit.id}/members"
    return GraphResponse(
        200, paged(items, req.query, url, f"{req.base_url}/$metadata#directoryObjects")
    )


@router.add("POST", BASE + "/{id}/members/$ref", UNIT_WRITE)
def add_unit_member(req: GraphRequest) -> GraphResponse:
    unit = find_unit(req)
    ref = req.json().get("@odata.id")
    match = _REF.search(ref) if isinstance(ref, str) else None
    if match is None:
        raise bad_request(f"Invalid URL format specified in @odata.id: {ref!r}.", "BadRequest")
    user = find_user(req, match["id"])
    if user.id in unit.members:
        raise bad_request(
            "One or more added object references already exist for the following modified "
            "properties: 'members'."
        )
    unit.members[user.id] = None
    return GraphResponse(204)


@router.add("DELETE", BASE + "/{id}/members/{member}/$ref", UNIT_WRITE)
def remove_unit_member(req: GraphRequest) -> GraphResponse:
    unit = find_unit(req)
    member = req.params["member"]
    if member not in unit.members:
        raise not_found(member)
    del unit.members[member]
    return GraphResponse(204)


def seed_units(tenant: EntraTenant, items: list) -> None:
    for item in items:
        if not isinstance(item, dict) or not item.get("display_name"):
            raise ValueError("each administrative unit needs display_name")
        unit = AdminUnit(
            str(uuid.UUID(str(item.get("id") or uuid.uuid4()))),
            str(item["display_name"]),
            item.get("description"),
        )
        for member in item.get("members") or []:
            user = tenant.live_user(str(member))
            if user is None:
                raise ValueError(f"administrative unit {unit.display_name!r}: unknown {member!r}")
            unit.members[user.id] = None
        tenant.roles.admin_units[unit.id] = unit
