"""Clerk as a webhook source: its user and organization handlers, the types it sends that we leave alone.

Each handler hands its event's `data` to accounts/sync/ (users.py,
organizations.py) with `created_via="webhook"`. No handler calls Clerk:
everything needed is in the delivery. Data that cannot be used (no id, a
membership without its organization or user id, a role or permission list of
the wrong type) is refused, the one way `_refused_if_unusable` has: answered
400, nothing kept. Its admin hooks are in accounts/clerk_source/admin_hooks.py.

https://clerk.com/docs/webhooks/overview
"""

from collections.abc import Callable, Mapping
from typing import Any

from accounts.clerk.data import ClerkDataError, clerk_id_from_payload, membership_identifiers, user_identifiers
from accounts.clerk_source.admin_hooks import clerk_health, clerk_subject_links, clerk_subject_search
from accounts.erasure.payloads import erasure_enabled, event_user_id, payload_erased
from accounts.models import Organization, User
from accounts.sync.organizations import (
    membership_tombstone,
    membership_upsert_from_clerk,
    organization_tombstone,
    organization_upsert_from_clerk,
)
from accounts.sync.outcome import SyncOutcome
from accounts.sync.sessions import user_signed_in
from accounts.sync.users import user_tombstone, user_upsert_from_clerk
from webhooks.errors import Reason, Refused
from webhooks.models import WebhookEvent
from webhooks.registry import WebhookSource

Payload = Mapping[str, Any]


def user_upserted(event: WebhookEvent) -> Payload | None:
    """user.created and user.updated carry the full User object. Stored erased when the user is deleted."""
    likely_new = event.event_type == "user.created"
    result = _refused_if_unusable(
        user_upsert_from_clerk, event, created_via=User.CreatedVia.WEBHOOK, likely_new=likely_new
    )
    return _erased_if_deleted(event, result.user)


def user_deleted(event: WebhookEvent) -> Payload | None:
    """user.deleted carries {object, id, deleted}; even the id is optional in Clerk's schema.

    The tombstone queues the erasure of the user's stored events, this one included; a
    redelivered delete of a user already deleted is stored erased at once.
    """
    clerk_id = _refused_if_unusable(clerk_id_from_payload, event)
    result = user_tombstone(clerk_id, created_via=User.CreatedVia.WEBHOOK)
    return _erased_if_deleted(event, result.user) if result.outcome == SyncOutcome.ALREADY_DELETED else None


def session_created(event: WebhookEvent) -> Payload | None:
    """session.created moves the user's last_login forward; other session.* types are ignored."""
    return _erased_if_deleted(event, _refused_if_unusable(user_signed_in, event))


def organization_upserted(event: WebhookEvent) -> None:
    """organization.created and organization.updated carry the Organization object."""
    _refused_if_unusable(organization_upsert_from_clerk, event, created_via=Organization.CreatedVia.WEBHOOK)


def organization_deleted(event: WebhookEvent) -> None:
    """organization.deleted carries only {object, id, slug, deleted}."""
    _refused_if_unusable(organization_tombstone, event, created_via=Organization.CreatedVia.WEBHOOK)


def membership_upserted(event: WebhookEvent) -> Payload | None:
    """organizationMembership.created and .updated carry the membership, its organization and its user's data."""
    result = _refused_if_unusable(membership_upsert_from_clerk, event, created_via=Organization.CreatedVia.WEBHOOK)
    return _erased_if_deleted(event, result.membership.user if result.membership.user_id else None)


def membership_deleted(event: WebhookEvent) -> Payload | None:
    """organizationMembership.deleted carries the whole membership too."""
    result = _refused_if_unusable(membership_tombstone, event, created_via=Organization.CreatedVia.WEBHOOK)
    return _erased_if_deleted(event, result.membership.user if result.membership.user_id else None)


def _erased_if_deleted(event: WebhookEvent, user: User | None) -> Payload | None:
    """The payload to store for an event about `user`: erased when the user is tombstoned (and erasure is on)."""
    if user is None or not user.is_deleted_in_clerk or not erasure_enabled():
        return None
    return payload_erased(event.payload, user.clerk_id)


