"""Licence seats in a dry run, for every form that adds licences (onboarding, a mover): the
free seats beside each licence it gives, and a choice per licence with no free seat (it blocks
until answered) or whose last free seat it takes (it takes it unless told otherwise)."""

from __future__ import annotations

from dataclasses import dataclass

from portal.licences import licence_words
from provisioning.models import Step
from provisioning.services import Preview

LICENSE_CHOICE_PREFIX = "license_choice__"
GO_WITHOUT = "__without__"
MAX_POSTED_CHOICES = 50
MAX_SKU_LENGTH = 128


def with_seats(sku: str, availability: dict[str, int]) -> str:
    """A licence as a dry run names it: "SPE_E3 (12 available) — Microsoft 365 E3". A SKU in
    use more times than bought (Entra restores a user's licences "even if there are no seats
    available for those licenses", azure-docs users-restore.md) reads "none available: N more
    in use than bought"."""
    free = availability.get(sku, 0)
    if free < 0:
        return licence_words(sku, f"none available: {-free} more in use than bought")
    return licence_words(sku, f"{free} available")


def counts_seats(plan) -> bool:
    """Whether the plan names a licence it gives with its seats available: read from the
    directory for the dry run (the connector's catalogue, at most 30 s old), where the
    dashboard shows its last reading, so the page says why the two can differ."""
    return any(
        step.action == Step.Action.ASSIGN_LICENSE
        or (step.action == Step.Action.SET_LICENSES and step.params.get("added"))
        for step in plan.steps
    )


def operations_in_words(plan) -> list[str]:
    """A directory's plan as its dry run lists it, with the seats and the product's name:
    "Assign licence SPE_E3 (12 available) — Microsoft 365 E3"; the onboarding form's and each
    row of a bulk file's."""
    operations = []
    for step in plan.steps:
        target = step.target_name
        if step.action == Step.Action.ASSIGN_LICENSE:
            target = with_seats(target, plan.license_availability)
        elif step.action == Step.Action.REMOVE_LICENSE:
            target = licence_words(target)
        operations.append(f"{Step.Action(step.action).label} {target}".strip())
    return operations


def posted_license_choices(data) -> dict[str, str]:
    """SKU -> replacement SKU, or "" to go without; only answered choices, and only as many
    and as long as a dry run can ask for (the rest is ignored)."""
    choices = {}
    for key, value in data.items():
        sku = key.removeprefix(LICENSE_CHOICE_PREFIX)
        if key == sku or not value or len(sku) > MAX_SKU_LENGTH or len(value) > MAX_SKU_LENGTH:
            continue
        choices[sku] = "" if value == GO_WITHOUT else value
        if len(choices) == MAX_POSTED_CHOICES:
            break
    return choices


@dataclass(frozen=True)
class LicenseChoice:
    """A licence the plan cannot give as asked, or gives from its last free seat: the
    technician picks another or none (or, for the last seat, lets it be taken)."""

    sku: str
    options: list[tuple[str, str]]  # (value, label)
    selected: str
    last_seat: bool = False

    @property
    def field_name(self) -> str:
        return LICENSE_CHOICE_PREFIX + self.sku

    @property
    def offered(self) -> bool:
        """Whether the answer is one of the choices as the seats are now (a replacement
        offered by an earlier dry run may have lost its last seat since)."""
        return self.selected in {value for value, _ in self.options}


def license_choices_for(preview: Preview, posted: dict[str, str]) -> list[LicenseChoice]:
    """A choice per SKU without a free seat or whose last seat the plan takes (and per SKU
    already answered, so that it stays)."""
    availability = _availability(preview)
    skus = [sku for sku in posted if sku not in unasked_answers(preview, posted)]
    for _, plan, _ in preview.plans:
        for problem in plan.problems if plan else []:
            if problem.kind == "no_seat" and problem.subject not in skus:
                skus.append(problem.subject)
    last = [sku for sku in _added_licences(preview) if availability.get(sku) == 1]
    skus += [sku for sku in last if sku not in skus]
    choices = []
    for sku in skus:
        last_seat = sku in last
        options = license_options(sku, availability, last_seat=last_seat)
        chosen = posted.get(sku)
        selected = GO_WITHOUT if chosen == "" else (chosen or "")
        choices.append(LicenseChoice(sku, options, selected, last_seat))
    return choices


