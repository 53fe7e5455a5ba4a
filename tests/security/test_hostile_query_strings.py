"""Hostile query strings never make a server error (issue 12, item 4).

Every GET route of the URLconf is requested as every role, with and without HX-Request, with
hostile values (huge and negative integers, years 1 and 9999, empty, repeated, non-ASCII,
slashes, NUL, very long) in every query parameter its view reads, and must answer below 500.

Which parameters a view reads is observed, not listed by hand: during the first request of
each route and role the request's GET is a QueryDict that notes every name looked up (forms,
filtersets and plain ``request.GET.get`` alike), so a parameter a later change adds is
attacked too. KNOWN_PARAMS, the names seen in the code, backs that up: they are attacked
whether observed or not, and a test fails if the observation misses one of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.http import QueryDict
from django.test import Client
from django.urls import Resolver404, resolve, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.models import Role
from provisioning.connectors.errors import ConnectorError
from provisioning.models import Identity
from tenants.models import RoleTemplate
from tests.factories import signed_in
from tests.test_isolation_crawl import (
    OTHER_PARAMS,
    PUBLIC,
    TENANT_PARAMS,
    iter_named_patterns,
)

ROLES = ("msp_admin", Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN)
PROBE = "_probe"  # so that `request.GET or None` binds the view's form during discovery
# The pages that read a directory live (a person's accounts, the groups one may request) get
# an error from every connector: the crawl is about the portal's parsing, and stays offline.
CONNECTOR_USERS = (
    "provisioning.queries",
    "provisioning.access.queries",
    "provisioning.services",
    "provisioning.checks",
    "provisioning.bulk.directory",
    "reports.licences",
)

# The names `grep -rn "request.GET\|Form(request.GET\|Filter(request.GET"` finds, per route.
KNOWN_PARAMS = {
    name: set(names.split())
    for name, names in {
        "onboard_start": "tenant",
        "onboard": "first_name last_name start_date job_title department role_templates",
        "job_list": "tenant status kind created_from created_to page",
        "audit_list": "tenant actor action result q target_type target_id job date_from date_to "
        "before after",
        "audit_export": "tenant actor action result q target_type target_id job date_from date_to",
        "client_report": "period start end",
        "client_report_csv": "period start end",
        "dashboard": "tag sort",
        "username_preview": "username_rule domain",
        "bulk_list": "page",
        "bulk_upload": "kind",
        "bulk_template": "kind",
        "bulk_batch": "show page",
        "hr_webhook_events": "outcome page",
        "outbound_tenant_endpoint": "status page",
        "access_request_list": "status resource page",
        "access_request_new": "identity resource",
        "access_request_detail": "inline",
        "action_request_new": "kind identity",
        "people_list": "q who status scope licensed idle_days idle directory after before",
        "people_adopt": "q who status scope licensed idle_days idle directory after before "
        "expected reason",
        "person_adopt": "preview templates reason confirm_changes",
        "person_offboard": "preview templates reason confirm_changes",
        "person_change": "preview templates reason confirm_changes",
        "drift_report": "kind status directory person page",
        "stale_report": "idle_days days directory managed page",
        "stale_csv": "idle_days days directory managed page",
        "inventory_status": "asked on_page",
        "outbox_list": "page",
    }.items()
}

HUGE = "99999999999999999999"
HOSTILE: list[str | list[str]] = [
    HUGE,  # beyond a bigint
    "-" + HUGE,
    "-1",
    "0",
    "999999999999999999-1",  # a page cursor ~31,000 years ahead
    "1-" + HUGE,
    "0001-01-01",
    "9999-12-31",
    "",
    ["1", HUGE, ""],  # the name repeated
    "Zoë ☃ 𝔘 ١٢٣",
    "²",  # a digit to str.isdigit, not to int()
    "/",
    "../a/b",
    "1\x00",
    "9" * 5000,  # more digits than Python reads as an integer
    "x" * 20000,
    "1e309",
    "@msp",
    "global",
]
# What a view does with a value hardly depends on who asks, but its querysets and its tenant
# scope do: after the first role that reads a name has met every value, the others meet one
# of each kind that reaches a query or the scope (overflow, a date bound, a cursor, a repeat,
# a NUL, length, the scope's own words). The crawl is half as long.
EACH_KIND = [HUGE, "-1", "999999999999999999-1", "0001-01-01", "9999-12-31"]
EACH_KIND += [["1", HUGE, ""], "1\x00", "x" * 20000, "@msp", "global"]


@dataclass
class Target:
    name: str
    url: str
    known: set[str]
    # role -> the names to attack as that role; a role the view refused (403, 404) without
    # reading a single name has none.
    reads: dict[str, set[str]] = field(default_factory=dict)

    @property
    def params(self) -> set[str]:
        """The names to attack one by one (EVERY_NAME is not one)."""
        return set().union(*self.reads.values()) - {EVERY_NAME}

    @property
    def reads_the_query(self) -> bool:
        """Whether any role's view looked a name up or went through the whole query."""
        return any(self.reads.values())


