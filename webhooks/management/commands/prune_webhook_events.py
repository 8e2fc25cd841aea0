"""Retention for the ledger: delete old processed/ignored events (their payloads hold personal data)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from webhooks.admin.durations import duration_parse
from webhooks.models import DONE_STATUSES, WebhookEvent
from webhooks.retention import webhook_event_prune

Status = WebhookEvent.Status


class Command(BaseCommand):
    help = (
        "Delete webhook events received longer ago than --older-than (default WEBHOOKS_RETENTION_DAYS) that "
        "ended processed or ignored. Failed and received events stay unless --include-unfinished is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", help="e.g. 30d, 12h, 2w (default: WEBHOOKS_RETENTION_DAYS days)")
        parser.add_argument("--include-unfinished", action="store_true", help="also delete failed and received events")
        parser.add_argument("--batch-size", type=int, default=1000, help="events per transaction (default 1000)")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")

    def handle(self, *args, older_than, include_unfinished, batch_size, dry_run, **options):
        try:
            age = duration_parse(f"{settings.WEBHOOKS_RETENTION_DAYS}d" if older_than is None else older_than)
        except ValueError as exc:
            raise CommandError(f"--older-than: {exc}") from None
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        statuses = Status.values if include_unfinished else sorted(DONE_STATUSES)
        cutoff = timezone.now() - age
        if dry_run:
            count = WebhookEvent.objects.filter(received_at__lt=cutoff, status__in=statuses).count()
            self.stdout.write(f"would delete {count} events received before {cutoff:%Y-%m-%d %H:%M} UTC")
            return
        deleted = webhook_event_prune(received_before=cutoff, statuses=statuses, batch_size=batch_size)
        kept = ", ".join(sorted(set(Status.values) - set(statuses)))
        self.stdout.write(
            f"deleted {deleted} events received before {cutoff:%Y-%m-%d %H:%M} UTC"
            + (f" (kept {kept} ones)" if kept else "")
        )
