"""The two ways a request's authentication can fail for reasons other than a bug.

- `Unavailable`: something it needs (Clerk's API, Clerk's signing keys, the
  database) cannot be reached or answer now; retry after `retry_after`
  seconds. Answered 503 with `Retry-After`.
- `Refused`: the credentials are not accepted (a bad token, a user Clerk does
  not know or that was deleted); retrying as is will not help. Answered 401.
"""

from __future__ import annotations

RETRY_AFTER_SECONDS = 5  # when nothing better is known (no Retry-After from Clerk)


class Unavailable(Exception):
    """Cannot be done now; try again in `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Refused(Exception):
    """The credentials are refused for `reason`, which is safe to show (it never quotes the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
