"""System check: the ledger's `INSERT … ON CONFLICT … RETURNING` needs SQLite 3.35 or newer."""

import sqlite3
from collections.abc import Iterable

from django.conf import settings
from django.core.checks import Error, register

MIN_SQLITE = (3, 35, 0)


@register()
def sqlite_version_check(app_configs=None, **kwargs) -> list[Error]:
    """An error when a database is SQLite and the SQLite library Python links is older than 3.35."""
    return sqlite_version_errors(db.get("ENGINE", "") for db in settings.DATABASES.values())


def sqlite_version_errors(engines: Iterable[str]) -> list[Error]:
    uses_sqlite = any(engine == "django.db.backends.sqlite3" for engine in engines)
    if not uses_sqlite or sqlite3.sqlite_version_info >= MIN_SQLITE:
        return []
    return [
        Error(
            f"SQLite {sqlite3.sqlite_version} is too old: this app needs SQLite 3.35 or newer "
            "(for INSERT … ON CONFLICT … RETURNING).",
            hint="Use a Python built with a newer SQLite, or set DATABASE_URL to a PostgreSQL database.",
            id="webhooks.E001",
        )
    ]
