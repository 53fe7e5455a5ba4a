"""Licence planning beyond one SKU at a time.

- A licence inherited from a group (group-based licensing) is never planned for removal:
  Graph refuses to remove it from the user ("User license is inherited from a group
  membership and it cannot be removed directly from the user."). It goes when the person
  leaves the group; the plan says so in a note.
- Adds and removes on one account are one `set_licenses` step, one assignLicense with both
  lists: Graph applies it all or not at all, so swapping SKUs whose service plans exclude
  each other works, where an add then a removal fails on the add and leaves the person with
  no licence at all.
"""

from __future__ import annotations

from provisioning.engine import planner

SET_LICENSES = "set_licenses"


async def settle(connector, plan: planner.Plan) -> None:
    """The plan's licence steps, once each SKU has been planned on its own."""
    if plan.access.inherited_licenses:
        groups = await connector.groups()
        _spare_inherited(plan, {g.id: g.name for g in groups})
    _one_change(plan)


def _spare_inherited(plan: planner.Plan, group_names: dict[str, str]) -> None:
    inherited = plan.access.inherited_licenses
    sources: dict[str, list[str]] = {}
    for sku_id, group_id in plan.access.licence_groups:
        sources.setdefault(sku_id, []).append(group_names.get(group_id, group_id))
    kept = []
    for step in plan.steps:
        sku_id = step.params.get("sku_id")
        if step.action == planner.REMOVE_LICENSE and sku_id in inherited:
            plan.problems.append(_inherited(step.target_name, sources.get(sku_id, [])))
        else:
            kept.append(step)
    plan.steps[:] = kept
    if plan.exceptions.get("licenses"):  # a restore gets it back with the group, not by hand
        refs = [r for r in plan.exceptions["licenses"] if r["id"] not in inherited]
        plan.exceptions["licenses"] = refs
        if not refs:
            del plan.exceptions["licenses"]


def _inherited(sku_name: str, groups: list[str]) -> planner.Problem:
    names = ", ".join(f"“{g}”" for g in sorted(groups)) or "a group"
    return planner.Problem(
        "inherited_license",
        f"{sku_name} comes from the group {names} (group-based licensing): the directory "
        "will not remove it from the person directly; it goes when they leave the group.",
        sku_name,
        blocking=False,
    )


def _one_change(plan: planner.Plan) -> None:
    """Adds and removes of licences on the account -> one set_licenses step, where the
    first licence step was."""
    actions = (planner.ASSIGN_LICENSE, planner.REMOVE_LICENSE)
    licence_steps = [s for s in plan.steps if s.action in actions]
    adds = [s for s in licence_steps if s.action == planner.ASSIGN_LICENSE]
    removes = [s for s in licence_steps if s.action == planner.REMOVE_LICENSE]
    if not (adds and removes):
        return
    change = swap_step(
        [(s.params["sku_id"], s.target_name) for s in adds],
        [(s.params["sku_id"], s.target_name) for s in removes],
    )
    at = plan.steps.index(licence_steps[0])
    rest = [s for s in plan.steps if s not in licence_steps]
    plan.steps[:] = [*rest[:at], change, *rest[at:]]


def swap_step(add: list[tuple[str, str]], remove: list[tuple[str, str]]) -> planner.PlannedStep:
    """One set_licenses step from (SKU id, name) pairs."""
    label = "; ".join(
        part
        for part in (
            f"add {', '.join(n for _, n in add)}" if add else "",
            f"remove {', '.join(n for _, n in remove)}" if remove else "",
        )
        if part
    )
    params = {
        "add": [i for i, _ in add],
        "remove": [i for i, _ in remove],
        "added": [n for _, n in add],  # names, for the job page and offboarding.removed_by
        "removed": [n for _, n in remove],
    }
    return planner.PlannedStep(SET_LICENSES, label, params)


def managed_after(managed: dict, params: dict) -> dict:
    """DirectoryAccount.managed after a set_licenses step: what it added is the portal's to
    take away again; what it removed no longer is."""
    touched = set(params["add"]) | set(params["remove"])
    refs = [r for r in managed.get("licenses", []) if r.get("id") not in touched]
    refs += [{"id": i, "name": n} for i, n in zip(params["add"], params["added"], strict=True)]
    return {**managed, "licenses": refs}


def removed_refs(params: dict) -> list[dict]:
    """What a set_licenses step took away, as offboarding records removals."""
    return [{"id": i, "name": n} for i, n in zip(params["remove"], params["removed"], strict=True)]
