"""Session events: `session.created` moves the user's `last_login` forward, never back.

https://clerk.com/docs/reference/backend-api/tag/Sessions (a Session's `user_id`, `created_at` in ms)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q

from accounts.clerk.data import ClerkDataError, clerk_prefixed_id, clerk_timestamp
from accounts.models import User


def user_signed_in(data: Mapping[str, Any]) -> User | None:
    """Set the user's `last_login` to the session's `created_at` when it is later than the stored one.

    One indexed UPDATE; an older session, an unknown user or a tombstone
    changes nothing. Returns None when it moved, else the user's tombstone if
    it has one (one more query, only then), so the caller can treat the event
    as about a deleted user. Raises ClerkDataError without a user id or `created_at`.
    """
    user_clerk_id = clerk_prefixed_id(data, "user_", "session's user", key="user_id")
    created_at = clerk_timestamp(data.get("created_at"))
    if created_at is None:
        raise ClerkDataError("session data has no created_at")
    live = User.objects.filter(clerk_id=user_clerk_id, deleted_at__isnull=True)
    if live.filter(Q(last_login__isnull=True) | Q(last_login__lt=created_at)).update(last_login=created_at):
        return None
    return User.objects.filter(clerk_id=user_clerk_id, deleted_at__isnull=False).first()
