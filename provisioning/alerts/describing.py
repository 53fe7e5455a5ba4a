"""What an alert says about an event: a one-line summary and the portal link.

Events are written by several features; this reads the common keys and tolerates missing
ones (an event's `data` holds ids, names and the portal link, never a secret)."""

from __future__ import annotations

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from provisioning.events.models import Event

Kind = Event.Kind


def link_of(event: Event) -> str:
    """The page the event is about: the link the event carries (its job's or connection's, as
    provisioning/events/describe.py builds them), else one built here."""
    data = event.data or {}
    for holder in (data, data.get("job"), data.get("connection")):
        url = holder.get("url") if isinstance(holder, dict) else None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return url
    return _absolute(_path_of(event, data))


def _path_of(event: Event, data: dict) -> str:
    job = data.get("job") if isinstance(data.get("job"), dict) else {}
    job_id = job.get("id") or data.get("job_id")
    try:
        if event.kind in (Kind.JOB_FAILED, Kind.JOB_PARTIAL) and job_id:
            return reverse("job_detail", kwargs={"job_id": int(job_id)})
        if event.tenant is not None:
            return reverse("tenant_detail", kwargs={"tenant": event.tenant.slug})
    except (NoReverseMatch, TypeError, ValueError):
        pass
    return "/"


def settings_link() -> str:
    return _absolute(reverse("alert_settings"))


def _absolute(path: str) -> str:
    return settings.PORTAL_URL.rstrip("/") + path


def summary(event: Event) -> str:
    """e.g. "A job failed at Alpha Ltd: Onboard Pat Member (Microsoft Entra ID)"."""
    data = event.data or {}
    tenant = event.tenant.name if event.tenant else "the MSP"
    detail = _detail(event, data)
    return f"{event.get_kind_display()} at {tenant}" + (f": {detail}" if detail else "")


def _detail(event: Event, data: dict) -> str:
    if event.kind == Kind.CREDENTIAL_EXPIRING:
        connection = data.get("connection") if isinstance(data.get("connection"), dict) else {}
        label, ends = connection.get("label") or "a connection", data.get("expires_at", "")
        return f"{label}'s credential {_when(data.get('days_left'))} ({str(ends)[:10]})"
    job = data.get("job") if isinstance(data.get("job"), dict) else {}
    person = data.get("person") if isinstance(data.get("person"), dict) else {}
    connection = data.get("connection") if isinstance(data.get("connection"), dict) else {}
    parts = [
        str(job.get("kind") or "").replace("_", " "),
        str(person.get("display_name") or ""),
        str(connection.get("label") or ""),
        str(data.get("reason") or job.get("error") or ""),
    ]
    return " · ".join(p for p in parts if p)[:300]


def _when(days) -> str:
    if not isinstance(days, int):
        return "ends soon"
    if days < 0:
        return "has expired"
    return "ends today" if days == 0 else f"ends in {days} day{'s' if days != 1 else ''}"
