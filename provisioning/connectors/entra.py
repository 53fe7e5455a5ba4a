"""Microsoft Entra ID through msgraph-sdk + azure-identity.

The SDK's own retry handler is off: the engine owns retries and never holds a worker asleep.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import quote
from uuid import UUID

import httpx
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware import ParametersNameDecodingHandler, UserAgentHandler
from kiota_serialization_json.json_parse_node import JsonParseNode
from msgraph import GraphServiceClient
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.user import User
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory
from msgraph_core.middleware import GraphTelemetryHandler

from provisioning.connectors import (
    entra_apps,
    entra_credentials,
    entra_licences,
    entra_mail,
    entra_reads,
    entra_roles,
    entra_tap,
    entra_unique,
)
from provisioning.connectors.base import (
    AccessState,
    AccountChanges,
    CredentialExpiry,
    DeltaExpiredError,
    DirectoryUser,
    HeldRole,
    IdPage,
    MembershipChanges,
    NewUser,
    ObservedAccount,
    Read,
    Resource,
    ResourceCache,
    SignInPage,
    classified,
    is_sandbox,
    refuse_other_origins,
    require_allowed,
    same_target_twice,
    ssl_context_for,
)
from provisioning.connectors.errors import (
    EMAIL,
    USERNAME,
    AuthenticationError,
    ConflictError,
    ConnectorError,
    EndpointRefusedError,
    NoAnswerError,
    NoSeatError,
    NotFoundError,
    PermanentError,
    PermissionDeniedError,
    ReplicationLagError,
    ThrottledError,
    TransientError,
)
from provisioning.connectors.sign_in import TAP, IssuedSignIn
from tenants.endpoints import Endpoint, Service

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DEFAULT_LOGIN = "https://login.microsoftonline.com"
DEFAULT_GRAPH = "https://graph.microsoft.com"
BATCH_LIMIT = 20  # Graph's JSON batching takes at most 20 requests
ANSWER_TIMEOUT_S = 30.0  # httpx's limit on connecting, sending and each read of an answer
# Transport failures before the request left: Graph cannot have it. Any other (a read that
# timed out, a connection closed before the answer) may follow a request Graph carries out.
NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)
BATCHABLE = frozenset(
    {"assign_license", "add_group", "assign_app", "remove_license", "remove_group"}
    | {"set_licenses"}  # one assignLicense that adds and removes (entra_licences.py)
    | {"unassign_app"}  # a DELETE of each assignment the plan read (`_batch_requests`)
)
USER_FIELDS = [
    "id",
    "userPrincipalName",
    "accountEnabled",
    "givenName",
    "surname",
    "displayName",
    "mail",
    "department",
    "jobTitle",
    "usageLocation",
    "companyName",
    "officeLocation",
    "onPremisesSyncEnabled",  # synced from AD: Graph refuses what AD masters (engine/elsewhere.py)
]
# What names a group holding an address, and says what kind it is (_group_detail).
GROUP_FIELDS = [
    "id",
    "displayName",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "membershipRule",
    "onPremisesSyncEnabled",
]
# Our attribute names -> msgraph User model fields.
ATTRIBUTES = {
    "first_name": "given_name",
    "last_name": "surname",
    "display_name": "display_name",
    "email": "mail",
    "department": "department",
    "job_title": "job_title",
    "usage_location": "usage_location",
    "company": "company_name",
    "office": "office_location",
}
# The same fields as Graph's JSON names them (_user_from_body).
ATTRIBUTE_KEYS = {
    "first_name": "givenName",
    "last_name": "surname",
    "display_name": "displayName",
    "email": "mail",
    "department": "department",
    "job_title": "jobTitle",
    "usage_location": "usageLocation",
    "company": "companyName",
    "office": "officeLocation",
}
# What an inventory read tracks: a change of any of these brings a user back in users/delta.
# (signInActivity cannot be selected in a delta query.)
INVENTORY_FIELDS = [
    "id",
    "userPrincipalName",
    "accountEnabled",
    "mail",
    "employeeId",
    "displayName",
    "givenName",
    "surname",
    "userType",
    "department",
    "jobTitle",
    "companyName",
    "officeLocation",
    "usageLocation",
    "assignedLicenses",
]
# Kept in the inventory's own columns; the rest of a user's fields go to its attributes.
INVENTORY_OWN = set(INVENTORY_FIELDS) - {
    "jobTitle",
    "companyName",
    "officeLocation",
    "usageLocation",
}
DELTA_EXPIRED = {"syncStateNotFound", "resyncRequired"}
NO_SEAT = "does not have any available licenses"
# Graph's refusal of a create on a federated domain without onPremisesImmutableId, as reported
# (microsoftgraph/microsoft-graph-docs#8668; not in the published docs).
SOURCE_ANCHOR = "SourceAnchor is a required property"  # "Subscription <id> does not have any ..."
# How long a plan's catalogues are kept: seat counts briefly (a seat may go any moment).
CATALOGUE_TTLS = {"groups": 300.0, "apps": 300.0, "licenses": 30.0}
DOMAINS_TTL = {"domains": 300.0}  # read by a joiner's plan only (before a create)
ALREADY_DONE = (
    "already exist",  # "One or more added object references already exist ..."
    "Permission being assigned already exists",
    "does not have a corresponding license",  # removing a licence that is gone already
)


@dataclass(frozen=True)
class NamedMembershipChanges(MembershipChanges):
    """A page of `groups/delta` with the displayName of each group it shows (the inventory's
    catalogue keeps group names current from it without listing the groups again)."""

    names: dict[str, str] = field(default_factory=dict)


@classified
class EntraConnector:
    kind = "entra"
    # What the engine may ask of this directory; it reads these, never `kind`.
    batchable = BATCHABLE
    supports_licences = True
    disable_modes: tuple[str, ...] = ()  # one way: sign-in blocked
    soft_deletes = True  # a deleted user waits in deleted items until it is purged
    profile_frozen_in: frozenset[str] = frozenset()
    sets_passwords = True  # a leave may reset the password
    revokes_sessions = True  # a leave may end the sign-in sessions
    on_premises_sync = True  # users and groups may be synced from AD (engine/elsewhere.py)
    has_directory_roles = True  # admin roles and administrative units (entra_roles.py)
    first_sign_in_methods: tuple[str, ...] = (TAP,)  # entra_tap.py
    hands_over_mail = True  # automatic replies, forwarding, OneDrive sharing (entra_mail.py)
    reads_credential_expiry = True  # the app's passwordCredentials (entra_credentials.py)
    user_fields, group_fields = USER_FIELDS, GROUP_FIELDS  # what a read selects (entra_reads)
    compared_attributes = (
        "first_name",
        "last_name",
        "display_name",
        "department",
        "job_title",
        "usage_location",
        "company",
        "office",
    )
    # "Maximum length is N characters" (user.md): a longer value is a 400 (planner, value_bounds)
    attribute_max_lengths = {
        "first_name": 64,
        "last_name": 64,
        "display_name": 256,
        "department": 64,
        "job_title": 128,
        "company": 64,
        "office": 128,
    }

    @staticmethod
    def warm() -> None:
        """Import the models Graph's answers are read into. kiota imports a model's field
        types when it first reads one: some 1,200 modules and over a second of CPU, paid by
        a web process's first dry run unless it warms up (factory.import_every_kind)."""
        from msgraph.generated.models.group import Group
        from msgraph.generated.models.subscribed_sku import SubscribedSku
        from msgraph.generated.models.user import User
        from msgraph.generated.models.user_collection_response import UserCollectionResponse

        for model in (User, Group, SubscribedSku, UserCollectionResponse):
            model().get_field_deserializers()

    def __init__(
        self, *, tenant_id: str, client_id: str, secret: str, login_url: str, graph_url: str
    ):
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._secret = secret
        self.login_url = (login_url or DEFAULT_LOGIN).rstrip("/")
        self.graph_url = (graph_url or DEFAULT_GRAPH).rstrip("/")
        self._client: GraphServiceClient | None = None
        self._closers: list = []
        self._created: dict[str, float] = {}  # ids we created, for replication-lag 404s
        self._resources = ResourceCache()

    # -- the SDK client, built lazily on the bridge loop ------------------------------------

    def _graph(self) -> GraphServiceClient:
        if self._client is None:
            login = require_allowed(Service.ENTRA_LOGIN, self.login_url)
            graph = require_allowed(Service.ENTRA_GRAPH, self.graph_url)
            sandbox = is_sandbox(login.url)
            credential = ClientSecretCredential(
                self.tenant_id,
                self.client_id,
                self._secret,
                authority=login.url,
                disable_instance_discovery=sandbox,
                # azure-core's aiohttp transport does not follow redirects; this hook refuses
                # any request to another origin before it is sent.
                raw_request_hook=lambda r: refuse_other_origins(login, str(r.http_request.url)),
                **({"connection_verify": str(_sandbox_ca())} if sandbox else {}),
            )
            auth = AzureIdentityAuthenticationProvider(
                credential, scopes=[_graph_scope(graph, sandbox)], allowed_hosts=[graph.host]
            )
            client = httpx.AsyncClient(
                verify=ssl_context_for(graph.url),
                timeout=ANSWER_TIMEOUT_S,
                event_hooks={
                    "request": [_same_origin_hook(graph)],
                    "response": [_refuse_redirects],
                },
            )
            http = GraphClientFactory.create_with_custom_middleware(_middleware(), client=client)
            adapter = _GraphAdapter(auth, http)
            adapter.base_url = f"{graph.url}/v1.0"
            self._client = GraphServiceClient(request_adapter=adapter)
            self._closers = [http.aclose, credential.close]
            self._token_source = (credential, _graph_scope(graph, sandbox))  # entra_roles
        return self._client

    async def close(self) -> None:
        for close in self._closers:
            await close()
        self._client, self._closers = None, []

    @asynccontextmanager
    async def _errors(self, subject_id: str = ""):
        """Translate whatever the SDK raises into the connector error taxonomy."""
        try:
            yield
        except ODataError as exc:
            raise self._classify(exc, subject_id) from None
        except ClientAuthenticationError as exc:
            raise AuthenticationError(_first_line(exc.message or str(exc))) from None
        except httpx.TransportError as exc:
            if isinstance(exc, NOT_SENT):
                raise TransientError(f"Cannot reach {self.graph_url}: {_why(exc)}") from None
            raise NoAnswerError(f"No answer from {self.graph_url}: {_why(exc)}") from None
        except ServiceRequestError as exc:  # the token's request: it changes nothing
            raise TransientError(f"Cannot reach {self.graph_url}: {_why(exc)}") from None
        except APIError as exc:
            raise _by_status(exc.response_status_code, str(exc.message or exc), "") from None

    def _classify(self, exc: ODataError, subject_id: str) -> ConnectorError:
        status = exc.response_status_code or 0
        error = exc.error
        message = (error.message if error else None) or str(exc)
        request_id = error.inner_error.request_id if error and error.inner_error else ""
        if status == 404 and self._recently_created(subject_id):
            return ReplicationLagError(f"Not replicated yet: {message}", retry_after=1, status=404)
        if status == 400 and (field := entra_unique.conflict_field(error)):
            return ConflictError(message, field=field, status=400, request_id=request_id)
        throttled = _throttled(status, error.code if error else "", message, exc.response_headers)
        if throttled is not None:
            throttled.request_id = request_id
            return throttled
        return _by_status(status, message, request_id)

    def _recently_created(self, user_id: str) -> bool:
        created = self._created.get(user_id)
        return created is not None and time.monotonic() - created < _replication_window_s()

    def note_created(self, user_id: str, seconds_ago: float) -> None:
        """Tell the connector an id is new (e.g. created by an earlier run of the job)."""
        self._created[user_id] = time.monotonic() - seconds_ago

    # -- users -----------------------------------------------------------------------------

    async def probe(self) -> None:
        """One cheap authenticated read: sign in and list one user."""
        query = _user_list_query(top=1, select=["id"])
        async with self._errors():
            await self._graph().users.get(RequestConfiguration(query_parameters=query))

    async def credential_expiry(self) -> CredentialExpiry | None:
        """When the client secret in use ends, read from the app registration."""
        async with self._errors():
            return await entra_credentials.read_expiry(self._graph(), self.client_id, self._secret)

    async def get_user(self, user_id: str) -> DirectoryUser:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=USER_FIELDS)
        async with self._errors(user_id):
            user = (
                await self._graph()
                .users.by_user_id(user_id)
                .get(RequestConfiguration(query_parameters=query))
            )
        return _directory_user(user)

    async def find_user(self, username: str) -> DirectoryUser | None:
        try:
            return await self.get_user(username)
        except NotFoundError:
            return None

    async def find_by_mail(self, address: str) -> DirectoryUser | None:
        """The account holding `address` among its e-mail addresses (entra_unique.py)."""
        found = await entra_unique.user_holding(self, address, USER_FIELDS)
        return _directory_user(found) if found is not None else None

    async def group_by_mail(self, address: str) -> Resource | None:
        """The group (a distribution list, a Microsoft 365 group...) holding `address`."""
        found = await entra_unique.group_holding(self, address, GROUP_FIELDS)
        if found is None:
            return None
        return Resource(str(found.id), found.display_name or "", _group_detail(found))

    async def _holder(self, field: str, new: NewUser) -> DirectoryUser | None:
        """Who holds what a create clashed on: the username, or the new person's mail."""
        if field == USERNAME:
            return await self.find_user(new.username)
        if field == EMAIL and new.email:
            return await self.find_by_mail(new.email)
        return None

    async def list_usernames(self) -> list[str]:
        """Every user principal name, 999 a page: one read instead of a lookup per name when
        a bulk upload checks thousands of usernames."""
        query = _user_list_query(top=999, select=["userPrincipalName"])
        names: list[str] = []
        async with self._errors():
            page = await self._graph().users.get(RequestConfiguration(query_parameters=query))
            while page is not None:
                names += [u.user_principal_name for u in page.value or [] if u.user_principal_name]
                link = page.odata_next_link
                page = await self._graph().users.with_url(link).get() if link else None
        return names

    async def create_user(self, new: NewUser) -> DirectoryUser:
        fields = _user_fields(
            {
                "first_name": new.first_name,
                "last_name": new.last_name,
                "display_name": new.display_name,
                "email": new.email,
                **new.attributes,
            }
        )
        fields |= {
            "account_enabled": new.enabled,
            "user_principal_name": new.username,
            "mail_nickname": new.username.split("@", 1)[0],
            "password_profile": new.password,
        }
        users = self._graph().users
        try:
            async with self._errors():
                # The body and the answer as JSON, not as the SDK's User model: parsing one
                # costs ~15 ms of CPU (its deserializers import some 2,400 model classes on
                # every call), building one ~0.4 ms (user_request holds the body the same).
                raw = await users.request_adapter.send_primitive_async(
                    user_request(Method.POST, users, fields), "bytes", {"XXX": ODataError}
                )
        except ConflictError as exc:
            exc.existing = await self._holder(exc.field, new)
            raise
        except PermanentError as exc:
            if SOURCE_ANCHOR not in exc.message:
                raise
            # A domain federated since the dry run read the domains (kept for a while).
            raise PermanentError(
                f"{new.username.rsplit('@', 1)[-1]} is a federated domain: Graph creates an "
                "account there only with its on-premises immutable ID, so it must come from "
                f"on-premises AD sync (Entra Connect). Graph said: {exc.message}",
                status=exc.status,
                request_id=exc.request_id,
            ) from None
        created = _user_from_body(json.loads(raw))
        self._created[created.id] = time.monotonic()
        return created

    async def update_user(self, user_id: str, attributes: dict) -> None:
        """`None` clears an attribute: Graph takes `null` for that, never "" (update user;
        docs/sandbox-fidelity.md "request rules"). The SDK's models leave `None` fields out
        of the body, so a clear goes as additional data, which kiota writes as null."""
        fields = _user_fields(attributes)
        if "enabled" in attributes:
            fields["account_enabled"] = bool(attributes["enabled"])
        cleared = {
            ATTRIBUTE_KEYS[k]: None
            for k, v in attributes.items()
            if v is None and k in ATTRIBUTE_KEYS
        }
        try:
            await self._patch_user(user_id, fields, cleared)
        except PermissionDeniedError as exc:
            if "enabled" not in attributes:
                raise
            action = "allow sign-in" if attributes["enabled"] else "block sign-in"
            raise entra_roles.sensitive_refused(exc, action) from None

    async def _patch_user(self, user_id: str, fields: dict, cleared: dict | None = None) -> None:
        """PATCH the user with the body the SDK's User model would send (user_request)."""
        user = self._graph().users.by_user_id(user_id)
        info = user_request(Method.PATCH, user, fields, cleared)
        async with self._errors(user_id):
            await user.request_adapter.send_primitive_async(info, "bytes", {"XXX": ODataError})

    async def disable_user(self, user_id: str) -> None:
        await self.update_user(user_id, {"enabled": False})

    async def enable_user(self, user_id: str) -> None:
        await self.update_user(user_id, {"enabled": True})

    async def delete_user(self, user_id: str) -> None:
        try:
            async with self._errors(user_id):
                await self._graph().users.by_user_id(user_id).delete()
        except NotFoundError:
            return
        except PermissionDeniedError as exc:
            raise entra_roles.sensitive_refused(exc, "delete the account") from None

    async def purge_user(self, user_id: str) -> None:
        """Remove a soft-deleted user for good; done if it is gone already."""
        try:
            async with self._errors(user_id):
                await self._graph().directory.deleted_items.by_directory_object_id(user_id).delete()
        except NotFoundError:
            return

    async def in_deleted_items(self, user_id: str) -> bool:
        """Whether the user waits in deleted items (soft-deleted, restorable): `GET
        /directory/deletedItems/{id}` answers the object, 200, until it is purged, and 404
        Request_ResourceNotFound after (directory-deleteditems-get.md; a purge "cannot be
        restored", directory-deleteditems-delete.md). What proves a hard delete, which a
        purge's own answer does not: its 404 reads as done (`purge_user`)."""
        try:
            # No subject: the 404 of an id this connector made lately is lag on /users, but
            # here the item's absence is the answer asked for.
            async with self._errors():
                await self._graph().directory.deleted_items.by_directory_object_id(user_id).get()
        except NotFoundError:
            return False
        return True

    async def reset_password(self, user_id: str, password: str) -> None:
        try:
            await self._patch_user(user_id, {"password_profile": password})
        except PermissionDeniedError as exc:
            raise entra_roles.password_refused(exc) from None

    async def revoke_sessions(self, user_id: str) -> None:
        async with self._errors(user_id):
            await self._graph().users.by_user_id(user_id).revoke_sign_in_sessions.post()

    async def issue_first_sign_in(self, user_id: str, method: str, options: dict) -> IssuedSignIn:
        """A Temporary Access Pass (entra_tap.py); the only method Entra has."""
        if method != TAP:
            raise PermanentError(f"Entra issues no first sign-in of the kind {method!r}.")
        lifetime, once = options.get("lifetime_minutes", 60), options.get("usable_once", True)
        return await entra_tap.issue_tap(self, user_id, lifetime, once)

    # -- the manager, and a leaver's mail and files (entra_mail.py) ------------------------

    async def manager_of(self, user_id: str) -> DirectoryUser | None:
        found = await entra_mail.manager_of(self, user_id, [*USER_FIELDS, "userType"])
        return _directory_user(found) if found is not None else None

    async def set_manager(self, user_id: str, manager: DirectoryUser) -> None:
        await entra_mail.set_manager(self, user_id, manager.id)

    async def direct_reports(self, user_id: str) -> list[DirectoryUser]:
        return [_directory_user(u) for u in await entra_mail.direct_reports(self, user_id)]

    async def people_named(self, name: str) -> list[DirectoryUser]:
        """The accounts a name may mean: its UPN or id, else equal display name or mail."""
        exact = await self.find_user(name) if "@" in name or _is_object_id(name) else None
        if exact is not None:
            return [exact]
        return [_directory_user(u) for u in await entra_mail.people_named(self, name, USER_FIELDS)]

    async def user_type(self, user_id: str) -> str | None:
        return await entra_mail.user_type(self, user_id)

    async def auto_reply(self, user_id: str) -> entra_mail.AutoReply:
        return await entra_mail.auto_reply(self, user_id)

    async def set_auto_reply(self, user_id: str, message: str) -> None:
        await entra_mail.set_auto_reply(self, user_id, message)

    async def inbox_rules(self, user_id: str) -> list[entra_mail.InboxRule]:
        return await entra_mail.inbox_rules(self, user_id)

    async def add_forward_rule(self, user_id: str, name: str, to: DirectoryUser) -> None:
        await entra_mail.add_forward_rule(self, user_id, name, to)

    async def drive_shares(self, user_id: str) -> list[entra_mail.DriveShare]:
        return await entra_mail.drive_shares(self, user_id)

    async def share_drive(self, user_id: str, to: DirectoryUser) -> None:
        await entra_mail.share_drive(self, user_id, to)

    # -- access ----------------------------------------------------------------------------

    async def access_of(self, user_id: str) -> AccessState:
        """What the user holds, every page of it: `read_state`'s `$batch`, which follows each
        list's @odata.nextLink (memberOf and appRoleAssignments come 100 a page unless
        $top says more), where the SDK's `.get()` of each list read its first page only."""
        return (await self.read_state(user_id))[1]

    # -- directory roles and administrative units (entra_roles.py) -------------------------

    async def roles(self, fresh: bool = False) -> list[Resource]:
        return await self._cached("roles", lambda: entra_roles.role_definitions(self), fresh)

    async def admin_units(self, fresh: bool = False) -> list[Resource]:
        return await self._cached("admin_units", lambda: entra_roles.admin_units(self), fresh)

    async def remove_role(self, user_id: str, role: HeldRole) -> None:
        await entra_roles.remove_role(self, user_id, role)

    async def leave_admin_unit(self, user_id: str, unit_id: str) -> None:
        await entra_roles.leave_admin_unit(self, user_id, unit_id)

    async def app_permissions(self) -> frozenset[str]:
        """The application permissions the connection's token carries (its `roles` claim)."""
        self._graph()
        credential, scope = self._token_source
        async with self._errors():
            token = await credential.get_token(scope)
        return entra_roles.token_roles(token.token)

    async def app_directory_roles(self) -> frozenset[str]:
        """The directory roles (definition ids) held by the connection's own app."""
        return await entra_roles.own_directory_roles(self)

    async def read_state(
        self, user_id: str, with_roles: bool = True
    ) -> tuple[DirectoryUser, AccessState]:
        """The user and what it holds, in one `$batch` of six GETs (the user, memberOf,
        licences, app assignments, active and eligible directory roles; four without the
        roles, which only a leave takes away); one more `$batch` per further page, only for a
        user with more groups or app assignments than a page holds."""
        read = ("read_state", user_id, with_roles)
        return (await self.read_ahead([read]))[read]

    async def read_ahead(self, reads: list[Read]) -> dict[Read, object]:
        """What a plan reads (the account and its access, the lookups of a joiner, a leaver's
        manager, reports, mailbox and OneDrive) in one `$batch` (entra_reads.py)."""
        return await entra_reads.read_ahead(self, reads)

    def read_cost(self, reads: list[Read]) -> int:
        """Graph operations a plan making `reads` sends (first pages only): those of
        `read_ahead`, and a read of each catalogue (groups, apps, SKUs) no longer cached."""
        catalogues = self._resources.stale(CATALOGUE_TTLS) if reads else 0
        if any(read[0] == "find_user" for read in reads):
            catalogues += self._resources.stale(DOMAINS_TTL)
        return entra_reads.cost(reads, self.user_fields, self.group_fields) + catalogues

    def catalogues_to_read(self, kinds) -> list[str]:
        """Those of the catalogues `kinds` (groups, licenses, apps) the next read would send
        for: the planner reads them at once (planner._read_stale_catalogues)."""
        return self._resources.to_read(kinds, CATALOGUE_TTLS)

    _user_of = staticmethod(  # a user as entra_reads has it: its JSON, or the SDK's model
        lambda user: _user_from_body(user) if isinstance(user, dict) else _directory_user(user)
    )
    _group_of = staticmethod(  # a group as entra_reads has it: its JSON
        lambda group: _group_from_body(group if isinstance(group, dict) else {})
    )

    def _below_graph(self, link: str) -> str:
        """A paging link as a `$batch` URL; refused unless it is on this connection's Graph."""
        graph = require_allowed(Service.ENTRA_GRAPH, self.graph_url)
        prefix = f"{graph.url}/v1.0/"
        refuse_other_origins(graph, link)
        if not link.startswith(prefix):
            raise EndpointRefusedError(
                f"Nothing was sent: a paging link left {prefix} ({link[:200]})."
            )
        return link[len(prefix) - 1 :]

    async def groups(self, fresh: bool = False) -> list[Resource]:
        async def read() -> list[Resource]:
            return [
                _group_from_body(g if isinstance(g, dict) else {})
                async for g in self._listed(self._graph().groups)
            ]

        return await self._cached("groups", read, fresh)

    async def apps(self, fresh: bool = False) -> list[Resource]:
        """Every service principal (all pages), with the app roles a user may hold."""
        return await self._cached("apps", lambda: entra_apps.read_apps(self._graph()), fresh)

    async def licenses(self, fresh: bool = False) -> list[Resource]:
        """Seat counts, cached briefly: assignment still fails clearly if a seat has just gone."""

        async def read() -> list[Resource]:
            # One page: the SDK's subscribedSkus request builder follows no nextLink either.
            listed = self._listed(self._graph().subscribed_skus, follow=False)
            return [_sku_from_body(sku if isinstance(sku, dict) else {}) async for sku in listed]

        return await self._cached("licenses", read, fresh, ttl=CATALOGUE_TTLS["licenses"])

    async def domains(self, fresh: bool = False) -> list[Resource]:
        """The tenant's domains (GET /domains: Domain.Read.All or Directory.Read.All), each
        with whether it is verified and whether it is federated (its authenticationType),
        which decide whether Graph creates a user on it (engine/upn_domains.py)."""

        async def read() -> list[Resource]:
            return [
                _domain_from_body(d)
                async for d in self._listed(self._graph().domains)
                if isinstance(d, dict) and _text(d.get("id"))
            ]

        return await self._cached("domains", read, fresh, ttl=DOMAINS_TTL["domains"])

    async def _listed(self, builder, follow: bool = True) -> AsyncIterator:
        """The items (`value`) of a collection's pages as JSON, GET by its request builder
        through the SDK's adapter as the builder's own `get` sends it, without building the
        SDK's models: a Group, Domain or SubscribedSku model costs ~3 ms of CPU to parse (its
        deserializers import some 2,400 model classes), and a catalogue read is one per item
        at a tenant's first job in each worker process, and then at every refresh."""
        info = builder.to_get_request_information()
        while info is not None:
            raw = await builder.request_adapter.send_primitive_async(
                info, "bytes", {"XXX": ODataError}
            )
            page = json.loads(raw) if raw else {}
            page = page if isinstance(page, dict) else {}
            for item in page.get("value") or []:
                yield item
            link = _text(page.get("@odata.nextLink")) if follow else None
            info = builder.with_url(link).to_get_request_information() if link else None

    async def _cached(
        self, key: str, read, fresh: bool, ttl: float = CATALOGUE_TTLS["groups"]
    ) -> list[Resource]:
        async with self._errors():
            return await self._resources.get(key, read, fresh, ttl)

    async def set_licenses(self, user_id: str, add: list[str], remove: list[str]) -> None:
        """One assignLicense with both lists: all of it happens, or none (entra_licences.py)."""
        await entra_licences.set_licenses(self, user_id, add, remove)

    async def add_to_group(self, user_id: str, group_id: str) -> None:
        ref = ReferenceCreate(odata_id=f"{self.graph_url}/v1.0/directoryObjects/{user_id}")
        try:
            await self._idempotent(
                user_id, self._graph().groups.by_group_id(group_id).members.ref.post(ref)
            )
        except NotFoundError as exc:
            exc.group_gone = _names_missing(exc, group_id)
            raise

    async def remove_from_group(self, user_id: str, group_id: str) -> None:
        members = self._graph().groups.by_group_id(group_id).members
        try:
            async with self._errors(user_id):
                await members.by_directory_object_id(user_id).ref.delete()
        except NotFoundError:
            return

    async def assign_app(self, user_id: str, app_id: str, role_id: str | None = None) -> None:
        """Assign the app with `role_id` (chosen at planning), else the role chosen by member
        type (connectors/app_roles.py)."""
        assignment = AppRoleAssignment(
            principal_id=user_id, resource_id=app_id, app_role_id=await self._role(app_id, role_id)
        )
        sp = self._graph().service_principals.by_service_principal_id(app_id)
        await self._idempotent(user_id, sp.app_role_assigned_to.post(assignment))

    async def unassign_app(self, user_id: str, app_id: str) -> None:
        """Remove each of the user's assignments to the app, found on any page (Graph lists
        appRoleAssignments 100 a page): one on a later page must not be left in place."""
        user = self._graph().users.by_user_id(user_id)
        listed = user.app_role_assignments
        info, found = listed.to_get_request_information(), []
        async with self._errors(user_id):
            # Each page as JSON, not as the SDK's AppRoleAssignment models (~15 ms of CPU a
            # page: their deserializers import some 2,400 model classes), read as they are.
            while info is not None:
                raw = await listed.request_adapter.send_primitive_async(
                    info, "bytes", {"XXX": ODataError}
                )
                page = json.loads(raw) if raw else {}
                found += _assignments_to(page, app_id)
                link = _text(page.get("@odata.nextLink"))
                info = listed.with_url(link).to_get_request_information() if link else None
            for assignment_id in found:
                await user.app_role_assignments.by_app_role_assignment_id(assignment_id).delete()

    async def _idempotent(self, user_id: str, call) -> None:
        """Run a write whose "already done" answer counts as success."""
        try:
            async with self._errors(user_id):
                await call
        except PermanentError as exc:
            if not any(text in exc.message for text in ALREADY_DONE):
                raise

    # -- inventory: delta reads, one page a call --------------------------------------------

    async def users_changes(self, cursor: str) -> AccountChanges:
        """A page of `users/delta`: from the start when `cursor` is "", else the nextLink or
        deltaLink given before. Soft-deleted and purged users come as removed."""
        first = f"/users/delta?$select={','.join(INVENTORY_FIELDS)}"
        body = await self._delta_page(cursor or first)
        accounts, removed = [], []
        for item in body.get("value") or []:
            if "@removed" in item:
                removed.append(str(item["id"]))
            else:
                accounts.append(_observed(item))
        return AccountChanges(accounts, removed, *_next(body))

    async def group_changes(self, cursor: str) -> MembershipChanges:
        """A page of `groups/delta` with `members@delta` (users only). A group may come on
        several pages, each with some of its members."""
        body = await self._delta_page(cursor or "/groups/delta?$select=id,displayName,members")
        added: dict[str, set[str]] = {}
        removed: dict[str, set[str]] = {}
        deleted = []
        names = {}
        for group in body.get("value") or []:
            group_id = str(group["id"])
            if "@removed" in group:
                deleted.append(group_id)
                continue
            added.setdefault(group_id, set())
            if group.get("displayName"):
                names[group_id] = str(group["displayName"])
            for member in group.get("members@delta") or []:
                if member.get("@odata.type", "#microsoft.graph.user") != "#microsoft.graph.user":
                    continue
                side = removed if "@removed" in member else added
                side.setdefault(group_id, set()).add(str(member["id"]))
        return NamedMembershipChanges(added, removed, deleted, *_next(body), names=names)

    async def app_users(self, app_id: str, cursor: str) -> IdPage:
        """A page of the users assigned to an app (Graph has no delta for app role
        assignments: an inventory reads them again each cycle, one call per app)."""
        url = cursor or f"/servicePrincipals/{quote(app_id)}/appRoleAssignedTo?$top=999"
        body = await self._delta_page(url)
        ids = [
            str(a["principalId"])
            for a in body.get("value") or []
            if a.get("principalType", "User") == "User" and a.get("principalId")
        ]
        link = body.get("@odata.nextLink") or ""
        return IdPage(ids, link, bool(link))

    async def sign_ins(self, cursor: str) -> SignInPage:
        """A page of users' last sign-ins (interactive or not, the later), 120 a page as Graph
        gives signInActivity; PermissionDeniedError without AuditLog.Read.All or a premium
        licence."""
        body = await self._delta_page(cursor or "/users?$select=id,signInActivity&$top=120")
        last = {}
        for user in body.get("value") or []:
            activity = user.get("signInActivity") or {}
            moments = [
                activity.get(key)
                for key in ("lastSignInDateTime", "lastNonInteractiveSignInDateTime")
                if activity.get(key)
            ]
            last[str(user["id"])] = max(moments) if moments else None
        link = body.get("@odata.nextLink") or ""
        return SignInPage(last, link, bool(link))

    async def _delta_page(self, url: str) -> dict:
        """GET a URL below /v1.0 (or a paging link on this connection's Graph) through the
        SDK's adapter; a refused delta token is DeltaExpiredError."""
        path = self._below_graph(url) if url.startswith("http") else url
        info = RequestInformation(Method.GET, "{+baseurl}{+path}")
        info.path_parameters = {"baseurl": f"{self.graph_url}/v1.0", "path": path}
        info.headers.try_add("Accept", "application/json")
        adapter = self._graph().request_adapter
        async with self._errors():
            try:
                raw = await adapter.send_primitive_async(info, "bytes", {"XXX": ODataError})
            except ODataError as exc:
                code = exc.error.code if exc.error else ""
                if exc.response_status_code == 410 or code in DELTA_EXPIRED:
                    message = (exc.error.message if exc.error else None) or str(code)
                    raise DeltaExpiredError(message, status=exc.response_status_code) from None
                raise
        return json.loads(raw) if raw else {}

    # -- JSON batching ---------------------------------------------------------------------

    async def apply_many(self, user_id: str, ops: list[tuple[str, dict]]) -> list:
        """Licence, group and app steps for one user in as few `$batch` round trips as possible.

        Graph runs a batch's requests in any order. Steps on different groups, licences and
        apps end the same in any order, so they go in parallel; only steps that touch the
        same one twice go fully sequential (dependsOn), in the order given. An app removal
        is a DELETE of each assignment its plan read (one step, one or more requests: its
        outcome the first error among them); planned without them, it lists them itself."""
        outcomes: list[ConnectorError | None] = [None] * len(ops)
        sent: list[tuple[int, list[dict]]] = []
        for index, (action, params) in enumerate(ops):
            named = params.get("assignment_ids") or []
            if action == "unassign_app" and not 0 < len(named) <= BATCH_LIMIT:
                outcomes[index] = await self._alone(self.unassign_app(user_id, params["app_id"]))
            else:
                try:
                    sent.append((index, await self._batch_requests(user_id, action, params)))
                except ConnectorError as exc:  # refused before sending: this step only
                    outcomes[index] = exc
        for chunk in _chunks(sent):
            sequential = same_target_twice([ops[index][1] for index, _ in chunk])
            requests = [request for _, requests in chunk for request in requests]
            errors = iter(await self.batch(requests, sequential=sequential))
            for index, requests in chunk:
                found = [next(errors) for _ in requests]
                outcomes[index] = next((e for e in found if e is not None), None)
        return outcomes

    @staticmethod
    async def _alone(call) -> ConnectorError | None:
        try:
            await call
        except ConnectorError as exc:
            return exc
        return None

    async def _batch_requests(self, user_id: str, action: str, params: dict) -> list[dict]:
        """A step's requests in a `$batch`: one, or an app removal's DELETE of each
        assignment (user-delete-approleassignments.md: `DELETE
        /users/{id}/appRoleAssignments/{appRoleAssignment-id}`, 204)."""
        if action == "unassign_app":
            return [
                {
                    "method": "DELETE",
                    "url": f"/users/{user_id}/appRoleAssignments/{assignment_id}",
                    "subject": user_id,
                }
                for assignment_id in params["assignment_ids"]
            ]
        return [await self._batch_request(user_id, action, params)]

    async def _batch_request(self, user_id: str, action: str, params: dict) -> dict:
        if action in LICENCE_ACTIONS:
            await entra_licences.check_skus(self, _skus_of(action, params))
        if action == "assign_license":
            body = {"addLicenses": [{"skuId": params["sku_id"], "disabledPlans": []}]}
            return {
                "method": "POST",
                "url": f"/users/{user_id}/assignLicense",
                "body": body | {"removeLicenses": []},
                "subject": user_id,
            }
        if action == "set_licenses":
            return {
                "method": "POST",
                "url": f"/users/{user_id}/assignLicense",
                "body": entra_licences.assign_body(params["add"], params["remove"]),
                "subject": user_id,
            }
        if action == "remove_license":
            return {
                "method": "POST",
                "url": f"/users/{user_id}/assignLicense",
                "body": {"addLicenses": [], "removeLicenses": [params["sku_id"]]},
                "subject": user_id,
            }
        if action == "remove_group":
            return {
                "method": "DELETE",
                "url": f"/groups/{params['group_id']}/members/{user_id}/$ref",
                "subject": user_id,
            }
        if action == "add_group":
            return {
                "method": "POST",
                "url": f"/groups/{params['group_id']}/members/$ref",
                "body": {"@odata.id": f"{self.graph_url}/v1.0/directoryObjects/{user_id}"},
                "subject": user_id,
                "group": params["group_id"],
            }
        if action == "assign_app":
            app_id = params["app_id"]
            body = {
                "principalId": user_id,
                "resourceId": app_id,
                "appRoleId": await self._role(app_id, params.get("app_role_id")),
            }
            return {
                "method": "POST",
                "url": f"/servicePrincipals/{app_id}/appRoleAssignedTo",
                "body": body,
                "subject": user_id,
            }
        raise ValueError(f"{action} cannot be batched")

    async def _role(self, app_id: str, role_id: str | None = None) -> str:
        return entra_apps.role_for(await self.apps(), app_id, role_id)

    async def batch(
        self, requests: list[dict], *, sequential: bool = False
    ) -> list[ConnectorError | None]:
        """Send up to 20 Graph requests in one `$batch`; per request, None or its error.

        Each request: {"method", "url" (relative to /v1.0), "body"?, "subject"?}. Graph runs
        them in any order unless `sequential` (each depends on the one before: after a
        failure, the rest are not run and answer 424).
        """
        answers = await self._post_batch(requests, sequential=sequential)
        return [
            self._batch_outcome(answer, request)
            for answer, request in zip(answers, requests, strict=True)
        ]

    async def _post_batch(
        self, requests: list[dict], *, sequential: bool = False
    ) -> list[dict | None]:
        """Post up to 20 requests as one `$batch`; each one's answer ({"status", "headers",
        "body"?}) in request order, None where the batch left one out.

        Posted through the SDK's own request adapter (auth, TLS), but parsed here:
        msgraph-core's batch helpers cannot decode JSON sub-response bodies, and spell
        `dependsOn` as `depends_on`, which Graph does not read.
        """
        payload = {
            "requests": [
                {
                    "id": str(index),
                    "method": request["method"],
                    "url": request["url"],
                    **({"dependsOn": [str(index - 1)]} if sequential and index else {}),
                    **(
                        {"body": request["body"], "headers": {"Content-Type": "application/json"}}
                        if "body" in request
                        else {}
                    ),
                }
                for index, request in enumerate(requests)
            ]
        }
        info = RequestInformation(Method.POST, "{+baseurl}/$batch")
        info.path_parameters = {"baseurl": f"{self.graph_url}/v1.0"}
        info.headers.try_add("Content-Type", "application/json")
        info.headers.try_add("Accept", "application/json")
        info.content = json.dumps(payload).encode()
        adapter = self._graph().request_adapter
        async with self._errors():
            raw = await adapter.send_primitive_async(info, "bytes", {"XXX": ODataError})
        # Graph may answer in any order: the ids tell which answer is whose.
        answers = {r["id"]: r for r in json.loads(raw)["responses"]}
        return [answers.get(str(index)) for index in range(len(requests))]

    def _batch_outcome(self, answer: dict | None, request: dict) -> ConnectorError | None:
        """A write's error, None when it succeeded or had been done already."""
        error = self._answer_error(answer, request.get("subject", ""))
        if error is None or answer is None:
            return error
        if error.status == 400 and any(text in error.message for text in ALREADY_DONE):
            return None
        if error.status == 404 and request["method"] == "DELETE":
            return None
        if isinstance(error, NotFoundError) and request.get("group"):
            error.group_gone = _names_missing(error, request["group"])
        return error

    def _answer_error(self, answer: dict | None, subject_id: str) -> ConnectorError | None:
        """A sub-response's error in the taxonomy, as `_classify` maps a direct call's."""
        if answer is None:
            return TransientError("The batch came back without this request's answer.")
        status = int(answer.get("status", 0))
        if status < 400:
            return None
        body = answer.get("body") or {}
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = error.get("message") or f"HTTP {status}"
        request_id = (error.get("innerError") or {}).get("request-id", "")
        if status == 404 and self._recently_created(subject_id):
            return ReplicationLagError(f"Not replicated yet: {message}", retry_after=1, status=404)
        if status == 424:  # not run: a request it depends on failed, with its own error
            return TransientError(f"Not run, as a request before it failed: {message}", status=424)
        headers = answer.get("headers") or {}
        throttled = _throttled(status, str(error.get("code") or ""), message, headers)
        if throttled is not None:
            throttled.request_id = request_id
            return throttled
        error = _by_status(status, message, request_id)
        if isinstance(error, TransientError):  # a 503's own Retry-After, as a 429's
            error.retry_after = _retry_after(headers)
        return error


