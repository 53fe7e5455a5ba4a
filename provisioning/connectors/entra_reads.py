"""What one plan reads of Entra, sent as one `$batch` (more only for further pages).

A plan names its reads before it starts (`Read`: a connector method and its arguments, e.g.
("manager_of", user id)); `read_ahead` sends every GET they need at once and answers each as
the method would: its value, or the ConnectorError it would raise. Throttling, a transient
failure or a user gone or lagging raise for the whole read (the plan is tried again); another
failure (a mailbox the user does not have, a permission the app lacks) is kept as that read's
answer, raised only if the plan asks for it. The user and its access (`read_state`) fail as a
whole, as a read of the account must.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from urllib.parse import quote

from provisioning.connectors import entra_licences, entra_mail, entra_roles, entra_unique
from provisioning.connectors.base import AccessState, Read
from provisioning.connectors.errors import (
    ConnectorError,
    NotFoundError,
    ReplicationLagError,
    ThrottledError,
    TransientError,
    most_telling,
)

BATCH_LIMIT = 20
# A GET that failed transiently is sent again, alone with the others that did: at most this
# many sends of each in one read (then the read fails, and the engine tries the plan again
# later, at most MAX_PLAN_ATTEMPTS times), with pauses of at most a couple of seconds.
READ_PASSES = 4
FIRST_PAUSE_S = 0.5
LONGEST_PAUSE_S = 2.0
USER = "#microsoft.graph.user"


@dataclass
class _Get:
    """One GET of a read: its URL, whether its further pages are read, whose id a 404 may be
    lag of ("" when a 404 is an answer), and whether a refusal is only noted (role reads)."""

    url: str
    paged: bool = False
    subject: str = ""
    optional: bool = False
    body: dict = field(default_factory=dict)
    error: ConnectorError | None = None


# Reads of what a user has: the path below /users/{id} ({select}: get_user's fields), and
# whether further pages are read.
RELATIONS = {
    # The manager as get_user sees them, with their userType: a leaver's mail and files go
    # only to a member (engine/mailbox.py `recipient_refusal`).
    "manager_of": ("/manager?{select},userType", False),
    "direct_reports": ("/directReports?{select}", True),  # as get_user sees them (synced?)
    "auto_reply": ("/mailboxSettings", False),
    "inbox_rules": ("/mailFolders/inbox/messageRules", True),
    "drive_shares": ("/drive/root/permissions", True),
}


def gets_of(read: Read, user_fields: list[str], group_fields: list[str]) -> list[_Get]:
    """The GETs that answer `read`, in the order its decoder takes them."""
    name, arg = read[0], str(read[1])
    user_url = f"/users/{quote(arg, safe='@')}"
    select = f"$select={','.join(user_fields)}"
    if name == "read_state":
        return _state_gets(user_url, arg, select, with_roles=read[2] if len(read) > 2 else True)
    if name in RELATIONS:
        path, paged = RELATIONS[name]
        return [_Get(user_url + path.format(select=select), paged=paged)]
    if name == "find_user":
        return [_Get(f"{user_url}?{select}")]
    if name == "find_by_mail":
        return [_Get(f"/users?$filter={_holding(arg)}&{select}&$top=1")]
    if name == "group_by_mail":
        return [_Get(f"/groups?$filter={_holding(arg)}&$select={','.join(group_fields)}&$top=1")]
    if name == "people_named":
        text = entra_unique.odata_text(arg)
        named = quote(f"displayName eq '{text}' or mail eq '{text}'")
        found = _Get(f"/users?$filter={named}&{select}&$top={entra_mail.CANDIDATES_SHOWN + 1}")
        exact = [_Get(f"{user_url}?{select}")] if "@" in arg or _is_object_id(arg) else []
        return [*exact, found]
    raise ValueError(f"Entra cannot read {name} ahead")


def _state_gets(user_url: str, user_id: str, select: str, *, with_roles: bool) -> list[_Get]:
    """The user with its licence states, memberOf, licences, app assignments; the roles
    (active, eligible) where asked, a refusal of which is noted."""
    gets = [
        _Get(f"{user_url}?{select},{entra_licences.STATES}", subject=user_id),
        _Get(f"{user_url}/memberOf?$select=id&$top=999", paged=True, subject=user_id),
        _Get(f"{user_url}/licenseDetails", paged=True, subject=user_id),
        _Get(f"{user_url}/appRoleAssignments", paged=True, subject=user_id),
    ]
    roles = entra_roles.role_urls(user_id) if with_roles else []
    return gets + [_Get(url, paged=True, subject=user_id, optional=True) for url in roles]


def _holding(address: str) -> str:
    return quote(entra_unique.holder_filter(address))


def cost(reads: list[Read], user_fields: list[str], group_fields: list[str]) -> int:
    """Graph operations the reads send (each `$batch` sub-request counts against the limits),
    first pages only."""
    return sum(len(gets_of(read, user_fields, group_fields)) for read in reads)


async def read_ahead(connector, reads: list[Read]) -> dict[Read, object]:
    """Each read's answer (a value, or the ConnectorError its method would raise)."""
    fields = (connector.user_fields, connector.group_fields)
    gets = {read: gets_of(read, *fields) for read in dict.fromkeys(reads)}
    every = [get for read_gets in gets.values() for get in read_gets]
    await _send(connector, every)
    failure = most_telling(get.error for get in every if _fatal(get))
    if failure is not None:
        raise failure
    await _follow_pages(connector, every)
    answers = {}
    for read, read_gets in gets.items():
        try:
            answers[read] = _decode(connector, read, read_gets)
        except ConnectorError as exc:
            answers[read] = exc
    return answers | _reports_read(answers)


