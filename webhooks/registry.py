"""Webhook sources: who may send us events, how they are verified, and who handles each type.

The ledger knows nothing about any one sender. A source is registered by the
app that owns its handlers (Clerk's by `accounts`); adding a second
Svix-signed provider is one more `register_source` call and a secret setting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import WebhookEvent

# A handler gets the event (its source, id, type and payload; the ledger row is locked for the
# whole transaction the handler runs in, but the object is not a fresh read of it). It raises
# webhooks.errors.Refused(Reason.BAD_DATA, …) for data it cannot use (answered 400, nothing kept)
# and anything else for a failure (answered 500, stored failed, retried).
Handler = Callable[["WebhookEvent"], None]

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
    subject_id: Callable[[Mapping[str, Any]], str] = lambda payload: ""


_sources: dict[str, WebhookSource] = {}


def register_source(source: WebhookSource) -> None:
    _sources[source.name] = source


def get_source(name: str) -> WebhookSource | None:
    return _sources.get(name)


def registered_sources() -> dict[str, WebhookSource]:
    """Every registered source by name, in registration order."""
    return dict(_sources)