LICENCE_ACTIONS = ("assign_license", "set_licenses", "remove_license")


def _names_missing(error: NotFoundError, object_id: str) -> bool:
    """Graph's 404 for a membership change names the object that is missing, the member or
    the group: "Resource '<id>' does not exist or one of its queried reference-property
    objects are not present." (microsoft-graph-docs-contrib#5090 for a member, #4847 for
    the group)."""
    return f"'{object_id}'".casefold() in error.message.casefold()


def _skus_of(action: str, params: dict) -> list[str]:
    """The SKU ids a licence step's assignLicense names."""
    if action == "set_licenses":
        return [*params["add"], *params["remove"]]
    return [params["sku_id"]]


def _chunks(sent: list[tuple[int, list[dict]]]) -> list[list[tuple[int, list[dict]]]]:
    """Steps' requests in `$batch`es of at most BATCH_LIMIT, a step's requests never split."""
    chunks: list[list[tuple[int, list[dict]]]] = []
    size = BATCH_LIMIT
    for item in sent:
        if size + len(item[1]) > BATCH_LIMIT:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += len(item[1])
    return chunks


def _graph_scope(graph: Endpoint, sandbox: bool) -> str:
    """A national cloud's Graph is its own resource: its token is asked for its own host
    (https://learn.microsoft.com/graph/deployments); the sandbox stands in for the global one."""
    return GRAPH_SCOPE if sandbox else f"https://{graph.host}/.default"


