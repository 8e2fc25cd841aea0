"""Clerk as a webhook source: its user.* handlers and the types it sends that we leave alone.

https://clerk.com/docs/webhooks/overview
"""

from collections.abc import Mapping
from typing import Any

from webhooks.models import WebhookEvent
from webhooks.registry import InvalidPayload, WebhookSource

from .clerk_data import ClerkDataError, clerk_id_from_payload
from .models import User
from .organization_handlers import membership_deleted, membership_upserted, organization_deleted, organization_upserted
from .services import user_tombstone, user_upsert_from_clerk


def user_upserted(event: WebhookEvent) -> None:
    """user.created and user.updated carry the full User object."""
    try:
        user_upsert_from_clerk(
            event.payload["data"],
            created_via=User.CreatedVia.WEBHOOK,
            likely_new=event.event_type == "user.created",
        )
    except ClerkDataError as exc:
        raise InvalidPayload(str(exc)) from None


def user_deleted(event: WebhookEvent) -> None:
    """user.deleted carries {object, id, deleted}; even the id is optional in Clerk's schema."""
    try:
        clerk_id = clerk_id_from_payload(event.payload["data"])
    except ClerkDataError as exc:
        raise InvalidPayload(str(exc)) from None
    user_tombstone(clerk_id, created_via=User.CreatedVia.WEBHOOK)


def clerk_subject_id(payload: Mapping[str, Any]) -> str:
    """The Clerk user id a user.* event concerns ("" for other types)."""
    data = payload.get("data")
    if str(payload.get("type", "")).startswith("user.") and isinstance(data, Mapping):
        return data.get("id") or ""
    return ""


clerk_source = WebhookSource(
    name="clerk",
    secret_setting="CLERK_WEBHOOK_SECRET",
    handlers={
        "user.created": user_upserted,
        "user.updated": user_upserted,
        "user.deleted": user_deleted,
        "organization.created": organization_upserted,
        "organization.updated": organization_upserted,
        "organization.deleted": organization_deleted,
        "organizationMembership.created": membership_upserted,
        "organizationMembership.updated": membership_upserted,
        "organizationMembership.deleted": membership_deleted,
    },
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
)
