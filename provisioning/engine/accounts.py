"""The database's side of a directory account: its id, and the access the portal gave."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db import connection as db
from django.db.models import BooleanField, Exists, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from portal import bulk_rows, kept_sql
from portal.audit.events import Riding
from provisioning.connectors.factory import connector_type
from provisioning.engine import create_groups, guards, licences, memo, planner
from provisioning.engine.parking import LeaseLost, held
from provisioning.engine.plans import replication_window
from provisioning.models import DirectoryAccount, Job, Step

ADDS = {add: kind for kind, (add, _, _) in planner.ACCESS_ACTIONS.items()}
REMOVALS = {remove: kind for kind, (_, remove, _) in planner.ACCESS_ACTIONS.items()}


def accounts_of(identity) -> dict[int, DirectoryAccount]:
    """The person's directory accounts by connection id: read once per run of a job
    (engine/memo.py); the run's own writes keep these same rows current."""
    return memo.remembered(
        ("accounts", identity.pk),
        lambda: {a.connection_id: a for a in DirectoryAccount.objects.filter(identity=identity)},
    )


def account_for(job: Job, connection) -> DirectoryAccount:
    accounts = accounts_of(job.identity)
    account = accounts.get(connection.pk)
    if account is None or account.pk is None:
        accounts[connection.pk] = account = _new_account(job.identity, connection)
    return account


def account_to_apply(job: Job, connection) -> DirectoryAccount:
    """As `account_for`, but where the person has no row in this directory yet, an unsaved
    one: the steps' intent inserts it (`inserted_with`), in the statement that marks them."""
    accounts = accounts_of(job.identity)
    if connection.pk not in accounts:
        accounts[connection.pk] = DirectoryAccount(identity=job.identity, connection=connection)
    return accounts[connection.pk]


def inserted_with(account: DirectoryAccount, marking: kept_sql.Built) -> int:
    """The `marking` UPDATE (the intent of the person's first steps in the directory), and
    the `account`'s row inserted only if it updated rows; the rows it updated. The row
    holds no id yet: nothing depends on when it is written, so it rides with the intent.
    PostgreSQL: one statement, the intent's UPDATE in a data-modifying `WITH` in front of the
    account's INSERT (`ON CONFLICT DO NOTHING`: a row made since the run read the person's
    accounts, an adoption, is read and used instead). SQLite: the UPDATE, then the INSERT."""
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(marking.sql, marking.params)
            marked = cursor.rowcount
        if marked:
            _adopt(account, _new_account(account.identity, account.connection))
        return marked
    update_sql, update_params = marking.sql, marking.params
    insert_sql, insert_params = bulk_rows.insert_sql(
        DirectoryAccount, [account], "WHERE EXISTS (SELECT FROM marked) ON CONFLICT DO NOTHING"
    )
    with db.cursor() as cursor:
        cursor.execute(  # the pieces built by Django's compilers; values are parameters
            f"WITH marked AS ({update_sql} RETURNING 1), made AS ({insert_sql}) "  # noqa: S608
            "SELECT (SELECT count(*) FROM marked), (SELECT id FROM made)",
            (*update_params, *insert_params),
        )
        marked, pk = cursor.fetchone()
    if pk is not None:
        bulk_rows.saved([account], [pk])
    elif marked:
        row = DirectoryAccount.objects.get(identity=account.identity, connection=account.connection)
        _adopt(account, row)
    return marked


def _adopt(account: DirectoryAccount, row: DirectoryAccount) -> None:
    """`account` (the run's object, which the run's steps hold) becomes the stored `row`."""
    for field in DirectoryAccount._meta.concrete_fields:
        setattr(account, field.attname, getattr(row, field.attname))
    account._state.adding, account._state.db = False, row._state.db


@dataclass(frozen=True)
class LinkedAsk:
    """What a feature asks of an account that gains a remote id, registered from above
    (`on_linked`): `query(connection_id, remote_id)`, a queryset of one column (its first
    row at most) built from those two values alone, is read in the statement that writes
    the id (its text kept, `kept_sql.kept`); `answered(account, values)` is called with
    the values it found ([] for none), in the same transaction, once the id is written."""

    query: Callable[[int, str], QuerySet]
    answered: Callable[[DirectoryAccount, list[Any]], None]


_on_linked: list[LinkedAsk] = []


def on_linked(ask: LinkedAsk) -> LinkedAsk:
    """Ask `ask` whenever the engine's outcomes give an account a remote id. The engine
    writes the account's row by statement, not by `save()` (no `post_save`): a feature that
    must hear of a new id registers here."""
    if ask not in _on_linked:
        _on_linked.append(ask)
    return ask


