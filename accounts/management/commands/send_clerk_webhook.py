"""Simulate Clerk: sign a realistic user.* event with the configured secret and POST it (like `stripe trigger`)."""

import datetime as dt
import json
import secrets
import time
import uuid

import requests
from django.core.management.base import BaseCommand, CommandError
from svix.webhooks import Webhook

from webhooks.verification import secrets_for

EVENT_TYPES = ("user.created", "user.updated", "user.deleted")
DEFAULT_URL = "http://127.0.0.1:8000/webhooks/clerk/"


def clerk_user_event(event_type: str, *, user_id: str, email: str, first_name: str, last_name: str, username) -> dict:
    """An event shaped like Clerk's (https://clerk.com/docs/webhooks/overview), with a fresh updated_at."""
    now_ms = int(time.time() * 1000)
    if event_type == "user.deleted":
        data = {"object": "user", "id": user_id, "deleted": True}
    else:
        email_id = f"idn_{secrets.token_hex(12)}"
        data = {
            "object": "user",
            "id": user_id,
            "username": username,
            "first_name": first_name,
            "last_name": last_name,
            "image_url": f"https://img.clerk.com/{user_id}",
            "has_image": False,
            "email_addresses": [
                {
                    "id": email_id,
                    "object": "email_address",
                    "email_address": email,
                    "linked_to": [],
                    "verification": {"status": "verified", "strategy": "email_code"},
                }
            ],
            "primary_email_address_id": email_id,
            "phone_numbers": [],
            "primary_phone_number_id": None,
            "external_id": None,
            "public_metadata": {},
            "private_metadata": {},
            "unsafe_metadata": {},
            "banned": False,
            "locked": False,
            "password_enabled": True,
            "two_factor_enabled": False,
            "created_at": now_ms,
            "updated_at": now_ms,
            "last_sign_in_at": None,
        }
    return {
        "data": data,
        "object": "event",
        "type": event_type,
        "timestamp": now_ms,
        "instance_id": "ins_local_simulation",
        "event_attributes": {"http_request": {"client_ip": "127.0.0.1", "user_agent": "send_clerk_webhook"}},
    }


class Command(BaseCommand):
    help = "Sign a realistic Clerk event with CLERK_WEBHOOK_SECRET and POST it, as Clerk's Svix would."

    def add_arguments(self, parser):
        parser.add_argument("type", choices=EVENT_TYPES, help="the event type")
        parser.add_argument("--url", default=DEFAULT_URL, help=f"where to POST (default {DEFAULT_URL})")
        parser.add_argument("--user-id", help="Clerk user id (default: a new user_… id)")
        parser.add_argument("--email", help="primary email (default: derived from the user id)")
        parser.add_argument("--first-name", default="Ada")
        parser.add_argument("--last-name", default="Lovelace")
        parser.add_argument("--username", default=None, help="Clerk username (default: none, as Clerk often sends)")
        parser.add_argument("--repeat", type=int, default=1, help="send the same delivery (same svix-id) N times")

    def handle(self, *args, url, user_id, email, first_name, last_name, username, repeat, **options):
        event_type = options["type"]
        configured = secrets_for("CLERK_WEBHOOK_SECRET")
        if not configured:
            raise CommandError("CLERK_WEBHOOK_SECRET is not set: set it (e.g. in .env) to sign the event.")
        if repeat < 1:
            raise CommandError("--repeat must be at least 1")
        user_id = user_id or f"user_{uuid.uuid4().hex[:27]}"
        email = email or f"{user_id.removeprefix('user_')[:12].lower()}@example.com"
        body = json.dumps(
            clerk_user_event(
                event_type, user_id=user_id, email=email, first_name=first_name, last_name=last_name, username=username
            )
        )
        msg_id = f"msg_{uuid.uuid4().hex[:27]}"
        try:
            signer = Webhook(configured[0])
        except Exception:
            raise CommandError("CLERK_WEBHOOK_SECRET is not a valid whsec_ secret.") from None

        failed = False
        for attempt in range(1, repeat + 1):
            now = dt.datetime.now(dt.timezone.utc)  # re-signed each time, as Svix does on a retry
            headers = {
                "Content-Type": "application/json",
                "svix-id": msg_id,
                "svix-timestamp": str(int(now.timestamp())),
                "svix-signature": signer.sign(msg_id, now, body),
            }
            try:
                response = requests.post(url, data=body.encode(), headers=headers, timeout=15)
            except requests.RequestException as exc:
                raise CommandError(f"cannot reach {url} ({type(exc).__name__}): is the server running?") from None
            failed |= not response.ok
            self.stdout.write(
                f"{event_type} {user_id} svix-id={msg_id} #{attempt}: {response.status_code} {response.text}"
            )
        if failed:
            raise CommandError("the endpoint did not accept every delivery (see the answers above)")
