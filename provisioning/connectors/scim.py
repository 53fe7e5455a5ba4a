"""A SCIM 2.0 app (RFC 7643/7644) through scim2-client and scim2-models.

One `AsyncSCIMClient` per connection over an httpx2 client that trusts the sandbox's CA for
exactly the sandbox's origin, refuses every request to another origin (an event hook) and
connects only to addresses that were checked, the next one when one takes no connection (a
transport).
It signs in with a bearer token, or with OAuth 2.0 client credentials (RFC 6749 §4.4) at the
connection's token URL, the one other address it may call (client_credentials.py).
What the app supports is read from /ServiceProviderConfig, /ResourceTypes and /Schemas once
(or taken from what Test connection stored), then narrowed by the vendor profile: some apps
take no PATCH on groups (the whole group is replaced with PUT), filter on `userName` only,
cap a page at 100 or have no groups at all.

Errors are classified here, once, by RFC 7644 §3.12: 409 `uniqueness` a conflict, 429 and
503 worth retrying after `Retry-After`, 404 not found, 401 and 403 refused credentials, any
other 4xx (400 `invalidValue`, `mutability`, ...) permanent with the app's own `detail`.
A success whose body is no SCIM message (not JSON, not the resource asked for, or no body
where one is due: RFC 7644 §3.1, §3.3, §3.4.1, §3.5.1) is UnreadableAnswerError (permanent
after one more try), named with the app and the answer's content type and size.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx2
from pydantic import ValidationError
from scim2_client import (
    RequestNetworkException,
    SCIMClientException,
    SCIMResponseException,
    UnexpectedStatusCodeException,
)
from scim2_client.engines.httpx2 import AsyncSCIMClient
from scim2_models import (
    Context,
    EnterpriseUser,
    Group,
    GroupMember,
    ListResponse,
    PatchOp,
    PatchOperation,
    ResourceType,
    Schema,
    SCIMException,
    ScimProvider,
    ServiceProviderConfig,
    User,
)

from portal.parametrized import kept
from provisioning.connectors.base import (
    AccessState,
    AccountChanges,
    DirectoryUser,
    NewUser,
    ObservedAccount,
    Resource,
    ResourceCache,
    checked_addresses,
    classified,
    connect_attempts,
    refuse_other_origins,
    request_origin,
    require_allowed,
    ssl_context_for,
    unreachable,
)
from provisioning.connectors.client_credentials import ClientCredentials
from provisioning.connectors.errors import (
    USERNAME,
    AuthenticationError,
    ConflictError,
    ConnectorError,
    NoAnswerError,
    NotFoundError,
    PermanentError,
    PermissionDeniedError,
    ThrottledError,
    TransientError,
    UnreadableAnswerError,
)
from tenants.endpoints import Endpoint, Service

TIMEOUT_S = 30.0
# Transport failures before the request left: the app cannot have it.
NOT_SENT = (
    httpx2.ConnectError,
    httpx2.ConnectTimeout,
    httpx2.PoolTimeout,
    httpx2.ProxyError,
    httpx2.UnsupportedProtocol,
)
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# Our attribute names -> the SCIM attribute that holds them (a PATCH path). The enterprise
# ones only where the app's /Schemas declares the extension.
ATTRIBUTES = {
    "first_name": "name.givenName",
    "last_name": "name.familyName",
    "display_name": "displayName",
    "email": 'emails[type eq "work"].value',
    "job_title": "title",
    "department": f"{ENTERPRISE}:department",
    "company": f"{ENTERPRISE}:organization",
    "employee_id": f"{ENTERPRISE}:employeeNumber",
}
CORE_COMPARED = ("first_name", "last_name", "display_name", "job_title")
ENTERPRISE_COMPARED = ("department", "company", "employee_id")
PAGE_SIZE = 100  # what we ask for; an app may answer fewer (RFC 7644 §3.4.2.4)


class NoTargetError(PermanentError):
    """400 `noTarget`: a PATCH path's filter matched nothing (RFC 7644 §3.5.2), e.g. removing
    a member the group does not have."""


@dataclass(frozen=True)
class Discovery:
    """What the app declares (and its vendor profile allows), as Test connection shows it."""

    patch: bool = False
    group_patch: bool = False
    filter: bool = False
    max_results: int = 0
    bulk: bool = False
    groups: bool = False
    enterprise: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Discovery | None:
        if not data:
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def declared(config: ServiceProviderConfig, types: list, schemas: list) -> Discovery:
    """What /ServiceProviderConfig, /ResourceTypes and /Schemas say the app supports; the
    enterprise extension only where /Schemas has it and the User resource type names it."""
    user_type = next((t for t in types if t.name == "User"), None)
    extensions = (
        {str(e.schema_) for e in (user_type.schema_extensions or [])} if user_type else set()
    )
    return Discovery(
        patch=bool(config.patch and config.patch.supported),
        filter=bool(config.filter and config.filter.supported),
        max_results=int((config.filter.max_results if config.filter else 0) or 0),
        bulk=bool(config.bulk and config.bulk.supported),
        groups=any(t.name == "Group" for t in types),
        enterprise=ENTERPRISE in {s.id for s in schemas} and ENTERPRISE in extensions,
    )


def apply_profile(found: Discovery, profile: str) -> Discovery:
    """A vendor profile narrows what the app declares: Slack-like apps refuse PATCH on groups;
    Zoom-like apps have no groups and at most 100 a page."""
    changes: dict = {"group_patch": found.patch and found.groups}
    if profile == "slack":
        changes["group_patch"] = False
    if profile == "zoom":
        changes |= {"groups": False, "group_patch": False}
        changes["max_results"] = min(found.max_results or 100, 100)
    return Discovery(**{**found.as_dict(), **changes})


@classified
class ScimConnector:
    kind = "scim"
    # What the engine may ask of this app; it reads these, never `kind`.
    batchable: frozenset[str] = frozenset()
    supports_licences = False
    disable_modes: tuple[str, ...] = ()
    soft_deletes = False
    profile_frozen_in: frozenset[str] = frozenset()
    sets_passwords = False  # the person signs in through their identity provider (SSO)
    revokes_sessions = False  # SCIM has no sessions to end: `active: false` signs them out
    first_sign_in_methods: tuple[str, ...] = ()
    reads_credential_expiry = False  # its expiry is typed into the connection form
    compared_attributes = CORE_COMPARED + ENTERPRISE_COMPARED  # narrowed per app below

    def __init__(
        self,
        *,
        base_url: str,
        secret: str,
        auth: str = "bearer",
        token_url: str = "",
        client_id: str = "",
        profile: str = "generic",
        discovered: dict | None = None,
        name: str = "",
    ):
        self.base_url = base_url.rstrip("/")
        # What its errors call the app: the connection's label, else the app's host.
        self.name = name or f"The SCIM app at {urlsplit(self.base_url).netloc}"
        self._secret, self._auth, self._client_id = secret, auth, client_id
        self._token_url, self._profile = token_url, profile
        self._http: httpx2.AsyncClient | None = None
        self._scim: AsyncSCIMClient | None = None
        self._discovery = Discovery.from_dict(discovered)
        if self._discovery is not None:
            self._discovery = apply_profile(self._discovery, profile)
            self._narrow(self._discovery)
        self._resources = ResourceCache()

    # -- the HTTP seam ---------------------------------------------------------------------

    def _client(self) -> httpx2.AsyncClient:
        if self._http is None:
            base = require_allowed(Service.SCIM_APP, self.base_url)
            auth, token = None, None
            if self._auth == "oauth":
                token = require_allowed(Service.SCIM_APP, self._token_url)
                auth = ClientCredentials(token.url, self._client_id, self._secret)
            self._http = httpx2.AsyncClient(
                base_url=base.url + "/",
                transport=_Pinned(verify=ssl_context_for(base.url)),
                timeout=TIMEOUT_S,
                follow_redirects=False,
                trust_env=False,
                headers={"Accept": "application/scim+json"},
                auth=auth,
                event_hooks={"request": [_only_to([base], token)]},
            )
        return self._http

    async def _app(self) -> AsyncSCIMClient:
        """The SCIM client, signed in and knowing what the app supports."""
        http = self._client()
        await self._sign_in(http)
        if self._scim is None:
            if self._discovery is None:
                await self.discover()
            self._scim = AsyncSCIMClient(
                http,
                provider=_provider(self._discovery),
                check_request_payload=True,
                check_response_payload=True,
                raise_scim_errors=True,
            )
        return self._scim

    async def _sign_in(self, http: httpx2.AsyncClient) -> None:
        """A bearer token goes in every request; OAuth's token is the auth flow's to get,
        renew and send (client_credentials.py)."""
        if self._auth != "oauth":
            http.headers["Authorization"] = f"Bearer {self._secret}"

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._http = self._scim = None

    async def _call(self, awaitable, *, answered: bool = False):
        """`answered`: the call's success carries the resource (a read, a create, a PUT),
        so a success without one is a garbled answer."""
        try:
            result = await awaitable
        except SCIMException as exc:
            raise _from_scim_error(exc) from None
        except RequestNetworkException as exc:
            cause = exc.__cause__
            reason = str(cause or "") or str(exc)  # httpx2's, e.g. which addresses
            if isinstance(cause, httpx2.TransportError) and not isinstance(cause, NOT_SENT):
                # Sent, and no answer read (a read timeout, a connection closed): the app may
                # still carry it out, so it is waited out before it is sent again.
                reason = reason or type(cause).__name__
                raise NoAnswerError(f"No answer from {self.base_url}: {reason}") from None
            raise TransientError(f"Cannot reach {self.base_url}: {reason}") from None
        except UnexpectedStatusCodeException as exc:
            raise _from_status(exc) from None
        except SCIMResponseException as exc:
            response = getattr(exc, "source", None)
            status = getattr(response, "status_code", 0) or 0
            if not 200 <= status < 300:  # a failure in the wrong shape is still a failure
                headers = getattr(response, "headers", None) or {}
                raise _classified(status or 400, "", exc.message, headers) from None
            raise self._garbled(response, exc.message) from None
        except SCIMClientException as exc:
            raise PermanentError(f"The app's answer is not valid SCIM: {exc.message}") from None
        if answered and result is None:
            raise self._garbled(None, "the resource the call asked for is missing")
        return result

    def _garbled(self, response, reason: str) -> UnreadableAnswerError:
        """A success that is no SCIM message, told by its content type and size only (its
        body may hold anything, a person's data or the proxy's own secrets)."""
        if response is None:  # scim2-client gives None for a success with no body
            status, answer = None, "no body, 0 bytes"
        else:
            status = response.status_code
            kind = (response.headers.get("content-type") or "no content type").strip()[:80]
            answer = f"{kind}, {len(response.content)} bytes"
        return UnreadableAnswerError(
            f"{self.name} answered{f' {status}' if status else ''} with something that is not "
            f"SCIM ({answer}): {reason}. Another try will not mend it: check the app (or what "
            "stands in front of it), then retry the job.",
            status=status,
        )

    # -- discovery -------------------------------------------------------------------------

    async def discover(self) -> Discovery:
        """/ServiceProviderConfig, /ResourceTypes and /Schemas, read now, with the vendor
        profile applied."""
        http = self._client()
        await self._sign_in(http)
        reader = AsyncSCIMClient(http, raise_scim_errors=True)
        config = await self._call(reader.query(ServiceProviderConfig), answered=True)
        types = await self._call(reader.query(ResourceType), answered=True)
        schemas = await self._call(reader.query(Schema), answered=True)
        found = declared(config, types.resources or [], schemas.resources or [])
        self._discovery = apply_profile(found, self._profile)
        self._narrow(self._discovery)
        self._scim = None  # rebuilt with the models the app serves
        return self._discovery

    @property
    def discovered(self) -> Discovery | None:
        """What the app declared, as far as it was read (None: not yet)."""
        return self._discovery

    def _narrow(self, found: Discovery) -> None:
        self.compared_attributes = CORE_COMPARED + (ENTERPRISE_COMPARED if found.enterprise else ())

    @property
    def _page_size(self) -> int:
        most = self._discovery.max_results if self._discovery else 0
        return min(most or PAGE_SIZE, PAGE_SIZE)

    # -- users -----------------------------------------------------------------------------

    async def probe(self) -> None:
        """One cheap authenticated read: the app's /ServiceProviderConfig."""
        http = self._client()
        await self._sign_in(http)
        await self._call(AsyncSCIMClient(http).query(ServiceProviderConfig), answered=True)

    async def _user(self, user_id: str):
        app = await self._app()
        return await self._call(app.query(self._user_model(app), user_id), answered=True)

    def _user_model(self, app: AsyncSCIMClient):
        return app.get_resource_model("User")

    async def get_user(self, user_id: str) -> DirectoryUser:
        return _directory_user(await self._user(user_id))

    async def find_user(self, username: str) -> DirectoryUser | None:
        """By a `userName eq` filter; by reading every page where the app cannot filter."""
        if self._discovery is None:
            await self._app()
        if self._discovery.filter:
            page = await self._search(f"userName eq {_quoted(username)}", 1, 2)
            found = page.resources or []
            return _directory_user(found[0]) if found else None
        key = username.casefold()
        async for user in self._all_users():
            if (user.user_name or "").casefold() == key:
                return _directory_user(user)
        return None

    async def _search(self, expression: str | None, start: int, count: int) -> ListResponse:
        app = await self._app()
        query = {"startIndex": start, "count": count}
        if expression:
            query["filter"] = expression
        model = self._user_model(app)
        return await self._call(app.query(model, query_parameters=query), answered=True)

    async def _all_users(self, first: ListResponse | None = None):
        """Every user, page after page; `first`: the first page, when already read."""
        start, page = 1, first
        while True:
            if page is None:
                page = await self._search(None, start, self._page_size)
            users = page.resources or []
            for user in users:
                yield user
            start += len(users)
            if not users or start > (page.total_results or 0):
                return
            page = None

    async def find_users(
        self, usernames: list[str]
    ) -> dict[str, tuple[DirectoryUser, AccessState] | None] | None:
        """`find_user` and `access_of` for many usernames at once: each username -> the user
        and what they hold, or None where the app has no such user; from one paged read of
        /Users (and one of /Groups if a found user's groups are left out of it). None when
        that read costs more requests than a `find_user` per username: the caller asks those.
        userName is compared casefolded, as the app's filter does (RFC 7643 §4.1.1: caseExact
        false)."""
        if self._discovery is None:
            await self._app()
        names = {name.casefold() for name in usernames}
        filtered = self._discovery.filter  # else each find_user reads every page itself
        if filtered and len(names) < 2:
            return None  # one lookup, one request: no listing is cheaper
        first = await self._search(None, 1, self._page_size)
        # The first page is spent: the other pages are worth reading if fewer than the lookups.
        if filtered and _pages(first) - 1 >= len(names):
            return None
        found: dict = {}
        async for user in self._all_users(first):
            key = (user.user_name or "").casefold()
            if key in names:
                found.setdefault(key, user)  # the first, as find_user's own read takes it
        groups = None
        if self._discovery.groups and any(u.groups is None for u in found.values()):
            groups = await self._all_groups()
        held = {k: (_directory_user(u), await self._access(u, groups)) for k, u in found.items()}
        return {name: held.get(name.casefold()) for name in usernames}

    async def list_usernames(self) -> list[str]:
        return [user.user_name async for user in self._all_users() if user.user_name]

    async def create_user(self, new: NewUser) -> DirectoryUser:
        app = await self._app()
        values = {
            "first_name": new.first_name,
            "last_name": new.last_name,
            "display_name": new.display_name,
            "email": new.email,
            **new.attributes,
        }
        document = {"userName": new.username, "active": new.enabled}
        if new.attributes.get("external_id"):
            document["externalId"] = str(new.attributes["external_id"])
        for ours, value in values.items():
            if value not in (None, "") and self._holds(ours):
                _put(document, ATTRIBUTES[ours], value)
        model = self._user_model(app)
        user = _ours(model, document, Context.RESOURCE_CREATION_REQUEST)
        try:
            created = await self._call(app.create(user), answered=True)
        except ConflictError as exc:
            existing = await self.find_user(new.username)
            raise ConflictError(
                exc.message, existing=existing, field=USERNAME, status=409
            ) from None
        return _directory_user(created)

    def _holds(self, ours: str) -> bool:
        path = ATTRIBUTES.get(ours, "")
        if not path:
            return False
        return not path.startswith(ENTERPRISE) or bool(
            self._discovery and self._discovery.enterprise
        )

    async def update_user(self, user_id: str, attributes: dict) -> None:
        """`None` clears an attribute: a PATCH "remove" of its path (RFC 7644 §3.5.2.2)."""
        changes = {ATTRIBUTES[k]: v for k, v in attributes.items() if self._holds(k)}
        if "enabled" in attributes:
            changes["active"] = bool(attributes["enabled"])
        if changes:
            await self._change_user(user_id, changes)

    async def _change_user(self, user_id: str, changes: dict) -> None:
        """PATCH (replace, or remove for `None`) where the app takes it; else read the user
        and PUT it whole, without the attributes cleared."""
        app = await self._app()
        model = self._user_model(app)
        if self._discovery.patch:
            operations = [
                _replace(model, path, value)
                if value is not None
                else PatchOperation[model](op="remove", path=path)
                for path, value in changes.items()
            ]
            await self._call(
                app.modify(model, user_id, kept(PatchOp, model)(operations=operations))
            )
            return
        current = await self._call(app.query(model, user_id), answered=True)
        document = current.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
        for path, value in changes.items():
            _put(document, path, value)
        document["id"] = user_id
        replacement = _ours(model, document, Context.RESOURCE_REPLACEMENT_REQUEST)
        replacement.id = user_id
        await self._call(app.replace(replacement))

    async def disable_user(self, user_id: str) -> None:
        await self._change_user(user_id, {"active": False})

    async def enable_user(self, user_id: str) -> None:
        await self._change_user(user_id, {"active": True})

    async def delete_user(self, user_id: str) -> None:
        app = await self._app()
        try:
            await self._call(app.delete(self._user_model(app), user_id))
        except NotFoundError:
            return

    async def reset_password(self, user_id: str, password: str) -> None:
        raise PermanentError("A SCIM app holds no password the portal manages.")

    async def revoke_sessions(self, user_id: str) -> None:
        raise PermanentError("A SCIM app has no sessions the portal can end.")

    # -- access ----------------------------------------------------------------------------

    async def read_state(self, user_id: str) -> tuple[DirectoryUser, AccessState]:
        """The user, and its groups from its read-only `groups` attribute (RFC 7643 §4.1.2);
        where the app leaves that out, from the groups' members."""
        user = await self._user(user_id)
        return _directory_user(user), await self._access(user)

    async def access_of(self, user_id: str) -> AccessState:
        return await self._access(await self._user(user_id))

    async def _access(self, user, groups: list | None = None) -> AccessState:
        """`groups`: every group of the app, when already read."""
        if not self._discovery.groups:
            return AccessState()
        if user.groups is not None:
            return AccessState(groups=frozenset(g.value for g in user.groups if g.value))
        if groups is None:
            groups = await self._all_groups()
        held = [g.id for g in groups if _has_member(g, user.id)]
        return AccessState(groups=frozenset(held))

    async def groups(self, fresh: bool = False) -> list[Resource]:
        async def read() -> list[Resource]:
            if self._discovery is None:
                await self._app()
            if not self._discovery.groups:
                return []
            return [Resource(g.id, g.display_name or g.id) for g in await self._all_groups()]

        return await self._resources.get("groups", read, fresh, ttl=300.0)

    async def _all_groups(self) -> list:
        app = await self._app()
        found, start = [], 1
        while True:
            query = {"startIndex": start, "count": self._page_size}
            page = await self._call(app.query(Group, query_parameters=query), answered=True)
            groups = page.resources or []
            found += groups
            start += len(groups)
            if not groups or start > (page.total_results or 0):
                return found

    async def apps(self, fresh: bool = False) -> list[Resource]:
        return []  # an app has no apps of its own to assign

    async def licenses(self, fresh: bool = False) -> list[Resource]:
        return []

    async def set_licenses(self, user_id: str, add: list[str], remove: list[str]) -> None:
        if add or remove:
            raise PermanentError("A SCIM app has no licences to assign.")

    async def assign_app(self, user_id: str, app_id: str, role_id: str = "") -> None:
        raise PermanentError("A SCIM app has no apps to assign.")

    async def unassign_app(self, user_id: str, app_id: str) -> None:
        raise PermanentError("A SCIM app has no apps to assign.")

    async def add_to_group(self, user_id: str, group_id: str) -> None:
        app = await self._app()
        if self._discovery.group_patch:
            add = PatchOperation[Group](op="add", path="members", value=[{"value": user_id}])
            await self._call(app.modify(Group, group_id, kept(PatchOp, Group)(operations=[add])))
            return
        await self._replace_members(group_id, lambda ids: ids | {user_id})

    async def remove_from_group(self, user_id: str, group_id: str) -> None:
        app = await self._app()
        try:
            if self._discovery.group_patch:
                path = f"members[value eq {_quoted(user_id)}]"
                remove = PatchOperation[Group](op="remove", path=path)
                await self._call(
                    app.modify(Group, group_id, kept(PatchOp, Group)(operations=[remove]))
                )
                return
            await self._replace_members(group_id, lambda ids: ids - {user_id})
        except (NotFoundError, NoTargetError):  # not a member (any more): nothing to do
            return

    async def _replace_members(self, group_id: str, change) -> None:
        """An app without PATCH on groups: read the group, PUT it back with its members
        changed."""
        app = await self._app()
        group = await self._call(app.query(Group, group_id), answered=True)
        members = {m.value for m in group.members or [] if m.value}
        wanted = change(members)
        if wanted == members:
            return
        replacement = Group(
            id=group_id,
            display_name=group.display_name,
            external_id=group.external_id,
            members=[GroupMember(value=member) for member in sorted(wanted)],
        )
        await self._call(app.replace(replacement))

    # -- inventory -------------------------------------------------------------------------

    async def users_changes(self, cursor: str) -> AccountChanges:
        """A page of every user: SCIM has no change feed, so each inventory read is a full,
        paged read (the cursor is the next `startIndex`)."""
        start = int(cursor) if cursor.isascii() and cursor.isdigit() else 1
        page = await self._search(None, start, self._page_size)
        users = page.resources or []
        following = start + len(users)
        more = bool(users) and following <= (page.total_results or 0)
        return AccountChanges(
            [_observed(u) for u in users], [], str(following) if more else "", more
        )