@dataclass
class Record:
    """The steps' outcomes and the account's record, one statement's writes (`record_of`)."""

    riding: Riding
    asks: list[LinkedAsk]
    expected: int
    judged: bool = False  # the statement asks whether any guard judges the account

    def written(self, account: DirectoryAccount) -> bool:
        """Whether the statement (sent: `riding.answer`) wrote them; the features' answers
        handed to them if it did, and, when no guard's rows judge the account, that told to
        the run's next plan (`guards.none_judged`)."""
        written, *found = self.riding.answer or (0,)
        if written != self.expected:
            return False
        if self.judged:
            *found, any_judged = found
            if not any_judged:
                guards.none_judged(account.connection_id, account.remote_id)
        for ask, values in zip(self.asks, found, strict=True):
            ask.answered(account, list(values))
        return True


def record_of(
    account: DirectoryAccount, fields: list[str], outcomes: tuple[str, list], expected: int
) -> Record:
    """PostgreSQL: the `outcomes` statement (the steps' outcomes, fenced by the run's lease:
    an UPDATE) and the account's `fields` saved only if it updated all `expected` rows, as
    data-modifying `WITH`s of one statement, sent on its own or in the audit append of the
    same outcomes (`events.Riding`). The account's UPDATE reads the outcomes' rows, so it
    runs after them, the job's row locked first (`steps._still_held`); when the account gains
    a remote id, the statement also reads the features' questions about it (`on_linked`)."""
    asks = list(_on_linked) if "remote_id" in fields and account.remote_id else []
    outcome_sql, outcome_params = outcomes
    ctes, params, last = (
        f"outcomes AS ({outcome_sql} RETURNING 1)",
        list(outcome_params),
        "outcomes",
    )
    if fields:
        built = kept_sql.update(
            "the account after its outcomes",
            DirectoryAccount,
            _all_set,
            {name: getattr(account, name) for name in fields},
            expected,
            account.pk,
        )
        account_sql, account_params = built.sql, built.params
        ctes += f", account AS ({account_sql} RETURNING 1)"
        params += account_params
        last = "account"
    questions = [_asked(ask, account.connection_id, account.remote_id) for ask in asks]
    select = "".join(f", ARRAY({built.sql})" for built in questions)
    select_params = [p for built in questions for p in built.params]
    # The guards' question for the verifying read that follows (asked there, it would be a
    # statement of its own): is the account in any rows they judge by?
    judged = guards.judged_exists_sql(account.connection_id, account.remote_id)
    if judged is not None:
        select += f", {judged[0]}"
        select_params += judged[1]
    riding = Riding(
        ctes=ctes,
        params=params,
        last=last,
        select=f"(SELECT count(*) FROM outcomes){select}",  # noqa: S608 (compiled pieces)
        select_params=select_params,
        width=1 + len(questions) + (judged is not None),
    )
    return Record(riding, asks, expected, judged=judged is not None)


def _asked(ask: LinkedAsk, connection_id: int, remote_id: str) -> kept_sql.Built:
    """The statement of `ask`'s question about the account, kept per ask."""
    return kept_sql.kept(
        ("linked ask", ask.query), partial(_ask_sql, ask), connection_id, remote_id
    )


def _ask_sql(ask: LinkedAsk, connection_id: int, remote_id: str) -> kept_sql.Built:
    sql, params = ask.query(connection_id, remote_id).query.get_compiler(connection=db).as_sql()
    return kept_sql.Built(sql, list(params))


def _all_set(expected: int, account_id: int) -> Q:
    """The account's row, when the outcomes' UPDATE set all `expected` rows."""
    all_set = RawSQL(
        "(SELECT count(*) FROM outcomes) = %s", (expected,), output_field=BooleanField()
    )
    return Q(all_set, pk=account_id)


def _new_account(identity, connection) -> DirectoryAccount:
    try:
        with transaction.atomic():
            return DirectoryAccount.objects.create(identity=identity, connection=connection)
    except IntegrityError:  # made since the run read the person's accounts (an adoption)
        return DirectoryAccount.objects.get(identity=identity, connection=connection)


def link_account(account: DirectoryAccount, remote_id: str, created: bool, *, job: Job) -> None:
    """Written only while `job`'s run still holds it (`save_held`)."""
    save_held(job, account, _link(account, remote_id, created))


def save_held(job: Job, account: DirectoryAccount, fields: list[str]) -> None:
    """Save `fields` of the account only while no other run has claimed `job` since this
    one (parking.held): a run that woke up past its lease read the directory before the run
    that took over, and its record of the account must not overwrite that run's."""
    values = {name: getattr(account, name) for name in fields}
    if not DirectoryAccount.objects.filter(
        Exists(Job.objects.filter(held(job))), pk=account.pk
    ).update(**values):
        raise LeaseLost


