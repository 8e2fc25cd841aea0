"""Retention for the ledger: payloads hold personal data and are kept no longer than needed."""

from django.db import transaction

from webhooks.models import WebhookAttempt, WebhookEvent, WebhookRejection


def webhook_event_prune(*, received_before, statuses, batch_size: int = 1000) -> int:
    """Delete events received before `received_before` in these statuses, with their attempts.

    Batches of `batch_size`, each in its own short transaction, so the ledger
    is never locked for long and an interrupted prune simply resumes. Returns
    how many events were deleted.

    Paged by primary key: each batch takes the next prunable ids after the last
    one seen, so the events kept (failed ones, say) and the dead rows of earlier
    batches are passed over once, not read again by every batch. An event that
    becomes prunable behind that point meanwhile (a replay) waits for the next run.
    """
    deleted = 0
    candidates = WebhookEvent.objects.filter(received_at__lt=received_before, status__in=statuses)
    candidates = candidates.order_by("pk").values_list("pk", flat=True)
    page = candidates
    while batch := list(page[:batch_size]):
        with transaction.atomic():
            WebhookAttempt.objects.filter(event_id__in=batch).delete()
            deleted += WebhookEvent.objects.filter(pk__in=batch).delete()[1].get(WebhookEvent._meta.label, 0)
        page = candidates.filter(pk__gt=batch[-1])
    return deleted


def webhook_rejection_prune(*, before) -> int:
    """Delete the hourly refusal counts of hours that began before `before`; how many rows went."""
    return WebhookRejection.objects.filter(hour__lt=before).delete()[0]
