"""Reading Clerk's answers: a `Retry-After` header in seconds, and the message of an error body."""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable

MAX_RETRY_AFTER = 3600  # a longer or nonsensical Retry-After is read as this


def retry_after_seconds(value: str, *, now: Callable[[], float] = time.time) -> float | None:
    """A `Retry-After` value in seconds, capped at MAX_RETRY_AFTER: delay-seconds or an HTTP date.

    None when absent or unreadable (the caller backs off as usual); a date in
    the past is 0. RFC 9110, section 10.2.3.
    """
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP date is always GMT
            return None
        seconds = when.timestamp() - now()
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def error_message(body: bytes) -> str:
    """Clerk's `{"errors": [{"message", "long_message", "code"}]}`, shortened."""
    try:
        errors = json.loads(body).get("errors") or []
        return "; ".join(str(error.get("long_message") or error.get("message")) for error in errors)[:300]
    except (ValueError, AttributeError, TypeError):
        return body[:300].decode("utf-8", "replace")