# Noted when a view goes through the whole query (its names, items, urlencode, a copy) rather
# than looking names up: whatever the names are, such a view reads them.
EVERY_NAME = "*"


class RecordingQueryDict(QueryDict):
    """A request's GET that notes the names the view looks up."""

    seen: set[str] | None = None

    def _note(self, key) -> None:
        if RecordingQueryDict.seen is not None:
            RecordingQueryDict.seen.add(str(key))

    def _note_all(self) -> None:
        self._note(EVERY_NAME)

    def __iter__(self):
        self._note_all()
        return super().__iter__()

    def items(self):
        self._note_all()
        return super().items()

    def lists(self):
        self._note_all()
        return super().lists()

    def keys(self):
        self._note_all()
        return super().keys()

    def values(self):
        self._note_all()
        return super().values()

    def dict(self):
        self._note_all()
        return super().dict()

    def urlencode(self, safe=None):
        self._note_all()
        return super().urlencode(safe)

    def copy(self):
        self._note_all()
        return super().copy()

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self._note(key)
        return super().__contains__(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def getlist(self, key, default=None):
        self._note(key)
        return super().getlist(key, default)


class _RecordingGet:
    """Stands in for WSGIRequest.GET (a cached property) while the crawl runs."""

    def __get__(self, request, owner=None):
        if request is None:
            return self
        query = request.environ.get("QUERY_STRING", "")
        value = RecordingQueryDict(query, encoding=request._encoding)
        request.__dict__["GET"] = value
        return value


@pytest.fixture(autouse=True)
def quick_password_hashes(settings):
    """Everyone here signs in with force_login: the people's password hashes need not be
    slow to compute (three people a tenant, and many tests)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def recording(monkeypatch):
    monkeypatch.setattr(WSGIRequest, "GET", _RecordingGet(), raising=True)
    yield RecordingQueryDict
    RecordingQueryDict.seen = None


@pytest.fixture
def people(alpha, msp_admin) -> dict[str, object]:
    return {"msp_admin": msp_admin, **{role: alpha.people[role] for role in ROLES[1:]}}


@pytest.fixture
def clients(people) -> dict[str, Client]:
    """A signed-in client per role, and an anonymous one for the public pages."""
    clients = {}
    for role, person in people.items():
        clients[role] = Client()
        signed_in(clients[role], person)
    clients["anonymous"] = Client()
    return clients


@dataclass
class Route:
    name: str
    url: str  # with tenant A's objects in its path
    kwargs: dict[str, object]


def routes(world, extra) -> list[Route]:
    """Every named route, its path filled with tenant A's objects."""
    found = []
    for name, keys in iter_named_patterns():
        kwargs = {}
        for key in keys:
            if key in TENANT_PARAMS:
                kwargs[key] = TENANT_PARAMS[key](world)
            elif key in OTHER_PARAMS:
                kwargs[key] = OTHER_PARAMS[key](world, extra)
            else:
                pytest.fail(f"Cannot fill <{key}> of URL {name!r}: add it to the crawl.")
        found.append(Route(name, reverse(name, kwargs=kwargs), kwargs))
    return found


def fetch(client: Client, url: str, query=None, htmx: bool = False):
    """The response, its streamed body read (an error while streaming is an error too)."""
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.get(url, query or {}, headers=headers)
    if response.streaming:
        b"".join(response.streaming_content)
    return response


def check(client: Client, where: str, url: str, query=None, htmx: bool = False) -> int:
    try:
        response = fetch(client, url, query, htmx)
    except Exception as exc:  # noqa: BLE001 - the test reports which request failed
        raise AssertionError(f"server error: {where}") from exc
    assert response.status_code < 500, f"{response.status_code}: {where}"
    return response.status_code


def roles_for(name: str) -> tuple[str, ...]:
    return ("anonymous",) if name in PUBLIC else ROLES


@pytest.fixture
def offline(monkeypatch):
    def no_directory(connection):
        raise ConnectorError("The directories are not part of this test.")

    for module in CONNECTOR_USERS:
        monkeypatch.setattr(f"{module}.connector_for", no_directory)


# Route name -> the names its view reads, per role (None: no GET). Observed once per process:
# the views do not change between this file's tests, and each observation is some 450
# requests (4 to 11 s of setup a test). The first test that needs it observes.
OBSERVED: dict[str, dict[str, set[str]] | None] = {}


@pytest.fixture
def targets(alpha, bravo, msp_template, clients, recording, offline) -> list[Target]:
    """Every GET route, with the query parameters its view reads (observed and known)."""
    found = []
    for route in routes(alpha, {"msp_template": msp_template}):
        target = Target(route.name, route.url, set(KNOWN_PARAMS.get(route.name, ())))
        if route.name not in OBSERVED:
            OBSERVED[route.name] = target.reads if _observe(target, clients, recording) else None
        if OBSERVED[route.name] is not None:
            target.reads = {role: set(names) for role, names in OBSERVED[route.name].items()}
            found.append(target)
    return found


def _observe(target: Target, clients, recording) -> bool:
    """Note the names the view reads, as every role; False for a route without GET."""
    try:
        for role in roles_for(target.name):
            recording.seen = set()
            url = target.url
            status = check(clients[role], f"{role} GET {url}", url, {PROBE: "1"})
            if status == 405:
                return False
            seen = recording.seen - {PROBE}
            refused = status in (403, 404) and not seen
            target.reads[role] = set() if refused else seen | target.known
        return True
    finally:
        recording.seen = None


def test_observation_finds_every_parameter_the_code_reads(targets):
    observed = {t.name: t for t in targets}
    assert set(KNOWN_PARAMS) <= set(observed), set(KNOWN_PARAMS) - set(observed)
    for name, known in KNOWN_PARAMS.items():
        # Known names are attacked anyway: this checks that observation sees what views read.
        assert known <= observed[name].params, (name, known - observed[name].params)
    assert observed["audit_list"].reads[Role.CLIENT_ADMIN] >= {"before", "date_to"}
    assert observed["onboard"].reads[Role.CLIENT_ADMIN] == set()  # refused, read nothing


PARTS = 3


@pytest.mark.parametrize("part", range(PARTS))
def test_every_route_and_parameter_survives_the_known_hostile_values(targets, clients, part):
    """In three parts (every third route), each well inside the per-test time limit on a
    loaded machine: the whole crawl is some 5,000 requests (1,350 to 2,260 a part; in two
    parts one held 3,000 and passed 300 s at a load of 15)."""
    requests = 0
    for target in targets[part::PARTS]:
        met_all: set[str] = set()  # the names a role has met every value in already
        for role, params in target.reads.items():
            for param in sorted(params - {EVERY_NAME}):
                values = EACH_KIND if param in met_all else HOSTILE
                met_all.add(param)
                for i, value in enumerate(values):
                    htmx = i % 2 == 1
                    where = f"{role} GET {target.url} {param}={str(value)[:40]!r} htmx={htmx}"
                    check(clients[role], where, target.url, {param: value}, htmx)
                    requests += 1
    assert requests > 1000  # the crawl reached the views' parameters (in each part)


# What a route whose view reads no name of its query (as any role; the observation notes a
# view that goes through the whole query too) meets of HOSTILE with every name at once: the
# query string only passes through (a sign-in redirect's `next`, a log line), so one value of
# each kind that could upset that (length, NUL, non-ASCII, a repeat), one role each.
UNREAD_QUERY = ["x" * 20000, "1\x00", "Zoë ☃ 𝔘 ١٢٣", ["1", HUGE, ""]]


def test_every_route_survives_every_known_name_at_once(targets, clients):
    """All the names at once: a crash that needs two parameters together (a period and its
    dates, a filter and a cursor) is found too."""
    names = set().union(*KNOWN_PARAMS.values(), *(t.params for t in targets))
    assert any(not t.reads_the_query for t in targets)  # UNREAD_QUERY is used
    for target in targets:
        # The values go to the roles whose view reads the names (not one that is refused).
        roles = tuple(r for r in roles_for(target.name) if target.reads.get(r))
        roles = roles or roles_for(target.name)
        for i, value in enumerate(HOSTILE if target.reads_the_query else UNREAD_QUERY):
            role = roles[i % len(roles)]  # each role meets a share of the values here
            query = {name: value for name in names} | {"period": "custom"}
            where = f"{role} GET {target.url} all={str(value)[:40]!r}"
            check(clients[role], where, target.url, query, htmx=i % 2 == 0)


HOSTILE_PATH = {
    "int": ["0", HUGE, str(2**63), "9" * 5000],
    "slug": ["x" * 300, "-", "_", "global", "new"],
    "str": ["Zoë☃", "..", "\x00", "x" * 300, "global"],
}


def test_hostile_path_values_give_no_server_error(alpha, msp_template, targets, clients, offline):
    """What the path converters let through: ids beyond a bigint, odd slugs and kinds.

    Each value goes to every role where the view may read it. A route without GET (405 to
    every role in the observation) refuses the method before its view reads the path, and a
    value the URLconf does not match (more digits than int() reads) reaches no view but the
    404 page: there each value goes to one role, the roles in turn (1,500 of 3,200 requests).
    """
    with_get = {target.name for target in targets}
    requests = {"every role": 0, "one role": 0}
    for route in routes(alpha, {"msp_template": msp_template}):
        for key in route.kwargs:
            converter = "int" if key.endswith("_id") else "slug" if key == "tenant" else "str"
            for value in HOSTILE_PATH[converter]:
                url = reverse(route.name, kwargs=route.kwargs | {key: value})
                roles = roles_for(route.name)
                if route.name not in with_get or not _resolves(url):
                    turn = requests["one role"] = requests["one role"] + 1
                    roles = (roles[turn % len(roles)],)
                else:
                    requests["every role"] += len(roles)
                for role in roles:
                    check(clients[role], f"{role} GET {url}", url)
    assert requests["every role"] > 1000 and requests["one role"] > 100, requests


def _resolves(url: str) -> bool:
    try:
        resolve(url)
    except Resolver404:
        return False
    return True


# A value hypothesis makes up: text of any kind, integers of any size, dates of any year.
values = st.one_of(
    st.text(max_size=60),
    st.integers().map(str),
    st.tuples(st.integers(min_value=0), st.integers(min_value=0)).map("{0[0]}-{0[1]}".format),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)).map(str),
    st.lists(st.text(max_size=10), min_size=2, max_size=3),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_made_up_values_give_no_server_error(targets, clients, data):
    readable = [
        (t, r, p) for t in targets for r, ps in t.reads.items() for p in sorted(ps - {EVERY_NAME})
    ]
    target, role, param = data.draw(st.sampled_from(readable), label="route, role, parameter")
    query = data.draw(st.dictionaries(st.just(param), values, min_size=1), label="query")
    htmx = data.draw(st.booleans(), label="htmx")
    check(clients[role], f"{role} GET {target.url} {query!r} htmx={htmx}", target.url, query, htmx)


