"""The SCIM 2.0 endpoint of a tenant, /scim/v2/<tenant>/: bearer-authenticated, without a
session or CSRF token, every answer `application/scim+json`, every error RFC 7644 §3.12.

A token opens its own tenant only: another tenant's URL is answered 404, as if it did not
exist. Refused calls and every write are in the tenant's audit trail.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import NoReturn

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, IntegrityError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.log import log_response
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    ForbiddenException,
    Group,
    InvalidFilterException,
    InvalidPathException,
    InvalidSyntaxException,
    InvalidValueException,
    ListResponse,
    NotFoundException,
    NotImplementedException,
    PatchOp,
    PreconditionFailedException,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
    UniquenessException,
)

from portal import ratelimit
from portal.audit.events import record
from portal.head import answers_head
from portal.parametrized import kept
from provisioning import refusals
from provisioning.scim import mapping, queries, resources, service, tokens
from provisioning.scim.filters import MAX_FILTER_LENGTH
from provisioning.scim.resources import ScimUser

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/scim+json"
JSON_TYPES = (CONTENT_TYPE, "application/json")  # what a request body may be (RFC 7644 §8.1)
MAX_BODY_BYTES = 256 * 1024
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
REFUSALS = "scim"
REQUESTS = "scim-requests"
# Okta refuses a token whose issuing admin was deactivated; ours also once they are no MSP
# admin, whose rights it had (help.okta.com, Manage Okta API tokens).
ISSUER_GONE = "the token's issuer is deactivated or no longer an MSP admin"
ENTERPRISE = str(resources.EnterpriseExtension.__schema__)


def answer(payload: dict | None, status: int = 200, **headers) -> HttpResponse:
    body = "" if payload is None else json.dumps(payload, default=str)
    response = HttpResponse(body, status=status, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _no_content() -> HttpResponse:
    """A 204 has no content (RFC 9110 §15.3.5), so no Content-Type to describe it."""
    response = answer(None, 204)
    del response["Content-Type"]
    return response


def error(status: int, detail: str, scim_type: str | None = None, **headers) -> HttpResponse:
    payload = Error(status=status, scim_type=scim_type, detail=detail).model_dump()
    return answer(payload, status, **headers)


def scim_view(methods: tuple[str, ...]) -> Callable:
    """Authenticate the bearer token for the URL's tenant, then run the view; a SCIM
    exception it raises is the answer."""

    def decorate(view):
        @answers_head
        @csrf_exempt
        @_negotiated
        @wraps(view)
        def wrapper(request: HttpRequest, tenant: str, **kwargs) -> HttpResponse:
            addr = refusals.remote_addr(request)
            if refusals.too_many(REFUSALS, addr, settings.SCIM_REFUSALS_PER_MINUTE):
                return error(
                    429,
                    "Too many refused requests from this address: wait a minute.",
                    Retry_After=refusals.retry_after(),
                )
            token = tokens.find(tokens.bearer_of(request.headers.get("Authorization", "")))
            if token is None or not token.issuer_stands:
                refusals.count(REFUSALS, addr)
                reason = "no valid bearer token" if token is None else ISSUER_GONE
                if refusals.recordable(REFUSALS):
                    tokens.refuse(tenant, reason, token=token, http_request=request)
                return error(
                    401, "A valid bearer token is required.", WWW_Authenticate='Bearer realm="scim"'
                )
            if token.tenant.slug != tenant or not token.tenant.is_active:
                refusals.count(REFUSALS, addr)
                if refusals.recordable(REFUSALS):
                    tokens.refuse(
                        tenant, "token of another tenant", token=token, http_request=request
                    )
                return error(404, "No such SCIM endpoint.")
            wait = _seconds_to_wait(token)
            if wait:
                return error(
                    429,
                    f"This token's limit of requests a minute is used up; try again in {wait} s.",
                    Retry_After=str(wait),
                )
            tokens.note_use(token)
            if request.method not in methods:
                return error(
                    405, f"{request.method} is not supported here.", Allow=", ".join(methods)
                )
            if _too_large(request):
                return error(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KB.")
            if request.body and not _json_typed(request):
                return error(
                    415,
                    "Send the body as application/scim+json (or application/json).",
                    Accept=", ".join(JSON_TYPES),
                )
            try:
                return view(request, token, **kwargs)
            except SCIMException as exc:
                return _refused(request, token, exc.to_error())
            except IntegrityError:  # the same user sent twice at once: the other one won
                return _refused(
                    request,
                    token,
                    UniquenessException(detail="The user exists already.").to_error(),
                )
            except DatabaseError:
                logger.exception("SCIM request of tenant %s failed", tenant)
                return error(500, "The portal could not process the request; send it again.")

        return wrapper

    return decorate


def _negotiated(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """RFC 7644 §3.8: providers "MUST support the Accept header "Accept:
    application/scim+json" and SHOULD support the header "Accept: application/json"", and
    "The format defaults to application/scim+json". A client that prefers application/json
    gets the same document under that type; any other Accept is disregarded (RFC 9110
    §12.5.1), as the default."""

    @wraps(view)
    def negotiating(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.get("Content-Type") == CONTENT_TYPE and _prefers_json(request):
            response["Content-Type"] = "application/json"
        patch_vary_headers(response, ("Accept",))
        return response

    return negotiating


def _prefers_json(request: HttpRequest) -> bool:
    return request.get_preferred_type(JSON_TYPES) == "application/json"


def _seconds_to_wait(token) -> int:
    """A live token's requests a minute (RFC 6585 §4: 429 with Retry-After), counted by its
    digest: a token's row id is reused after a delete, a digest never."""
    return ratelimit.seconds_to_wait(
        REQUESTS, token.token_sha256[:32], limit=settings.SCIM_REQUESTS_PER_MINUTE, window_s=60
    )