def _link(account: DirectoryAccount, remote_id: str, created: bool) -> list[str]:
    account.remote_id = remote_id
    account.last_synced_at = timezone.now()
    account.missing_since = None
    if created:
        account.created_remotely_at = timezone.now()
    return ["remote_id", "last_synced_at", "created_remotely_at", "missing_since"]


def applied(account: DirectoryAccount, step: Step, result: dict) -> list[str]:
    """What a succeeded step changes in the database's record of the account, made on
    `account`; the fields it changed, which the caller saves (once for a batch of steps)."""
    action = step.action
    if action == planner.CREATE_USER and result.get("user_id") and result.get("created"):
        account.managed = _set_attributes(account, step.params.get("attributes") or {}, fresh=True)
        return [*_link(account, result["user_id"], True), "managed"]
    if action in (planner.CREATE_USER, planner.LINK_USER) and result.get("user_id"):
        return _link(account, result["user_id"], result.get("created", False))
    if action == planner.UPDATE_USER:
        account.managed = _set_attributes(account, step.params.get("attributes") or {})
        return ["managed"]
    if action in ADDS or action in REMOVALS:
        _track(account, step)
        return ["managed"]
    if action == licences.SET_LICENSES:
        account.managed = licences.managed_after(account.managed or {}, step.params)
        return ["managed"]
    if action == planner.DELETE_USER and connector_type(step.connection).soft_deletes:
        # Gone by our own hand: no need to wait for the replication window to say so.
        account.missing_since = timezone.now() - replication_window() * 2
        return ["missing_since"]
    if action == planner.PURGE_USER:
        # The id is kept: the next read asks deleted items for it, since the purge's answer
        # proves nothing (a 404 reads as done). It is gone from the users, by our hand.
        account.missing_since = timezone.now() - replication_window() * 2
        account.created_remotely_at, account.managed = None, {}
        return ["missing_since", "created_remotely_at", "managed"]
    if action == planner.DELETE_USER:
        account.remote_id, account.created_remotely_at, account.missing_since = "", None, None
        account.managed = {}
        return ["remote_id", "created_remotely_at", "missing_since", "managed"]
    return []


def maybe_applied(account: DirectoryAccount, step: Step) -> list[str]:
    """As `applied`, for a step given up with no answer (steps.settle): it may still be
    carried out. What it adds or sets becomes the portal's to take away or clear again (if
    it never lands, nothing is taken: only access still held is removed, only a value still
    held cleared); what it removes or clears stays the portal's, as if it had not run."""
    action, params = step.action, step.params
    if action in ADDS:
        _track(account, step)
        return ["managed"]
    if action == planner.CREATE_USER and params.get("group_ids"):
        # Created in its groups (create_groups.py): their steps were never sent, so only
        # the create tells that the account may hold them, for a later job to link.
        for group_id, name in create_groups.named(params):
            _remember(account, "groups", group_id, name)
        return ["managed"]
    if action == licences.SET_LICENSES:
        adds_only = {**params, "remove": [], "removed": []}
        account.managed = licences.managed_after(account.managed or {}, adds_only)
        return ["managed"]
    if action == planner.UPDATE_USER:
        values = {k: v for k, v in (params.get("attributes") or {}).items() if v not in (None, "")}
        account.managed = _set_attributes(account, values)
        return ["managed"]
    return []


def _set_attributes(account: DirectoryAccount, changed: dict, fresh: bool = False) -> dict:
    """`managed` with the names of the attributes the portal set on the account
    (`managed["attributes"]`, from nothing for the account it has just made): the ones it
    clears again when the desired state has none. A clear ends that."""
    managed = dict(account.managed or {})
    names = set() if fresh else set(managed.get("attributes", []))
    for name, value in changed.items():
        if value in (None, ""):
            names.discard(name)
        else:
            names.add(name)
    return {**managed, "attributes": sorted(names)}


def _track(account: DirectoryAccount, step: Step) -> None:
    """An add makes the access the portal's to take away again; a removal ends that."""
    kind = ADDS.get(step.action) or REMOVALS[step.action]
    param = planner.ACCESS_ACTIONS[kind][2]
    _remember(account, kind, step.params[param], step.target_name, given=step.action in ADDS)


def _remember(account: DirectoryAccount, kind: str, resource_id: str, name: str, given=True):
    managed = dict(account.managed or {})
    refs = [r for r in managed.get(kind, []) if r.get("id") != resource_id]
    if given:
        refs.append({"id": resource_id, "name": name})
    managed[kind] = refs
    account.managed = managed