def _same_origin_hook(graph: Endpoint):
    async def hook(request: httpx.Request) -> None:
        refuse_other_origins(graph, str(request.url))

    return hook


async def _refuse_redirects(response: httpx.Response) -> None:
    # Redirects are not followed (kiota would return an empty 3xx as a successful None).
    if response.is_redirect:
        raise EndpointRefusedError(
            f"Nothing more was sent: {response.request.url.host} answered with a redirect "
            f"(HTTP {response.status_code}), and credentials never follow redirects."
        )


def _replication_window_s() -> float:
    """How long an id we created may answer 404 as lag: the engine's window for a stored id
    (one setting, so a test's short window is short here too)."""
    from django.conf import settings

    return float(getattr(settings, "REPLICATION_WINDOW_SECONDS", 30))


def _sandbox_ca():
    from django.conf import settings

    return settings.SANDBOX_CA_FILE


def _user_list_query(top: int, select: list[str]):
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    return UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=top, select=select)


def _user_fields(attributes: dict) -> dict:
    """The msgraph fields of our attributes, blank ones left out: Graph refuses "" for a
    user's string ("Invalid value specified for property 'mail' ...", docs/sandbox-fidelity.md
    "request rules"), so a joiner without an address is created without `mail`."""
    return {
        ATTRIBUTES[k]: v
        for k, v in attributes.items()
        if k in ATTRIBUTES and v is not None and v != ""
    }


