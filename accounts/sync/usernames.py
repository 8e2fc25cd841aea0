"""Usernames for users synced from Clerk: Clerk's own when it has one and it is free, else derived and made unique."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

from django.db import IntegrityError, transaction

from accounts.clerk.data import NAME_MAX_LENGTH, ClerkUser
from accounts.models import User

# What Django's username validator refuses; removed from a derived username.
NOT_USERNAME_CHARS = re.compile(r"[^\w.@+-]+")
RANDOM_VARIANTS = 5


def username_candidates(clerk_user: ClerkUser) -> Iterator[str]:
    """Clerk's username, else one derived from the email or name; then unique variants of it.

    The first variant ends with the Clerk id's last characters (stable for a
    user), the next ones with random hex; each stays within the column.
    """
    base = clerk_user.username or username_derive(clerk_user)
    yield base
    suffix = clerk_user.clerk_id.removeprefix("user_")[-8:]
    yield f"{base[: NAME_MAX_LENGTH - len(suffix) - 1]}-{suffix}"
    for _ in range(RANDOM_VARIANTS):
        yield f"{base[: NAME_MAX_LENGTH - 9]}-{secrets.token_hex(4)}"


def username_derive(clerk_user: ClerkUser) -> str:
    """The local part of the email, else `first.last`, cleaned and lower-cased; "user" when both are empty."""
    for source in (
        clerk_user.email.partition("@")[0],
        f"{clerk_user.first_name}.{clerk_user.last_name}".strip("."),
    ):
        username = NOT_USERNAME_CHARS.sub("", source.replace(" ", ".")).strip(".").lower()
        if username:
            return username[:NAME_MAX_LENGTH]
    return "user"


def username_take(user: User, clerk_user: ClerkUser) -> bool:
    """Move the user to Clerk's username, or the first free variant of it. Returns whether it moved."""
    for candidate in username_candidates(clerk_user):
        if candidate == user.username:
            return False
        try:
            with transaction.atomic():  # a savepoint: a taken name must not abort the event
                User.objects.filter(pk=user.pk).update(username=candidate)
        except IntegrityError:
            continue
        user.username = candidate
        return True
    return False