def unasked_answers(preview: Preview, posted: dict[str, str]) -> list[str]:
    """The posted SKUs no dry run of this page can have asked about: a question is asked
    only for a licence the plan adds that has no free seat or only its last. An answer kept
    from an earlier dry run no longer shows its SKU as added (its replacement is), so the
    SKU's seats decide; a licence the plan takes away was held, never asked about."""
    availability = _availability(preview)
    removed = _removed_licences(preview)
    return [
        sku for sku in posted if sku not in availability or availability[sku] > 1 or sku in removed
    ]


def _unasked_message(sku: str, availability: dict[str, int]) -> str:
    if availability.get(sku, 0) > 1:
        why = f"{sku} has free seats: the dry run asks nothing about it"
    else:
        why = f"The dry run asks nothing about {sku}"
    return f"{why}, so no replacement can be chosen for it. Run the dry run again."


def license_options(
    sku: str, availability: dict[str, int], *, last_seat: bool = False
) -> list[tuple[str, str]]:
    """What may replace `sku` when it has no free seat (or the plan takes its last): another
    SKU with a free seat, or none. The one list of choices, for the forms, a bulk file's rows
    and a job that waits."""
    others = [s for s, free in sorted(availability.items()) if free > 0 and s != sku]
    options = [("", f"Take the last free seat of {sku}" if last_seat else "Choose…")]
    options += [(s, f"Use {s} instead ({availability[s]} available)") for s in others]
    options.append((GO_WITHOUT, "Go without this licence"))
    return options


def _added_licences(preview: Preview) -> list[str]:
    added: list[str] = []
    for _, plan, _ in preview.plans:
        for step in plan.steps if plan else []:
            if step.action == Step.Action.ASSIGN_LICENSE:
                added.append(step.target_name)
            elif step.action == Step.Action.SET_LICENSES:
                added += step.params["added"]
    return list(dict.fromkeys(added))


def _availability(preview: Preview) -> dict[str, int]:
    """SKU -> free seats, as the dry run read them."""
    availability: dict[str, int] = {}
    for _, plan, _ in preview.plans:
        if plan:
            availability |= plan.license_availability
    return availability


def _removed_licences(preview: Preview) -> set[str]:
    removed: set[str] = set()
    for _, plan, _ in preview.plans:
        for step in plan.steps if plan else []:
            if step.action == Step.Action.REMOVE_LICENSE:
                removed.add(step.target_name)
            elif step.action == Step.Action.SET_LICENSES:
                removed.update(step.params["removed"])
    return removed


def unanswered_blockers(
    preview: Preview, choices: list[LicenseChoice], posted: dict[str, str]
) -> list[str]:
    """The plan's blocking problems, but a missing seat the technician has answered with
    one of the choices this dry run (read at the submit) offers; an answer it no longer
    offers blocks, whatever an earlier dry run offered, and so does an answer about a
    licence it does not ask about (a form edited by hand)."""
    availability = _availability(preview)
    unasked = [_unasked_message(sku, availability) for sku in unasked_answers(preview, posted)]
    answered = {c.sku for c in choices if c.selected and c.offered}
    gone = unasked + [
        f"{c.selected} cannot replace {c.sku} now: it has no free seat left, or is no licence "
        "of this tenant's directory. Choose again."
        for c in choices
        if c.selected and not c.offered
    ]
    return gone + _where(
        (connection.label, p.message)
        for connection, plan, _ in preview.plans
        if plan
        for p in plan.problems
        if p.blocking and not (p.kind == "no_seat" and p.subject in answered)
    )


def _where(problems) -> list[str]:
    """Each problem once, after the directories it is true of ("Microsoft Entra ID and Okta:
    No group ..."): said once per directory, the list read as twice the work and its "this
    directory" named none."""
    directories: dict[str, list[str]] = {}
    for label, message in problems:
        if label not in directories.setdefault(message, []):
            directories[message].append(label)
    return [f"{_and(labels)}: {message}" for message, labels in directories.items()]


def _and(words: list[str]) -> str:
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 2 else words)
