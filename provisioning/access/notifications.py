"""E-mails about access requests. Sent after the commit, one message per recipient (nobody
sees who else got it), with a link to the request that works only after signing in."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from provisioning.models import AccessRequest
from provisioning.models_access import approvers_of, is_for
from tenants import access

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    subject: str
    to: str  # "approvers" or "requester"
    essential: bool  # sent even to people who opted out of non-essential mail


NOTICES = {
    "new_request": Notice(
        "Access request waiting for you: {resource} for {person}", "approvers", True
    ),
    "decision": Notice(
        "Your access request was {status}: {resource} for {person}", "requester", False
    ),
    "grant_done": Notice("Access granted: {resource} for {person}", "requester", False),
    "grant_failed": Notice(
        "Access could not be granted: {resource} for {person}", "requester", True
    ),
    "expiry": Notice("Access ends soon: {resource} for {person}", "approvers", False),
    "stale": Notice(
        "Your access request expired without a decision: {resource}", "requester", False
    ),
}


def on_commit(kind: str, access_request) -> None:
    request_id = access_request.pk
    transaction.on_commit(lambda: send(kind, request_id))


def send(kind: str, request_id: int) -> int:
    """Send one notice; how many people got it. A mail failure never undoes the action."""
    notice = NOTICES[kind]
    access_request = AccessRequest.objects.select_related(
        "tenant", "identity", "resource", "requested_by"
    ).get(pk=request_id)
    if notice.to == "approvers":
        people = approvers_of(access_request.resource)
        if kind == "new_request":  # waiting for those who may decide (services.can_decide)
            people = [
                p
                for p in people
                if p.pk != access_request.requested_by_id and not is_for(p, access_request.identity)
            ]
    else:
        people = [access_request.requested_by] if access_request.requested_by else []
    people = [p for p in people if p.email and (notice.essential or _wants_optional(p))]
    # Whoever filed it may since have been taken off the tenant or deactivated.
    people = [p for p in people if access.may_see(p, access_request.tenant)]
    context = {
        "request": access_request,
        "kind": kind,
        "link": settings.PORTAL_URL.rstrip("/")
        + reverse(
            "access_request_detail",
            kwargs={"tenant": access_request.tenant.slug, "request_id": access_request.pk},
        ),
    }
    subject = notice.subject.format(
        resource=access_request.resource.name,
        person=access_request.identity.display_name,
        status=access_request.get_status_display().lower(),
    )
    # One line: the resource's name is the directory's, and a header with a newline is
    # refused (BadHeaderError) after the request was filed.
    subject = " ".join(subject.split())
    body = render_to_string(f"email/access_{kind}.txt", context)
    sent = 0
    for person in people:
        try:
            sent += send_mail(subject, body, None, [person.email])
        except OSError as exc:  # SMTP down: log it, the request itself stands
            log.warning("Could not send %s mail for request %s: %s", kind, request_id, exc)
    return sent


def _wants_optional(user) -> bool:
    profile = getattr(user, "profile", None)
    return profile is None or profile.optional_emails
