"""A new account created already in its groups, where the directory's create takes them
(`creates_in_groups`: Okta's `groupIds`, at most 20), so that their adds are not sent.

The group steps stay in the plan, each marked `with_create`: they go in the create's batch
(`batch_of`) and are recorded from its answer (`outcomes`), audited as ever. A group the
create did not carry (deleted since the plan: the connector creates the user without the
groups) goes back to pending, unspent, and is sent as its own add; a failed create leaves
them all pending, to be sent with it again or skipped with the directory's other steps.
The read-back verifies every membership either way. Only groups whose members the API may
change go in: Okta refuses a create naming Everyone (501) or an imported group (403) whole.
"""

from __future__ import annotations

from provisioning.engine import planner

WITH_CREATE = "with_create"  # an add_group step's param: its group goes in the create
NOT_SENT = "not sent"  # a carried step's outcome when the create did not carry its group
GROUP_NAMES = "group_names"  # the create's param beside `group_ids`: their names, in order


async def fold(connector, plan: planner.Plan) -> None:
    """Name the plan's group adds in its create, where the directory takes them."""
    most = getattr(connector, "creates_in_groups", 0)
    create = next((s for s in plan.steps if s.action == planner.CREATE_USER), None)
    adds = [s for s in plan.steps if s.action == planner.ADD_GROUP]
    if not (most and create and adds):
        return
    groups = {group.id: group for group in await connector.groups()}
    carried = [s for s in adds if _members_changeable(groups.get(s.params["group_id"]))][:most]
    if not carried:
        return
    create.params["group_ids"] = [s.params["group_id"] for s in carried]
    create.params[GROUP_NAMES] = [s.target_name for s in carried]
    for step in carried:
        step.params[WITH_CREATE] = True


def _members_changeable(group) -> bool:
    return group is not None and not (group.detail.get("builtin") or group.detail.get("imported"))


def batch_of(first, pending: list) -> list | None:
    """A create that names groups, with their steps still pending; None for any other step."""
    if first.action != planner.CREATE_USER or not first.params.get("group_ids"):
        return None
    carried = [
        s
        for s in pending
        if s.connection_id == first.connection_id
        and s.action == planner.ADD_GROUP
        and s.params.get(WITH_CREATE)
    ]
    return [first, *carried]


def requests(steps: list) -> int:
    """The requests `steps` send (a round's, a batch's): group adds ride in their create."""
    if not any(s.action == planner.CREATE_USER and s.params.get("group_ids") for s in steps):
        return len(steps)
    return sum(1 for s in steps if not s.params.get(WITH_CREATE))


def outcomes(create_outcome: tuple, adds: list) -> list[tuple]:
    """(error, result) of the create and of each of its group steps: done where the create
    carried its group, else `NOT_SENT`."""
    error, result = create_outcome
    carried = set(result.get("in_groups", ())) if error is None else set()
    return [
        create_outcome,
        *((None, {}) if s.params["group_id"] in carried else (NOT_SENT, {}) for s in adds),
    ]


def named(params: dict) -> list[tuple[str, str]]:
    """(id, name) of each group a create's `params` name: a create given up with no answer
    may have landed in them (`accounts.maybe_applied`)."""
    ids = params.get("group_ids") or []
    return list(zip(ids, params.get(GROUP_NAMES) or ids, strict=False))
