"""The record of one deleted user's erasure: pending until every stored event of theirs was rewritten."""

from django.db import models


class UserErasure(models.Model):
    """Created with the tombstone, in its transaction; the ledger's payloads are erased after it, in batches.

    `erased_at` empty means the user awaits erasure (the sync health page counts them);
    `last_event_pk` is how far the batches got, so an interrupted erasure resumes there.
    """

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="erasure")
    requested_at = models.DateTimeField(help_text="When the user was tombstoned (or the erase command found it).")
    erased_at = models.DateTimeField(null=True, blank=True, help_text="When the last stored event was erased.")
    last_event_pk = models.BigIntegerField(default=0, help_text="The ledger's events up to this pk are done.")
    events_erased = models.PositiveIntegerField(default=0, help_text="Stored events rewritten without personal data.")

    class Meta:
        indexes = [
            models.Index(
                fields=["requested_at"], condition=models.Q(erased_at=None), name="accounts_erasure_pending_idx"
            )
        ]

    def __str__(self) -> str:
        return f"erasure of {self.user_id}"
