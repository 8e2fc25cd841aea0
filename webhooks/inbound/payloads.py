"""Reading a verified delivery's body into an event envelope."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from webhooks.errors import Reason, Refused

# Deeper bodies are refused: Clerk's events nest a few levels, and every later reader
# (the database's JSON, the admin's pretty-printer) must be able to walk what is stored.
MAX_DEPTH = 100


def webhook_body_text(body: bytes) -> str:
    """`body` as text; raises Refused `not_json` for bytes that are not UTF-8.

    Decided here, before the signature check, rather than by the svix library: Svix signs
    JSON text, so a body that is not UTF-8 is no delivery whatever its signature, and our
    answer must not change with how a library version treats such bytes (standardwebhooks
    1.3.0 stopped raising UnicodeDecodeError for them).
    """
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(Reason.NOT_JSON, f"body is not UTF-8 text: {exc.reason} at byte {exc.start}") from None


def webhook_payload_parse(
    text: str, *, identifiers: Callable[[Mapping[str, Any]], Mapping[str, Any]]
) -> dict[str, Any]:
    """The event envelope in `text` (the body, `webhook_body_text`): a JSON object with a string `type` and `data`.

    Raises Refused: `not_json` for invalid JSON, non-finite numbers (NaN,
    Infinity, 1e999, which neither jsonb nor SQLite's JSON can store) and
    anything but an object; `too_deep` for nesting deeper than MAX_DEPTH;
    `bad_envelope` without a usable `type` or `data`. Strings PostgreSQL's
    jsonb cannot hold are altered rather than failing the insert later (NUL
    characters dropped, lone surrogates replaced by "?"), except the ones
    `identifiers` (the source's hook, given the body as sent) names: one of
    those holding such a character is `bad_data`, since altered it would be
    another id or grant.
    """
    try:
        payload = _DECODER.decode(text)
    except RecursionError:
        # The C parser counts its nesting against the recursion limit and stops cleanly.
        raise Refused(Reason.TOO_DEEP, f"body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise Refused(Reason.NOT_JSON, f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise Refused(Reason.NOT_JSON, "body is not a JSON object")
    # Fewer brackets in the text than the limit (those in strings only add) bound the depth cheaply.
    if text.count("[") + text.count("{") > MAX_DEPTH and json_depth(payload) > MAX_DEPTH:
        raise Refused(Reason.TOO_DEEP, f"body nests deeper than {MAX_DEPTH} levels")
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type.strip() or len(event_type) > 128:
        raise Refused(Reason.BAD_ENVELOPE, "event has no valid 'type'")
    if "data" not in payload or payload["data"] is None:
        raise Refused(Reason.BAD_ENVELOPE, "event has no 'data'")
    if "\\u" in text:  # only escapes can smuggle in what jsonb refuses
        _identifiers_check(identifiers(payload))
        payload = _jsonb_safe(payload)
    return payload


def json_depth(value: Any) -> int:
    """How many objects and arrays nest in `value` (0 for a scalar); an explicit stack, no recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a JSON number")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _identifiers_check(identifiers: Mapping[str, Any]) -> None:
    for where, value in identifiers.items():
        if isinstance(value, str) and _jsonb_safe(value) != value:
            # The detail names the place, never the value: it is logged and stored, where NUL cannot go.
            raise Refused(
                Reason.BAD_DATA, f"{where} holds a NUL character or a lone surrogate, which would be stored altered"
            )


def _jsonb_safe(value: Any) -> Any:
    # Recursive, but only ever called on payloads json_depth has bounded to MAX_DEPTH.
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_jsonb_safe(key): _jsonb_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonb_safe(item) for item in value]
    return value
