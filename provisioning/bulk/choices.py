"""The choices a bulk preview offers for rows whose dry run found a problem: the single
form's licence choices ("Use EMS instead (33 available)", "Go without this licence"), and
"Skip this row"; per row, or once for all rows with the same problem.

Each choice is a field of one bounded form; the options are rebuilt from the batch as it is
stored, so a posted value the page did not offer is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms

from provisioning.bulk.dry_run import SKIP, RowChoice, needs_choice
from provisioning.seats import GO_WITHOUT, license_options

NO_SEAT = "no_seat"
SKIP_OPTION = (SKIP, "Skip this row")


@dataclass
class Question:
    """One select: for a row (`row_id`) or for every row with this problem (`row_id` None)."""

    name: str
    problem: str  # the problem's kind
    subject: str  # the SKU (no_seat), or what the problem is about
    label: str
    options: list[tuple[str, str]]
    rows: list[int] = field(default_factory=list)  # BatchRow ids it answers
    selected: str = ""

    @property
    def row_id(self) -> int | None:
        return self.rows[0] if self.name.startswith("row-") else None


def _questions_of(row) -> list[Question]:
    problems = row.data.get("problems", [])
    questions, others = [], []
    availability = row.data.get("availability", {})
    chosen = RowChoice.of(row.data).licenses
    for problem in problems:
        if problem["kind"] == NO_SEAT:
            sku = problem["subject"]
            selected = GO_WITHOUT if chosen.get(sku) == "" else chosen.get(sku, "")
            questions.append(
                Question(
                    f"row-{row.pk}-license-{sku}",
                    NO_SEAT,
                    sku,
                    f"No free seat of {sku}",
                    [*license_options(sku, availability), SKIP_OPTION],
                    [row.pk],
                    selected,
                )
            )
        else:
            others.append(problem)
    if others:
        first = others[0]
        questions.append(
            Question(
                f"row-{row.pk}-skip",
                first["kind"],
                first["subject"],
                "Fix the file and upload it again, or",
                [("", "Choose…"), SKIP_OPTION],
                [row.pk],
            )
        )
    return questions


def questions(rows) -> tuple[dict[int, list[Question]], list[Question]]:
    """Per row (by id) and for all rows: the questions of every row that needs a choice."""
    per_row: dict[int, list[Question]] = {}
    shared: dict[tuple[str, str], Question] = {}
    for row in rows:
        if not needs_choice(row):
            continue
        per_row[row.pk] = _questions_of(row)
        for question in per_row[row.pk]:
            key = (question.problem, question.subject)
            if key not in shared:
                name = f"all-{question.problem}-{question.subject}"
                text = f"{question.label}" if question.problem == NO_SEAT else _problem_text(row)
                shared[key] = Question(
                    name, question.problem, question.subject, text, question.options, []
                )
            shared[key].rows.append(row.pk)
    return per_row, list(shared.values())


def _problem_text(row) -> str:
    return next(p["message"] for p in row.data["problems"] if p["kind"] != NO_SEAT)


class RowChoicesForm(forms.Form):
    """The posted choices, each bounded by the options offered for it."""

    def __init__(self, data, per_row: dict[int, list[Question]], shared: list[Question]):
        super().__init__(data)
        self.per_row, self.shared = per_row, shared
        for question in [*shared, *(q for qs in per_row.values() for q in qs)]:
            self.fields[question.name] = forms.ChoiceField(choices=question.options, required=False)

    def row_choices(self, stored: dict[int, RowChoice]) -> dict[int, RowChoice]:
        """Each answered row's choice: a row's own answer over the one for all rows."""
        answers: dict[int, RowChoice] = {}
        for question in self.shared:
            for row_id in question.rows:
                self._apply(answers, stored, row_id, question)
        for row_id, row_questions in self.per_row.items():
            for question in row_questions:
                self._apply(answers, stored, row_id, question)
        return answers

    def _apply(self, answers, stored, row_id: int, question: Question) -> None:
        value = self.cleaned_data.get(question.name, "")
        if not value:
            return
        choice = answers.setdefault(row_id, stored.get(row_id, RowChoice()))
        if value == SKIP:
            choice.skip = True
            return
        choice.skip = False  # a row's own answer over "skip" for all rows
        if question.problem == NO_SEAT:
            choice.licenses[question.subject] = "" if value == GO_WITHOUT else value
