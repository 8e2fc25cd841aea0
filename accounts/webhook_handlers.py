"""Clerk as a webhook source: its user.* handlers, the types it sends that we leave alone, its admin hooks.

https://clerk.com/docs/webhooks/overview
"""

from collections.abc import Mapping
from typing import Any

from webhooks.errors import Reason, Refused
from webhooks.models import WebhookEvent
from webhooks.registry import WebhookSource

from .clerk_data import ClerkDataError, clerk_id_from_payload
from .models import User
from .services import user_tombstone, user_upsert_from_clerk
from .webhook_source import clerk_health, clerk_subject_links, clerk_subject_search


def user_upserted(event: WebhookEvent) -> None:
    """user.created and user.updated carry the full User object."""
    try:
        user_upsert_from_clerk(
            event.payload["data"],
            created_via=User.CreatedVia.WEBHOOK,
            likely_new=event.event_type == "user.created",
        )
    except ClerkDataError as exc:
        raise Refused(Reason.BAD_DATA, str(exc)) from None


def user_deleted(event: WebhookEvent) -> None:
    """user.deleted carries {object, id, deleted}; even the id is optional in Clerk's schema."""
    try:
        clerk_id = clerk_id_from_payload(event.payload["data"])
    except ClerkDataError as exc:
        raise Refused(Reason.BAD_DATA, str(exc)) from None
    user_tombstone(clerk_id, created_via=User.CreatedVia.WEBHOOK)


def clerk_subject_id(payload: Mapping[str, Any]) -> str:
    """The Clerk user id a user.* event concerns ("" for other types)."""
    data = payload.get("data")
    if str(payload.get("type", "")).startswith("user.") and isinstance(data, Mapping):
        return data.get("id") or ""
    return ""


# Event type -> handler; a new type Clerk sends is one more entry here.
handlers = {
    "user.created": user_upserted,
    "user.updated": user_upserted,
    "user.deleted": user_deleted,
}

clerk_source = WebhookSource(
    name="clerk",
    secret_setting="CLERK_WEBHOOK_SECRET",
    handlers=handlers,
    # Sent by Clerk, deliberately not handled here: stored as ignored and answered 200.
    ignored_types=frozenset(
        {
            "session.created",
            "session.ended",
            "session.removed",
            "session.revoked",
            "session.pending",
            "email.created",
            "sms.created",
            "organization.created",
            "organization.updated",
            "organization.deleted",
            "organizationMembership.created",
            "organizationMembership.updated",
            "organizationMembership.deleted",
            "organizationInvitation.created",
            "organizationInvitation.accepted",
            "organizationInvitation.revoked",
            "organizationDomain.created",
            "organizationDomain.updated",
            "organizationDomain.deleted",
            "role.created",
            "role.updated",
            "role.deleted",
            "permission.created",
            "permission.updated",
            "permission.deleted",
            "waitlistEntry.created",
            "waitlistEntry.updated",
        }
    ),
    subject_id=clerk_subject_id,
    subject_links=clerk_subject_links,
    subject_search=clerk_subject_search,
    health=clerk_health,
)