def _too_large(request: HttpRequest) -> bool:
    """Told by Content-Length before the body is read: past Django's own limit
    (DATA_UPLOAD_MAX_MEMORY_SIZE) reading it raises, which answered the portal's HTML page."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return True
    try:
        return len(request.body) > MAX_BODY_BYTES
    except RequestDataTooBig:
        return True


def _json_typed(request: HttpRequest) -> bool:
    """Whether the body says it is JSON, or says nothing (RFC 9110 §8.3: without a
    Content-Type the recipient may examine the data); another media type is refused with
    415 (§15.5.16) rather than read as JSON."""
    declared = request.content_type or ""
    return declared in JSON_TYPES or not request.META.get("CONTENT_TYPE")


def _refused(request: HttpRequest, token, scim_error: Error) -> HttpResponse:
    status = int(scim_error.status or 400)
    if request.method in WRITES:
        record(
            "scim.reject",
            actor=tokens.actor_of(token),
            tenant=token.tenant,
            after={
                "token": token.name,
                "method": request.method,
                "path": request.path[:200],
                "status": status,
                "scim_type": scim_error.scim_type or "",
                "detail": (scim_error.detail or "")[:300],
            },
            result="failure",
            request=request,
        )
    response = answer(scim_error.model_dump(), status)
    if status == 501:
        # An optional operation we do not offer (a search at the root, bulk): a refusal,
        # logged as Django logs a 4xx, not at ERROR with the server's own failures.
        log_response(
            "%s: %s",
            response.reason_phrase,
            request.path,
            response=response,
            request=request,
            level="warning",
        )
    return response


def base_url(request: HttpRequest, token) -> str:
    root = reverse("scim_service_provider_config", kwargs={"tenant": token.tenant.slug})
    return request.build_absolute_uri(root).rsplit("/", 1)[0]


def _body(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
        raise InvalidSyntaxException(detail="The body is not JSON.") from None
    if not isinstance(data, dict):
        raise InvalidSyntaxException(detail="The body must be a JSON object.")
    if problem := _unstorable(data) or _overlong_list(data):
        raise InvalidValueException(detail=problem)  # before any of it is read
    return data


# Items of one list (a multi-valued attribute's values, a PATCH's operations): scim2-models
# validates each on its own (5,000 e-mail addresses within the 256 KB body cost 3 s of CPU)
# and a PATCH applies each; an identity provider sends a handful.
MAX_LIST_ITEMS = 100


def _overlong_list(data: dict) -> str:
    """A list of more than MAX_LIST_ITEMS items at any depth (walked without recursion), or
    "" when there is none."""
    pending: list = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, list):
            if len(value) > MAX_LIST_ITEMS:
                return f"A list may hold at most {MAX_LIST_ITEMS} items, not {len(value)}."
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
    return ""


def _unstorable(data: dict) -> str:
    """What no text column stores, in any key or string value at any depth (walked without
    recursion): a NUL (PostgreSQL refuses it) or a lone surrogate, which JSON's \\u escapes
    can spell but UTF-8 cannot encode (RFC 8259 §8.2). "" when there is neither."""
    pending: list = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "A value may not contain a NUL character (\\u0000)."
            if _LONE_SURROGATE.search(value):
                return "A value may not contain a lone surrogate (\\ud800 to \\udfff): not text."
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return ""


def _body_as(model, request: HttpRequest, context: Context, shaped=None):
    """The request's body as `model`, which its `schemas` must name: a PatchOp's
    "urn:ietf:params:scim:api:messages:2.0:PatchOp" (RFC 7644 §3.5.2: "The body of each
    request MUST contain the "schemas" attribute with the URI value of ..."), a
    SearchRequest's (§3.4.3), a resource's core schema (RFC 7643 §3, `schemas` REQUIRED).
    Without it the body does not conform to the request schema: invalidSyntax (§3.12), and
    so too where `shaped` finds the message's structure wrong."""
    data = _body(request)
    wanted = str(model.__schema__)
    named = data.get("schemas")
    if not isinstance(named, list) or wanted.lower() not in {str(n).lower() for n in named}:
        raise InvalidSyntaxException(detail=f"The body's schemas must name {wanted}.")
    if shaped is not None:
        shaped(data)
    return _validated(model, data, context)


PATCH_OPS = ("add", "remove", "replace")


def _member(data: dict, name: str):
    return next((v for k, v in data.items() if str(k).lower() == name.lower()), None)


def _patch_op_shaped(data: dict) -> None:
    """RFC 7644 §3.5.2: "Operations" is "an array of one or more PATCH operations", each with
    "exactly one "op" member" among add, remove and replace (in any case: Entra sends
    "Replace", and attribute names are case-insensitive, RFC 7643 §2.1). Otherwise the body
    does not conform to the PatchOp message: invalidSyntax, as the sandbox's SCIM apps say.
    A member an operation needs that is missing (an add's value) stays invalidValue."""
    operations = _member(data, "Operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntaxException(detail="Operations must be a list of one or more operations.")
    for n, operation in enumerate(operations):
        op = _member(operation, "op") if isinstance(operation, dict) else None
        if not isinstance(op, str) or op.lower() not in PATCH_OPS:
            raise InvalidSyntaxException(
                detail=f"Operations[{n}].op must be add, remove or replace, not {op!r:.40}."
            )
        path = _member(operation, "path")
        if isinstance(path, str) and len(path) > MAX_FILTER_LENGTH:
            # bounded before scim2-models reads it: reading costs time in its length
            raise InvalidPathException(detail=f"Operations[{n}].path is too long.")


def _validated(model, data: dict, context: Context):
    try:
        return model.model_validate(data, scim_ctx=context)
    except ValidationError as exc:
        _raise_first(exc)


def _raise_first(exc: ValidationError, by_field_name: bool = False) -> NoReturn:
    """The first error, said as "what is wrong: where", with its own scimType (invalidSyntax,
    invalidPath, mutability …, RFC 7644 §3.12), else invalidValue; never pydantic's whole
    report (its model names and links). A PATCH's error is an assignment's, located by the
    model's field names (`given_name`): said by the attribute's SCIM name (`givenName`)."""
    errors = exc.errors()
    if by_field_name:
        errors = [{**e, "loc": tuple(_camel(p) for p in e["loc"])} for e in errors]
    first = Error.from_validation_errors(errors)[0]
    first.scim_type = first.scim_type or "invalidValue"
    raise SCIMException.from_error(first) from None


def _camel(part: str | int) -> str | int:
    if not isinstance(part, str) or "_" not in part:
        return part
    head, *rest = part.split("_")
    return head + "".join(word.title() for word in rest)


def _shown(params, model=ScimUser) -> ResponseParameters:
    """The `attributes` / `excludedAttributes` asked for (RFC 7644 §3.9), of `model`'s."""
    _require_bounded(params)
    _require_one_of_attributes(params)
    wanted = {
        "attributes": params.get("attributes") or None,
        "excludedAttributes": params.get("excludedAttributes") or None,
    }
    return _validated(kept(ResponseParameters, model), wanted, Context.DEFAULT)


def _scim_user(request, token, identity) -> ScimUser:
    base = base_url(request, token)
    user = mapping.scim_user_of(mapping.fields_of(identity), base)
    user.id = resources.user_id(identity)
    user.meta = resources.user_meta(identity, base)
    return user


def _user_answer(request, token, identity, status=200, context=Context.RESOURCE_QUERY_RESPONSE):
    user = _scim_user(request, token, identity)
    headers = {"Location": user.meta.location} if status == 201 else {}
    shown = _shown(request.GET)
    payload = _typed(user.model_dump(scim_ctx=context, response_parameters=shown))
    return answer(payload, status, **headers)


def _typed(payload: dict) -> dict:
    """Every user names the enterprise extension in `schemas`, even without a value of it:
    its resource type has the extension, and a client (scim2-client) picks the model of a
    response by these URNs, so one without would drop the extension from a later PATCH."""
    if ENTERPRISE not in payload.get("schemas", []):
        payload["schemas"] = [*payload.get("schemas", []), ENTERPRISE]
    return payload


# -- discovery --------------------------------------------------------------------------------


def _unfiltered(view):
    """RFC 7644 §4: the discovery endpoints take no filter, and one given SHOULD be answered
    403, so that a client does not take the whole list for what matched."""

    @wraps(view)
    def discovery(request: HttpRequest, token, **kwargs) -> HttpResponse:
        if "filter" in request.GET:
            raise ForbiddenException(detail="The discovery endpoints cannot be filtered.")
        return view(request, token, **kwargs)

    return discovery


@scim_view(("GET",))
@_unfiltered
def service_provider_config(request: HttpRequest, token) -> HttpResponse:
    return answer(resources.service_provider_config(base_url(request, token)).model_dump())


@scim_view(("GET",))
@_unfiltered
def schemas(request: HttpRequest, token) -> HttpResponse:
    found = resources.schemas(base_url(request, token))
    return answer(_listed(Schema, found, len(found), 1, Context.DEFAULT))


@scim_view(("GET",))
@_unfiltered
def schema(request: HttpRequest, token, schema_id: str) -> HttpResponse:
    for each in resources.schemas(base_url(request, token)):
        if each.id.casefold() == schema_id.casefold():
            return answer(each.model_dump())
    raise NotFoundException(detail=f"No schema {schema_id}.")


@scim_view(("GET",))
@_unfiltered
def resource_types(request: HttpRequest, token) -> HttpResponse:
    found = resources.resource_types(base_url(request, token))
    return answer(_listed(ResourceType, found, len(found), 1, Context.DEFAULT))


@scim_view(("GET",))
@_unfiltered
def resource_type(request: HttpRequest, token, name: str) -> HttpResponse:
    for each in resources.resource_types(base_url(request, token)):
        if each.id.casefold() == name.casefold():
            return answer(each.model_dump())
    raise NotFoundException(detail=f"No resource type {name}.")


def _listed(
    model, items: list, total: int, start: int, context=Context.SEARCH_RESPONSE, shown=None
) -> dict:
    listing = kept(ListResponse, model)(
        total_results=total, start_index=start, items_per_page=len(items), resources=items
    )
    return listing.model_dump(scim_ctx=context, response_parameters=shown)


# -- users ------------------------------------------------------------------------------------


@scim_view(("GET", "POST"))
def users(request: HttpRequest, token) -> HttpResponse:
    tenant = token.tenant
    if request.method == "POST":
        user = _body_as(ScimUser, request, Context.RESOURCE_CREATION_REQUEST)
        identity = service.create(tenant, user, token=token, http_request=request)
        return _user_answer(request, token, identity, 201, Context.RESOURCE_CREATION_RESPONSE)
    return _user_list(request, token, request.GET)


@scim_view(("POST",))
def users_search(request: HttpRequest, token) -> HttpResponse:
    """POST /Users/.search: the same query, in a SearchRequest body (RFC 7644 §3.4.3)."""
    return _user_list(request, token, _search_params(request, ScimUser))


def _search_params(request: HttpRequest, model) -> dict:
    """A SearchRequest body of `model`'s resources as the query string's parameters."""
    search = _body_as(
        kept(SearchRequest, model), request, Context.SEARCH_REQUEST, _search_request_shaped
    )
    params = search.model_dump(exclude_none=True, by_alias=True)
    return {k: _as_query(v) for k, v in params.items() if k != "schemas"}


def _search_request_shaped(data: dict) -> None:
    """RFC 7644 §3.4.3: startIndex and count are integers, attributes and excludedAttributes
    lists of strings; another shape (`"2"`, `true`, a lone name) is invalidSyntax (§3.12),
    as the sandbox's SCIM apps answer, not a value read as the nearest number or list."""
    for name in ("startIndex", "count"):
        value = _member(data, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidSyntaxException(detail=f"{name} must be an integer.")
    for name in ("attributes", "excludedAttributes"):
        value = _member(data, name)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise InvalidSyntaxException(detail=f"{name} must be a list of attribute names.")
    _require_bounded(data)
    _require_one_of_attributes(data)


# A member's refusal past MAX_FILTER_LENGTH characters as query-string text (a list joined
# with commas). scim2-models reads a filter, a path and each attribute name as it validates,
# and the shown resources are cut by each name: past the bound nothing is read (200 KB cost
# seconds of CPU). RFC 7644 sets no length; an identity provider sends a few names.
BOUNDED = {
    "filter": InvalidFilterException,
    "sortBy": InvalidPathException,
    "attributes": InvalidValueException,
    "excludedAttributes": InvalidValueException,
}


def _require_one_of_attributes(params) -> None:
    """RFC 7644 §3.9: `attributes` and `excludedAttributes` are "mutually exclusive";
    scim2-models refuses both with its own field names ('excluded_attributes')."""
    if _member(params, "attributes") and _member(params, "excludedAttributes"):
        raise InvalidValueException(
            detail="attributes and excludedAttributes are mutually exclusive: send one of them."
        )


def _require_bounded(params) -> None:
    for name, refusal in BOUNDED.items():
        value = _member(params, name)
        if value is not None and len(_as_query(value)) > MAX_FILTER_LENGTH:
            shown = "The filter" if name == "filter" else name
            raise refusal(detail=f"{shown} is too long.")


def _as_query(value) -> str:
    """A SearchRequest member as the query string has it: `attributes` and
    `excludedAttributes` are JSON arrays there, comma-separated names here."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _user_list(request: HttpRequest, token, params) -> HttpResponse:
    shown = _shown(params)  # first: names past the bound are refused before any is read
    page = queries.page_of_users(token.tenant, params)
    found = [_scim_user(request, token, identity) for identity in page.people]
    payload = _listed(ScimUser, found, page.total, page.start, shown=shown)
    payload["Resources"] = [_typed(each) for each in payload.get("Resources", [])]
    return answer(payload)


@scim_view(("GET", "PUT", "PATCH", "DELETE"))
def user(request: HttpRequest, token, user_id: str) -> HttpResponse:
    identity = queries.user_or_404(token.tenant, user_id)
    _require_preconditions(request)
    if request.method == "GET":
        return (
            _not_modified() if _none_match_any(request) else _user_answer(request, token, identity)
        )
    if request.method == "DELETE":
        service.delete(identity, token=token, http_request=request)
        return _no_content()
    if request.method == "PUT":
        replacement = _body_as(ScimUser, request, Context.RESOURCE_REPLACEMENT_REQUEST)
        identity = service.update(
            identity, lambda _: replacement, token=token, http_request=request
        )
        return _user_answer(request, token, identity, 200, Context.RESOURCE_REPLACEMENT_RESPONSE)
    patch = _body_as(
        kept(PatchOp, ScimUser), request, Context.RESOURCE_PATCH_REQUEST, _patch_op_shaped
    )
    identity = service.update(
        identity, lambda person: _patched(patch, person), token=token, http_request=request
    )
    return _user_answer(request, token, identity, 200, Context.RESOURCE_PATCH_RESPONSE)


def _patched(patch, identity) -> ScimUser:
    """The person's SCIM user as the portal holds them now, with the PATCH's operations."""
    current = mapping.scim_user_of(mapping.fields_of(identity))
    current.id = resources.user_id(identity)
    patch.operations = [op for op in patch.operations if not _on_ignored(op.path)]
    try:
        patch.patch(current)
    except InvalidValueException as exc:
        if isinstance(exc.__cause__, ValidationError):  # a value its attribute cannot hold
            _raise_first(exc.__cause__, by_field_name=True)
        raise
    return current


def _on_ignored(path) -> bool:
    """An operation on an attribute the portal does not keep, which a POST or PUT would
    ignore: Entra's default mappings `Add` the work phone and address on a value-filtered
    path (`phoneNumbers[type eq "work"].value`), which matches no value of an attribute never
    kept (RFC 7644 §3.5.2's noTarget), and refusing it lost the rest of the request."""
    return path is not None and bool(path.parts) and resources.ignored(path.schema, path.parts[0])


def _require_preconditions(request: HttpRequest) -> None:
    """RFC 9110 §13.1.1-2 on a user or group that exists: the endpoint keeps no ETags
    (ServiceProviderConfig: etag unsupported), so If-Match holds only as `*`, and
    If-None-Match `*` never does (a GET's is answered 304, `_none_match_any`). A client
    guarding against a lost update is told 412 instead of having its write applied
    unguarded."""
    if_match = request.headers.get("If-Match")
    if if_match is not None and if_match.strip() != "*":
        raise PreconditionFailedException(
            detail="No version of this resource matches If-Match: this endpoint keeps no ETags."
        )
    if _none_match_any(request) and request.method != "GET":
        raise PreconditionFailedException(detail="The resource exists (If-None-Match: *).")


def _none_match_any(request: HttpRequest) -> bool:
    return (request.headers.get("If-None-Match") or "").strip() == "*"


def _not_modified() -> HttpResponse:
    """RFC 9110 §13.2.2: a GET (or HEAD) whose If-None-Match is false is 304, without
    content (§15.4.5)."""
    response = _no_content()
    response.status_code = 304
    return response


# -- groups: the tenant's role templates, read-only -------------------------------------------


@scim_view(("GET",))
def groups(request: HttpRequest, token) -> HttpResponse:
    return _group_list(request, token, request.GET)


@scim_view(("POST",))
def groups_search(request: HttpRequest, token) -> HttpResponse:
    """POST /Groups/.search: RFC 7644 §3.4.3 makes "/.search" on a valid endpoint a query."""
    return _group_list(request, token, _search_params(request, Group))


def _group_list(request: HttpRequest, token, params) -> HttpResponse:
    shown = _shown(params, Group)
    page = queries.page_of_groups(token.tenant, params)
    base = base_url(request, token)
    found = [resources.group_of(t, base, members) for t, members in page.groups]
    return answer(_listed(Group, found, page.total, page.start, shown=shown))


@scim_view(("GET",))
def group(request: HttpRequest, token, group_id: str) -> HttpResponse:
    template, members = queries.group_or_404(token.tenant, group_id)
    _require_preconditions(request)
    if _none_match_any(request):
        return _not_modified()
    found = resources.group_of(template, base_url(request, token), members)
    shown = _shown(request.GET, Group)  # RFC 7644 §3.4.2.5: Entra asks excludedAttributes=members
    return answer(
        found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=shown)
    )


@scim_view(("GET", "POST", "PUT", "PATCH", "DELETE"))
def unknown(request: HttpRequest, token, rest: str = "") -> HttpResponse:
    if rest == ".search" and request.method == "POST":
        raise NotImplementedException(
            detail="Searching several resource types at once is not supported: POST /Users/.search."
        )
    if rest == "Bulk" and request.method == "POST":
        # RFC 7644 §3.7: bulk is optional, and CONFIG says it is not supported; §3.12's 501.
        raise NotImplementedException(detail="Bulk operations are not supported.")
    if rest == "Me" or rest.startswith("Me/"):
        # RFC 7644 §3.11: a token here is an identity provider's, no person to stand for;
        # "A service provider that does NOT support this feature SHOULD respond with 501".
        raise NotImplementedException(detail="/Me is not supported: a token here is no user's.")
    raise NotFoundException(detail="No such SCIM resource.")
