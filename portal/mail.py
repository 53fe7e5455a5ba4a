"""What the portal's e-mails may say about themselves to the delivery.

A message that carries a one-time link (a password reset, a first sign-in) is marked with
ONE_TIME_LINK_HEADER. A delivery that keeps copies (the outbox, tenants/outbox/) keeps such a
message without its body: the database holds only hashes of those tokens, and a copy would
let anyone who reads it use the link.
"""

from django.core.mail import EmailMessage

ONE_TIME_LINK_HEADER = "X-Portal-One-Time-Link"


def carries_one_time_link(message: EmailMessage) -> bool:
    return (message.extra_headers or {}).get(ONE_TIME_LINK_HEADER) == "yes"


def send_one_time_link(subject: str, body: str, recipient: str) -> int:
    """Send a message whose body holds a one-time link, marked as such."""
    message = EmailMessage(subject, body, to=[recipient], headers={ONE_TIME_LINK_HEADER: "yes"})
    return message.send()
