"""What an HR event may say, validated strictly: unknown fields, wrong types and odd dates are
refused with a message per field (docs/hr-webhook.md describes the same schema)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from django.utils import timezone
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from portal.countries import country_code_problem
from portal.plain_text import name_problem

MAX_PAST_DAYS = 365
MAX_AHEAD_DAYS = 365
MAX_START_PAST_DAYS = 30  # as the onboarding form: a later joiner starts today
ATTRIBUTES = ("department", "job_title", "usage_location", "company", "office")
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")  # ASCII without spaces or control characters
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


def _plain_text(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    if "<" in value or ">" in value:
        raise ValueError("use plain text: < and > are not allowed")
    if not value.isprintable():
        raise ValueError("must not contain control characters")
    return value


def _plain_name(value: str) -> str:
    """A person's name or attribute, by the one rule of the forms and the CSV import
    (portal/plain_text.py): no markup, no formula, no invisible character but the joiners
    that Persian and Indic names need."""
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    if problem := name_problem(value):
        raise ValueError(problem.rstrip("."))
    return value


def _token(value: str) -> str:
    if not _PRINTABLE.match(value):
        raise ValueError("use printable ASCII without spaces")
    return value


def _id_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _country(value: str | None) -> str | None:
    if value and not _COUNTRY.match(value):
        raise ValueError("two letters, such as GB or US")
    if value and (problem := country_code_problem(value.upper())):
        raise ValueError(problem)
    return value.upper() if value else value


Name = Annotated[StrictStr, Field(max_length=64), AfterValidator(_plain_name)]
RoleName = Annotated[StrictStr, Field(min_length=1, max_length=80), AfterValidator(_plain_text)]
Roles = Annotated[
    list[RoleName],
    BeforeValidator(_one_or_many),
    Field(min_length=1, max_length=10),
    AfterValidator(_unique),
]
EmployeeId = Annotated[
    StrictStr, BeforeValidator(_id_text), Field(min_length=1, max_length=64), AfterValidator(_token)
]
EventId = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_token)]
Text = Annotated[StrictStr, Field(max_length=64), AfterValidator(lambda v: v and _plain_name(v))]
LongText = Annotated[
    StrictStr, Field(max_length=128), AfterValidator(lambda v: v and _plain_name(v))
]
Country = Annotated[StrictStr, AfterValidator(_country)]


def _today() -> date:
    return timezone.localdate()


def _within(past: int, ahead: int):
    def check(value: date | datetime) -> date | datetime:
        day = value.date() if isinstance(value, datetime) else value
        if day < _today() - timedelta(days=past):
            raise ValueError(f"more than {past} days in the past")
        if day > _today() + timedelta(days=ahead):
            raise ValueError(f"more than {ahead} days ahead")
        return value

    return AfterValidator(check)


StartDate = Annotated[date, _within(MAX_START_PAST_DAYS, MAX_AHEAD_DAYS)]
Day = Annotated[date, _within(MAX_PAST_DAYS, MAX_AHEAD_DAYS)]
Moment = Annotated[datetime, _within(MAX_PAST_DAYS, MAX_AHEAD_DAYS)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: EventId  # the idempotency key; in the body so that the signature covers it
    employee_id: EmployeeId

    @property
    def attributes(self) -> dict[str, str | None]:
        """The attributes the event names (None or "" clears one on a change)."""
        return {name: getattr(self, name) for name in ATTRIBUTES if name in self.model_fields_set}


class _Attributes(BaseModel):
    department: Text | None = None
    job_title: LongText | None = None
    usage_location: Country | None = None
    company: Text | None = None
    office: Text | None = None


class Hire(_Event, _Attributes):
    event: Literal["hire"]
    first_name: Name
    last_name: Name
    role: Roles
    start_date: StartDate | None = None


class Change(_Event, _Attributes):
    event: Literal["change"]
    role: Roles | None = None
    effective_date: Day | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Change:
        if self.role is None and not self.attributes:
            raise ValueError("a change names a role or at least one attribute")
        return self


class Terminate(_Event):
    event: Literal["terminate"]
    end_date: Day | None = None  # the last working day: the leave runs at its end
    leave_at: Moment | None = None  # an exact time; without an offset, the tenant's clock

    @model_validator(mode="after")
    def _one_time(self) -> Terminate:
        if self.end_date and self.leave_at:
            raise ValueError("give end_date or leave_at, not both")
        return self


Event = Hire | Change | Terminate
EVENT_TYPES = ("hire", "change", "terminate")
_EVENT = TypeAdapter(Annotated[Event, Discriminator("event")])
_TAG_ERRORS = {
    "union_tag_invalid": "must be one of 'hire', 'change', 'terminate'",
    "union_tag_not_found": "is required: one of 'hire', 'change', 'terminate'",
}


ID_REQUIRED = (
    "required: every event carries its own id in the signed body, so that a resent event is "
    "recognised (an Idempotency-Key header is not signed and does not count)"
)


class InvalidEvent(ValueError):
    def __init__(self, message: str, details: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


def parse(body: bytes) -> Event:
    """The event of a JSON body, or InvalidEvent with a message a person can act on."""
    try:
        return _EVENT.validate_json(body)
    except ValidationError as exc:
        details = [_detail(error) for error in exc.errors(include_url=False, include_input=False)]
        if details and details[0]["code"] == "json_invalid":
            raise InvalidEvent("The body is not valid JSON.") from None
        summary = "; ".join(
            f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in details[:5]
        )
        raise InvalidEvent(f"The event is not valid: {summary}.", details) from None


def _detail(error: dict) -> dict:
    code = error["type"]
    if code in _TAG_ERRORS:
        return {"field": "event", "code": code, "message": _TAG_ERRORS[code]}
    loc = list(error["loc"])
    if loc and loc[0] in EVENT_TYPES:
        loc = loc[1:]  # the union's tag, not a field of the event
    path = ".".join(str(part) for part in loc)
    if (path, code) == ("id", "missing"):
        return {"field": path, "code": code, "message": ID_REQUIRED}
    return {"field": path, "code": code, "message": error["msg"].removeprefix("Value error, ")}