# The User fields a connector sends, in the order the SDK's User.serialize writes them (after
# "@odata.type" and the additional data): (model field, JSON name, the type kiota writes).
USER_BODY = [
    ("account_enabled", "accountEnabled", bool),
    ("company_name", "companyName", str),
    ("department", "department", str),
    ("display_name", "displayName", str),
    ("given_name", "givenName", str),
    ("job_title", "jobTitle", str),
    ("mail", "mail", str),
    ("mail_nickname", "mailNickname", str),
    ("office_location", "officeLocation", str),
    ("password_profile", "passwordProfile", dict),  # its value here: the password
    ("surname", "surname", str),
    ("usage_location", "usageLocation", str),
    ("user_principal_name", "userPrincipalName", str),
]
USER_FIELD_NAMES = {name for name, _, _ in USER_BODY}


def user_request(method: Method, builder, fields: dict, cleared: dict | None = None):
    """The request `builder.post`/`patch(User(**fields))` sends (a password profile that
    asks for a new password at the next sign-in; `cleared`: JSON names sent as null, as the
    model's additional data), built without the model: the same URL, headers and bytes
    (kiota's JSON writer: one json.dumps of what it writes, in the order it writes it; a
    string field that is no string, or a flag that is no boolean, left out as it does)."""
    unknown = set(fields) - USER_FIELD_NAMES
    if unknown:
        raise ValueError(f"No User field the connector sends: {sorted(unknown)}")
    body: dict = {"@odata.type": "#microsoft.graph.user", **(cleared or {})}
    for name, key, kind in USER_BODY:
        value = fields.get(name)
        if kind is dict and name in fields:
            body[key] = {"forceChangePasswordNextSignIn": True} | (
                {"password": value} if isinstance(value, str) else {}
            )
        elif kind is not dict and isinstance(value, kind):
            body[key] = value
    info = RequestInformation(method, builder.url_template, builder.path_parameters)
    info.headers.try_add("Accept", "application/json")
    info.headers.try_add("Content-Type", "application/json")
    info.content = json.dumps(body).encode()
    return info