def clerk_stored_payload(payload: Mapping[str, Any]) -> Payload | None:
    """An ignored event about a deleted user (session.ended, email.created…) is stored erased: one query, then."""
    user_clerk_id = event_user_id(payload)
    if not user_clerk_id or not erasure_enabled():
        return None
    if not User.objects.filter(clerk_id=user_clerk_id, deleted_at__isnull=False).exists():
        return None
    return payload_erased(payload, user_clerk_id)


def _refused_if_unusable(use: Callable[..., Any], event: WebhookEvent, **kwargs: Any) -> Any:
    """`use(event.payload["data"], **kwargs)`; data it cannot use (ClerkDataError) is Refused(Reason.BAD_DATA)."""
    try:
        return use(event.payload["data"], **kwargs)
    except ClerkDataError as exc:
        raise Refused(Reason.BAD_DATA, str(exc)) from None


def clerk_subject_id(payload: Mapping[str, Any]) -> str:
    """What an event concerns: the Clerk user of a user.*, session.*, email.* or sms.* event, the
    organization of an organization.* or organizationMembership.* event ("" for other types or unusable data)."""
    data = payload.get("data")
    event_type = str(payload.get("type", ""))
    if not isinstance(data, Mapping) or not event_type.startswith("organization"):
        return event_user_id(payload)
    if event_type.startswith("organizationMembership."):
        data = data.get("organization")
        if not isinstance(data, Mapping):
            return ""
    elif not event_type.startswith("organization."):
        return ""
    subject = data.get("id")
    return subject if isinstance(subject, str) else ""


def clerk_identifiers(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The strings of a handled event that must arrive exactly as Clerk sent them, by path (`data.id`, `data.role`…).

    An id, role or permission altered by the ledger (which drops NUL
    characters and replaces lone surrogates) would be another one: the ledger
    refuses the delivery instead (bad_data). Free text (names) may lose them.
    """
    data = payload.get("data")
    if not isinstance(data, Mapping):
        return {}
    event_type = str(payload.get("type", ""))
    if event_type.startswith("user."):
        identifiers = user_identifiers(data)
    elif event_type.startswith("organizationMembership."):
        identifiers = membership_identifiers(data)
    elif event_type.startswith("organization."):
        identifiers = {"id": data.get("id")}
    elif event_type == "session.created":
        identifiers = {"user_id": data.get("user_id")}
    else:  # types we leave alone: nothing of theirs is kept
        return {}
    return {f"data.{path}": value for path, value in identifiers.items()}


# Event type -> handler; a new type Clerk sends is one more entry here.
handlers = {
    "user.created": user_upserted,
    "user.updated": user_upserted,
    "user.deleted": user_deleted,
    "organization.created": organization_upserted,
    "organization.updated": organization_upserted,
    "organization.deleted": organization_deleted,
    "organizationMembership.created": membership_upserted,
    "organizationMembership.updated": membership_upserted,
    "organizationMembership.deleted": membership_deleted,
    "session.created": session_created,
}

clerk_source = WebhookSource(
    name="clerk",
    secret_setting="CLERK_WEBHOOK_SECRET",
    handlers=handlers,
    # Sent by Clerk, deliberately not handled here: stored as ignored and answered 200, without the
    # "no handler" line an unknown type gets. Every type of `WebhookEventType` in @clerk/backend
    # (packages/backend/src/api/resources/Webhooks.ts) is either handled above or listed here.
    ignored_types=frozenset(
        {
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
            # Clerk Billing: https://clerk.com/docs/guides/development/webhooks/billing
            "paymentAttempt.created",
            "paymentAttempt.updated",
            "subscription.created",
            "subscription.updated",
            "subscription.active",
            "subscription.pastDue",
            "subscriptionItem.created",
            "subscriptionItem.updated",
            "subscriptionItem.active",
            "subscriptionItem.canceled",
            "subscriptionItem.upcoming",
            "subscriptionItem.ended",
            "subscriptionItem.abandoned",
            "subscriptionItem.incomplete",
            "subscriptionItem.pastDue",
            "subscriptionItem.freeTrialEnding",
        }
    ),
    subject_id=clerk_subject_id,
    identifiers=clerk_identifiers,
    stored_payload=clerk_stored_payload,
    subject_links=clerk_subject_links,
    subject_search=clerk_subject_search,
    health=clerk_health,
)
