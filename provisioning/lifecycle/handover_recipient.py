"""Whom a leaver's mail and OneDrive may go to, asked before an offboarding is queued: the
form (the page and the API alike) reads the leaver's manager in each Entra directory where
they have an account, as the job will, and refuses a guest, someone no longer there, or an
address outside the client's domains (engine/mailbox.py `recipient_refusal`, which the
job's steps ask again before they send anything).
"""

from __future__ import annotations

from provisioning.engine import planner
from provisioning.engine.mailbox import RECIPIENT_REFUSED, recipient_refusal
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity
from provisioning.services import dry_run

HANDING_OVER = ("forward_to_manager", "files_to_manager")
ADVICE = " Untick forwarding and the OneDrive, or give them a manager who is a member."


def refusal(identity: Identity, options: lifecycle.OffboardingOptions) -> str:
    """Why the leave's forwarding or sharing would go outside the client, "" when it would
    not (or the directory could not be read: the job's steps check again before sending)."""
    if not any(getattr(options, name) for name in HANDING_OVER):
        return ""
    accounts = {a.connection_id: a.remote_id for a in identity.accounts.all() if a.remote_id}
    connections = [c for c in identity.tenant.connections.filter(kind="entra") if c.pk in accounts]
    if not connections:
        return ""
    preview = dry_run(
        identity.tenant, identity.username, _manager_read, accounts, connections=connections
    )
    for _, plan, _ in preview.plans:
        for problem in plan.problems if plan else ():
            if problem.kind == RECIPIENT_REFUSED:
                tenant = identity.tenant.name
                return problem.message.replace("the client's", f"{tenant}'s") + ADVICE
    return ""


async def _manager_read(connector, connection, remote_id: str) -> planner.Plan:
    """A plan holding only the recipient's refusal, if any: the manager, then who they are."""
    plan = planner.Plan(connection.pk, connection.kind)
    if not hasattr(connector, "manager_of"):
        return plan
    boss = await connector.manager_of(remote_id)
    if boss is not None and (refused := await recipient_refusal(connector, boss)):
        plan.problems.append(
            planner.Problem(RECIPIENT_REFUSED, refused, boss.username, blocking=False)
        )
    return plan
