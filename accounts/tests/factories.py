"""Factories: local users, and Clerk-shaped User objects and user.* events."""

import time

import factory
from factory.django import DjangoModelFactory

from accounts.models import User


def now_ms() -> int:
    return int(time.time() * 1000)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User

    clerk_id = factory.Sequence(lambda n: f"user_local{n:06d}")
    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    created_via = User.CreatedVia.WEBHOOK


class ClerkUserDataFactory(factory.DictFactory):
    """A Clerk User object as in user.created/user.updated (and the Backend API)."""

    class Params:
        email = factory.Sequence(lambda n: f"person{n}@example.com")
        email_id = factory.Sequence(lambda n: f"idn_test{n:06d}")

    object = "user"
    id = factory.Sequence(lambda n: f"user_test{n:06d}")
    username = None
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    image_url = factory.LazyAttribute(lambda o: f"https://img.clerk.com/{o.id}")
    email_addresses = factory.LazyAttribute(
        lambda o: (
            [
                {
                    "id": o.email_id,
                    "object": "email_address",
                    "email_address": o.email,
                    "linked_to": [],
                    "verification": {"status": "verified", "strategy": "email_code"},
                }
            ]
            if o.email
            else []
        )
    )
    primary_email_address_id = factory.LazyAttribute(lambda o: o.email_id if o.email else None)
    phone_numbers = factory.LazyFunction(list)
    public_metadata = factory.LazyFunction(dict)
    private_metadata = factory.LazyFunction(dict)
    unsafe_metadata = factory.LazyFunction(dict)
    external_id = None
    banned = False
    locked = False
    created_at = factory.LazyFunction(now_ms)
    updated_at = factory.LazyAttribute(lambda o: o.created_at)
    last_sign_in_at = None


class ClerkEventFactory(factory.DictFactory):
    """The event envelope Clerk sends through Svix."""

    object = "event"
    type = "user.created"
    data = factory.SubFactory(ClerkUserDataFactory)
    instance_id = "ins_test"
    timestamp = factory.LazyFunction(now_ms)
    event_attributes = factory.LazyFunction(
        lambda: {"http_request": {"client_ip": "127.0.0.1", "user_agent": "pytest"}}
    )


def user_event(event_type: str, data: dict) -> dict:
    """A user.created or user.updated envelope around `data`."""
    return ClerkEventFactory(type=event_type, data=data)


def user_deleted_event(clerk_id: str) -> dict:
    return ClerkEventFactory(type="user.deleted", data={"object": "user", "id": clerk_id, "deleted": True})
