"""A user's OneDrive as far as the leaver's handover needs it: the drive, sharing its root with
someone (driveitem-invite.md) and listing who holds what on it (driveitem-list-permissions.md).

Only a user whose licences give an enabled SharePoint Online (or OneDrive) plan has a
OneDrive; for anyone else GET /users/{id}/drive answers 404 ResourceNotFound "User's mysite
not found." An app-only invite cannot add new guests: every recipient must be someone the
directory knows. The list of permissions holds the owner's own entry too.

Permissions (application): drive and permissions GET Files.Read.All (or Files.ReadWrite.All,
Sites.Read(Write).All); invite Files.ReadWrite.All or Sites.ReadWrite.All.
"""

from __future__ import annotations

from typing import Any

from sandbox.entra.errors import GraphError, bad_request
from sandbox.entra.mail import holds_plan
from sandbox.entra.model import User, new_id
from sandbox.entra.router import GraphRequest, GraphResponse, router
from sandbox.entra.users import find_user

FILES_READ = ("Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All", "Sites.ReadWrite.All")
FILES_WRITE = ("Files.ReadWrite.All", "Sites.ReadWrite.All")
# User plans that give a OneDrive (SharePoint Online Plan 1 / 2, Kiosk, OneDrive plans).
ONEDRIVE_PLANS = ("SHAREPOINTSTANDARD", "SHAREPOINTENTERPRISE", "SHAREPOINTDESKLESS", "ONEDRIVE")
ROLES = ("read", "write")
INVITE_MESSAGE_MOST = 2000
INVITE_FIELDS = {
    "recipients": list,
    "roles": list,
    "requireSignIn": bool,
    "sendInvitation": bool,
    "message": str,
    "expirationDateTime": str,
    "password": str,
    "retainInheritedPermissions": bool,
}


def drive_id(user: User) -> str:
    return "b!" + user.id.replace("-", "")


def root_id(user: User) -> str:
    return "01" + user.id.replace("-", "").upper()[:32]


def _item_not_found() -> GraphError:
    return GraphError(404, "itemNotFound", "The resource could not be found.")


def drive_owner(req: GraphRequest, user_key: str) -> User:
    """The user, if they have a OneDrive."""
    user = find_user(req, user_key)
    if not holds_plan(req.tenant, user, ONEDRIVE_PLANS):
        raise GraphError(404, "ResourceNotFound", "User's mysite not found.")
    return user


def _owner_of_drive(req: GraphRequest) -> User:
    wanted = req.params["drive"]
    for user in req.tenant.live_users():
        if drive_id(user) == wanted:
            return drive_owner(req, user.id)
    raise _item_not_found()


def _root_item(req: GraphRequest, user: User) -> None:
    if req.params.get("item", "root") not in ("root", root_id(user)):
        raise _item_not_found()


def _identity(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "displayName": user.props.get("displayName"),
        "email": user.props.get("mail") or user.props["userPrincipalName"],
    }


def _owner_permission(user: User) -> dict[str, Any]:
    identity = {"user": _identity(user)}
    return {"id": "aTowIy5mfG1lbWJlcnNoaXA", "roles": ["owner"], "grantedToV2": identity}


def permissions_of(user: User) -> list[dict[str, Any]]:
    return [_owner_permission(user), *user.drive_permissions]


@router.add("GET", "/users/{id}/drive", FILES_READ)
def get_drive(req: GraphRequest) -> GraphResponse:
    user = drive_owner(req, req.params["id"])
    body = {
        "@odata.context": f"{req.base_url}/$metadata#drives/$entity",
        "id": drive_id(user),
        "driveType": "business",
        "name": "OneDrive",
        "owner": {"user": {"id": user.id, "displayName": user.props.get("displayName")}},
    }
    return GraphResponse(200, body)


