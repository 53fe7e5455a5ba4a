"""A leaver's mail and files, level-triggered like the rest of the plan: the leave's options
(`DesiredState.handover`) say "automatic replies on with this text", "a rule forwards to the
manager", "the manager can write to the OneDrive"; the plan reads each back and plans only
what differs, so a job succeeds only when they read back as asked.

What Graph cannot do (convert to a shared mailbox, hide from the address lists) is a
checklist item with its reason, never a step. A user without a mailbox or OneDrive (no
Exchange / SharePoint licence, or the licence gone) gets a note, not a failure.
"""

from __future__ import annotations

from provisioning.connectors.base import DirectoryUser
from provisioning.connectors.entra_mail import DriveUnavailableError, MailboxUnavailableError
from provisioning.connectors.errors import PermanentError, PermissionDeniedError
from provisioning.engine import manager as managers
from provisioning.engine import planner

AUTO_REPLY, FORWARD_MAIL, SHARE_FILES = "auto_reply", "forward_mail", "share_files"
MAIL_OPTIONS = ("auto_reply", "forward_to_manager")
CHECKLIST_OPTIONS = ("convert_to_shared_mailbox", "hide_from_address_list")
NEEDS_BOSS = ("forward_to_manager", "files_to_manager", "reassign_reports")
SHARED_MAILBOX_WHY = (
    "Graph has no call that changes a mailbox's type: Exchange Online PowerShell "
    "(Set-Mailbox -Type Shared) or the Exchange admin center does it. A shared mailbox needs "
    "no licence, so do it before the licence goes (Exchange keeps a disabled mailbox 30 days)."
)
HIDE_WHY = (
    "Hiding from the address lists is an Exchange setting Graph cannot write: "
    "Set-Mailbox -HiddenFromAddressListsEnabled $true, or the Exchange admin center."
)


RECIPIENT_REFUSED = "handover_recipient_refused"
MEMBER, GUEST = "member", "guest"
ONLY_MEMBERS = "a leaver's mail goes only to a member"


async def recipient_refusal(connector, to: DirectoryUser) -> str:
    """Why a leaver's mail or OneDrive may not go to `to`, "" when it may: only to a member
    of the client's own directory (userType Member) at one of its verified domains, never to
    a guest (an invited outsider, `#EXT#` in the UPN) nor to an address elsewhere, as read
    from the directory now (attack run 23, guest24)."""
    read_type = getattr(connector, "user_type", None)
    if read_type is None:
        return ""  # a directory without guests (and without a leaver's mail: Okta)
    name = recipient_label(to)
    kind = to.attributes.get("user_type") or await read_type(to.id)  # read with the manager?
    if why := _not_member(kind, to.username):
        return f"{name} {why}: {ONLY_MEMBERS}."
    address = (to.attributes.get("email") or to.username).casefold()
    domains = await _verified_domains(connector)
    if domains is not None and address.rpartition("@")[2] not in domains:
        shown = ", ".join(sorted(domains)) or "none"
        return (
            f"{name}'s address {address} is not at one of the client's domains ({shown}): "
            f"{ONLY_MEMBERS}."
        )
    return ""


def _not_member(kind: str | None, username: str) -> str:
    if kind is None:
        return "is no longer in the client's directory"
    if kind.casefold() == GUEST or "#ext#" in username.casefold():
        return "is a guest in the client's directory"
    # "" (null): an account older than userType (about 2014), before invited guests; its
    # address must still be at the client's domains (recipient_refusal).
    if kind and kind.casefold() != MEMBER:
        return f"is not a member of the client's directory (userType {kind})"
    return ""


def recipient_label(user: DirectoryUser) -> str:
    name = user.attributes.get("display_name")
    return f"{name} ({user.username})" if name and name != user.username else user.username


async def _verified_domains(connector) -> set[str] | None:
    """The directory's verified domains; None when it lists none or may not be read (the
    userType alone decides then)."""
    read = getattr(connector, "domains", None)
    if read is None:
        return None
    try:
        domains = await read()
    except PermissionDeniedError:
        return None
    return {d.id.casefold() for d in domains if d.detail.get("verified")}


