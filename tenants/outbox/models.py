from django.db import models


class SentEmail(models.Model):
    """A copy of an e-mail the portal sent, kept by the outbox backend (demo and development)."""

    sent_at = models.DateTimeField(auto_now_add=True, db_index=True)
    from_email = models.CharField(max_length=254)
    recipients = models.TextField(help_text="To, Cc and Bcc, one per line")
    subject = models.CharField(max_length=998)
    body = models.TextField(blank=True)
    body_withheld = models.BooleanField(
        default=False, help_text="The message carried a one-time link: its body is not kept."
    )

    class Meta:
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.subject} → {self.recipients.replace(chr(10), ', ')}"

    @property
    def recipient_list(self) -> list[str]:
        return self.recipients.splitlines()
