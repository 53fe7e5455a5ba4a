"""The JSON body of a delivery: a stable envelope, the event's data, and `ticket`, what a PSA
needs to open, update or resolve one ticket per job, connection, drift source or request
(docs/webhooks.md)."""

from __future__ import annotations

import json
from datetime import datetime

from provisioning.events.models import Event
from provisioning.outbound.models import TEST_KIND, Delivery

SEVERITIES = ("info", "warning", "error", "critical")


def body_of(delivery: Delivery) -> bytes:
    """The exact bytes sent and signed (compact, keys in a fixed order)."""
    return json.dumps(envelope(delivery), separators=(",", ":"), sort_keys=True).encode()


def envelope(delivery: Delivery) -> dict:
    event = delivery.event
    if event is None:  # a test from the endpoint's page
        return _wrap(delivery, delivery.created_at, None, _test_data(delivery))
    tenant = {"slug": event.tenant.slug, "name": event.tenant.name} if event.tenant else None
    return _wrap(delivery, event.occurred_at, tenant, event.data)


def _wrap(delivery: Delivery, at: datetime, tenant: dict | None, data: dict) -> dict:
    # `timestamp` is Standard Webhooks' name for when the event occurred (a recommendation of
    # its *Payload structure*, not a requirement); `occurred_at`, the same time, is the
    # documented envelope's since before it, and a key of the envelope is never taken away.
    return {
        "id": str(delivery.message_id),
        "type": delivery.kind,
        "timestamp": at.isoformat(),
        "occurred_at": at.isoformat(),
        "tenant": tenant,
        "data": data,
        "ticket": ticket(delivery.kind, tenant, data, str(delivery.message_id)),
    }


def _test_data(delivery: Delivery) -> dict:
    return {"endpoint": delivery.endpoint.name, "message": "A test from the MSP portal."}


def ticket(kind: str, tenant: dict | None, data: dict, message_id: str) -> dict:
    where = f"{tenant['name']}: " if tenant else ""
    subject, body, severity, key, state = _ticket_parts(kind, data, message_id)
    return {
        "subject": (where + subject)[:250],
        "body": body,
        "severity": severity,
        "state": state,  # "open" or "resolved": what the PSA does with the ticket
        "dedupe_key": f"msp-portal:{tenant['slug'] if tenant else 'msp'}:{key}",
    }


def _ticket_parts(kind: str, data: dict, message_id: str) -> tuple[str, str, str, str, str]:
    family = kind.split(".", 1)[0]
    if family == "job":
        return _job_ticket(kind, data)
    if family == "connection":
        return _connection_ticket(kind, data)
    if family == "drift":
        return _drift_ticket(data)
    if family == "access_request":
        return _access_ticket(kind, data)
    if family == "credential":
        return _credential_ticket(data)
    label = "Test from the MSP portal" if kind == TEST_KIND else kind
    return label, json.dumps(data, sort_keys=True)[:2000], "info", f"{kind}:{message_id}", "open"


def _job_ticket(kind: str, data: dict) -> tuple[str, str, str, str, str]:
    job, person = data.get("job", {}), data.get("person") or {}
    who = person.get("display_name") or "no person"
    word = {"job.succeeded": "succeeded", "job.failed": "failed", "job.partial": "partly failed"}
    subject = f"{job.get('kind', 'job').title()} of {who} {word.get(kind, kind)}"
    lines = [subject + ".", f"Job {job.get('id')}: {job.get('url', '')}"]
    if job.get("error"):
        lines.append(f"Error: {job['error']}")
    severity = {"job.succeeded": "info", "job.partial": "warning"}.get(kind, "error")
    state = "resolved" if kind == Event.Kind.JOB_SUCCEEDED else "open"
    return subject, "\n".join(lines), severity, f"job:{job.get('id')}", state


def _connection_ticket(kind: str, data: dict) -> tuple[str, str, str, str, str]:
    conn = data.get("connection", {})
    held = kind == Event.Kind.CONNECTION_QUARANTINED
    subject = f"{conn.get('label', 'Directory')} connection " + (
        "quarantined" if held else "released"
    )
    lines = [subject + ".", f"Reason: {data.get('reason', '')}", conn.get("url", "")]
    return (
        subject,
        "\n".join(lines),
        "critical" if held else "info",
        f"connection:{conn.get('id')}",
        "open" if held else "resolved",
    )


def _drift_ticket(data: dict) -> tuple[str, str, str, str, str]:
    conn = data.get("connection", {})
    subject = (
        f"Drift in {conn.get('label', 'a directory')}: {data.get('opened', 0)} new difference(s)"
    )
    lines = [subject + ".", f"People affected: {data.get('people', 0)}", data.get("url", "")]
    for item in data.get("items", [])[:10]:
        lines.append(f"- {item.get('person')}: {item.get('kind')} {item.get('ref_name')}")
    return subject, "\n".join(lines), "warning", f"drift:{conn.get('id')}", "open"


ACCESS_WORDS = {
    "access_request.filed": ("filed", "info", "open"),
    "access_request.approved": ("approved", "info", "open"),
    "access_request.denied": ("denied", "info", "resolved"),
    "access_request.granted": ("granted", "info", "resolved"),
    "access_request.failed": ("could not be granted", "error", "open"),
    "access_request.expired": ("expired", "info", "resolved"),
}


def _access_ticket(kind: str, data: dict) -> tuple[str, str, str, str, str]:
    request, person = data.get("access_request", {}), data.get("person") or {}
    word, severity, state = ACCESS_WORDS.get(kind, (kind, "info", "open"))
    subject = (
        f"Access request for {request.get('resource', 'a resource')} "
        f"({person.get('display_name', 'someone')}) {word}"
    )
    lines = [subject + ".", request.get("url", "")]
    if request.get("reason"):
        lines.append(f"Reason: {request['reason']}")
    return subject, "\n".join(lines), severity, f"access_request:{request.get('id')}", state


def _credential_ticket(data: dict) -> tuple[str, str, str, str, str]:
    conn = data.get("connection", {})
    days = data.get("days_left")
    subject = f"{conn.get('label', 'A connection')}'s credential expires" + (
        f" in {days} day(s)" if days is not None else " soon"
    )
    severity = "critical" if isinstance(days, int) and days <= 1 else "warning"
    return subject, subject + ".", severity, f"credential:{conn.get('id')}", "open"
