"""Webhook sources: who may send us events, how they are verified, and who handles each type.

The ledger knows nothing about any one sender. A source is registered by the
app that owns its handlers (Clerk's by `accounts`); adding a second
Svix-signed provider is one more `register_source` call and a secret setting.
What staff see of a source beyond the ledger's own columns (what an event
concerns, a search by the source's own terms, its health figures) comes from
the hooks it brings; without them the admin shows the ledger alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webhooks.models import WebhookEvent

# A handler gets the event: pk, source, id, type, payload, status and attempts. On a delivery
# it is built in memory from what the ledger's upsert returned (the other fields are not
# loaded); on a replay it is read from the database. Either way its row stays locked for the
# transaction the handler runs in. A handler raises webhooks.errors.Refused(Reason.BAD_DATA, …)
# for data it cannot use (answered 400, nothing kept) and anything else for a failure
# (answered 500, stored failed, run again on the next delivery or replay). It may return the payload
# to store in place of the delivered one (a source keeping no personal data of someone deleted).
Handler = Callable[["WebhookEvent"], Mapping[str, Any] | None]


@dataclass(frozen=True)
class SubjectLink:
    """What an event concerns, as staff read it: a label, linked to its admin page when there is one."""

    label: str
    url: str = ""


@dataclass(frozen=True)
class HealthRow:
    """One figure on the sync health page; `warning` flags it for staff's attention."""

    label: str
    value: str
    warning: bool = False
    detail: str = ""  # a smaller line under the value
    url: str = ""  # where staff see what the figure counts
    key: str = ""  # the card's HTML id


@dataclass(frozen=True)
class HealthBlock:
    """A source's section of the sync health page: a title, its figures, and a note when one is due."""

    title: str
    rows: Sequence[HealthRow]
    note: str = ""  # shown under the figures (may be a SafeString with markup)
    key: str = ""  # the section's HTML id


def _no_subject(payload: Mapping[str, Any]) -> str:
    return ""


def _no_identifiers(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class WebhookSource:
    name: str
    # The Django setting holding this source's Svix secrets (comma/space separated).
    secret_setting: str
    handlers: Mapping[str, Handler]
    # Types deliberately not handled; they are stored as ignored like unknown ones,
    # but logged quietly because we expect them.
    ignored_types: frozenset[str] = field(default_factory=frozenset)
    # What an event concerns (e.g. the Clerk user id), kept on the ledger row for search.
    subject_id: Callable[[Mapping[str, Any]], str] = _no_subject
    # The strings of a payload that must be stored exactly as sent (ids, keys that grant access), by where they
    # are ({"data.id": …}). The ledger drops NUL characters and replaces lone surrogates, which PostgreSQL's jsonb
    # cannot hold; free text may lose them, but one of these strings would become another value, so a delivery
    # where one holds either is refused as bad_data before anything is recorded. Given the body as sent (any
    # JSON object with a `type` and `data`), it must not raise; values that are not strings are skipped.
    identifiers: Callable[[Mapping[str, Any]], Mapping[str, Any]] = _no_identifiers
    # For a payload no handler vouched for (an ignored type, or a handler that failed), in the transaction storing
    # it: the payload to store in place of the delivered one, or None to keep it (what a handler's return value is
    # to a handled type that succeeds).
    stored_payload: Callable[[Mapping[str, Any]], Mapping[str, Any] | None] | None = None
    # The admin's hooks, all optional.
    # Given the events of one changelist page (or the one event shown), how to show what each
    # concerns, by event pk; events left out show their subject id as it is. One query per
    # page at most, never one per row.
    subject_links: Callable[[Sequence[WebhookEvent]], Mapping[int, SubjectLink]] | None = None
    # The subject ids a search term names in the source's own terms (e.g. a user's email), as a
    # collection the search reads before it reads the ledger (few ids, then the subject index);
    # None when the term is not one of its terms (the changelist's search also matches event ids
    # and subject ids as given).
    subject_search: Callable[[str], Collection[str] | None] | None = None
    # The source's own figures for the sync health page.
    health: Callable[[], Sequence[HealthBlock]] | None = None


class SourceNotRegistered(LookupError):
    """No source of that name is registered (its own class: a handler's KeyError is a failure, not this)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"webhook source {name!r} is not registered")


_sources: dict[str, WebhookSource] = {}


def register_source(source: WebhookSource) -> None:
    """Route deliveries to /webhooks/<source.name>/ to this source (replacing one of that name)."""
    _sources[source.name] = source


def unregister_source(name: str) -> WebhookSource:
    """Stop accepting this source's deliveries (they are answered 404); returns the source.

    Raises SourceNotRegistered (a LookupError) when no source of that name is
    registered. Its events stay in the ledger; replaying them fails until it is
    registered again.
    """
    try:
        return _sources.pop(name)
    except KeyError:
        raise SourceNotRegistered(name) from None


@contextmanager
def source_registered(source: WebhookSource) -> Iterator[WebhookSource]:
    """Register `source` for the block, then restore whatever was registered under its name before."""
    previous = _sources.get(source.name)
    register_source(source)
    try:
        yield source
    finally:
        unregister_source(source.name)
        if previous is not None:
            register_source(previous)


def get_source(name: str) -> WebhookSource | None:
    return _sources.get(name)


def registered_sources() -> dict[str, WebhookSource]:
    """Every registered source by name, in registration order."""
    return dict(_sources)
