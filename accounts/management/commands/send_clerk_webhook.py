"""Simulate Clerk: sign a realistic user, session or organization event with the configured secret and POST it
(like `stripe trigger`)."""

import argparse
import hashlib
import json
import random
import unicodedata

import requests
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from accounts.clerk import payloads as clerk_payloads
from accounts.models import User
from webhooks.inbound.verification import secret_problem, secrets_for

USER_TYPES = ("user.created", "user.updated", "user.deleted")
ORGANIZATION_TYPES = (
    *("organization.created", "organization.updated", "organization.deleted"),
    *("organizationMembership.created", "organizationMembership.updated", "organizationMembership.deleted"),
)
EVENT_TYPES = (*USER_TYPES, "session.created", *ORGANIZATION_TYPES)
DEFAULT_URL = "http://127.0.0.1:8000/webhooks/clerk/"
# Who a made-up user is, when the options do not say.
PEOPLE = (
    ("Amara", "Okafor"),
    ("Mateo", "García"),
    ("Mei", "Chen"),
    ("Priya", "Raman"),
    ("Lars", "Johansson"),
    ("Fatima", "Al-Sayed"),
    ("Kenji", "Watanabe"),
    ("Zanele", "Dlamini"),
    ("Sofía", "Martínez"),
    ("Aroha", "Ngata"),
    ("Dmitri", "Volkov"),
    ("Grace", "Hopper"),
)


def email_for(first_name: str, last_name: str) -> str:
    """'Sofía', 'Martínez' -> 'sofia.martinez@example.com'."""
    name = unicodedata.normalize("NFKD", f"{first_name}.{last_name}").encode("ascii", "ignore").decode()
    return f"{name.lower().replace(' ', '-')}@example.com"


def person_for(user_id: str, *, email, first_name, last_name, username, banned=None, locked=None) -> dict:
    """The user to send: the local user's current data (for an id already here), else a made-up person; options win."""
    try:
        local = User.objects.filter(clerk_id=user_id).first()
    except DatabaseError:
        local = None  # no database to look in: a made-up person, as for a new id
    if local is not None:
        person = {
            "email": local.email,
            "first_name": local.first_name,
            "last_name": local.last_name,
            "username": local.username,
            "banned": local.banned,
            "locked": local.locked,
        }
        if local.image_url:  # else an img.clerk.com URL made from the id, as for a new id
            person["image_url"] = local.image_url
    else:
        first, last = random.choice(PEOPLE)
        person = {"email": "", "first_name": first, "last_name": last, "username": None}
    given = {"email": email, "first_name": first_name, "last_name": last_name, "username": username}
    given |= {"banned": banned, "locked": locked}
    person |= {name: value for name, value in given.items() if value is not None}
    person["email"] = person["email"] or email_for(person["first_name"], person["last_name"])
    return person


def clerk_user_event(event_type: str, *, user_id: str, person: dict, org_id: str = "", role: str = "") -> dict:
    """The event to sign, shaped like Clerk's, with a fresh updated_at; `person` gives the User's other fields.

    Organization events are about `org_id`; a membership's id is made from the organization
    and user ids, so created, updated and deleted of one pair name the same membership.
    """
    if event_type == "user.deleted":
        data = clerk_payloads.user_deleted_object(clerk_id=user_id)
    elif event_type == "session.created":
        data = clerk_payloads.session_object(user_id=user_id)
    elif event_type == "organization.deleted":
        data = clerk_payloads.organization_deleted_data(id=org_id)
    elif event_type.startswith("organization."):
        data = clerk_payloads.organization_data(id=org_id, name=f"Organization {org_id[-6:]}")
    elif event_type.startswith("organizationMembership."):
        pair = hashlib.sha256(f"{org_id}/{user_id}".encode()).hexdigest()[:24]
        organization = clerk_payloads.organization_data(id=org_id, name=f"Organization {org_id[-6:]}", updated_at=1)
        data = clerk_payloads.membership_data(
            id=f"orgmem_{pair}", organization=organization, user_id=user_id, role=role, **_names(person)
        )
    else:
        data = clerk_payloads.user_object(clerk_id=user_id, **person)
    return clerk_payloads.event_envelope(
        event_type, data, instance_id="ins_local_simulation", user_agent="send_clerk_webhook"
    )


