"""One request to the HR webhook, from its bytes to its answer; every request is recorded.

Order of the checks: size (413), timestamp and signature (401: the same answer for an unknown
tenant, a tenant without a secret and a wrong signature, so that nobody learns which tenants
exist), the tenant's signed requests a minute (429, recorded once a minute), the event (400,
also without an id), its signed id as the idempotency key (a resent
event: 200 with the original job), the tenant's data (422), then the service call (202).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest

from portal import ratelimit
from portal.audit.events import record
from portal.plain_text import printable
from portal.signin import within_budget
from portal.templatetags.time_tags import when_exact
from provisioning import refusals
from provisioning.webhook import schema, service, signing
from provisioning.webhook.models import HRWebhookEvent
from tenants.crypto import CredentialError
from tenants.models import Tenant

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
UNSIGNED = "The request is not signed correctly for this endpoint."
Outcome = HRWebhookEvent.Outcome


@dataclass
class Reply:
    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Inbound:
    """What is known of a request before it is trusted."""

    request: HttpRequest
    slug: str
    body: bytes = b""
    tenant: Tenant | None = None
    event_type: str = ""
    employee_id: str = ""
    key: str = ""
    facts: dict = field(default_factory=dict)
    signed: bool = False  # by the tenant's secret: its rejections are always recorded

    @property
    def remote_addr(self) -> str | None:
        return refusals.remote_addr(self.request)

    def event_row(self, outcome: str, reason: str = "", job=None) -> HRWebhookEvent:
        return HRWebhookEvent.objects.create(
            tenant=self.tenant,
            tenant_slug=self.slug,
            idempotency_key=self.key[:200],
            event_type=self.event_type[:20],
            employee_id=self.employee_id[:64],
            outcome=outcome,
            reason=reason[:300],
            remote_addr=self.remote_addr,
            body_sha256=hashlib.sha256(self.body).hexdigest() if self.body else "",
            job=job,
        )


def handle(request: HttpRequest, slug: str) -> Reply:
    inbound = Inbound(request, printable(slug)[:60])
    if _too_many_refusals(inbound.remote_addr):
        # Nothing is written: a sender that keeps failing must not fill the event table and
        # the audit trail. A sender with valid signatures is never refused, so never slowed.
        logger.warning("HR webhook: too many refused requests from %s", inbound.remote_addr)
        return Reply(
            429,
            {"error": "too_many_refusals", "message": REFUSALS_MESSAGE},
            {"Retry-After": refusals.retry_after()},
        )
    if inbound.slug == slug[:60]:  # a slug with a control character names no tenant
        inbound.tenant = Tenant.objects.filter(slug=inbound.slug).first()
    size = _content_length(request)
    if size > MAX_BODY_BYTES:
        return _reject(inbound, 413, "too_large", f"The body is larger than {_limit()}.")
    inbound.body = request.body
    if len(inbound.body) > MAX_BODY_BYTES:
        return _reject(inbound, 413, "too_large", f"The body is larger than {_limit()}.")
    refusal = _authenticate(inbound)
    if refusal is not None:
        return refusal
    inbound.signed = True
    # Counted once signed, so that an outsider's requests cannot use up a tenant's minute.
    wait = _seconds_to_wait(inbound.tenant)
    if wait:
        return _rate_limited(inbound, wait)
    try:
        event = schema.parse(inbound.body)
    except schema.InvalidEvent as exc:
        _note_raw(inbound)
        return _reject(inbound, 400, "invalid_event", exc.message, details=exc.details)
    inbound.event_type, inbound.employee_id = event.event, event.employee_id
    # The signed id is the idempotency key. An Idempotency-Key header is ignored: it is not
    # signed, so a captured body resent with another header must still be the same event.
    inbound.key = event.id
    original = _accepted(inbound)
    if original is not None:
        return _duplicate(inbound, original)
    return _accept(inbound, event)


# RFC 9110 §15.5.2: a 401 MUST carry a challenge. The signature is no registered HTTP
# authentication scheme (docs/hr-webhook.md's recipe), so the challenge names it plainly.
CHALLENGE = 'HMAC-SHA256 realm="hr-webhook"'
REFUSALS_MESSAGE = "Too many refused requests from this address: wait a minute."
REFUSALS = "hr-webhook"


def _too_many_refusals(remote_addr: str | None) -> bool:
    return refusals.too_many(REFUSALS, remote_addr, settings.HR_WEBHOOK_REFUSALS_PER_MINUTE)


def _count_refusal(remote_addr: str | None) -> None:
    refusals.count(REFUSALS, remote_addr)


REQUESTS = "hr-webhook-requests"
WINDOW_SECONDS = 60


def _seconds_to_wait(tenant: Tenant) -> int:
    """0 while this signed request is within the tenant's limit a minute (and counts it);
    else the seconds until the minute ends, for Retry-After (RFC 6585 §4)."""
    return ratelimit.seconds_to_wait(
        REQUESTS,
        str(tenant.pk),
        limit=settings.HR_WEBHOOK_REQUESTS_PER_MINUTE,
        window_s=WINDOW_SECONDS,
    )


def _rate_limited(inbound: Inbound, wait: int) -> Reply:
    """The 429: nothing written but one security event per tenant and minute, within the
    security events' budget (a sender in a loop must not fill the trail either)."""
    limit = settings.HR_WEBHOOK_REQUESTS_PER_MINUTE
    tenant = inbound.tenant
    minute = int(time.time() // WINDOW_SECONDS)
    logger.warning("HR webhook of tenant %s: over %s signed requests a minute", tenant.pk, limit)
    if ratelimit.first(
        REQUESTS, f"{tenant.pk}|{minute}", window_s=2 * WINDOW_SECONDS
    ) and within_budget(inbound.request, "hr_webhook.rate_limited"):
        record(
            "hr_webhook.rate_limited",
            actor=service.ACTOR,
            tenant=tenant,
            target=("tenant", tenant.pk, tenant.name),
            after={"tenant_slug": inbound.slug, "limit": limit, "retry_after": wait},
            result="denied",
            request=inbound.request,
        )
    return Reply(
        429,
        {
            "error": "rate_limited",
            "message": f"More than {limit} signed requests to this tenant in a minute: "
            f"send this one again in {wait} s (nothing was done).",
        },
        {"Retry-After": str(wait)},
    )


def _limit() -> str:
    return f"{MAX_BODY_BYTES // 1024} KB"


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


# -- who sent it ------------------------------------------------------------------------------


def _authenticate(inbound: Inbound) -> Reply | None:
    """None when the tenant's secret signed this body recently; else the 401, recorded
    against the tenant when there is one (its MSP admins see why HR's requests fail)."""
    headers = inbound.request.headers
    timestamp = signing.parse_timestamp(headers.get("X-Signature-Timestamp", ""))
    given = headers.get("X-Signature", "")
    if timestamp is None or not given:
        return _unsigned(inbound, "X-Signature-Timestamp or X-Signature missing or malformed")
    now = time.time()
    if not signing.within_window(timestamp, now):
        return _reject(
            inbound,
            401,
            "stale",
            "X-Signature-Timestamp is more than 5 minutes away from our clock; "
            "sign each request when it is sent.",
            reason=f"timestamp {int(timestamp - now):+d} s from our clock",
            result="denied",
        )
    secret, missing = _secret_of(inbound.tenant)
    # Computed even without a secret, so that the answer takes as long either way.
    matches = signing.signature_matches(secret or "-", timestamp, inbound.body, given)
    if missing:
        return _unsigned(inbound, missing)
    if not matches:
        return _unsigned(inbound, "bad signature")
    return None


def _secret_of(tenant: Tenant | None) -> tuple[str, str]:
    """(secret, why there is none)."""
    if tenant is None:
        return "", "unknown tenant"
    if not tenant.is_active:
        return "", "the tenant is inactive"
    if not tenant.has_hr_webhook_secret:
        return "", "the tenant has no HR webhook secret"
    try:
        return tenant.get_hr_webhook_secret(), ""
    except CredentialError:
        logger.error("HR webhook secret of tenant %s cannot be decrypted", tenant.pk)
        return "", "the tenant's secret cannot be decrypted"


def _unsigned(inbound: Inbound, reason: str) -> Reply:
    return _reject(inbound, 401, "unauthorized", UNSIGNED, reason=reason, result="denied")


# -- what it says -----------------------------------------------------------------------------


def _note_raw(inbound: Inbound) -> None:
    """For the record of an invalid event: its type and employee, as far as they can be read."""
    try:
        data = json.loads(inbound.body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
        return
    if isinstance(data, dict):
        inbound.event_type = _text(data.get("event"))
        inbound.employee_id = _text(data.get("employee_id"))
        inbound.key = _text(data.get("id"))


def _text(value) -> str:
    readable = isinstance(value, str | int) and not isinstance(value, bool)
    return printable(str(value)) if readable else ""


# -- once only --------------------------------------------------------------------------------


def _accepted(inbound: Inbound) -> HRWebhookEvent | None:
    return (
        HRWebhookEvent.objects.filter(
            tenant=inbound.tenant, idempotency_key=inbound.key, outcome=Outcome.ACCEPTED
        )
        .select_related("job")
        .first()
    )


def _duplicate(inbound: Inbound, original: HRWebhookEvent) -> Reply:
    if (original.event_type, original.employee_id) != (inbound.event_type, inbound.employee_id):
        return _reject(
            inbound,
            422,
            "id_reused",
            f"The id {inbound.key} was used for another event ({original.event_type} of "
            f"employee {original.employee_id}); give every event an id of its own.",
        )
    reason = f"resent; first accepted at {when_exact(original.received_at.astimezone(UTC))} UTC"
    inbound.event_row(Outcome.DUPLICATE, reason, job=original.job)
    job = original.job
    body = {"job": job.pk if job else None, "status": job.status if job else "", "duplicate": True}
    return Reply(200, body)


def _accept(inbound: Inbound, event: schema.Event) -> Reply:
    request = inbound.request
    try:
        action = service.prepare(inbound.tenant, event, http_request=request)
        with transaction.atomic():
            row = inbound.event_row(Outcome.ACCEPTED)
            job = action()
            row.job = job
            row.save(update_fields=["job"])
            record(
                "hr_webhook.accept",
                actor=service.ACTOR,
                tenant=inbound.tenant,
                target=("hr_webhook_event", row.pk, str(row)),
                after=_facts(inbound) | {"job": job.pk, "status": job.status},
                request=request,
                job_id=job.pk,
            )
    except service.Unprocessable as exc:
        return _reject(inbound, 422, "unprocessable", exc.message)
    except IntegrityError:
        original = _accepted(inbound)
        if original is not None:  # the same event, sent twice at once: the other one won
            return _duplicate(inbound, original)
        return _reject(
            inbound,
            409,
            "conflict",
            f"Employee {inbound.employee_id} was changed by another request at the same "
            "moment; send the event again.",
        )
    except DatabaseError:  # recorded all the same, and HR is told to try again
        logger.exception("HR webhook event %r of tenant %s failed", inbound.key, inbound.slug)
        return _reject(
            inbound, 500, "internal", "The portal could not process the event; send it again."
        )
    return Reply(202, _accepted_body(job))


def _accepted_body(job) -> dict:
    body = {"job": job.pk, "status": job.status, "kind": job.kind}
    if job.status == job.Status.HELD and job.batch_id:
        body |= {"batch": job.batch_id, "hold_reason": job.batch.hold_reason}
    return body


# -- the record -------------------------------------------------------------------------------


def _facts(inbound: Inbound) -> dict:
    return {
        "tenant_slug": inbound.slug,
        "event": inbound.event_type,
        "employee_id": inbound.employee_id,
        "event_id": inbound.key,
    }


def _reject(
    inbound: Inbound,
    status: int,
    code: str,
    message: str,
    *,
    reason: str = "",
    result: str = "failure",
    details: list | None = None,
) -> Reply:
    reason = printable(reason or message)  # a message may quote the sender's field names
    _count_refusal(inbound.remote_addr)
    if inbound.signed or refusals.recordable(REFUSALS):
        _record_rejection(inbound, status, reason, result)
    logger.info("HR webhook request for %r refused (%s): %s", inbound.slug, status, reason)
    body = {"error": code, "message": message}
    if details:
        body["details"] = details
    return Reply(status, body, {"WWW-Authenticate": CHALLENGE} if status == 401 else {})


def _record_rejection(inbound: Inbound, status: int, reason: str, result: str) -> None:
    with transaction.atomic():
        row = inbound.event_row(Outcome.REJECTED, reason)
        record(
            "hr_webhook.reject",
            actor=service.ACTOR,
            tenant=inbound.tenant,
            target=("hr_webhook_event", row.pk, str(row)),
            after=_facts(inbound) | {"http_status": status, "reason": reason[:300]},
            result=result,
            request=inbound.request,
        )
