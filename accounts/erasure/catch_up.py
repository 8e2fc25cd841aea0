"""Erasing every deleted user whose erasure is not complete: tombstoned before erasure existed, or interrupted.

The `erase_deleted_users` command and the schedule's daily job of the same name (accounts/schedule/jobs.py) run it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from accounts.erasure.ledger import BATCH_SIZE, user_events_erase
from accounts.erasure.rows import user_row_erase, users_awaiting_erasure
from accounts.models import User


def erasures_catch_up(
    *, batch_size: int = BATCH_SIZE, on_user: Callable[[str, int], None] = lambda clerk_id, events: None
) -> tuple[int, int]:
    """Erase each awaiting user, one at a time, each user's events in batches: (users, events rewritten).

    `on_user(clerk_id, events)` is called after each user. Safe to run again; an interrupted run resumes.
    """
    clerk_ids = list(users_awaiting_erasure().order_by("pk").values_list("clerk_id", flat=True))
    events = 0
    for clerk_id in clerk_ids:
        with transaction.atomic():
            erasure = user_row_erase(User.objects.select_for_update().get(clerk_id=clerk_id))
        erased = user_events_erase(erasure.pk, batch_size=batch_size)
        on_user(clerk_id, erased)
        events += erased
    return len(clerk_ids), events
