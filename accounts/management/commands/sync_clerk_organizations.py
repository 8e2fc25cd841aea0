"""Reconcile every Clerk organization and membership into the local tables."""

from accounts.management.clerk_sync import ClerkSyncCommand
from accounts.sync.backfill import OrganizationBackfillReport, organizations_backfill_from_clerk


class Command(ClerkSyncCommand):
    help = (
        "Walk Clerk's organization list, then its membership list (limit/offset pages), and create or update "
        "each locally, like the webhooks would. Tombstones nothing Clerk no longer lists. Safe to run again; "
        "an interrupted run can simply be restarted. reconcile_clerk --full (also run on the db_worker's schedule) "
        "does the same with the same rules, and also tombstones what Clerk confirms deleted and records the pass."
    )

    def sync(self, client, *, dry_run, page_size, **options):
        self._kind = None
        return organizations_backfill_from_clerk(
            client, dry_run=dry_run, page_size=page_size, on_progress=self._progress
        )

    def summary_write(self, report, *, prefix, **options):
        for kind in ("organizations", "memberships"):
            self.stdout.write(f"{prefix}{report.seen[kind]} Clerk {kind}: {self.counts_summary(report.counts[kind])}")

    def _progress(self, report: OrganizationBackfillReport, kind: str) -> None:
        if self._kind not in (None, kind):
            self.stderr.write("")  # the organizations' line stays; the memberships' starts below it
        self._kind = kind
        self.progress_write(report.seen[kind], kind, report.counts[kind])
