"""How the admin writes things down, the same on every page: moments, and columns of them.

One format for a moment, with seconds and the zone: `2026-12-04 19:09:00 UTC`. Django's own
pages (a detail page's read-only dates, a changelist's date fields) use it through
config/formats/en/formats.py; code that builds a cell or a label calls `moment`. Every admin
uses these (the ledger's, accounts'); accounts may import webhooks, never the reverse.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

MOMENT_FORMAT = "Y-m-d H:i:s T"  # the same as config/formats/en/formats.py's DATETIME_FORMAT
NOTHING = "—"


def moment(value: dt.datetime | None) -> str:
    """`2026-12-04 19:09:00 UTC` in the current time zone (settings.TIME_ZONE), or "—" for None."""
    if value is None:
        return NOTHING
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, MOMENT_FORMAT)


def moment_column(field: str, description: str) -> Callable[[Any], str]:
    """A changelist column showing the row's `field` as a moment, sortable by it; its cells' class is field-<field>."""

    @admin.display(description=description, ordering=field)
    def column(row: Any) -> str:
        return moment(getattr(row, field))

    column.__name__ = field
    return column


def breakable_type(event_type: str) -> SafeString:
    """`organizationMembership.updated`, allowed to wrap after its dots and nowhere else (a narrow column, a filter)."""
    return format_html_join(mark_safe(".<wbr>"), "{}", ((part,) for part in event_type.split(".")))


def long_text(text: str, *, limit: int = 160) -> str:
    """A long free text (an error, a refusal's detail) cut at `limit` characters, wrapping anywhere (mid-address too).

    An SMTP error quoting an address or a URL is one long word: without this it widens its column past the screen.
    """
    if not text:
        return NOTHING
    shown = text if len(text) <= limit else f"{text[: limit - 1]}…"
    return format_html('<span class="long-text" style="overflow-wrap:anywhere">{}</span>', shown)
