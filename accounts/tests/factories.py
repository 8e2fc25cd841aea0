"""Factories: local users, Clerk-shaped User objects and user.* events (accounts.clerk.payloads), their ledger rows."""

import factory
from factory.django import DjangoModelFactory

from accounts.clerk import payloads as clerk_payloads
from accounts.models import User
from webhooks.tests.factories import WebhookEventFactory


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User

    clerk_id = factory.Sequence(lambda n: f"user_local{n:06d}")
    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    created_via = User.CreatedVia.WEBHOOK


class ClerkUserDataFactory(factory.Factory):
    """A Clerk User object as in user.created/user.updated (and the Backend API): `clerk_payloads.user_object`.

    Numbered ids and addresses, made-up names; any other field of the object can be given.
    """

    class Meta:
        model = clerk_payloads.user_object
        rename = {"id": "clerk_id"}

    id = factory.Sequence(lambda n: f"user_test{n:06d}")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    email_id = factory.Sequence(lambda n: f"idn_test{n:06d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")


class ClerkEventFactory(factory.Factory):
    """The event envelope Clerk sends through Svix: `clerk_payloads.event_envelope`."""

    class Meta:
        model = clerk_payloads.event_envelope
        rename = {"type": "event_type"}

    type = "user.created"
    data = factory.SubFactory(ClerkUserDataFactory)
    instance_id = "ins_test"
    user_agent = "pytest"


def user_event(event_type: str, data: dict) -> dict:
    """A user.created or user.updated envelope around `data`."""
    return ClerkEventFactory(type=event_type, data=data)


def user_deleted_event(clerk_id: str) -> dict:
    return ClerkEventFactory(type="user.deleted", data=clerk_payloads.user_deleted_object(clerk_id=clerk_id))


class ClerkLedgerEventFactory(WebhookEventFactory):
    """A ledger row of Clerk's source holding a Clerk event (a user.created unless given)."""

    source = "clerk"
    payload = factory.SubFactory(ClerkEventFactory)
