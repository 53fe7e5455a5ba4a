"""Graph's B2B invitation: POST /invitations adds an external person to the directory as a
guest (invitation-post.md: "When the user is invited, a user entity (of userType Guest) is
created"), under a userPrincipalName of the form `alias_domain#EXT#@<the tenant's default
domain>` with `mail` the invited address (user resource: userType "Member" or "Guest").
The sandbox sends no invitation e-mail and keeps the invitation itself nowhere: its
`status` is PendingAcceptance, as Graph answers before the guest redeems it.
"""

from __future__ import annotations

import re

from sandbox.entra.addresses import with_mail
from sandbox.entra.errors import bad_request
from sandbox.entra.model import new_id, now_iso, unset_properties
from sandbox.entra.router import GraphRequest, GraphResponse, router
from sandbox.entra.users import duplicate_upn, view

INVITE = ("User.Invite.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def guest_upn(address: str, default_domain: str) -> str:
    """Entra's UPN of an invited guest: the address with `@` as `_`, then `#EXT#`."""
    return f"{address.replace('@', '_')}#EXT#@{default_domain}"


@router.add("POST", "/invitations", INVITE)
def create_invitation(req: GraphRequest) -> GraphResponse:
    data = req.json()
    address = data.get("invitedUserEmailAddress")
    redirect = data.get("inviteRedirectUrl")
    if not isinstance(address, str) or not ADDRESS.match(address):
        raise bad_request("The invited user's email address is invalid.", "BadRequest")
    if not isinstance(redirect, str) or not redirect:
        raise bad_request("InviteRedirectUrl is required.", "BadRequest")
    upn = guest_upn(address.lower(), req.tenant.domains[0])
    if req.tenant.live_user(upn) is not None:
        raise duplicate_upn()
    user = req.tenant.add_user(_guest(address, upn, data.get("invitedUserDisplayName")), new_id())
    body = {
        "@odata.context": f"{req.base_url}/$metadata#invitations/$entity",
        "id": new_id(),
        "invitedUserEmailAddress": address,
        "invitedUserDisplayName": data.get("invitedUserDisplayName"),
        "inviteRedirectUrl": redirect,
        "inviteRedeemUrl": f"https://login.microsoftonline.com/redeem?ticket={new_id()}",
        "sendInvitationMessage": bool(data.get("sendInvitationMessage")),
        "invitedUserType": "Guest",
        "status": "PendingAcceptance",
        "invitedUser": {"id": user.id},
    }
    body["invitedUser"] |= view(user, {})
    return GraphResponse(201, body)


def _guest(address: str, upn: str, display_name) -> dict:
    now = now_iso()
    name = display_name if isinstance(display_name, str) and display_name else address
    return {
        "id": new_id(),
        "accountEnabled": True,
        "displayName": name,
        "mailNickname": upn.split("#EXT#")[0],
        "userPrincipalName": upn,
        **unset_properties(),
        "mail": address,
        "proxyAddresses": with_mail([], address),
        "userType": "Guest",
        "createdDateTime": now,
        "lastPasswordChangeDateTime": now,
        "signInSessionsValidFromDateTime": now,
        "assignedLicenses": [],
        "forceChangePasswordNextSignIn": False,
    }
