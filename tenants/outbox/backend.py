"""An e-mail backend that keeps what it sends in the database: the outbox MSP admins read.

Nothing leaves the machine. A message marked as carrying a one-time link (portal/mail.py) is
kept without its body, which goes to the console (stderr) only, as the console backend showed
every message before: the operator at the terminal sees it, the database and the page never do.
"""

import sys

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.console import EmailBackend as ConsoleBackend

from portal.mail import carries_one_time_link
from tenants.outbox.models import SentEmail


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        secret = [m for m in email_messages if carries_one_time_link(m)]
        SentEmail.objects.bulk_create(
            SentEmail(
                from_email=message.from_email,
                recipients="\n".join(message.recipients()),
                subject=message.subject,
                body="" if message in secret else _text(message),
                body_withheld=message in secret,
            )
            for message in email_messages
        )
        if secret:
            ConsoleBackend(stream=sys.stderr, fail_silently=self.fail_silently).send_messages(
                secret
            )
        return len(email_messages)


def _text(message) -> str:
    return str(message.body)