def forward_rule_name(address: str) -> str:
    """One rule per target: the name says where it forwards, so a rerun finds it."""
    return f"Leaver: forward to {address}"


def reads_for(connector, desired, user_id: str) -> list[tuple]:
    """What `plan_handover` reads of a leaver's account, as it reads it (the manager even
    where the handover then finds none)."""
    options = desired.handover
    if not desired.leaving or not any(options.values()):
        return []
    wanted = set()
    if managers.supported(connector):
        if any(options.get(name) for name in NEEDS_BOSS):
            wanted.add("manager_of")
        if options.get("reassign_reports"):
            wanted.add("direct_reports")
    if getattr(connector, "hands_over_mail", False):
        if any(options.get(name) for name in (*MAIL_OPTIONS, *CHECKLIST_OPTIONS)):
            forward = options.get("forward_to_manager")
            wanted.add("inbox_rules" if forward else "auto_reply")
            if options.get("auto_reply"):
                wanted.add("auto_reply")
        if options.get("files_to_manager"):
            wanted.add("drive_shares")
    return [(name, user_id) for name in sorted(wanted)]


async def plan_handover(connector, plan, desired) -> None:
    """The leave's handover steps for an existing account (before its licences go)."""
    options = desired.handover
    if not desired.leaving or plan.user is None or not any(options.values()):
        return
    boss = None
    if any(options.get(name) for name in NEEDS_BOSS) and managers.supported(connector):
        boss = await connector.manager_of(plan.user.id)
    await managers.plan_reports(connector, plan, desired, boss)
    if not getattr(connector, "hands_over_mail", False):
        return
    await _note_refused_recipient(connector, plan, options, boss)
    mailbox = await _plan_mail(connector, plan, options, boss)
    await _plan_files(connector, plan, options, boss)
    if mailbox:
        _checklist(plan, options)
    if mailbox and desired.removal.get("licenses") == "strip":
        _warn_licence(plan, options)


async def _note_refused_recipient(connector, plan, options: dict, boss) -> None:
    """A note when the manager may not have the leaver's mail or files; the steps are planned
    all the same and fail in these words at run time (`apply`), and the form and the API
    refuse the leave on them (lifecycle/handover_recipient.py)."""
    handing_over = options.get("forward_to_manager") or options.get("files_to_manager")
    if boss is None or not handing_over:
        return
    if refused := await recipient_refusal(connector, boss):
        plan.problems.append(
            planner.Problem(RECIPIENT_REFUSED, refused, boss.username, blocking=False)
        )


async def _plan_mail(connector, plan, options: dict, boss: DirectoryUser | None) -> bool:
    """Automatic replies and forwarding; False when the user has no mailbox Graph reaches."""
    if not any(options.get(name) for name in (*MAIL_OPTIONS, *CHECKLIST_OPTIONS)):
        return True
    user_id = plan.user.id
    try:
        if options.get("auto_reply"):
            message = options.get("auto_reply_message") or ""
            reply = await connector.auto_reply(user_id)
            if not (reply.enabled and reply.internal == message and reply.external == message):
                plan.steps.append(
                    planner.PlannedStep(AUTO_REPLY, _short(message), {"message": message})
                )
        if options.get("forward_to_manager"):
            await _plan_forward(connector, plan, boss)
        elif not options.get("auto_reply"):
            await connector.auto_reply(user_id)  # is there a mailbox to convert or hide?
    except MailboxUnavailableError as exc:
        plan.problems.append(_no_mailbox(plan.user.username, exc.message))
        return False
    except PermissionDeniedError as exc:
        plan.problems.append(_not_permitted("MailboxSettings.ReadWrite", "mail", exc.message))
        return True  # whether there is a mailbox is unknown: the checklist stays
    return True


async def _plan_forward(connector, plan, boss: DirectoryUser | None) -> None:
    if boss is None:
        plan.problems.append(_no_boss(plan.user.username, "forward their mail to"))
        return
    address = (boss.attributes.get("email") or boss.username).casefold()
    rules = await connector.inbox_rules(plan.user.id)
    if any(r.enabled and address in r.forwards_to for r in rules):
        return
    plan.steps.append(
        planner.PlannedStep(
            FORWARD_MAIL,
            address,
            {"rule": forward_rule_name(address), "to": managers.as_params(boss)},
        )
    )


