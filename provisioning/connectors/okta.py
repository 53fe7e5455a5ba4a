"""Okta through the okta SDK (3.x).

The SDK returns `(result, response, error)` tuples instead of raising; `_call` turns an error
into the connector taxonomy. Its own 429 retries are off (`rateLimit.maxRetries = 0`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from okta.client import Client
from okta.errors.okta_api_error import OktaAPIError
from okta.models import AppUserAssignRequest, CreateUserRequest, UpdateUserRequest
from pydantic import ValidationError

from provisioning.connectors import (
    okta_groups,
    okta_manager,
    okta_profile,
    okta_sign_in,
    okta_unique,
)
from provisioning.connectors.base import (
    AccessState,
    AccountChanges,
    DeltaExpiredError,
    DirectoryUser,
    IdPage,
    MembershipChanges,
    NewUser,
    ObservedAccount,
    Read,
    Resource,
    ResourceCache,
    checked_addresses,
    classified,
    refuse_other_origins,
    require_allowed,
    same_target_twice,
    ssl_context_for,
)
from provisioning.connectors.errors import (
    AuthenticationError,
    ConflictError,
    ConnectorError,
    NoAnswerError,
    NotFoundError,
    PermanentError,
    PermissionDeniedError,
    ReplicationLagError,
    ThrottledError,
    TransientError,
    most_telling,
)
from provisioning.connectors.okta_links import next_cursor
from provisioning.connectors.sign_in import (
    ACTIVATION_LINK,
    DIRECTORY_EMAIL,
    TEMP_PASSWORD,
    IssuedSignIn,
)
from tenants.endpoints import Endpoint, Service, custom_okta_domains

# Our attribute names -> Okta profile attributes.
ATTRIBUTES = {
    "first_name": "firstName",
    "last_name": "lastName",
    "display_name": "displayName",
    "email": "email",
    "department": "department",
    "job_title": "title",
    "company": "organization",
    "usage_location": "countryCode",
}
INACTIVE = {"SUSPENDED", "DEPROVISIONED", "STAGED", "PROVISIONED"}
# Sign-in allowed, as far as the portal decides: PROVISIONED waits for its person to finish
# activating, PASSWORD_EXPIRED for a new password (a first sign-in leaves users in both);
# "enabling" them again would only restart that, and invalidate the link or password sent.
SIGN_IN_ALLOWED = {"ACTIVE", "PROVISIONED", "PASSWORD_EXPIRED", "RECOVERY", "LOCKED_OUT"}
EPOCH = "1970-01-01T00:00:00.000Z"
ANSWER_TIMEOUT_S = 30.0  # aiohttp's limit on a whole call: connecting, sending, the answer
# Whether the request of the SDK call awaited in this task went out (its headers sent): a
# failure after that (no answer in time, the connection closed before it) may follow a
# request Okta carries out (RFC 9110 §9.2.2), so the step is waited out before it is sent
# again, as Graph's and SCIM's are; one before it is a plain transient failure. The SDK
# hides which it was: it returns the exception, or (a call without a body to read) fails
# on the missing response with an AttributeError.
_SENT: ContextVar[list[bool] | None] = ContextVar("okta_request_sent", default=None)
# Okta's search index is eventually consistent: an incremental read starts this long before the
# newest lastUpdated it saw, so a change indexed late is still found (replays are harmless).
WATERMARK_MARGIN = timedelta(minutes=2)
OWN_PROFILE = {"login", "email", "employeeNumber", "displayName", "firstName", "lastName"}
OWN_PROFILE |= {"userType", "department"}
# Requests one connector has in flight at once (aiohttp waits for a free connection). Okta
# serves 75 of an org at once and answers the next 429 (developer.okta.com rl2-concurrency);
# "Even large bulk loads rarely require more than 10 simultaneous transactions"
# (rl-additional-limits). A leaver's 80 group steps sent at once met the 429.
SIMULTANEOUS = 10


@classified
class OktaConnector:
    kind = "okta"
    # What the engine may ask of this directory; it reads these, never `kind`.
    # Group and app steps go in one `apply_many`: no batch endpoint, but sent all at once.
    batchable = frozenset({"add_group", "remove_group", "assign_app", "unassign_app"})
    supports_licences = False
    disable_modes = ("suspend", "deactivate")  # the first is the default
    soft_deletes = False
    sets_passwords = True  # a leave may reset the password
    revokes_sessions = True  # a leave may end the sign-in sessions
    # Okta keeps a deactivated user's profile: its update is 404 E0000007 (docs/sandbox-okta.md).
    profile_frozen_in = frozenset({"DEPROVISIONED"})
    first_sign_in_methods = (ACTIVATION_LINK, TEMP_PASSWORD, DIRECTORY_EMAIL)  # okta_sign_in.py
    reads_credential_expiry = False  # its expiry is typed into the connection form
    # A create may name the groups the user is created in (`groupIds`, "Create User in
    # Group": "The request may specify up to 20 group ids"): `create_in_groups`.
    creates_in_groups = 20
    compared_attributes = (
        "first_name",
        "last_name",
        "display_name",
        "department",
        "job_title",
        "usage_location",
        "company",
    )
    # The base profile's bounds (okta SDK user_profile.py): a longer name is refused (value_bounds)
    attribute_max_lengths = {"first_name": 50, "last_name": 50}

    def __init__(self, *, org_url: str, token: str):
        self.org_url = org_url.rstrip("/")
        self._token = token
        self._client: Client | None = None
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None  # bound to the loop of its first call
        self._resources = ResourceCache()

    def _okta(self) -> Client:
        if self._client is None:
            org = require_allowed(Service.OKTA_ORG, self.org_url)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    ssl=ssl_context_for(org.url),
                    resolver=_resolver_for(org),
                    limit=SIMULTANEOUS,
                ),
                timeout=aiohttp.ClientTimeout(total=ANSWER_TIMEOUT_S),
                trace_configs=[_sent_trace()],
                # aiohttp follows redirects (re-sending the body); this runs for every hop.
                middlewares=(_same_origin_middleware(org),),
            )
            # The SDK sends every request with its own `ClientTimeout` from `requestTimeout`
            # (none when 0, its default), which replaces the session's: without it a call
            # that gets no answer waits for the bridge's limit, not this one.
            config = {"orgUrl": org.url, "token": self._token, "rateLimit": {"maxRetries": 0}}
            self._client = Client(config | {"requestTimeout": ANSWER_TIMEOUT_S})
            self._client.get_request_executor().set_session(self._session)
        return self._client

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._client = self._session = self._slots = None

    async def _call(self, awaitable):
        """Await an SDK call, at most SIMULTANEOUS at once (a call waits for a slot before
        its request starts, so the wait is outside aiohttp's timeout); return its result or
        raise the classified error."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(SIMULTANEOUS)
        went_out: list[bool] = []
        token = _SENT.set(went_out)
        try:
            async with self._slots:
                answer = await awaitable
        except (aiohttp.ClientError, OSError, TimeoutError, AttributeError) as exc:
            raise self._unanswered(exc, went_out) from None
        finally:
            _SENT.reset(token)
        result, response, error = answer if len(answer) == 3 else (answer[0], None, answer[-1])
        if isinstance(error, aiohttp.ClientError | OSError | TimeoutError):
            raise self._unanswered(error, went_out)  # what the SDK caught, returned
        if error is not None:
            raise _classify(error, response)
        return result, response

    def _unanswered(self, exc: BaseException, went_out: list[bool]) -> TransientError:
        # okta 3.4.6 dereferences the missing response (AttributeError) when the call failed
        why = "no answer." if isinstance(exc, AttributeError) else exc.__class__.__name__
        if went_out:
            return NoAnswerError(f"No answer from {self.org_url}: {why}")
        return TransientError(f"Cannot reach {self.org_url}: {why}")

    # -- the manager (okta_manager.py) -----------------------------------------------------

    async def manager_of(self, user_id: str) -> DirectoryUser | None:
        found = await okta_manager.manager_of(self, user_id)
        return _directory_user(found) if found is not None else None

    async def set_manager(self, user_id: str, manager: DirectoryUser) -> None:
        await okta_manager.set_manager(self, user_id, manager)

    async def direct_reports(self, user_id: str) -> list[DirectoryUser]:
        return [_directory_user(u) for u in await okta_manager.direct_reports(self, user_id)]

    async def people_named(self, name: str) -> list[DirectoryUser]:
        """The accounts a name may mean: its login or id, else equal display name or e-mail."""
        exact = await self.find_user(name) if "@" in name else None
        if exact is not None:
            return [exact]
        return [_directory_user(u) for u in await okta_manager.people_named(self, name)]

    # -- users -----------------------------------------------------------------------------

    async def probe(self) -> None:
        """One cheap authenticated read: list one user."""
        await self._call(self._okta().list_users(limit=1))

    async def admin_roles(self) -> frozenset[str]:
        """The standard admin role types (SUPER_ADMIN, READ_ONLY_ADMIN, ...) of the admin whose
        API token this is: the token acts with exactly their roles."""
        me, _ = await self._call(self._okta().get_user("me"))
        found, _ = await self._call(self._okta().list_assigned_roles_for_user(me.id))
        types = (getattr(r.actual_instance, "type", None) for r in found or [])
        return frozenset(str(getattr(t, "value", t)) for t in types if t is not None)

    async def get_user(self, user_id: str) -> DirectoryUser:
        user, _ = await self._call(self._okta().get_user(user_id))
        return _directory_user(_settled(user))

    async def find_user(self, username: str) -> DirectoryUser | None:
        try:
            return await self.get_user(username)
        except NotFoundError:
            return None

    async def list_usernames(self) -> list[str]:
        """Every login, 200 a page (as Okta lists them: without deprovisioned users), for bulk
        username checks."""
        names: list[str] = []
        after = None
        while True:
            page, response = await self._call(self._okta().list_users(limit=200, after=after))
            names += [u.profile.login for u in page or [] if u.profile and u.profile.login]
            after = next_cursor(response)
            if not after:
                return names

    async def create_user(self, new: NewUser) -> DirectoryUser:
        return await self._create(new, [])

    async def create_in_groups(
        self, new: NewUser, group_ids: list[str]
    ) -> tuple[DirectoryUser, list[str]]:
        """The user, created already in `group_ids`, and the groups it was created in. Okta
        refuses the whole create when one group is unknown (404, a group deleted since the
        plan): the user is then created without them, and the groups are left to their own
        steps, which fail as a lone add to that group does."""
        try:
            return await self._create(new, group_ids), group_ids
        except NotFoundError:
            return await self._create(new, []), []

    async def _create(self, new: NewUser, group_ids: list[str]) -> DirectoryUser:
        profile = _profile(
            {
                "first_name": new.first_name,
                "last_name": new.last_name,
                "display_name": new.display_name,
                "email": new.email,
                **new.attributes,
            }
        )
        profile["login"] = new.username
        # No password: the person sets one through their activation link (okta_sign_in.py).
        credentials = {"credentials": {"password": {"value": new.password}}} if new.password else {}
        groups = {"groupIds": group_ids} if group_ids else {}
        body = _request(CreateUserRequest, {"profile": profile, **credentials, **groups})
        try:
            user, _ = await self._call(self._okta().create_user(body, activate=new.enabled))
        except PermanentError as exc:
            if "already exists" in exc.message:
                existing = await self._login_holder(new.username)
                raise ConflictError(exc.message, existing=existing, status=400) from None
            raise
        return _directory_user(user)

    async def _login_holder(self, login: str) -> DirectoryUser | None:
        """Who holds `login`: that login, else one equal to it but for case and diacritics,
        which Okta refuses as taken too (okta_unique.py)."""
        found = await self.find_user(login)
        if found is None and (twin := await okta_unique.twin_of(self, login)) is not None:
            found = _directory_user(_settled(twin))
        return found

    async def update_user(self, user_id: str, attributes: dict) -> None:
        """`None` clears an attribute: a null in the partial update (okta_profile.py)."""
        profile = _profile(attributes)
        cleared = {
            ATTRIBUTES[k]: None for k, v in attributes.items() if v is None and k in ATTRIBUTES
        }
        if profile or cleared:
            request = _request(UpdateUserRequest, {"profile": profile})  # checks the values
            if cleared:
                await self._call(okta_profile.update(self._okta(), user_id, profile | cleared))
            else:
                await self._call(self._okta().update_user(user_id, request))
        if attributes.get("enabled") is False:
            await self.disable_user(user_id)

    async def disable_user(self, user_id: str, mode: str = "suspend") -> None:
        """Suspend (keeps app assignments) or deactivate (drops them); done if already so."""
        user = await self.get_user(user_id)
        status = user.attributes.get("status")
        if mode == "deactivate" and status != "DEPROVISIONED":
            await self._call(self._okta().deactivate_user(user_id))
        elif mode == "suspend" and status == "ACTIVE":
            await self._call(self._okta().suspend_user(user_id))
        elif mode == "suspend" and status in SIGN_IN_ALLOWED:
            raise PermanentError(
                f"Okta suspends only ACTIVE users and this one is {status}: deactivate instead."
            )

    async def enable_user(self, user_id: str) -> None:
        """Sign-in allowed again from whatever stopped it: unsuspend, or activate (STAGED and
        DEPROVISIONED only: Okta answers E0000016 for any other status). An activation under
        way is waited out by the reads (ReplicationLagError while transitioningToStatus). A
        PROVISIONED or RECOVERY user is allowed already and waits for its person: Okta's
        call for them is reactivate (okta_sign_in.py), which would void the link they hold."""
        status = (await self.get_user(user_id)).attributes.get("status")
        if status == "SUSPENDED":
            await self._call(self._okta().unsuspend_user(user_id))
        elif status in ("STAGED", "DEPROVISIONED"):
            await self._call(self._okta().activate_user(user_id, send_email=False))

    async def delete_user(self, user_id: str) -> None:
        """Okta deletes only deactivated users: deactivate first, then delete."""
        try:
            await self.disable_user(user_id, mode="deactivate")
            await self._call(self._okta().delete_user(user_id))
        except NotFoundError:
            return

    async def reset_password(self, user_id: str, password: str) -> None:
        """An admin-set password nobody knows (the old one stops working)."""
        request = UpdateUserRequest.from_dict({"credentials": {"password": {"value": password}}})
        await self._call(self._okta().update_user(user_id, request))

    async def revoke_sessions(self, user_id: str) -> None:
        await self._call(self._okta().revoke_user_sessions(user_id))

    async def issue_first_sign_in(self, user_id: str, method: str, options: dict) -> IssuedSignIn:
        """An activation link, Okta's own activation e-mail or a temporary password."""
        return await okta_sign_in.issue(self, user_id, method)

    # -- inventory -------------------------------------------------------------------------

    async def users_changes(self, cursor: str) -> AccountChanges:
        """A page of the users updated since the cursor's watermark (`filter=lastUpdated gt`,
        which also lists deprovisioned users), 200 a page through `after`; "" reads all.
        Okta does not list deleted users: a full read finds them gone."""
        state = _okta_cursor(cursor)
        expression = f'lastUpdated gt "{state["since"]}"'
        page, response = await self._call(
            self._okta().list_users(filter=expression, limit=200, after=state.get("after"))
        )
        accounts = [_observed(user) for user in page or []]
        state["newest"] = max([state.get("newest", EPOCH)] + [_updated(u) for u in page or []])
        after = next_cursor(response)
        if after:
            more = {"since": state["since"], "after": after, "newest": state["newest"]}
            return AccountChanges(accounts, [], json.dumps(more), True)
        return AccountChanges(accounts, [], _watermark(state), False)

    async def group_changes(self, cursor: str) -> MembershipChanges:
        """Groups whose membership changed since the cursor's watermark (`filter=
        lastMembershipUpdated gt`; every group in a full read), then each one's members, a
        call per page: Okta has no membership delta, so a changed group is read whole.
        Built-in groups (Everyone) are left out: nobody is assigned to them."""
        state = _okta_cursor(cursor)
        state.setdefault("queue", [])
        state.setdefault("full", not cursor)
        if not state["queue"] and not state.get("listed"):
            return await self._changed_groups(state)
        if not state["queue"]:
            return MembershipChanges({}, {}, [], _watermark(state), False)
        group_id = state["queue"][0]
        users, response = await self._call(
            self._okta().list_group_users(group_id, after=state.get("members_after"), limit=1000)
        )
        after = next_cursor(response)
        complete: frozenset[str] = frozenset()
        if after:
            state["members_after"] = after
        else:
            state.pop("members_after", None)
            state["queue"] = state["queue"][1:]
            complete = frozenset({group_id})
        added = {group_id: {u.id for u in users or []}}
        if not state["queue"] and state.get("listed"):
            return MembershipChanges(added, {}, [], _watermark(state), False, complete)
        return MembershipChanges(added, {}, [], json.dumps(state), True, complete)

    async def _changed_groups(self, state: dict) -> MembershipChanges:
        expression = None if state["full"] else f'lastMembershipUpdated gt "{state["since"]}"'
        page, response = await self._call(
            self._okta().list_groups(filter=expression, limit=200, after=state.get("after"))
        )
        groups = [g for g in page or [] if _group_type(g) != "BUILT_IN"]
        moments = [_iso(g.last_membership_updated) for g in groups if g.last_membership_updated]
        state["newest"] = max([state.get("newest", EPOCH), *moments])
        state["queue"] += [g.id for g in groups]
        after = next_cursor(response)
        state["after"] = after
        state["listed"] = not after
        return MembershipChanges({g.id: set() for g in groups}, {}, [], json.dumps(state), True)

    async def app_users(self, app_id: str, cursor: str) -> IdPage:
        """A page of the users assigned to an app, 500 a page."""
        page, response = await self._call(
            self._okta().list_application_users(app_id, after=cursor or None, limit=500)
        )
        after = next_cursor(response)
        return IdPage([u.id for u in page or []], after or "", bool(after))

    # -- access ----------------------------------------------------------------------------

    async def access_of(self, user_id: str) -> AccessState:
        """Every group (all pages) and every app link (one list: Okta does not page it)."""
        groups, built_in = await okta_groups.group_ids_of(self, user_id)
        return AccessState(
            groups=groups, built_in_groups=built_in, apps=await self._linked_apps(user_id)
        )

    async def _linked_apps(self, user_id: str) -> frozenset[str]:
        """The app instances of the user's app links, read as JSON (okta_groups.json_page)."""
        okta = self._okta()
        serialized = okta._list_app_links_serialize(
            id=user_id, _request_auth=None, _content_type=None, _headers=None, _host_index=0
        )
        links, _ = await self._call(okta_groups.json_page(okta, serialized))
        return frozenset(okta_groups.field_of(link, "appInstanceId") for link in links or [])

    def read_cost(self, reads: list[Read]) -> int:
        """Requests the reads send: three for the account and its access (`read_state`), one
        for any other."""
        return sum(3 if read[0] == "read_state" else 1 for read in reads)

    async def read_ahead(self, reads: list[Read]) -> dict[Read, object]:
        """The reads at once (Okta has no batch: each its own request, one round trip in time
        together). What trying again may cure, or the account's own read failing, raises for
        them all; another failure is that read's answer (raised if the plan asks for it)."""
        answers = await asyncio.gather(
            *(getattr(self, read[0])(*read[1:]) for read in reads), return_exceptions=True
        )
        fatal = [
            answer
            for read, answer in zip(reads, answers, strict=True)
            if isinstance(answer, BaseException)
            and (read[0] == "read_state" or not isinstance(answer, PermanentError | NotFoundError))
        ]
        failure = most_telling(fatal)
        if failure is not None:
            raise failure
        return dict(zip(reads, answers, strict=True))

    async def read_state(self, user_id: str) -> tuple[DirectoryUser, AccessState]:
        """The user, its groups and its app links: three requests at once, one round trip in
        time (Okta has no batch); a user in more than 200 groups costs a request per further
        page of them, as in `access_of`."""
        okta = self._okta()
        answers = await asyncio.gather(
            self._call(okta.get_user(user_id)),
            okta_groups.group_ids_of(self, user_id),
            self._linked_apps(user_id),
            return_exceptions=True,
        )
        failure = most_telling(answers)
        if failure is not None:
            raise failure
        (user, _), (groups, built_in), apps = answers
        access = AccessState(groups=groups, built_in_groups=built_in, apps=apps)
        return _directory_user(_settled(user)), access

    async def groups(self, fresh: bool = False) -> list[Resource]:
        """Every group, flagged "builtin" (Everyone) or "imported" (okta_groups.py)."""

        async def read() -> list[Resource]:
            labels = {app.id: app.name for app in await self.apps(fresh)}
            groups = await okta_groups.every_item(self, _groups_page)
            return [okta_groups.group_of(group, labels) for group in groups]

        return await self._resources.get("groups", read, fresh, ttl=300.0)

    async def apps(self, fresh: bool = False) -> list[Resource]:
        """Every app (all pages): its id and label, read as JSON (okta_groups.json_page)."""

        async def read() -> list[Resource]:
            apps = await okta_groups.every_item(self, _apps_page)
            field, text = okta_groups.field_of, okta_groups.text_of
            return [Resource(field(app, "id"), text(app, "label")) for app in apps]

        return await self._resources.get("apps", read, fresh, ttl=300.0)

    async def groups_granting(self, app_ids: list[str]) -> dict[str, frozenset[str]]:
        """Which groups grant each app (an app assigned to a group): its members hold it
        through the group, and Okta refuses to unassign it from them (E0000046)."""
        return await okta_groups.groups_granting(self, app_ids)

    async def licenses(self, fresh: bool = False) -> list[Resource]:
        return []  # Okta has no licence SKUs

    async def set_licenses(self, user_id: str, add: list[str], remove: list[str]) -> None:
        if add or remove:
            raise PermanentError("Okta has no licences to assign; remove them from the plan.")

    async def apply_many(self, user_id: str, ops: list[tuple[str, dict]]) -> list:
        """Group and app steps for one user, per step None or its error. Okta has no batch
        endpoint: the requests go at once on the loop (one bridge call, one round trip of
        time), each with its own outcome, so one refused add fails that step only. Steps
        that touch the same group or app twice go one after the other, in the order given."""
        if same_target_twice([params for _, params in ops]):
            return [await self._one(user_id, action, params) for action, params in ops]
        return list(await asyncio.gather(*(self._one(user_id, *op) for op in ops)))

    async def _one(self, user_id: str, action: str, params: dict) -> ConnectorError | None:
        send = {
            "add_group": lambda: self.add_to_group(user_id, params["group_id"]),
            "remove_group": lambda: self.remove_from_group(user_id, params["group_id"]),
            "assign_app": lambda: self.assign_app(user_id, params["app_id"]),
            "unassign_app": lambda: self.unassign_app(user_id, params["app_id"]),
        }[action]
        try:
            await send()
        except ConnectorError as exc:
            return exc
        return None

    async def add_to_group(self, user_id: str, group_id: str) -> None:
        try:
            await self._call(self._okta().assign_user_to_group(group_id, user_id))
        except NotFoundError as exc:
            # E0000007 "Not found: Resource not found: <id> (UserGroup)" for the group, "(User)"
            # for the user (okta/samples-js-react#60)
            exc.group_gone = exc.message.endswith(f"{group_id} (UserGroup)")
            raise

    async def remove_from_group(self, user_id: str, group_id: str) -> None:
        try:
            await self._call(self._okta().unassign_user_from_group(group_id, user_id))
        except NotFoundError:
            return

    async def assign_app(self, user_id: str, app_id: str) -> None:
        request = AppUserAssignRequest.from_dict({"id": user_id, "scope": "USER"})
        try:
            await self._call(self._okta().assign_user_to_application(app_id, request))
        except PermanentError:
            # Okta refuses apps to a deactivated user, also while it activates them again
            # (transitioningToStatus): then get_user raises ReplicationLagError, to retry.
            await self.get_user(user_id)
            raise

    async def unassign_app(self, user_id: str, app_id: str) -> None:
        try:
            await self._call(self._okta().unassign_user_from_application(app_id, user_id))
        except NotFoundError:
            return


def _request(model, body: dict):
    """The SDK's request model of `body`. The SDK checks Okta's base profile bounds itself
    (lastName at most 50 characters, countryCode 2, ...) and refuses to build the request:
    the person's data does not fit Okta, so a permanent error naming the field; nothing sent."""
    try:
        return model.from_dict(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'] if part != 'profile')}: {error['msg']}"
            for error in exc.errors()
        )
        raise PermanentError(
            f"Okta does not take this profile ({problems}). Nothing was sent."
        ) from None


def _profile(attributes: dict) -> dict:
    return {ATTRIBUTES[k]: v for k, v in attributes.items() if k in ATTRIBUTES and v is not None}


def _directory_user(user) -> DirectoryUser:
    profile = user.profile.to_dict() if user.profile else {}
    attributes = {ours: profile.get(theirs) for ours, theirs in ATTRIBUTES.items()}
    status = user.status.value if hasattr(user.status, "value") else str(user.status)
    attributes = {k: v for k, v in attributes.items() if v is not None} | {"status": status}
    return DirectoryUser(
        id=user.id,
        username=profile.get("login", ""),
        enabled=status in SIGN_IN_ALLOWED,
        attributes=attributes,
    )


def _okta_cursor(cursor: str) -> dict:
    if not cursor:
        return {"since": EPOCH}
    try:
        state = json.loads(cursor)
        datetime.fromisoformat(state["since"].replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DeltaExpiredError("The stored Okta cursor cannot be read.") from None
    return state


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return str(value)


def _updated(user) -> str:
    return _iso(user.last_updated) or EPOCH


def _watermark(state: dict) -> str:
    """The cursor of the next incremental read: the margin before the newest change seen,
    never earlier than this read's own start."""
    since, newest = state["since"], state.get("newest", EPOCH)
    if newest > EPOCH:
        moment = datetime.fromisoformat(newest.replace("Z", "+00:00")) - WATERMARK_MARGIN
        since = max(since, _iso(moment))
    return json.dumps({"since": since})


def _observed(user) -> ObservedAccount:
    profile = user.profile.to_dict() if user.profile else {}
    status = user.status.value if hasattr(user.status, "value") else str(user.status)
    return ObservedAccount(
        id=user.id,
        username=profile.get("login") or "",
        # as the engine reads it (_directory_user): PASSWORD_EXPIRED, LOCKED_OUT and the
        # rest still sign in, so an inventory read must not show them as disabled
        enabled=status in SIGN_IN_ALLOWED,
        mail=profile.get("email") or "",
        employee_id=profile.get("employeeNumber") or "",
        display_name=profile.get("displayName") or "",
        first_name=profile.get("firstName") or "",
        last_name=profile.get("lastName") or "",
        user_type=profile.get("userType") or "",
        department=profile.get("department") or "",
        attributes={k: v for k, v in profile.items() if k not in OWN_PROFILE and v is not None}
        | {"status": status},
        last_sign_in=_iso(user.last_login),
    )


def _groups_page(okta: Client, after: str | None) -> tuple:
    """The request of `okta.list_groups(limit=200, after=after)`, serialized by the SDK."""
    return okta._list_groups_serialize(
        search=None,
        filter=None,
        q=None,
        after=after,
        limit=200,
        expand=None,
        sort_by=None,
        sort_order=None,
        _request_auth=None,
        _content_type=None,
        _headers=None,
        _host_index=0,
    )


def _apps_page(okta: Client, after: str | None) -> tuple:
    """The request of `okta.list_applications(limit=200, after=after)`, serialized by the SDK."""
    return okta._list_applications_serialize(
        q=None,
        after=after,
        use_optimization=None,
        always_include_vpn_settings=None,
        limit=200,
        filter=None,
        expand=None,
        include_non_deleted=None,
        _request_auth=None,
        _content_type=None,
        _headers=None,
        _host_index=0,
    )


def _group_type(group) -> str:
    return str(getattr(group.type, "value", group.type) or "")


def _settled(user):
    """The user, unless Okta is still moving them to another status (an activation, say):
    what the read shows then is neither the old state nor the new, so it is read again."""
    transition = getattr(user, "transitioning_to_status", None)
    if transition:
        raise ReplicationLagError(
            f"Okta is still moving {user.id} to {transition} (transitioningToStatus): "
            "reading again shortly."
        )
    return user


def _resolver_for(org: Endpoint) -> AbstractResolver | None:
    """A custom domain's name is the MSP's to point anywhere (inside its own network too), so
    its addresses are checked and pinned; Okta's own domains keep aiohttp's resolver."""
    return _CheckedResolver() if org.host in custom_okta_domains() else None


class _CheckedResolver(AbstractResolver):
    """What a name resolves to now, once every address is public (base.checked_addresses;
    EndpointRefusedError otherwise, the sandbox's origin excepted). aiohttp connects to these
    in order, the next when one takes no connection, never to the name looked up again."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await checked_addresses(f"https://{host}:{port}")
        if not addresses:
            raise OSError(f"{host} does not resolve.")
        numeric = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=numeric,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        pass


def _same_origin_middleware(org: Endpoint):
    async def middleware(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        refuse_other_origins(org, str(request.url))
        return await handler(request)

    return middleware


async def _headers_sent(session, context, params) -> None:
    went_out = _SENT.get()
    if went_out is not None:
        went_out.append(True)


def _sent_trace() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_headers_sent)
    return trace


def _classify(error, response) -> ConnectorError:
    if not isinstance(error, OktaAPIError):
        status = getattr(error, "status", None)
        if status is None:
            return TransientError(f"The Okta org did not answer properly: {str(error)[:300]}")
        error_code, summary, causes, headers = "", str(error)[:300], [], {}
    else:
        status, error_code = error.status, error.error_code
        summary = error.error_summary
        causes = [c.get("errorSummary", "") for c in error.error_causes or []]
        headers = error.headers or {}
    message = summary + (f" ({'; '.join(causes)})" if causes else "")
    kwargs = {"status": status, "request_id": getattr(error, "error_id", "")}
    if status == 429:
        return ThrottledError(message, retry_after=_reset_in(headers), **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status == 401 or error_code == "E0000011":
        return AuthenticationError(message, **kwargs)
    if status == 403 and error_code == "E0000006":
        return PermissionDeniedError(message, **kwargs)
    if error_code == "E0000046":
        return PermanentError(
            f"{message}: the user holds the app through a group; it goes with the group",
            **kwargs,
        )
    if status is not None and status >= 500:
        return TransientError(message, **kwargs)
    return PermanentError(message, **kwargs)


def _reset_in(headers) -> float | None:
    """Seconds until X-Rate-Limit-Reset, measured against the server's Date header."""
    try:
        reset = float(headers.get("X-Rate-Limit-Reset"))
    except (TypeError, ValueError):
        return None
    try:
        now = parsedate_to_datetime(headers.get("Date")).timestamp()
    except (TypeError, ValueError):
        now = time.time()
    return max(1.0, reset - now)
