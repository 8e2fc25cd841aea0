"""Factories for ledger rows: events of the stand-in source (webhooks/tests/ledger_source.py) unless told."""

import factory
from factory.django import DjangoModelFactory

from webhooks.models import WebhookEvent
from webhooks.tests.ledger_source import NAME, thing_event


class WebhookEventFactory(DjangoModelFactory):
    class Meta:
        model = WebhookEvent

    source = NAME
    event_id = factory.Sequence(lambda n: f"msg_test{n:06d}")
    payload = factory.LazyFunction(thing_event)
    event_type = factory.LazyAttribute(lambda o: o.payload["type"])
    subject_id = factory.LazyAttribute(lambda o: o.payload["data"].get("id", ""))
    status = WebhookEvent.Status.RECEIVED
    attempts = 1
