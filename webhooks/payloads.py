"""Reading a verified delivery's body into an event envelope."""

from __future__ import annotations

import json
from typing import Any

from .models import WebhookRejection

Reason = WebhookRejection.Reason


class PayloadError(ValueError):
    """A verified body that is not a usable event envelope."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def webhook_payload_parse(body: bytes) -> dict[str, Any]:
    """The event envelope in `body`: a JSON object with a string `type` and a `data` member.

    Raises PayloadError. Values PostgreSQL's jsonb cannot hold (NUL characters,
    lone surrogates) are replaced rather than failing the insert later.
    """
    try:
        text = body.decode("utf-8")
        payload = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(Reason.NOT_JSON, f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise PayloadError(Reason.NOT_JSON, "body is not a JSON object")
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type.strip() or len(event_type) > 128:
        raise PayloadError(Reason.BAD_ENVELOPE, "event has no valid 'type'")
    if "data" not in payload or payload["data"] is None:
        raise PayloadError(Reason.BAD_ENVELOPE, "event has no 'data'")
    if "\\u" in text:  # only escapes can smuggle in what jsonb refuses
        payload = _jsonb_safe(payload)
    return payload


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _jsonb_safe(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_jsonb_safe(key): _jsonb_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonb_safe(item) for item in value]
    return value
