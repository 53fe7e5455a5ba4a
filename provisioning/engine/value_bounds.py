"""A desired value longer than its directory takes: said at the dry run, before a create or
update the directory would refuse (Graph: 400 "Invalid value specified for property …").

A connector declares its bounds as `attribute_max_lengths` (our attribute names); the forms
keep within them, but a tenant's mapping may compute a longer value."""

from __future__ import annotations

from provisioning.engine.desired import DesiredState
from provisioning.engine.planner import Problem

NAMES = ("first_name", "last_name", "display_name")


def values_of(desired: DesiredState) -> dict[str, str]:
    """The values a create or update sends, by our attribute names."""
    values = {name: str(value or "") for name, value in desired.attributes.items()}
    values.update({name: getattr(desired, name) or "" for name in NAMES})
    return values


def too_long_problem(connector, desired: DesiredState) -> Problem | None:
    """The first value over the directory's bound, as a blocking problem; None if none is."""
    bounds: dict[str, int] = getattr(connector, "attribute_max_lengths", {})
    values = values_of(desired)
    for name, most in bounds.items():
        if len(values.get(name, "")) > most:
            return Problem(
                "too_long",
                f"The {name.replace('_', ' ')} is {len(values[name])} characters; this "
                f"directory takes at most {most}. Shorten it on the person, their role "
                "template, or the tenant's attribute mapping.",
                name,
            )
    return None
