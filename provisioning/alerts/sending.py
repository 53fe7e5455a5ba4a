"""Alert e-mails: one per event and person at once, or one daily digest per person.

Each mail goes to one address (nobody sees the others). A person is told of an event once:
an AlertSent row is claimed before the mail leaves and dropped again if the mail server
refuses it, so a rerun sends what failed and nothing twice. A mail failure never undoes
anything: the event stands, and so does whatever it tells of."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from portal.templatetags.time_tags import when
from provisioning.alerts import rules
from provisioning.alerts.describing import link_of, settings_link, summary
from provisioning.alerts.models import AlertPreference, AlertSent, Delivery
from provisioning.events.models import Event
from tenants.access import tenants_for

log = logging.getLogger(__name__)
DIGEST_WINDOW = timedelta(days=1)


def send_event(event_id) -> int:
    """Mail everyone who chose this event's alert at once; how many mails left."""
    event = Event.objects.select_related("tenant").filter(pk=event_id).first()
    if event is None:
        return 0
    sent = 0
    for person in rules.recipients(event, Delivery.IMMEDIATE):
        if not _claim(event, person, Delivery.IMMEDIATE):
            continue
        context = {
            "event": event,
            "summary": summary(event),
            "link": link_of(event),
            "settings_link": settings_link(),
        }
        body = render_to_string("email/alert_event.txt", context)
        if _mail(person, f"[MSP portal] {context['summary']}"[:200], body):
            sent += 1
        else:
            AlertSent.objects.filter(event=event, user=person).delete()
    return sent


def _claim(event: Event, person, delivery: str) -> bool:
    try:
        with transaction.atomic():
            AlertSent.objects.create(event=event, user=person, delivery=delivery)
    except IntegrityError:
        return False
    return True


def _mail(person, subject: str, body: str) -> bool:
    # One line: the summary quotes names and the directory's messages, and a header with a
    # newline is refused (BadHeaderError), which left the alert unsent.
    subject = " ".join(subject.split())
    try:
        return bool(send_mail(subject, body, None, [person.email]))
    except OSError as exc:  # the mail server is down: log it, nothing else changes
        log.warning("Could not send an alert to user %s: %s", person.pk, exc)
        return False


# -- the daily digest ----------------------------------------------------------------------


def send_digests(now: datetime | None = None) -> int:
    """One e-mail per digest person listing the events since their last digest that they
    chose, for tenants they see; none when there are none. How many mails left."""
    now = now or timezone.now()
    sent = 0
    for preference in AlertPreference.objects.filter(
        delivery=Delivery.DIGEST, user__is_active=True
    ).select_related("user__profile"):
        sent += _digest_for(preference, now)
    return sent


def _digest_for(preference: AlertPreference, now: datetime) -> int:
    person = preference.user
    since = preference.digest_sent_until or now - DIGEST_WINDOW
    if not _claim_window(preference, now):
        return 0  # another run is sending this person's digest
    events = list(
        Event.objects.filter(
            occurred_at__gt=since,
            occurred_at__lte=now,
            kind__in=rules.kinds_wanted(person, preference),
            tenant__in=tenants_for(person),
        )
        .exclude(alerts_sent__user=person)
        .select_related("tenant")
        .order_by("occurred_at")
    )
    if not events or not person.email:
        return 0
    if not _mail(person, _digest_subject(len(events), since), _digest_body(events, since)):
        _reopen_window(preference, since, now)  # the next run tries again
        return 0
    AlertSent.objects.bulk_create(
        [AlertSent(event=e, user=person, delivery=Delivery.DIGEST) for e in events],
        ignore_conflicts=True,
    )
    return 1


def _claim_window(preference: AlertPreference, now: datetime) -> bool:
    """Move the person's window on to `now` if nobody else did since we read it."""
    claimed = AlertPreference.objects.filter(
        pk=preference.pk, digest_sent_until=preference.digest_sent_until
    ).update(digest_sent_until=now)
    return claimed == 1


def _reopen_window(preference: AlertPreference, since: datetime, now: datetime) -> None:
    AlertPreference.objects.filter(pk=preference.pk, digest_sent_until=now).update(
        digest_sent_until=preference.digest_sent_until
    )


def _digest_subject(count: int, since: datetime) -> str:
    return f"[MSP portal] Daily alerts: {count} since {when(timezone.localtime(since))}"


def _digest_body(events: list[Event], since: datetime) -> str:
    items = [{"when": e.occurred_at, "summary": summary(e), "link": link_of(e)} for e in events]
    context = {"items": items, "since": since, "settings_link": settings_link()}
    return render_to_string("email/alert_digest.txt", context)
