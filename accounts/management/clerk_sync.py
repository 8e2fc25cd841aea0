"""What the two sync commands share: `--dry-run`, `--page-size`, the batch client and their errors' one-line messages.

sync_clerk_users and sync_clerk_organizations subclass `ClerkSyncCommand`
and write only their own options, walk and summary. It lives outside
commands/, where Django would take every module for a command.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from accounts.clerk.api import LIST_MAX_LIMIT, ClerkAPIError, ClerkClient, clerk_batch_client
from accounts.clerk.errors import Unavailable


class ClerkSyncCommand(BaseCommand):
    """A backfill from Clerk: checks the page size, runs `sync` with the batch client, maps Clerk's failures."""

    page_items = "items"  # what a page holds, for --page-size's help

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
        self.add_sync_arguments(parser)
        parser.add_argument(
            "--page-size", type=int, default=LIST_MAX_LIMIT, help=f"{self.page_items} per request, 1-500 (default 500)"
        )

    def add_sync_arguments(self, parser) -> None:
        """The command's own options, listed between --dry-run and --page-size."""

    def handle(self, *args, dry_run: bool, page_size: int, **options: Any) -> None:
        if not 1 <= page_size <= LIST_MAX_LIMIT:
            raise CommandError("--page-size must be between 1 and 500")
        try:
            report = self.sync(clerk_batch_client(), dry_run=dry_run, page_size=page_size, **options)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        except (ClerkAPIError, Unavailable) as exc:
            raise CommandError(f"Clerk's API failed: {exc}. Nothing is lost: run the command again.") from None
        self.stderr.write("")  # ends the progress line
        self.summary_write(report, prefix="dry run, nothing written: " if dry_run else "", dry_run=dry_run, **options)

    def sync(self, client: ClerkClient, *, dry_run: bool, page_size: int, **options: Any) -> Any:
        """Walk Clerk and reconcile, reporting progress on stderr; returns the report `summary_write` prints."""
        raise NotImplementedError

    def summary_write(self, report: Any, *, prefix: str, dry_run: bool, **options: Any) -> None:
        """Print the summary on stdout, each line starting with `prefix` when it is a dry run."""
        raise NotImplementedError