def _reports_read(answers: dict[Read, object]) -> dict[Read, object]:
    """Direct reports come with get_user's fields: whether one is synced needs no more reads."""
    return {
        ("get_user", report.id): report
        for read, reports in answers.items()
        if read[0] == "direct_reports" and isinstance(reports, list)
        for report in reports
    }


async def _send(connector, gets: list[_Get]) -> None:
    """Each GET's answer. Graph answers each request of a `$batch` with its own status, and
    the client sends again those that failed (learn.microsoft.com/graph/json-batching;
    graph/best-practices-concept: a 5xx is retried after its Retry-After, else with an
    exponential back-off): a GET that failed transiently goes again, with the others that
    did, not the whole read, up to READ_PASSES sends in all. Only a flaky directory's: one
    that answered none of the first send is down, and the engine waits for it without
    holding a worker. Throttling and lag are not retried here either: they are the
    engine's pacing and replication waits."""
    pending = gets
    for sent in range(1, READ_PASSES + 1):
        await _send_once(connector, pending)
        pending = [get for get in pending if _worth_again(get.error)]
        hopeless = any(_fatal(get) and not _worth_again(get.error) for get in gets)
        down = sent == 1 and len(pending) == len(gets)
        if not pending or sent == READ_PASSES or hopeless or down:
            return  # done, out of tries, or the read fails whatever these answer
        pause = _pause_before(pending, sent)
        if pause is None:
            return  # longer than a call should hold its worker: the engine waits it out
        await asyncio.sleep(pause)


def _worth_again(error: ConnectorError | None) -> bool:
    return isinstance(error, TransientError) and not isinstance(
        error, ThrottledError | ReplicationLagError
    )


def _pause_before(failed: list[_Get], sent: int) -> float | None:
    """The longest Retry-After the failed requests named, else a back-off with full jitter;
    None when a Retry-After is longer than a read waits in its call."""
    asked = max((get.error.retry_after or 0.0 for get in failed), default=0.0)
    if asked > LONGEST_PAUSE_S:
        return None
    return asked or random.uniform(0, min(LONGEST_PAUSE_S, FIRST_PAUSE_S * 2 ** (sent - 1)))


async def _send_once(connector, gets: list[_Get]) -> None:
    for start in range(0, len(gets), BATCH_LIMIT):
        chunk = gets[start : start + BATCH_LIMIT]
        answers = await connector._post_batch([{"method": "GET", "url": g.url} for g in chunk])
        for get, answer in zip(chunk, answers, strict=True):
            error = connector._answer_error(answer, get.subject)
            get.error = None
            if error is None:
                get.body = (answer or {}).get("body") or {}
            elif get.optional and entra_roles.refusal(error) is not None:
                get.body = {entra_roles.REFUSED: error.message}  # noted, not raised
            else:
                get.body, get.error = {}, entra_mail.unavailable(answer, error)


