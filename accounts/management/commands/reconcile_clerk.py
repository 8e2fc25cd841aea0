"""Run one reconciliation pass now: find and repair what lost deliveries left wrong (docs/reconciliation.md)."""

from django.conf import settings
from django.core.management.base import CommandError

from accounts.clerk.api import clerk_reconcile_client
from accounts.management.clerk_sync import ClerkSyncCommand
from accounts.reconcile.models import COUNT_FIELDS, ReconcilePass
from accounts.reconcile.passes import PassRunning, reconcile_pass
from accounts.reconcile.report import PassReport


class Command(ClerkSyncCommand):
    help = (
        "Run one reconciliation pass against Clerk's Backend API and end with a 'reconcile:' line of counts. "
        "Without --full: users changed since the last completed pass, organizations and memberships whole, no "
        "tombstones. With --full: everything, and rows Clerk no longer lists are tombstoned once Clerk confirms "
        "each is gone. The db_worker runs both on a schedule (CLERK_RECONCILE_INTERVAL, "
        "CLERK_RECONCILE_FULL_INTERVAL). Unlike sync_clerk_users and sync_clerk_organizations, every pass is "
        "recorded and shown in the admin, and at most CLERK_RECONCILE_RATE requests go to Clerk per 10 seconds."
    )
    page_items = "users, organizations or memberships"

    def add_sync_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="list everything, and tombstone what Clerk deleted")

    def clerk_client(self):
        return clerk_reconcile_client(settings.CLERK_RECONCILE_RATE)

    def sync(self, client, *, dry_run, page_size, full, **options):
        if dry_run:
            self.stderr.write("dry run: the same pass, every write rolled back; nothing is recorded")
        try:
            record = reconcile_pass(
                full=full,
                trigger=ReconcilePass.Trigger.COMMAND,
                dry_run=dry_run,
                client=client,
                page_size=page_size,
                on_progress=self._progress,
            )
        except PassRunning as exc:
            raise CommandError(f"{exc}: try again once it has ended") from None
        if record.outcome != ReconcilePass.Outcome.COMPLETED:
            self.stderr.write("")  # ends the progress line
            counts = _counts_line(record)
            raise CommandError(f"the pass did not complete, nothing was tombstoned: {record.error} ({counts})")
        return record

    def summary_write(self, record, **options):
        self.stdout.write(f"reconcile: {_counts_line(record)}")

    def _progress(self, report: PassReport) -> None:
        listed = ", ".join(f"{report.seen[kind]} {kind}" for kind in ("users", "organizations", "memberships"))
        self.stderr.write(f"\rlisted {listed}; repaired {sum(report.counts.values())}", ending="")


def _counts_line(record: ReconcilePass) -> str:
    return " ".join(f"{name}={getattr(record, name)}" for name in COUNT_FIELDS)
