"""Durations as operators type them: 90s, 30m, 2h, 30d, 2w."""

import datetime as dt
import re

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def duration_parse(text: str) -> dt.timedelta:
    """`30d` -> 30 days. Raises ValueError with a message an operator can act on."""
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not a duration: use a number and a unit, e.g. 90s, 30m, 2h, 30d or 2w")
    amount, unit = match.groups()
    return dt.timedelta(**{_UNITS[unit]: int(amount)})
