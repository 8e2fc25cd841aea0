"""Erase the personal data of users deleted in Clerk that still have some: tombstoned before erasure existed,
or whose erasure was interrupted (docs/privacy.md)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.db import user_by_clerk_id
from accounts.erasure.ledger import BATCH_SIZE, user_events, user_events_erase
from accounts.erasure.rows import user_row_erase, users_awaiting_erasure


class Command(BaseCommand):
    help = (
        "Erase the row fields and stored webhook payloads of every user deleted in Clerk whose erasure is not "
        "complete, one user at a time, each user's events in batches of their own. Safe to run again; an "
        "interrupted run resumes where it stopped. Prints Clerk ids and counts only."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would be erased; change nothing.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="Events per transaction.")

    def handle(self, *args, dry_run: bool, batch_size: int, **options) -> None:
        if not settings.CLERK_ERASE_DELETED_USERS:
            raise CommandError("CLERK_ERASE_DELETED_USERS is off: deleted users' data is kept; nothing to do.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        clerk_ids = list(users_awaiting_erasure().order_by("pk").values_list("clerk_id", flat=True))
        events = 0
        for clerk_id in clerk_ids:
            if dry_run:
                found = user_events(clerk_id).count()
                self.stdout.write(f"{clerk_id}: {found} stored events to check")
                events += found
                continue
            with transaction.atomic():
                user = user_by_clerk_id(clerk_id, lock=True)
                erasure = user_row_erase(user)
            erased = user_events_erase(erasure.pk, batch_size=batch_size)
            self.stdout.write(f"{clerk_id}: erased, {erased} stored events rewritten")
            events += erased
        prefix = "Dry run: would erase" if dry_run else "Erased"
        noun = "stored events to check" if dry_run else "stored events rewritten"
        self.stdout.write(f"{prefix} {len(clerk_ids)} deleted users; {events} {noun}.")