def _middleware() -> list:
    """The SDK's request pipeline without the handlers that do nothing here but cost CPU on
    every request: retries (the engine owns them), redirects (never followed: httpx does not,
    and `_refuse_redirects` refuses them), `/me` URL replacing, header and body inspection
    (only on a request that asks for it; none does)."""
    return [ParametersNameDecodingHandler(), UserAgentHandler(), GraphTelemetryHandler()]


class _GraphAdapter(GraphRequestAdapter):
    """The SDK's request adapter, expanding a request's URL template once: kiota expands it
    again at every read of `RequestInformation.url`, three a request (a pure-Python walk
    over every character of the query, ~1 ms for a `$select` of a user's fields)."""

    def set_base_url_for_request_information(self, request_info: RequestInformation) -> None:
        super().set_base_url_for_request_information(request_info)
        url = request_info.url
        # The setter clears these, and the path's may be its request builder's own dict.
        request_info.path_parameters, request_info.query_parameters = {}, {}
        request_info.url = url


def _user_from_body(body: dict) -> DirectoryUser:
    """`_directory_user` of a user's JSON, read as the SDK reads it (a string field that is
    not a string, or a flag that is not a boolean, is None) without building its model."""
    attributes = {ours: body.get(key) for ours, key in ATTRIBUTE_KEYS.items()}
    return DirectoryUser(
        id=str(body.get("id")),
        username=_text(body.get("userPrincipalName")) or "",
        enabled=body.get("accountEnabled") is True,
        attributes={k: v for k, v in attributes.items() if isinstance(v, str)}
        | ({"synced": True} if body.get("onPremisesSyncEnabled") is True else {})
        | _user_type(_text(body.get("userType"))),
    )


