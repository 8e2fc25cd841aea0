"""A stored Clerk event without the personal data of a deleted user: what stays is what the ledger needs.

An event about the user (user.*, session.*, email.created, sms.created) keeps
its envelope's `type`, `object`, `timestamp` and `instance_id` and, of its
`data`, only ids, flags and times (`id`, `object`, `user_id`, `deleted`,
`created_at`, `updated_at`): no address, phone number, name, username, image,
metadata, a session's `latest_activity`, nor `event_attributes.http_request`
(the client's IP address and user agent). A membership event naming the user
loses that user's part only: `public_user_data` keeps `user_id`, the request's
attributes go, the organization and role stay. Each erased payload carries
`webhooks.models.ERASED_KEY`, so the admin shows it as erased.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils import timezone

from webhooks.models import ERASED_KEY

KEPT_ENVELOPE = ("type", "object", "timestamp", "instance_id")
KEPT_DATA = ("id", "object", "user_id", "deleted", "created_at", "updated_at")
MEMBERSHIP_PREFIX = "organizationMembership."
# Event types whose `data.user_id` names the user (their subject on the ledger row, accounts/clerk_source).
USER_ID_PREFIXES = ("session.", "email.", "sms.")


def event_user_id(payload: Mapping[str, Any]) -> str:
    """The Clerk user an event is about ("" for none): user.* `data.id`, session/email/sms `data.user_id`,
    a membership event's `data.public_user_data.user_id`."""
    data = payload.get("data")
    if not isinstance(data, Mapping):
        return ""
    event_type = str(payload.get("type", ""))
    if event_type.startswith("user."):
        value = data.get("id")
    elif event_type.startswith(USER_ID_PREFIXES):
        value = data.get("user_id")
    elif event_type.startswith(MEMBERSHIP_PREFIX):
        user = data.get("public_user_data")
        value = user.get("user_id") if isinstance(user, Mapping) else None
    else:
        return ""
    return value if isinstance(value, str) else ""


def payload_erased(payload: Mapping[str, Any], user_clerk_id: str) -> dict[str, Any] | None:
    """`payload` without `user_clerk_id`'s personal data, or None when it does not name that user."""
    if not user_clerk_id or event_user_id(payload) != user_clerk_id:
        return None
    marker = {ERASED_KEY: payload.get(ERASED_KEY) or timezone.now().isoformat()}
    data = payload["data"]
    if str(payload.get("type", "")).startswith(MEMBERSHIP_PREFIX):
        kept = {key: value for key, value in payload.items() if key != "event_attributes"}
        return kept | {"data": {**data, "public_user_data": {"user_id": user_clerk_id}}} | marker
    envelope = {key: payload[key] for key in KEPT_ENVELOPE if key in payload}
    return envelope | {"data": {key: data[key] for key in KEPT_DATA if key in data}} | marker


def erasure_enabled() -> bool:
    """CLERK_ERASE_DELETED_USERS (default on); off, a deleted user's data is kept everywhere."""
    return bool(getattr(settings, "CLERK_ERASE_DELETED_USERS", True))
