"""Checking every parsed row against the tenant: its role templates and domains, the people
the portal manages, and what its directories hold. Nothing here changes anything.

Each row gets its errors (it will not be queued) and notes (it will, but read this). A row's
`data` keeps what the file said (`input`) and what validation resolved, e.g. the username
the naming rule gives, so that starting the batch later needs no second guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone

from portal.countries import country_code_problem, three_letter_problem
from portal.plain_text import name_problem
from provisioning.bulk import columns
from provisioning.bulk.directory import DirectoryNames, GroupNames
from provisioning.bulk.parse import ParsedFile, ParsedRow
from provisioning.forms import MAX_AHEAD_DAYS, MAX_PAST_DAYS, USAGE_LOCATION_RE, USERNAME_RE
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from provisioning.name_bounds import (
    directory_kinds,
    longest_local,
    longest_name,
    name_too_long,
    username_too_long,
)
from tenants import clock, naming
from tenants.models import RoleTemplate, Tenant
from tenants.naming import full_name

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}):(\d{2}))?$")
MAX_DELETE_AFTER_DAYS = 3650
TEXT_COLUMNS = ("first_name", "last_name", "department", "job_title", "office", "employee_id")
YES = ("yes", "y", "true", "1")
NO = ("", "no", "n", "false", "0")


@dataclass
class RowResult:
    line: int
    data: dict
    errors: list[str] = field(default_factory=list)
    identity_id: int | None = None

    @property
    def notes(self) -> list[str]:
        return self.data.setdefault("notes", [])


@dataclass
class Validation:
    rows: list[RowResult]
    notes: list[str]

    @property
    def valid(self) -> int:
        return sum(1 for row in self.rows if not row.errors)


def validate(tenant: Tenant, parsed: ParsedFile) -> Validation:
    if parsed.kind == columns.ONBOARD:
        return OnboardingCheck(tenant).run(parsed)
    return OffboardingCheck(tenant).run(parsed)


def _result(row: ParsedRow) -> RowResult:
    return RowResult(row.line, {"input": dict(row.cells), "notes": []}, list(row.problems))


def _check_text(cells: dict[str, str], errors: list[str]) -> None:
    for name in TEXT_COLUMNS:
        if problem := name_problem(cells.get(name, "")):
            errors.append(f"{name} {problem}")


def _different_person(value: str, errors: list[str]) -> bool:
    if value.lower() in YES:
        return True
    if value.lower() not in NO:
        errors.append(f"different_person “{value}” is not yes, no or blank.")
    return False


def _date(value: str, name: str) -> date:
    if not DATE_RE.match(value):
        raise ValueError(f"{name} “{value}” is not a date: use YYYY-MM-DD, e.g. 2026-12-01.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} “{value}” is not a day of the calendar.") from None


# -- onboarding -------------------------------------------------------------------------------


@dataclass
class _Draft:
    result: RowResult
    templates: list[RoleTemplate] = field(default_factory=list)
    candidate: str = ""  # the username asked for, or the naming rule's first choice
    explicit: bool = False
    different: bool = False  # the uploader says: not the same person as a namesake


class OnboardingCheck:
    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.today = clock.tenant_today(tenant)
        self.templates = {t.name.lower(): t for t in RoleTemplate.objects.filter(tenant=tenant)}
        self.domains = [d.lower() for d in tenant.domains]
        self.kinds = directory_kinds(tenant)
        self.longest_name = longest_name(self.kinds)
        people = list(
            Identity.objects.filter(tenant=tenant).only(
                "username", "email", "employee_id", "display_name", "first_name", "last_name",
                "status",
            )
        )  # fmt: skip
        # An onboarded person's e-mail is their username, so a username that is someone's
        # username or e-mail is that person's address.
        self.portal_addresses = {p.email.lower(): p for p in people if p.email}
        self.portal_addresses |= {p.username.lower(): p for p in people}
        self.portal_ids = {p.employee_id: p.display_name for p in people if p.employee_id}
        self.directory = DirectoryNames(tenant)
        self.claimed: dict[str, int] = {}  # username -> line of the file that has it
        self.employee_ids: dict[str, int] = {}
        self.full_names: dict[str, int] = {}  # name -> its first line
        self.starts: dict[tuple[str, str], int] = {}  # (name, start_date) -> its first line

    def run(self, parsed: ParsedFile) -> Validation:
        drafts = [self.draft(row) for row in parsed.rows]
        self.directory.prefetch(d.candidate for d in drafts if d.candidate)
        for draft in drafts:
            if draft.candidate:
                self.resolve_username(draft)
        return Validation([d.result for d in drafts], self.directory.problems)

    def draft(self, row: ParsedRow) -> _Draft:
        draft = _Draft(_result(row))
        cells, errors = row.checkable, draft.result.errors
        for name in ("first_name", "last_name", "role"):
            if name not in row.too_long and not cells.get(name):
                errors.append(f"{name} is missing.")
        for name in ("first_name", "last_name"):
            if problem := name_too_long(cells.get(name, ""), self.longest_name):
                errors.append(f"{name}: {problem}")
        _check_text(cells, errors)
        draft.templates = self.roles(cells.get("role", ""), errors)
        draft.result.data["role_ids"] = [t.pk for t in draft.templates]
        self.start_date(cells.get("start_date", ""), draft.result, errors)
        location = cells.get("usage_location", "")
        if problem := three_letter_problem(location):
            errors.append(f"usage_location {problem}")
        elif location and not USAGE_LOCATION_RE.match(location):
            errors.append(f"usage_location “{location}” is not two letters such as GB.")
        elif location and (problem := country_code_problem(location.upper())):
            errors.append(f"usage_location {problem}")
        self.employee_id(cells.get("employee_id", ""), draft.result)
        draft.different = _different_person(cells.get("different_person", ""), errors)
        self.same_person(cells, draft)
        if all(cells.get(name) == value for name, value in columns.EXAMPLE_PERSON.items()):
            who = f"{cells['first_name']} {cells['last_name']}"
            draft.result.notes.append(
                f"This is the template's example row: delete it unless you mean to onboard {who}."
            )
        if "username" not in row.too_long:
            self.username(cells.get("username", "").lower(), draft, errors)
        return draft

    def roles(self, value: str, errors: list[str]) -> list[RoleTemplate]:
        found: list[RoleTemplate] = []
        for name in dict.fromkeys(n.strip() for n in value.split(columns.ROLE_SEPARATOR)):
            template = self.templates.get(name.lower())
            if template is not None:
                found.append(template)
            elif name:
                known = ", ".join(t.name for t in self.templates.values()) or "none yet"
                errors.append(f"Unknown role “{name}”. This tenant's roles: {known}.")
        return found

    def start_date(self, value: str, result: RowResult, errors: list[str]) -> None:
        try:
            start = _date(value, "start_date") if value else self.today
        except ValueError as exc:
            errors.append(str(exc))
            return
        if start < self.today - timedelta(days=MAX_PAST_DAYS):
            errors.append(f"start_date {start} is more than {MAX_PAST_DAYS} days in the past.")
        elif start > self.today + timedelta(days=MAX_AHEAD_DAYS):
            errors.append(f"start_date {start} is more than a year ahead.")
        result.data["start_date"] = start.isoformat()

    def employee_id(self, value: str, result: RowResult) -> None:
        if not value:
            return
        if value in self.portal_ids:
            result.errors.append(
                f"employee_id {value} belongs to {self.portal_ids[value]} in this portal already."
            )
        elif value in self.employee_ids:
            result.errors.append(
                f"Lines {self.employee_ids[value]} and {result.line} both have employee_id "
                f"{value}: one row per person."
            )
        else:
            self.employee_ids[value] = result.line

    def same_person(self, cells: dict[str, str], draft: _Draft) -> None:
        """Two rows of one name and start date are one person entered twice, unless the
        later row says otherwise; the same name on another day is only noted."""
        result = draft.result
        name = full_name(cells.get("first_name", ""), cells.get("last_name", ""))
        if not name:
            return
        start = result.data.get("start_date", "")
        first = self.starts.setdefault((name, start), result.line)
        if first != result.line and draft.different:
            result.notes.append(
                f"Another person than line {first}, of the same name and start date "
                "(different_person)."
            )
        elif first != result.line:
            shown = f"{cells.get('first_name', '')} {cells.get('last_name', '')}".strip()
            result.errors.append(
                f"Lines {first} and {result.line} are the same person ({shown}, starting "
                f"{start}): remove one of them, or put yes in different_person on line "
                f"{result.line} if they are two people."
            )
        elif name in self.full_names:
            result.notes.append(f"The same name as line {self.full_names[name]}: two people?")
        self.full_names.setdefault(name, result.line)

    def username(self, username: str, draft: _Draft, errors: list[str]) -> None:
        if username:
            domain = username.rpartition("@")[2]
            if not USERNAME_RE.match(username):
                errors.append(
                    f"username “{username}” is not a username such as ada.lovelace@"
                    f"{self.tenant.primary_domain}."
                )
            elif domain not in self.domains:
                errors.append(
                    f"username {username}: {domain} is not a domain of this tenant "
                    f"({', '.join(self.domains)})."
                )
            else:
                draft.candidate, draft.explicit = username, True
            return
        cells = draft.result.data["input"]
        if not (draft.templates and cells.get("first_name") and cells.get("last_name")):
            return
        template = draft.templates[0]
        try:
            draft.candidate = naming.render(
                template.username_rule, cells["first_name"], cells["last_name"],
                template.effective_domain,
            )  # fmt: skip
        except naming.NamingRuleError as exc:
            errors.append(
                f"No username from the naming rule of {template.name}: {exc} "
                "Give one in the username column."
            )

    def resolve_username(self, draft: _Draft) -> None:
        result, username = draft.result, draft.candidate
        if draft.explicit:
            self.check_explicit(result, username)
        else:
            username = self.from_rule(draft)
        if username and (problem := username_too_long(username, self.kinds)):
            result.errors.append(f"username {username}: {problem}")
        if username and not result.errors:
            self.claimed[username] = result.line
            result.data["username"] = username

    def check_explicit(self, result: RowResult, username: str) -> None:
        holder = self.portal_addresses.get(username)
        if holder is not None and holder.username.lower() == username:
            result.errors.append(
                f"username {username} belongs to {holder.display_name} in this portal."
            )
        elif holder is not None:
            result.errors.append(
                f"username {username} is the e-mail of {holder.display_name} in this portal."
            )
        elif username in self.claimed:
            result.errors.append(
                f"Lines {self.claimed[username]} and {result.line} both have username "
                f"{username}: one row per person, and two people need two usernames."
            )
        elif holder := self.directory.holder(username):
            if self.tenant.link_existing_accounts:
                result.notes.append(f"{username} exists in {holder}: the job links that account.")
            else:
                result.errors.append(
                    f"username {username} exists in {holder} already. Choose another, or leave "
                    "it blank for the naming rule."
                )

    def from_rule(self, draft: _Draft) -> str:
        if self.in_portal_already(draft):
            return ""
        reasons: dict[str, str] = {}

        def taken(candidate: str) -> bool:
            if candidate in self.portal_addresses:
                reasons[candidate] = "by someone in this portal"
            elif candidate in self.claimed:
                reasons[candidate] = f"by line {self.claimed[candidate]}"
            elif holder := self.directory.holder(candidate):
                reasons[candidate] = f"in {holder}"
            return candidate in reasons

        template = draft.templates[0]
        cells = draft.result.data["input"]
        try:
            username = naming.unique_username(
                template.username_rule, cells["first_name"], cells["last_name"],
                template.effective_domain, taken,
                longest_local=longest_local(self.kinds, template.effective_domain),
            )  # fmt: skip
        except naming.NamingRuleError as exc:
            draft.result.errors.append(str(exc))
            return ""
        if username != draft.candidate and not draft.result.errors:  # a refused row gets none
            draft.result.notes.append(
                f"{draft.candidate} is taken {reasons[draft.candidate]}: this row gets {username}."
            )
        return username

    def in_portal_already(self, draft: _Draft) -> bool:
        """True (with the row's error) when the naming rule gives this row the address of a
        person of the same name in the portal: the same person, unless the row says not."""
        person = self.portal_addresses.get(draft.candidate)
        cells, result = draft.result.data["input"], draft.result
        name = full_name(cells.get("first_name", ""), cells.get("last_name", ""))
        if person is None or full_name(person.first_name, person.last_name) != name:
            return False
        if draft.different:
            result.notes.append(
                f"Another person than {person.display_name} ({person.username}) in this portal "
                "(different_person)."
            )
            return False
        status = person.get_status_display().lower()
        result.errors.append(
            f"{person.display_name} is in this portal already as {person.username} ({status}): "
            f"remove line {result.line}, or put yes in different_person on it if this is "
            "another person."
        )
        return True


# -- offboarding ------------------------------------------------------------------------------


RUNNING_LEAVE = (Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.WAITING)
PENDING_LEAVE = (Job.Status.SCHEDULED, Job.Status.HELD)


class OffboardingCheck:
    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.now = timezone.now()
        self.today = clock.tenant_today(tenant, self.now)
        people = list(
            Identity.objects.filter(tenant=tenant).only(
                "pk", "username", "employee_id", "display_name", "status"
            )
        )
        self.by_username = {p.username.lower(): p for p in people}
        self.by_employee_id = {p.employee_id: p for p in people if p.employee_id}
        leaves = Job.objects.filter(
            tenant=tenant, kind=Job.Kind.LEAVE, status__in=RUNNING_LEAVE + PENDING_LEAVE
        ).values_list("identity_id", "pk", "status", "not_before")
        self.leaves = {identity_id: (pk, status, at) for identity_id, pk, status, at in leaves}
        self.seen: dict[int, int] = {}
        self.groups = GroupNames(tenant)

    def run(self, parsed: ParsedFile) -> Validation:
        return Validation([self.check(row) for row in parsed.rows], [])

    def check(self, row: ParsedRow) -> RowResult:
        result, cells = _result(row), row.checkable
        person = self.person(cells, result.errors)
        if person is not None:
            result.identity_id = person.pk
            result.data["person"] = person.display_name
            self.check_person(person, result)
        self.leave_at(cells.get("leave_at", ""), result)
        self.overrides(cells, result)
        return result

    def person(self, cells: dict[str, str], errors: list[str]) -> Identity | None:
        username, employee_id = cells.get("username", "").lower(), cells.get("employee_id", "")
        if not username and not employee_id:
            if not errors:  # a cell cut short has its own error already
                errors.append("Give the person's username or employee_id.")
            return None
        by_name = self.by_username.get(username) if username else None
        by_id = self.by_employee_id.get(employee_id) if employee_id else None
        if username and by_name is None:
            errors.append(f"Nobody with username {username} is managed in this portal.")
        if employee_id and by_id is None:
            errors.append(f"Nobody with employee_id {employee_id} is managed in this portal.")
        if by_name and by_id and by_name.pk != by_id.pk:
            errors.append(
                f"username {username} is {by_name.display_name} but employee_id {employee_id} "
                f"is {by_id.display_name}."
            )
            return None
        return by_name or by_id

    def check_person(self, person: Identity, result: RowResult) -> None:
        name = person.display_name
        if person.status in (Identity.Status.LEFT, Identity.Status.DELETED):
            result.errors.append(f"{name} has left already (status {person.get_status_display()}).")
        if person.pk in self.seen:
            result.errors.append(f"{name} is on line {self.seen[person.pk]} too.")
        self.seen.setdefault(person.pk, result.line)
        leave = self.leaves.get(person.pk)
        if leave and leave[1] in RUNNING_LEAVE:
            result.errors.append(f"{name} is being offboarded already (job #{leave[0]}).")
        elif leave:
            when = "held for confirmation" if leave[1] == Job.Status.HELD else "scheduled"
            result.notes.append(f"Replaces the offboarding {when} (job #{leave[0]}).")

    def leave_at(self, value: str, result: RowResult) -> None:
        if not value:
            return
        match = DATETIME_RE.match(value)
        if match is None:
            result.errors.append(
                f"leave_at “{value}” is not YYYY-MM-DD or YYYY-MM-DD HH:MM (24 h), "
                "e.g. 2026-12-01 17:30."
            )
            return
        try:
            day = _date(match.group(1), "leave_at")
            hour, minute = (int(match.group(2)), int(match.group(3))) if match.group(2) else (0, 0)
            local = datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute)
        except ValueError as exc:
            message = (
                str(exc) if "leave_at" in str(exc) else f"leave_at “{value}” has no such time."
            )
            result.errors.append(message)
            return
        if day < self.today:
            result.errors.append(f"leave_at {value} is in the past; leave it blank for now.")
        elif day > self.today + timedelta(days=MAX_AHEAD_DAYS):
            result.errors.append(f"leave_at {value} is more than a year ahead.")
        else:
            result.data["leave_at"] = clock.tenant_datetime(self.tenant, local).isoformat()

    def overrides(self, cells: dict[str, str], result: RowResult) -> None:
        overrides: dict = {}
        mode = cells.get("okta_mode", "").lower()
        if mode and mode not in lifecycle.OKTA_MODES:
            result.errors.append(f"okta_mode “{mode}” is not suspend or deactivate.")
        elif mode:
            overrides["okta_mode"] = mode
        days = cells.get("delete_after_days", "").lower()
        if days in ("never", "keep"):
            overrides["delete_after_days"] = None
        elif days:
            # isascii: isdigit() is true of "²", which int() refuses
            if not (days.isascii() and days.isdigit()) or int(days) > MAX_DELETE_AFTER_DAYS:
                result.errors.append(
                    f"delete_after_days “{days}” is not a number of days (0 to "
                    f"{MAX_DELETE_AFTER_DAYS}) or never."
                )
            else:
                overrides["delete_after_days"] = int(days)
        keep = [g.strip() for g in cells.get("keep_groups", "").split(columns.ROLE_SEPARATOR)]
        if any(keep):
            overrides["keep_groups"] = list(dict.fromkeys(g for g in keep if g))
            for name in self.groups.unknown(overrides["keep_groups"]):
                result.errors.append(self.groups.message(name))
        result.data["overrides"] = overrides