def _assignments_to(page: dict, app_id: str) -> list[str | None]:
    """The ids of a page's appRoleAssignments to `app_id`, as the SDK's models read them:
    `resourceId` a UUID (any form Python's UUID takes; ValueError for no UUID, as the model's
    parse raises), `id` a string or None."""
    items = page.get("value") if isinstance(page, dict) else None
    found = []
    for item in items if isinstance(items, list) else ():
        item = item if isinstance(item, dict) else {}
        resource = item.get("resourceId")
        resource = UUID(resource) if isinstance(resource, str) else None
        if str(resource) == app_id:
            found.append(_text(item.get("id")))
    return found


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _directory_user(user: User) -> DirectoryUser:
    attributes = {ours: getattr(user, theirs, None) for ours, theirs in ATTRIBUTES.items()}
    return DirectoryUser(
        id=str(user.id),
        username=user.user_principal_name or "",
        enabled=bool(user.account_enabled),
        attributes={k: v for k, v in attributes.items() if v is not None}
        | ({"synced": True} if user.on_premises_sync_enabled else {})
        | _user_type(user.user_type),
    )


def _user_type(value: str | None) -> dict:
    """Where a read selected it (a manager's: `manager_of`): Member or Guest."""
    return {"user_type": value} if value else {}


def _group_detail(group) -> dict:
    """Rule-based, or owned by another system: a mail-enabled security group or distribution
    list (mail-enabled, not "Unified") by Exchange, a synced group by on-premises AD."""
    return {
        "dynamic": bool(group.membership_rule),
        "mail_enabled": bool(group.mail_enabled),
        "security_enabled": bool(group.security_enabled),
        "unified": "Unified" in (group.group_types or []),
        "synced": bool(group.on_premises_sync_enabled),
        "role_assignable": bool(group.is_assignable_to_role),
    }


