"""Evaluating the alarms: each raised and cleared once across every worker and host, logged, and mailed once per raise.

Any number of processes evaluate at once (every db_worker on its period, the
sync health page when opened). The state is one AlarmState row per alarm and
a transition is one conditional UPDATE (`raised` from false to true, or back):
exactly one evaluator's UPDATE changes the row, and only that one logs and
queues the email, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.alarms.mail import alarm_mail_trigger
from accounts.alarms.models import AlarmState
from accounts.alarms.registry import ADVICE, ALARMS

logger = logging.getLogger("clerk_sync.alarms")


def alarms_evaluate(*, now: dt.datetime | None = None) -> dict[str, bool]:
    """Check every alarm's condition now and store what changed; returns each alarm's state by name.

    One read of the stored states, the conditions' own queries, and writes only for an alarm that changes
    (an alarm without a row is clear; its row is made when it is first raised).
    """
    now = now or timezone.now()
    stored = dict(AlarmState.objects.values_list("name", "raised"))
    states = {}
    for name, condition in ALARMS.items():
        reading = condition(now)
        if reading.raised != stored.get(name, False):
            alarm_transition(name, raised=reading.raised, detail=reading.detail, now=now)
        states[name] = reading.raised
    return states


def alarm_transition(name: str, *, raised: bool, detail: str = "", now: dt.datetime | None = None) -> bool:
    """Raise or clear `name` unless it already is; True when this call made the change (and logged and mailed it).

    For code that raises an alarm itself rather than through a condition (the
    reconciliation pass may call it with `drift` when a pass ends).
    """
    now = now or timezone.now()
    with transaction.atomic():
        AlarmState.objects.bulk_create([AlarmState(name=name, since=now)], ignore_conflicts=True)
        changed = AlarmState.objects.filter(name=name, raised=not raised).update(
            raised=raised, since=now, detail=detail[:500] if raised else ""
        )
        if changed and raised and settings.ADMINS:
            alarm_mail_trigger(name, detail, ADVICE.get(name, ""))
    if changed and raised:
        logger.error("alarm raised: %s: %s", name, detail, extra={"alarm": name})
    elif changed:
        logger.info("alarm cleared: %s", name, extra={"alarm": name})
    return bool(changed)


def alarms_raised() -> list[AlarmState]:
    """The alarms raised now, as last evaluated, in the registry's order."""
    rows = {row.name: row for row in AlarmState.objects.filter(raised=True)}
    return [rows[name] for name in ALARMS if name in rows]


def alarm_states() -> dict[str, bool]:
    """Every alarm by name, raised or not, as last evaluated (one query)."""
    raised = set(AlarmState.objects.filter(raised=True).values_list("name", flat=True))
    return {name: name in raised for name in ALARMS}