# The lists scim2-client parametrizes when it reads an app's discovery documents: held, so
# that each job's discovery finds them built.
_DISCOVERY_LISTS = (kept(ListResponse, ResourceType), kept(ListResponse, Schema))


def _provider(found: Discovery) -> ScimProvider:
    """The models the app serves: User (with the enterprise extension where it declares
    it) and Group where it has groups, at the RFC's endpoints."""
    user = kept(User, EnterpriseUser) if found.enterprise else User
    models = (User, EnterpriseUser) if found.enterprise else (User,)
    types = [ResourceType.from_resource(user)]
    if found.groups:
        models += (Group,)
        types.append(ResourceType.from_resource(Group))
    return ScimProvider(models=models, resource_types=types)


def _only_to(allowed: list[Endpoint], token: Endpoint | None = None):
    """An httpx2 request hook: every request (paging links and redirects included) goes to
    the connection's own origin, or, for OAuth, to exactly its token URL; else nowhere."""
    origins = {endpoint.origin for endpoint in allowed}

    async def hook(request: httpx2.Request) -> None:
        url = request.url
        origin = request_origin(str(url))
        to_token = token and origin == token.origin and url.path.rstrip("/") == token.path
        if not to_token and origin not in origins:
            refuse_other_origins(allowed[0], str(url))

    return hook


