"""What the ledger's changelist needs beyond ModelAdmin: built for a million rows, in a few queries.

The paginator never counts past COUNT_CAP; the type filter lists handled types
by name and the rest as one choice (no DISTINCT over the ledger); what each
event concerns comes from its source's `subject_links` hook once per page; the
search is exact, through indexes; the date hierarchy probes periods (dates.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Q
from django.utils.functional import cached_property

from webhooks.admin.dates import PeriodsProbedChangeList
from webhooks.admin.display import breakable_type
from webhooks.models import WebhookEvent
from webhooks.registry import SubjectLink, registered_sources


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows, so a million-row ledger is never counted whole.

    The count is a `SELECT COUNT(*)` over a `LIMIT COUNT_CAP + 1` subquery without the
    list's ordering (the first rows found count as well as the newest, and PostgreSQL need
    not read every match to sort them); beyond the cap the pages are not listed (narrow with
    the filters or dates).
    """

    COUNT_CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.COUNT_CAP + 1].count()


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return [(name, name) for name in registered_sources()]

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


class EventTypeFilter(admin.SimpleListFilter):
    """Handled types by name, the rest as one choice: no DISTINCT over the whole ledger."""

    title = "event type"
    parameter_name = "type"
    OTHER = "__other__"

    def handled_types(self) -> list[str]:
        return sorted({event_type for source in registered_sources().values() for event_type in source.handlers})

    def lookups(self, request, model_admin):
        # Long types wrap after a dot, never mid-word (change_list.html keeps the filter from breaking words).
        handled = [(event_type, breakable_type(event_type)) for event_type in self.handled_types()]
        return [*handled, (self.OTHER, "Other (no handler)")]

    def queryset(self, request, queryset):
        if self.value() == self.OTHER:
            return queryset.exclude(event_type__in=self.handled_types())
        return queryset.filter(event_type=self.value()) if self.value() else queryset


class SubjectLinkedChangeList(PeriodsProbedChangeList):
    """The changelist, with what each event on the page concerns looked up once per page (and dates probed)."""

    def get_results(self, request) -> None:
        super().get_results(request)
        self.result_list = list(self.result_list)
        subject_links_attach(self.result_list)


def subject_links_attach(events: Sequence[WebhookEvent]) -> None:
    """Set `subject_link` (a SubjectLink or None) on each event, one hook call per source present."""
    by_source: dict[str, list[WebhookEvent]] = defaultdict(list)
    for event in events:
        event.subject_link = None
        if event.subject_id:
            by_source[event.source].append(event)
    sources = registered_sources()
    for name, its_events in by_source.items():
        hook = getattr(sources.get(name), "subject_links", None)
        links = hook(its_events) if hook else {}
        for event in its_events:
            event.subject_link = links.get(event.pk)


def subject_link_of(event: WebhookEvent) -> SubjectLink | None:
    """The event's SubjectLink, looked up now if its page did not (an event's own page)."""
    if not hasattr(event, "subject_link"):
        subject_links_attach([event])
    return event.subject_link


def event_search(term: str) -> Q | None:
    """Exact matches only, each served by an index: event id, subject id, and each source's own terms.

    A source's terms are turned into subject ids first (an email into the Clerk ids of the users who have
    it: one indexed query on a few rows), so the ledger is searched from those ids through its subject
    index. Asked as one statement (`OR subject_id IN (SELECT …)`), PostgreSQL read the subquery as a
    filter on every event: 2.1 to 2.8 s on a million events (docs/admin.md, "The admin at scale").
    """
    term = term.strip()
    if not term:
        return None
    matches = Q(event_id=term) | Q(subject_id=term)
    for source in registered_sources().values():
        subject_ids = source.subject_search(term) if source.subject_search else None
        if subject_ids is not None:
            matches |= Q(source=source.name, subject_id__in=list(subject_ids))
    return matches