async def _plan_files(connector, plan, options: dict, boss: DirectoryUser | None) -> None:
    if not options.get("files_to_manager"):
        return
    if boss is None:
        plan.problems.append(_no_boss(plan.user.username, "give their OneDrive to"))
        return
    try:
        shares = await connector.drive_shares(plan.user.id)
    except PermissionDeniedError as exc:
        plan.problems.append(_not_permitted("Files.ReadWrite.All", "OneDrive", exc.message))
        return
    except DriveUnavailableError as exc:
        plan.problems.append(
            planner.Problem(
                "no_drive",
                f"{plan.user.username} has no OneDrive to share ({exc.message}).",
                plan.user.username,
                blocking=False,
            )
        )
        return
    if any(s.user_id == boss.id and {"write", "owner"} & set(s.roles) for s in shares):
        return
    label = f"{boss.username} (write)"
    plan.steps.append(planner.PlannedStep(SHARE_FILES, label, {"to": managers.as_params(boss)}))


def _checklist(plan, options: dict) -> None:
    upn = plan.user.username
    if options.get("convert_to_shared_mailbox"):
        plan.checklist.append(
            planner.ChecklistItem(
                "shared_mailbox",
                f"Convert {upn}'s mailbox to a shared mailbox.",
                SHARED_MAILBOX_WHY,
            )
        )
    if options.get("hide_from_address_list"):
        plan.checklist.append(
            planner.ChecklistItem(
                "hide_from_gal", f"Hide {upn} from the global address list.", HIDE_WHY
            )
        )


def _warn_licence(plan, options: dict) -> None:
    if not any(options.get(name) for name in MAIL_OPTIONS):
        return
    if options.get("convert_to_shared_mailbox"):
        return  # the checklist says to convert it first
    plan.problems.append(
        planner.Problem(
            "mailbox_goes_with_licence",
            "Removing the licences leaves the mailbox 30 days before Exchange removes it, and the "
            "automatic reply and the forwarding with it, unless it becomes a shared mailbox "
            "first.",
            plan.user.username,
            blocking=False,
        )
    )


def _no_mailbox(username: str, why: str) -> planner.Problem:
    return planner.Problem(
        "no_mailbox",
        f"{username} has no mailbox Graph can reach (no Exchange Online licence, or on-premises): "
        f"no automatic reply or forwarding. Graph: {why}",
        username,
        blocking=False,
    )


def _not_permitted(permission: str, what: str, why: str) -> planner.Problem:
    """The app registration cannot read this: the leave goes on without the handover (its
    sign-in and access changes matter more), and the dry run says what to grant."""
    return planner.Problem(
        "handover_not_permitted",
        f"The portal's app may not read the {what} ({why}): grant it the {permission} "
        "application permission, or turn these leaver options off. The rest of the leave "
        "goes on.",
        permission,
        blocking=False,
    )


def _no_boss(username: str, what: str) -> planner.Problem:
    return planner.Problem(
        "no_manager",
        f"{username} has no manager in the directory to {what}.",
        username,
        blocking=False,
    )


def _short(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _to(params: dict) -> DirectoryUser:
    return managers.from_params(params["to"])


async def apply(connector, action: str, params: dict, user_id: str) -> dict:
    """Run one handover step; a mailbox or OneDrive gone since the plan is a note in the
    step's result, not a failure (nothing a retry could change). Forwarding and sharing read
    the recipient again first: one who became a guest, or is gone, fails the step in words."""
    handing_over = action in (FORWARD_MAIL, SHARE_FILES)
    if handing_over and (refused := await recipient_refusal(connector, _to(params))):
        raise PermanentError(f"Nothing forwarded or shared: {refused}")
    try:
        if action == AUTO_REPLY:
            await connector.set_auto_reply(user_id, params["message"])
        elif action == FORWARD_MAIL:
            await connector.add_forward_rule(
                user_id, params["rule"], managers.from_params(params["to"])
            )
        else:
            await connector.share_drive(user_id, managers.from_params(params["to"]))
    except (MailboxUnavailableError, DriveUnavailableError) as exc:
        return {"skipped": exc.message}
    return {}