def _recipient(req: GraphRequest, item: object) -> User:
    email = (item or {}).get("email") if isinstance(item, dict) else None
    object_id = (item or {}).get("objectId") if isinstance(item, dict) else None
    if not email and not object_id:
        raise bad_request(
            "Invalid request: a recipient needs an email or objectId.", "invalidRequest"
        )
    for user in req.tenant.live_users():
        addresses = {
            (user.props.get("mail") or "").lower(),
            user.props["userPrincipalName"].lower(),
        }
        if user.id == object_id or (email and email.lower() in addresses):
            return user
    raise bad_request(
        "Invalid request: new guests can't be invited using app-only access.", "invalidRequest"
    )


def _checked_invite(body: dict) -> dict[str, Any]:
    for key, value in body.items():
        kind = INVITE_FIELDS.get(key)
        if kind is None and not key.startswith("@odata."):
            raise bad_request(f"Invalid request: unknown property '{key}'.", "invalidRequest")
        if kind is not None and not isinstance(value, kind):
            raise bad_request(f"Invalid request: '{key}' has an invalid value.", "invalidRequest")
    if not body.get("recipients"):
        raise bad_request("Invalid request: recipients are required.", "invalidRequest")
    # driveitem-invite.md: message "Maximum length 2000 characters" (the sandbox took any
    # length); the text of the refusal is not published.
    if len(body.get("message") or "") > INVITE_MESSAGE_MOST:
        raise bad_request(
            f"Invalid request: 'message' is longer than {INVITE_MESSAGE_MOST} characters.",
            "invalidRequest",
        )
    roles = body.get("roles") or []
    if not roles or any(r not in ROLES for r in roles):
        raise bad_request("Invalid request: roles must be read or write.", "invalidRequest")
    if not (body.get("requireSignIn") or body.get("sendInvitation")):
        raise bad_request(
            "Invalid request: requireSignIn or sendInvitation must be true.", "invalidRequest"
        )
    return body


def _invite(req: GraphRequest, owner: User) -> GraphResponse:
    body = _checked_invite(req.json())
    granted = []
    for item in body["recipients"]:
        recipient = _recipient(req, item)
        if recipient.id == owner.id:
            continue  # the owner holds the drive already
        held = next(
            (p for p in owner.drive_permissions if p["grantedToV2"]["user"]["id"] == recipient.id),
            None,
        )
        if held is None:
            held = {
                "id": new_id(),
                "roles": list(body["roles"]),
                "grantedToV2": {"user": _identity(recipient)},
                "invitation": {
                    "email": _identity(recipient)["email"],
                    "signInRequired": bool(body.get("requireSignIn")),
                },
            }
            owner.drive_permissions.append(held)
        else:
            held["roles"] = list(body["roles"])
        granted.append(held)
    context = f"{req.base_url}/$metadata#Collection(microsoft.graph.permission)"
    return GraphResponse(200, {"@odata.context": context, "value": granted})


def _permissions(req: GraphRequest, owner: User) -> GraphResponse:
    context = f"{req.base_url}/$metadata#drives('{drive_id(owner)}')/items('root')/permissions"
    return GraphResponse(200, {"@odata.context": context, "value": permissions_of(owner)})


@router.add("POST", "/drives/{drive}/items/{item}/invite", FILES_WRITE)
def invite_on_drive(req: GraphRequest) -> GraphResponse:
    owner = _owner_of_drive(req)
    _root_item(req, owner)
    return _invite(req, owner)


@router.add("POST", "/users/{id}/drive/root/invite", FILES_WRITE)
def invite_on_user_drive(req: GraphRequest) -> GraphResponse:
    return _invite(req, drive_owner(req, req.params["id"]))


@router.add("GET", "/drives/{drive}/items/{item}/permissions", FILES_READ)
def list_on_drive(req: GraphRequest) -> GraphResponse:
    owner = _owner_of_drive(req)
    _root_item(req, owner)
    return _permissions(req, owner)


@router.add("GET", "/users/{id}/drive/root/permissions", FILES_READ)
def list_on_user_drive(req: GraphRequest) -> GraphResponse:
    return _permissions(req, drive_owner(req, req.params["id"]))