def _fatal(get: _Get) -> bool:
    """An error that fails the whole read: any of the account's own (it has a subject);
    elsewhere, what trying again may cure (throttling, a transient failure, lag)."""
    return get.error is not None and (bool(get.subject) or isinstance(get.error, TransientError))


async def _follow_pages(connector, gets: list[_Get]) -> None:
    """Further pages of the paged reads, all of them in one `$batch` per round."""
    pending = [g for g in gets if g.paged and g.error is None and g.body.get("@odata.nextLink")]
    while pending:
        pages = [
            _Get(connector._below_graph(g.body["@odata.nextLink"]), subject=g.subject)
            for g in pending
        ]
        await _send(connector, pages)
        failure = most_telling(p.error for p in pages)
        if failure is not None:
            raise failure
        for get, page in zip(pending, pages, strict=True):
            get.body = {
                **get.body,
                "value": [*get.body.get("value", []), *page.body.get("value", [])],
                "@odata.nextLink": page.body.get("@odata.nextLink"),
            }
        pending = [g for g in pending if g.body.get("@odata.nextLink")]


def _decode(connector, read: Read, gets: list[_Get]):
    """The answer `read[0]` gives (its errors raised as the method raises them)."""
    name = read[0]
    if name == "read_state":
        return _state(connector, gets)
    if name == "people_named":
        return _people(connector, gets)
    first = gets[0]
    if first.error is not None:
        if isinstance(first.error, NotFoundError) and name in ("find_user", "manager_of"):
            return None  # no such user; no manager
        raise first.error
    return _DECODERS[name](connector, first)


def _one_user(connector, get: _Get):
    if get.body.get("@odata.type", USER) != USER:
        return None  # a manager may be a contact: not a user of the directory
    return connector._user_of(get.body)


def _first_user(connector, get: _Get):
    found = _values(get)
    return connector._user_of(found[0]) if found else None


def _first_group(connector, get: _Get):
    found = _values(get)
    return connector._group_of(found[0]) if found else None


def _users(connector, get: _Get):
    users = [u for u in _values(get) if u.get("@odata.type", USER) == USER]
    return [connector._user_of(u) for u in users]


def _people(connector, gets: list[_Get]):
    """The exact user a username or id names, else those with the name or address."""
    exact = gets[0] if len(gets) > 1 else None
    if exact is not None and exact.error is None:
        return [_one_user(connector, exact)]
    if gets[-1].error is not None:
        raise gets[-1].error
    return _users(connector, gets[-1])


_DECODERS = {
    "find_user": _one_user,
    "manager_of": _one_user,
    "find_by_mail": _first_user,
    "group_by_mail": _first_group,
    "direct_reports": _users,
    # From the JSON, as the SDK's models would read it: parsing a Permission or a Group
    # model costs ~15 ms of CPU (its deserializers import some 2,400 model classes each time).
    "auto_reply": lambda _, get: entra_mail.auto_reply_of(get.body),
    "inbox_rules": lambda _, get: entra_mail.rules_of(_values(get)),
    "drive_shares": lambda _, get: entra_mail.shares_of(_values(get)),
}


def _state(connector, gets: list[_Get]):
    user, member_of, licences, assignments, *roles = gets
    groups, units = entra_roles.split_member_of(_values(member_of))
    if roles:
        role_fields = entra_roles.role_fields([r.body for r in roles], units)
    else:
        role_fields = {"admin_units": units, "roles_unread": entra_roles.NOT_READ}
    return connector._user_of(user.body), AccessState(
        groups=groups,
        licenses=frozenset(str(x["skuId"]) for x in _values(licences) if x.get("skuId")),
        apps=frozenset(str(x["resourceId"]) for x in _values(assignments) if x.get("resourceId")),
        app_assignments=tuple(
            sorted(
                (str(x["resourceId"]), str(x["id"]))
                for x in _values(assignments)
                if x.get("resourceId") and x.get("id")
            )
        ),
        **entra_licences.inherited(user.body.get(entra_licences.STATES)),
        **role_fields,
    )


def _values(get: _Get) -> list[dict]:
    return list(get.body.get("value") or [])


def _is_object_id(text: str) -> bool:
    return len(text) == 36 and text.count("-") == 4