def _domain_from_body(body: dict) -> Resource:
    """A domain's Resource from its JSON, read as the SDK's Domain model reads it (a value of
    the wrong type is None) without building the model."""
    name = str(_text(body.get("id"))).lower()
    kind = _text(body.get("authenticationType")) or ""
    detail = {"verified": body.get("isVerified") is True, "federated": kind.lower() == "federated"}
    return Resource(name, name, detail)


def _sku_from_body(body: dict) -> Resource:
    """A subscribed SKU's Resource from its JSON, read as the SDK's SubscribedSku model reads
    it (its GUID parsed as the SDK parses it, a value of the wrong type None; prepaidUnits
    missing or null gives a total of 0, any other non-object None, as its empty model did)."""
    units = body.get("prepaidUnits")
    if units is None:
        total = 0
    else:
        total = units.get("enabled") if isinstance(units, dict) else None
        total = total if isinstance(total, int) else None
    consumed = body.get("consumedUnits")
    return Resource(
        str(JsonParseNode(body.get("skuId")).get_uuid_value()),
        _text(body.get("skuPartNumber")) or "",
        {"total": total, "consumed": (consumed if isinstance(consumed, int) else None) or 0},
    )


def _group_from_body(body: dict) -> Resource:
    """A group's Resource from its JSON, read as the SDK's Group model reads it (a value of
    the wrong type is None) without building the model."""
    kinds = body.get("groupTypes")
    if kinds is not None:
        kinds = JsonParseNode(kinds).get_collection_of_primitive_values(str)
    return Resource(
        str(_text(body.get("id"))),
        _text(body.get("displayName")) or "",
        {
            "dynamic": bool(_text(body.get("membershipRule"))),
            "mail_enabled": body.get("mailEnabled") is True,
            "security_enabled": body.get("securityEnabled") is True,
            "unified": "Unified" in (kinds or []),
            "synced": body.get("onPremisesSyncEnabled") is True,
            "role_assignable": body.get("isAssignableToRole") is True,
        },
    )