def _names(person: dict) -> dict:
    return {"first_name": person["first_name"], "last_name": person["last_name"]}


class Command(BaseCommand):
    help = "Sign a realistic Clerk event with CLERK_WEBHOOK_SECRET and POST it, as Clerk's Svix would."

    def add_arguments(self, parser):
        parser.add_argument("type", choices=EVENT_TYPES, help="the event type")
        parser.add_argument("--url", default=DEFAULT_URL, help=f"where to POST (default {DEFAULT_URL})")
        parser.add_argument(
            "--host",
            help="the Host header to send (default: --url's host), e.g. app.example.com when --url names an "
            "address that ALLOWED_HOSTS does not list",
        )
        parser.add_argument("--user-id", help="Clerk user id (default: a new user_… id)")
        parser.add_argument(
            "--email", help="primary email (default: the local user's for a known id, else one made from the name)"
        )
        parser.add_argument("--first-name", help="default: the local user's for a known id, else a made-up name")
        parser.add_argument("--last-name", help="default: as --first-name")
        parser.add_argument("--username", help="Clerk username (default: the local user's, else none as Clerk often)")
        parser.add_argument(
            "--repeat",
            type=int,
            default=1,
            help="send the same delivery (same svix-id) N times in this run; another run sends another event",
        )
        flag = argparse.BooleanOptionalAction
        parser.add_argument("--banned", action=flag, help="user events: banned in Clerk (default: as stored)")
        parser.add_argument("--locked", action=flag, help="user events: locked in Clerk (default: as stored)")
        parser.add_argument("--org-id", help="organization events: the organization (default: a new org_… id)")
        parser.add_argument("--role", default="org:member", help="membership events: the role (default org:member)")

    def handle(self, *args, url, host, user_id, email, first_name, last_name, username, repeat, **options):
        event_type = options["type"]
        configured = secrets_for("CLERK_WEBHOOK_SECRET")
        if not configured:
            raise CommandError("CLERK_WEBHOOK_SECRET is not set: set it (e.g. in .env) to sign the event.")
        if repeat < 1:
            raise CommandError("--repeat must be at least 1")
        user_id = user_id or clerk_payloads.new_id("user")
        person = person_for(
            user_id,
            email=email,
            first_name=first_name,
            last_name=last_name,
            username=username,
            banned=options["banned"],
            locked=options["locked"],
        )
        org_id = options["org_id"] or clerk_payloads.new_id("org")
        event = clerk_user_event(event_type, user_id=user_id, person=person, org_id=org_id, role=options["role"])
        body = json.dumps(event)
        msg_id = clerk_payloads.new_id("msg")
        problem = secret_problem(configured[0])
        if problem is not None and problem.unusable:  # the svix library could not sign with it
            raise CommandError("CLERK_WEBHOOK_SECRET is not a valid whsec_ secret.")

        name = f"{person['first_name']} {person['last_name']} <{person['email']}>"
        who = f" {name}" if event_type in ("user.created", "user.updated") else ""
        about = org_id if event_type.startswith("organization.") else user_id
        if event_type.startswith("organizationMembership."):
            about = f"{user_id} in {org_id}"
        self.stdout.write(f"{event_type} {about}{who} svix-id={msg_id}")
        failed = False
        for _ in range(repeat):
            # Re-signed each time, as Svix does on a retry.
            headers = clerk_payloads.svix_headers(body, secret=configured[0], msg_id=msg_id)
            if host:
                headers["Host"] = host
            try:
                response = requests.post(
                    url, data=body.encode(), headers=headers | {"Content-Type": "application/json"}, timeout=15
                )
            except requests.RequestException as exc:
                raise CommandError(f"cannot reach {url} ({type(exc).__name__}): is the server running?") from None
            failed |= not response.ok
            self.stdout.write(f"{response.status_code} {response.text}")
        if failed:
            raise CommandError("the endpoint did not accept every delivery (see the answers above)")
