"""Replay stored webhook events in bulk, through the same service as the admin's Replay."""

from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from webhooks.admin.durations import duration_parse
from webhooks.models import WebhookEvent
from webhooks.registry import SourceNotRegistered
from webhooks.services import webhook_event_replay


class Command(BaseCommand):
    help = "Replay webhook events matching the filters (oldest first), e.g. --status failed --since 2d."

    def add_arguments(self, parser):
        parser.add_argument("event_ids", nargs="*", metavar="EVENT_ID", help="event ids (svix-id) to replay")
        parser.add_argument("--status", action="append", choices=WebhookEvent.Status.values, help="repeatable")
        parser.add_argument("--type", action="append", dest="event_types", metavar="TYPE", help="repeatable")
        parser.add_argument("--source", help="e.g. clerk")
        parser.add_argument("--since", help="received within this long, e.g. 2h, 7d")
        parser.add_argument("--all", action="store_true", help="replay every event when no filter is given")

    def handle(self, *args, event_ids, status, event_types, source, since, all, **options):
        events = WebhookEvent.objects.order_by("received_at", "pk")
        if event_ids:
            events = events.filter(event_id__in=event_ids)
        if status:
            events = events.filter(status__in=status)
        if event_types:
            events = events.filter(event_type__in=event_types)
        if source:
            events = events.filter(source=source)
        if since:
            try:
                events = events.filter(received_at__gte=timezone.now() - duration_parse(since))
            except ValueError as exc:
                raise CommandError(f"--since: {exc}") from None
        if not (event_ids or status or event_types or source or since or all):
            raise CommandError("give a filter (EVENT_ID, --status, --type, --source, --since) or --all")

        pks = list(events.values_list("pk", flat=True))
        if event_ids:
            found = set(WebhookEvent.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True))
            missing = [event_id for event_id in dict.fromkeys(event_ids) if event_id not in found]
            if missing:
                raise CommandError(f"no such event: {', '.join(missing)} (nothing replayed)")
        outcomes: Counter[str] = Counter()
        for done, pk in enumerate(pks, start=1):
            try:
                result = webhook_event_replay(pk)
            except WebhookEvent.DoesNotExist:
                outcomes["vanished"] += 1  # pruned meanwhile
                continue
            except SourceNotRegistered as exc:
                outcomes["no source"] += 1
                self.stderr.write(f"event {pk}: {exc}")
                continue
            except DatabaseError as exc:
                raise CommandError(f"database unavailable after {done - 1} of {len(pks)} events: {exc}") from None
            outcomes[result.outcome] += 1
            if result.error:
                self.stderr.write(f"event {pk}: failed: {result.error}")
            self._progress(done, len(pks))
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items())) or "nothing"
        self.stdout.write(f"replayed {events_counted(len(pks))}: {summary}")

    def _progress(self, done: int, total: int) -> None:
        if done == total or done % 100 == 0:
            width = 30
            filled = width * done // total
            self.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
            if done == total:
                self.stderr.write("")


def events_counted(count: int) -> str:
    """'1 event', '2 events'."""
    return f"{count} event" if count == 1 else f"{count} events"
