"""Every event type Clerk sends: the user, organization and session.created ones handled, the others `ignored` quietly.

The list is `WebhookEventType` in `@clerk/backend`
(clerk/javascript, packages/backend/src/api/resources/Webhooks.ts), plus
`session.pending` (a session with pending tasks), ignored here before and absent
from that file. A type Clerk does not list is the only one logged "no handler"
(at INFO): it may be new and worth a handler.
"""

import logging

import pytest

from accounts.clerk.payloads import event_envelope
from accounts.clerk_source.handlers import clerk_source
from accounts.models import Organization, User
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

HANDLED = {
    "user.created", "user.updated", "user.deleted",
    "organization.created", "organization.updated", "organization.deleted",
    "organizationMembership.created", "organizationMembership.updated", "organizationMembership.deleted",
    "session.created",
}  # fmt: skip
# Each type not handled, with the `object` of its data (the shapes in @clerk/backend's JSON.ts).
NOT_HANDLED = {
    "session.ended": "session", "session.removed": "session",
    "session.revoked": "session", "session.pending": "session",
    "email.created": "email", "sms.created": "sms_message",
    "organizationInvitation.created": "organization_invitation",
    "organizationInvitation.accepted": "organization_invitation",
    "organizationInvitation.revoked": "organization_invitation",
    "organizationDomain.created": "organization_domain", "organizationDomain.updated": "organization_domain",
    "organizationDomain.deleted": "organization_domain",
    "role.created": "role", "role.updated": "role", "role.deleted": "role",
    "permission.created": "permission", "permission.updated": "permission", "permission.deleted": "permission",
    "waitlistEntry.created": "waitlist_entry", "waitlistEntry.updated": "waitlist_entry",
    "paymentAttempt.created": "commerce_payment_attempt", "paymentAttempt.updated": "commerce_payment_attempt",
    "subscription.created": "commerce_subscription", "subscription.updated": "commerce_subscription",
    "subscription.active": "commerce_subscription", "subscription.pastDue": "commerce_subscription",
    "subscriptionItem.created": "commerce_subscription_item", "subscriptionItem.updated": "commerce_subscription_item",
    "subscriptionItem.active": "commerce_subscription_item", "subscriptionItem.canceled": "commerce_subscription_item",
    "subscriptionItem.upcoming": "commerce_subscription_item", "subscriptionItem.ended": "commerce_subscription_item",
    "subscriptionItem.abandoned": "commerce_subscription_item",
    "subscriptionItem.incomplete": "commerce_subscription_item",
    "subscriptionItem.pastDue": "commerce_subscription_item",
    "subscriptionItem.freeTrialEnding": "commerce_subscription_item",
}  # fmt: skip
NO_HANDLER = "no handler for webhook type"


def no_handler_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.getMessage().startswith(NO_HANDLER)]


def test_the_handled_types_are_clerks_user_and_organization_types():
    assert set(clerk_source.handlers) == HANDLED
    assert not HANDLED & clerk_source.ignored_types


@pytest.mark.parametrize("event_type", sorted(NOT_HANDLED))
def test_a_type_clerk_documents_is_answered_ignored_without_a_no_handler_line(event_type, deliver, caplog):
    data = {"object": NOT_HANDLED[event_type], "id": "xx_2Z8kVHnHyKDzmTzmCCDUlhpYkdU", "user_id": "user_1"}

    with caplog.at_level(logging.INFO, logger="webhooks.services"):
        response = deliver(event_envelope(event_type, data), msg_id=f"msg_{event_type}")

    assert response.status_code == 200
    assert response.json() == {"event_id": f"msg_{event_type}", "outcome": "ignored"}
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED
    assert no_handler_lines(caplog) == []
    assert not User.objects.exists() and not Organization.objects.exists()


def test_a_type_clerk_does_not_document_is_logged_no_handler(deliver, caplog):
    with caplog.at_level(logging.INFO, logger="webhooks.services"):
        response = deliver(event_envelope("subscription.renamedByClerk", {"id": "csub_1"}))

    assert response.json()["outcome"] == "ignored"
    assert no_handler_lines(caplog) == ["no handler for webhook type source=clerk type=subscription.renamedByClerk"]