def _observed(item: dict) -> ObservedAccount:
    licences = item.get("assignedLicenses")
    return ObservedAccount(
        id=str(item["id"]),
        username=item.get("userPrincipalName") or "",
        enabled=bool(item.get("accountEnabled", True)),
        mail=item.get("mail") or "",
        employee_id=item.get("employeeId") or "",
        display_name=item.get("displayName") or "",
        first_name=item.get("givenName") or "",
        last_name=item.get("surname") or "",
        user_type=item.get("userType") or "",
        department=item.get("department") or "",
        attributes={
            k: v for k, v in item.items() if k not in INVENTORY_OWN and not k.startswith("@")
        },
        licences=None
        if licences is None
        else frozenset(str(x["skuId"]) for x in licences if x.get("skuId")),
    )


def _next(body: dict) -> tuple[str, bool]:
    """The link that continues a read (more=True), else the deltaLink for the next one."""
    if body.get("@odata.nextLink"):
        return body["@odata.nextLink"], True
    return body.get("@odata.deltaLink") or "", False


def _by_status(status: int, message: str, request_id: str) -> ConnectorError:
    kwargs = {"status": status, "request_id": request_id}
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status == 401:
        return AuthenticationError(message, **kwargs)
    if status == 403:
        return PermissionDeniedError(message, **kwargs)
    if status == 429:
        return ThrottledError(message, retry_after=None, **kwargs)
    if status >= 500 or status in (408, 0):
        return TransientError(message, **kwargs)
    if status == 400 and NO_SEAT in message:
        return NoSeatError(message, **kwargs)
    return PermanentError(message, **kwargs)


def _throttled(status: int, code: str, message: str, headers) -> ThrottledError | None:
    """Graph throttles with 429, or with 503 Request_ThrottledTemporarily; Retry-After may be
    missing (the engine backs off on its own then)."""
    if status == 429 or (status == 503 and code == "Request_ThrottledTemporarily"):
        return ThrottledError(message, retry_after=_retry_after(headers), status=status)
    return None


def _retry_after(headers) -> float | None:
    if not headers:
        return None
    for key in ("Retry-After", "retry-after"):
        value = headers.get(key) if hasattr(headers, "get") else None
        if isinstance(value, list | tuple | set):
            value = next(iter(value), None)
        if value:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def _is_object_id(text: str) -> bool:
    return len(text) == 36 and text.count("-") == 4


def _why(exc: Exception) -> str:
    return _first_line(str(exc)) if str(exc).strip() else type(exc).__name__


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:500] if text and text.strip() else "Sign-in failed."
