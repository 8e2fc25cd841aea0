"""The ledger's stand-in source for its own tests: Svix-signed like any sender, knowing nothing of Clerk.

Its events are "things", any Svix-shaped JSON: `thing_event()` builds
`{"type": "thing.happened", "data": {"id": "thing_…", …}, "object": "event"}`.
Deliveries go to /webhooks/things/, signed with the secret in THINGS_WEBHOOK_SECRET.
Its handlers are plain functions:

- thing.happened and thing.changed, `record`: keeps one row per thing (a django.contrib.auth Group
  named `thing:<id>`, created the first time, left as it is after) and notes the
  run in `runs`; data without a string id is refused (bad_data), as a real
  source refuses data it cannot use.
- thing.broken, `break_down`: writes its row, then raises RuntimeError, so the
  write must roll back and the event is stored failed.
- thing.ignored is deliberately not handled; like any type without a handler it
  is stored ignored.

webhooks/tests/conftest.py registers it for every test under webhooks/tests
through the registry's public API; a server in another process gets it from
webhooks/tests/apps.py, installed by webhooks/tests/live_settings.py.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import Group

from webhooks.errors import Reason, Refused
from webhooks.models import WebhookEvent
from webhooks.registry import WebhookSource

NAME = "things"
PATH = f"/webhooks/{NAME}/"
SECRET_SETTING = "THINGS_WEBHOOK_SECRET"
ROW_PREFIX = "thing:"


def thing_event(event_type: str = "thing.happened", **data: Any) -> dict[str, Any]:
    """A Svix-shaped event about a thing; `data` gets a new `thing_…` id unless one is given."""
    return {"type": event_type, "data": {"id": f"thing_{uuid.uuid4().hex[:12]}", **data}, "object": "event"}


class Runs:
    """Every handler run in this process, in order, as (event id, type, data): thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: list[tuple[str, str, Any]] = []

    def add(self, event: WebhookEvent) -> None:
        with self._lock:
            self._runs.append((event.event_id, event.event_type, event.payload["data"]))

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()

    @property
    def event_ids(self) -> list[str]:
        with self._lock:
            return [event_id for event_id, _, _ in self._runs]

    @property
    def data(self) -> list[Any]:
        with self._lock:
            return [data for _, _, data in self._runs]


runs = Runs()


def thing_id(event: WebhookEvent) -> str:
    data = event.payload["data"]
    value = data.get("id") if isinstance(data, Mapping) else None
    if not isinstance(value, str) or not value:
        raise Refused(Reason.BAD_DATA, "a thing needs data.id, a non-empty string")
    return value


def record(event: WebhookEvent) -> None:
    runs.add(event)
    Group.objects.get_or_create(name=f"{ROW_PREFIX}{thing_id(event)}")


def break_down(event: WebhookEvent) -> None:
    runs.add(event)
    Group.objects.get_or_create(name=f"{ROW_PREFIX}{thing_id(event)}")  # must roll back with the failure
    raise RuntimeError("downstream is down")


def things_recorded() -> list[str]:
    """The ids of the things whose rows exist, sorted."""
    names = Group.objects.filter(name__startswith=ROW_PREFIX).values_list("name", flat=True)
    return sorted(name.removeprefix(ROW_PREFIX) for name in names)


def subject_id(payload: Mapping[str, Any]) -> str:
    data = payload.get("data")
    value = data.get("id") if isinstance(data, Mapping) else None
    return value if isinstance(value, str) else ""


def identifiers(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """A thing's id is stored exactly as sent or not at all."""
    data = payload.get("data")
    return {"data.id": data.get("id")} if isinstance(data, Mapping) else {}


things_source = WebhookSource(
    name=NAME,
    secret_setting=SECRET_SETTING,
    handlers={"thing.happened": record, "thing.changed": record, "thing.broken": break_down},
    ignored_types=frozenset({"thing.ignored"}),
    subject_id=subject_id,
    identifiers=identifiers,
)
