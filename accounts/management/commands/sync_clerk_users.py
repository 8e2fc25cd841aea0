"""Reconcile every Clerk user into the local table: the backfill for webhooks never sent."""

import datetime as dt

from django.conf import settings

from accounts.management.clerk_sync import ClerkSyncCommand
from accounts.sync.backfill import BackfillReport, users_backfill_from_clerk


class Command(ClerkSyncCommand):
    help = (
        "Walk Clerk's user list (starting_after cursor) and create or update every user locally, like the "
        "webhooks would. Safe to run again; an interrupted run can simply be restarted. A one-off backfill: "
        "reconcile_clerk --full (also run on the db_worker's schedule) does the same with the same rules, and also "
        "confirms each deletion with Clerk, keeps to CLERK_RECONCILE_RATE and records the pass."
    )
    page_items = "users"

    def add_sync_arguments(self, parser):
        parser.add_argument(
            "--prune", action="store_true", help="tombstone local users Clerk no longer has (default: only report)"
        )
        parser.add_argument(
            "--welcome-window-days",
            type=int,
            default=None,
            help="greet new users whose Clerk account is younger than this (default CLERK_SYNC_WELCOME_WINDOW_DAYS)",
        )

    def sync(self, client, *, dry_run, page_size, prune, welcome_window_days, **options):
        days = settings.CLERK_SYNC_WELCOME_WINDOW_DAYS if welcome_window_days is None else welcome_window_days
        return users_backfill_from_clerk(
            client,
            welcome_window=dt.timedelta(days=days),
            dry_run=dry_run,
            prune=prune,
            page_size=page_size,
            on_progress=self._progress,
        )

    def summary_write(self, report, *, prefix, dry_run, prune, **options):
        self.stdout.write(f"{prefix}{report.seen} Clerk users: {self.counts_summary(report.counts)}")
        if report.missing_in_clerk:
            sample = ", ".join(report.missing_in_clerk[:10])
            more = "…" if len(report.missing_in_clerk) > 10 else ""
            action = f"tombstoned {report.pruned}" if prune and not dry_run else "run with --prune to tombstone them"
            self.stdout.write(f"{len(report.missing_in_clerk)} local users are not in Clerk ({sample}{more}): {action}")

    def _progress(self, report: BackfillReport) -> None:
        self.progress_write(report.seen, "users", report.counts)
