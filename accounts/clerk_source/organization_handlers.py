"""Clerk's organization.* and organizationMembership.* webhooks.

Each hands its `data` to accounts/sync/organizations.py.

No handler calls Clerk: everything needed is in the delivery. Data that
cannot be used (no id, a membership without its organization or user id, a
role or permission list of the wrong type) is refused: answered 400, nothing kept.
https://clerk.com/docs/webhooks/overview
"""

from collections.abc import Callable
from typing import Any

from accounts.clerk.data import ClerkDataError
from accounts.models import Organization
from accounts.sync.organizations import (
    membership_tombstone,
    membership_upsert_from_clerk,
    organization_tombstone,
    organization_upsert_from_clerk,
)
from webhooks.errors import Reason, Refused
from webhooks.models import WebhookEvent


def organization_upserted(event: WebhookEvent) -> None:
    """organization.created and organization.updated carry the Organization object."""
    _run(organization_upsert_from_clerk, event)


def organization_deleted(event: WebhookEvent) -> None:
    """organization.deleted carries only {object, id, slug, deleted}."""
    _run(organization_tombstone, event)


def membership_upserted(event: WebhookEvent) -> None:
    """organizationMembership.created and .updated carry the membership, its organization and its user's id."""
    _run(membership_upsert_from_clerk, event)


def membership_deleted(event: WebhookEvent) -> None:
    """organizationMembership.deleted carries the whole membership too."""
    _run(membership_tombstone, event)


def _run(service: Callable[..., Any], event: WebhookEvent) -> None:
    try:
        service(event.payload["data"], created_via=Organization.CreatedVia.WEBHOOK)
    except ClerkDataError as exc:
        raise Refused(Reason.BAD_DATA, str(exc)) from None
