"""Erase the personal data of users deleted in Clerk that still have some: tombstoned before erasure existed,
or whose erasure was interrupted (docs/privacy.md)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.erasure.catch_up import erasures_catch_up
from accounts.erasure.ledger import BATCH_SIZE, user_events
from accounts.erasure.rows import users_awaiting_erasure


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
        if not dry_run:
            users, events = erasures_catch_up(batch_size=batch_size, on_user=self._erased)
            self.stdout.write(f"Erased {users} deleted users; {events} stored events rewritten.")
            return
        clerk_ids = list(users_awaiting_erasure().order_by("pk").values_list("clerk_id", flat=True))
        events = 0
        for clerk_id in clerk_ids:
            found = user_events(clerk_id).count()
            self.stdout.write(f"{clerk_id}: {found} stored events to check")
            events += found
        self.stdout.write(f"Dry run: would erase {len(clerk_ids)} deleted users; {events} stored events to check.")

    def _erased(self, clerk_id: str, events: int) -> None:
        self.stdout.write(f"{clerk_id}: erased, {events} stored events rewritten")
