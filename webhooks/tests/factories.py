"""Factories for ledger rows."""

import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import ClerkEventFactory
from webhooks.models import WebhookEvent


class WebhookEventFactory(DjangoModelFactory):
    class Meta:
        model = WebhookEvent

    source = "clerk"
    event_id = factory.Sequence(lambda n: f"msg_test{n:06d}")
    payload = factory.SubFactory(ClerkEventFactory)
    event_type = factory.LazyAttribute(lambda o: o.payload["type"])
    subject_id = factory.LazyAttribute(lambda o: o.payload["data"].get("id", ""))
    status = WebhookEvent.Status.RECEIVED
    attempts = 1
