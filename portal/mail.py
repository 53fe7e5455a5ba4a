"""What the portal's e-mails may say about themselves to the delivery.

A message that carries a one-time link (a password reset, a first sign-in) is a
OneTimeLinkMessage. A delivery that keeps copies (the outbox, tenants/outbox/) keeps such a
message without its body: the database holds only hashes of those tokens, and a copy would
let anyone who reads it use the link. The mark is the message's class, not a header, so
nothing of it goes out with the mail over SMTP.
"""

from django.core.mail import EmailMessage


class OneTimeLinkMessage(EmailMessage):
    """A message whose body holds a one-time link."""


def carries_one_time_link(message: EmailMessage) -> bool:
    return isinstance(message, OneTimeLinkMessage)


def send_one_time_link(subject: str, body: str, recipient: str) -> int:
    return OneTimeLinkMessage(subject, body, to=[recipient]).send()