# -- posted ids beyond a bigint: a form error, not a database error -----------------------


@pytest.mark.parametrize("name", ["onboard", "onboard_preview"])
def test_onboarding_with_a_huge_role_template_id_is_a_form_error(client, alpha, name):
    client.force_login(alpha.technician)
    before = Identity.objects.count()
    url = reverse(name, kwargs={"tenant": alpha.tenant.slug})
    response = client.post(
        url,
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "start_date": dt.date.today().isoformat(),
            "role_templates": [HUGE],
        },
    )
    assert response.status_code == 200
    assert "That role template is not one of this tenant" in response.content.decode()
    assert Identity.objects.count() == before


def test_a_staff_form_with_a_huge_tenant_id_is_a_form_error(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    response = client.post(
        reverse("staff_create"),
        {
            "username": "new-tech",
            "role": Role.TECHNICIAN,
            "tenants": [HUGE],
            "password": "correct-horse-battery-9",
            "is_active": "on",
        },
    )
    assert response.status_code in (200, 400)
    assert "new-tech" not in {u.username for u in type(msp_admin).objects.all()}
    assert HUGE in response.content.decode()  # "Select a valid choice. <id> is not one..."


def test_onboard_start_refuses_a_tenant_that_is_not_a_slug(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    for value in ("bad slug", "/", "../x", "Zoë"):
        response = client.get(reverse("onboard_start"), {"tenant": value})
        assert response.status_code == 400
        assert "That link does not name a tenant" in response.content.decode()
    response = client.get(reverse("onboard_start"), {"tenant": alpha.tenant.slug})
    assert response["Location"] == reverse("onboard", kwargs={"tenant": alpha.tenant.slug})


@pytest.mark.parametrize("token", ["999999999999999999-1", "1-" + HUGE, "12-0", "-5-3", "1-2-3"])
def test_a_page_cursor_out_of_range_shows_the_newest_events(client, alpha, msp_admin, token):
    signed_in(client, msp_admin)
    for name in ("before", "after"):
        response = client.get(reverse("audit_list"), {name: token})
        assert response.status_code == 200
        assert "That page link is not valid" in response.content.decode()


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2101-01-01", "1999-12-31"])
def test_dates_out_of_range_are_form_errors(client, alpha, msp_admin, day):
    signed_in(client, msp_admin)
    message = "Give a date from 1 Jan 2000 to 31 Dec 2100."  # as the pages write dates
    for name in ("date_from", "date_to"):
        response = client.get(reverse("audit_list"), {name: day})
        assert response.status_code == 200 and message in response.content.decode()
        export = client.get(reverse("audit_export"), {name: day})
        assert export.status_code == 200  # the date left out, as the page leaves it out
    report = reverse("client_report", kwargs={"tenant": alpha.tenant.slug})
    response = client.get(report, {"period": "custom", "start": day, "end": day})
    assert response.status_code == 200 and message in response.content.decode()
    response = client.get(f"{report[:-1]}/export.csv", {"period": "custom", "start": day})
    assert response.status_code == 200  # the CSV of the default period
    jobs = client.get(reverse("job_list"), {"created_to": day})
    assert jobs.status_code == 200 and message in jobs.content.decode()


def test_valid_dates_and_cursors_still_work(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    template = RoleTemplate.objects.get(pk=alpha.template.pk)
    report = reverse("client_report", kwargs={"tenant": alpha.tenant.slug})
    response = client.get(report, {"period": "custom", "start": "2026-01-01", "end": "2026-01-31"})
    assert response.status_code == 200 and response.context["form"].is_valid()
    onboard = reverse("onboard", kwargs={"tenant": alpha.tenant.slug})
    form = client.get(onboard, {"role_templates": template.pk, "first_name": "Ada"}).context["form"]
    assert form["role_templates"].value() == [str(template.pk)]
    assert form["first_name"].value() == "Ada"


# -- a bad filter value: marked on its field, left out, the rest applied (HTTP 200) ------------

CHOICE = "Select a valid choice."
NUMBER = "Enter a whole number."
PAGE = "Give a page number from 1 to 100000"
# Route -> (query, what the page says). One list page per row; every filter a list page reads
# has a bad value here, so a page that drops one silently, answers 400 or shows nothing fails.
BAD_FILTERS = {
    "job_list": [({"status": "bogus"}, CHOICE), ({"kind": "x"}, CHOICE), ({"page": "a"}, PAGE)],
    "people_list": [
        ({"who": "x"}, CHOICE),
        ({"idle_days": "abc"}, NUMBER),
        ({"idle_days": "0"}, "Give a number of days from 1 to 3650."),
        ({"after": "abc"}, f"Page link: {NUMBER}"),
        ({"after": "5", "before": "6"}, "either a start or an end"),
    ],
    "drift_report": [({"kind": "x"}, CHOICE), ({"person": "a"}, NUMBER), ({"page": "0"}, "Page:")],
    "stale_report": [
        ({"idle_days": "ab"}, NUMBER),
        ({"managed": "x"}, CHOICE),
        ({"page": "a"}, "Page"),
    ],
    "audit_list": [({"result": "x"}, CHOICE), ({"date_from": "2101-01-01"}, "Give a date from")],
    "access_request_list": [({"status": "x"}, CHOICE), ({"page": "-1"}, PAGE)],
    "bulk_list": [({"page": "abc"}, PAGE)],
    "bulk_batch": [({"show": "x"}, CHOICE), ({"page": "abc"}, PAGE)],
    "hr_webhook_events": [({"outcome": "x"}, CHOICE), ({"page": "abc"}, PAGE)],
    "outbound_tenant_endpoint": [({"status": "x"}, CHOICE), ({"page": "abc"}, PAGE)],
    "outbox_list": [({"page": "abc"}, PAGE)],
    "dashboard": [({"sort": "x"}, CHOICE)],
    "client_report": [({"period": "x"}, CHOICE)],
}


@pytest.fixture
def list_urls(alpha, msp_template) -> dict[str, str]:
    return {r.name: r.url for r in routes(alpha, {"msp_template": msp_template})}


@pytest.mark.parametrize("name", sorted(BAD_FILTERS))
def test_a_bad_filter_value_is_marked_and_the_page_still_lists(
    name, list_urls, msp_admin, offline, client
):
    signed_in(client, msp_admin)
    for query, message in BAD_FILTERS[name]:
        for htmx in (False, True):
            response = fetch(client, list_urls[name], query, htmx)
            where = f"{name} {query} htmx={htmx}"
            assert response.status_code == 200, where
            if not htmx:  # htmx swaps the rows only; the form with its errors is the page's
                assert message in response.content.decode(), where


def test_a_bad_filter_value_leaves_the_valid_ones_applied(alpha, msp_admin, client):
    """The bad value is left out, the good one still narrows the list."""
    signed_in(client, msp_admin)
    jobs = client.get(reverse("job_list"), {"status": "bogus", "kind": "leave"})
    assert jobs.context["filter"].form.errors.keys() == {"status"}
    assert str(jobs.context["filter"].qs.query).count("kind") >= 1
    people = reverse("people_list", kwargs={"tenant": alpha.tenant.slug})
    response = client.get(people, {"idle_days": "abc", "who": "managed"})
    assert response.status_code == 200 and response.context["page"] is not None
    assert "who=managed" in response.context["query"] and "idle" not in response.context["query"]
    audit = client.get(reverse("audit_list"), {"result": "x", "actor": "system"})
    assert audit.context["page"] is not None  # the events, the actor filter applied
    assert audit.context["export_query"] == "actor=system"  # the export: what the page applied
    export = client.get(reverse("audit_export"), {"result": "x", "actor": "system"})
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