class _Pinned(httpx2.AsyncBaseTransport):
    """Sends a request to the addresses its host resolves to now, once they are checked
    (base.checked_addresses), with the name as Host and TLS name; the next address only when
    one takes no connection, never the name looked up again."""

    def __init__(self, verify) -> None:
        self._inner = httpx2.AsyncHTTPTransport(verify=verify, trust_env=False)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        addresses = await checked_addresses(str(url))
        if not addresses:
            raise httpx2.ConnectError(f"{url.host} does not resolve.", request=request)
        timeouts = request.extensions.get("timeout", {})
        budget = timeouts.get("connect") or TIMEOUT_S
        failures: list[tuple[str, str]] = []
        for address, connect_s in connect_attempts(addresses, budget):
            pinned = httpx2.Request(
                request.method,
                url.copy_with(host=address),
                headers=request.headers,
                stream=request.stream,
                extensions={
                    **request.extensions,
                    "sni_hostname": url.raw_host.decode("ascii"),
                    "timeout": {**timeouts, "connect": connect_s},
                },
            )
            try:
                return await self._inner.handle_async_request(pinned)
            except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
                failures.append((address, type(exc).__name__))  # nothing sent: the next one
        raise httpx2.ConnectError(unreachable(url.host, failures), request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _pages(first: ListResponse) -> int:
    """How many pages of the first one's size hold every user (totalResults)."""
    size = len(first.resources or [])
    return max(1, -(-(first.total_results or 0) // size)) if size else 1


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ours(model, document: dict, context: Context):
    """Our document as the app's model, else PermanentError: a value SCIM's schema refuses
    (an e-mail without an @) is refused the same way at every try, and nothing is sent."""
    try:
        return model.model_validate(document, scim_ctx=context)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PermanentError(
            f"Nothing was sent: the app's SCIM schema refuses {where}: {first['msg']}"
        ) from None


def _replace(model, path: str, value) -> PatchOperation:
    if path == ATTRIBUTES["email"]:  # the whole list: the app may hold no work address yet
        path, value = "emails", [{"value": value, "type": "work", "primary": True}]
    return PatchOperation[model](op="replace", path=path, value=value)


def _put(document: dict, path: str, value) -> None:
    """Set `path` (as ATTRIBUTES names it) in a SCIM JSON document."""
    if path.startswith(ENTERPRISE + ":"):
        document.setdefault(ENTERPRISE, {})[path[len(ENTERPRISE) + 1 :]] = value
    elif path == ATTRIBUTES["email"] or path == "emails":
        others = [e for e in document.get("emails") or [] if e.get("type") != "work"]
        address = value[0]["value"] if isinstance(value, list) else value
        document["emails"] = [{"value": address, "type": "work", "primary": True}, *others]
    elif "." in path:
        parent, child = path.split(".", 1)
        document.setdefault(parent, {})[child] = value
    else:
        document[path] = value


def _get(document: dict, path: str):
    if path.startswith(ENTERPRISE + ":"):
        return (document.get(ENTERPRISE) or {}).get(path[len(ENTERPRISE) + 1 :])
    if path == ATTRIBUTES["email"]:
        emails = document.get("emails") or []
        work = [e for e in emails if e.get("type") == "work"] or emails
        return work[0].get("value") if work else None
    if "." in path:
        parent, child = path.split(".", 1)
        return (document.get(parent) or {}).get(child)
    return document.get(path)


def _document(user) -> dict:
    return user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def _directory_user(user) -> DirectoryUser:
    document = _document(user)
    attributes = {ours: _get(document, path) for ours, path in ATTRIBUTES.items()}
    attributes = {k: v for k, v in attributes.items() if v is not None}
    if user.external_id:
        attributes["external_id"] = user.external_id
    return DirectoryUser(
        id=user.id,
        username=user.user_name or "",
        enabled=user.active is not False,
        attributes=attributes,
    )


def _observed(user) -> ObservedAccount:
    found = _directory_user(user)
    values = found.attributes
    return ObservedAccount(
        id=found.id,
        username=found.username,
        enabled=found.enabled,
        mail=values.get("email", ""),
        employee_id=values.get("employee_id", ""),
        display_name=values.get("display_name", ""),
        first_name=values.get("first_name", ""),
        last_name=values.get("last_name", ""),
        department=values.get("department", ""),
        attributes={k: v for k, v in values.items() if k in ("job_title", "company")},
    )


def _has_member(group, user_id: str) -> bool:
    return any(m.value == user_id for m in group.members or [])


# -- errors (RFC 7644 §3.12) -------------------------------------------------------------


def _from_scim_error(exc: SCIMException) -> ConnectorError:
    error = exc.to_error()
    status = int(error.status or exc.status or 400)
    scim_type = error.scim_type or ""
    detail = error.detail or str(exc)
    headers = getattr(getattr(exc, "source", None), "headers", None) or {}
    return _classified(status, scim_type, detail, headers)


def _from_status(exc: UnexpectedStatusCodeException) -> ConnectorError:
    response = exc.source
    status = getattr(response, "status_code", 0) or 0
    headers = getattr(response, "headers", None) or {}
    return _classified(status, "", exc.message, headers)


def _classified(status: int, scim_type: str, detail: str, headers) -> ConnectorError:
    message = f"{detail} ({scim_type})" if scim_type else detail
    if status == 429:
        return ThrottledError(message, retry_after=_retry_after(headers), status=status)
    if status >= 500 and status != 501:  # 501: the app does not do this, ever
        return TransientError(message, retry_after=_retry_after(headers), status=status)
    if status == 404:
        return NotFoundError(message, status=status)
    if status == 409:
        field = USERNAME if scim_type == "uniqueness" else scim_type
        return ConflictError(message, field=field, status=status)
    if status == 401:
        return AuthenticationError(message, status=status)
    if status == 403:
        return PermissionDeniedError(f"The app refused the operation: {message}", status=status)
    if scim_type == "noTarget":
        return NoTargetError(message, status=status)
    if status == 501:
        return PermanentError(f"The app does not support this: {message}", status=status)
    return PermanentError(message, status=status)


def _retry_after(headers) -> float | None:
    """Retry-After in seconds, or as an HTTP date (RFC 9110 §10.2.3)."""
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
