"""What the benchmark sends: Clerk-shaped user.created events, Svix signatures and session tokens.

Shared by the load generator (load.py) and the in-process statement count
(inprocess.py). The event is the recorded fixture the tests use, with a fresh
user id, address and names; signatures come from the svix library, exactly as
Clerk's deliveries are signed (see conftest.py), and tokens are RS256 JWTs
shaped like Clerk's v2 session tokens.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
import uuid
from pathlib import Path

import jwt
from svix.webhooks import Webhook

PROJECT = Path(__file__).resolve().parent.parent
FIXTURE = PROJECT / "accounts" / "tests" / "fixtures" / "user__created.json"
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Lee")
KID = "ins_bench_key_1"

_template = json.loads(FIXTURE.read_text())


def seed_clerk_id(number: int) -> str:
    """The Clerk id of the number-th user seeded before the load (same length as Clerk's)."""
    return f"user_benchseed{number:017d}"


def user_created_body(clerk_id: str, number: int) -> str:
    """A user.created envelope (JSON text, as sent) for a brand-new Clerk user."""
    event = copy.deepcopy(_template)
    now_ms = int(time.time() * 1000)
    data = event["data"]
    data["id"] = clerk_id
    data["email_addresses"][0]["email_address"] = f"{clerk_id.removeprefix('user_').lower()}@example.org"
    data["email_addresses"][0]["id"] = f"idn_{clerk_id.removeprefix('user_')}"
    data["primary_email_address_id"] = data["email_addresses"][0]["id"]
    data["first_name"] = FIRST_NAMES[number % len(FIRST_NAMES)]
    data["last_name"] = LAST_NAMES[number // len(FIRST_NAMES) % len(LAST_NAMES)]
    data["image_url"] = f"https://img.clerk.com/{clerk_id}"
    data["created_at"] = data["updated_at"] = data["last_sign_in_at"] = now_ms
    event["timestamp"] = now_ms
    return json.dumps(event, separators=(",", ":"))


def new_msg_id() -> str:
    """A Svix message id (the ledger's event id)."""
    return f"msg_{uuid.uuid4().hex}"


def svix_headers(signer: Webhook, msg_id: str, body: str, when: dt.datetime | None = None) -> dict[str, str]:
    """The three headers Svix sends for `body`, signed now (valid for 5 minutes)."""
    when = when or dt.datetime.now(dt.UTC)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(when.timestamp())),
        "svix-signature": signer.sign(msg_id, when, body),
    }


def session_token(private_key, clerk_id: str, *, lifetime: int = 600) -> str:
    """A Clerk v2 session token for `clerk_id`, valid for `lifetime` seconds from now."""
    now = int(time.time())
    claims = {
        "sub": clerk_id,
        "sid": f"sess_{uuid.uuid4().hex[:24]}",
        "iss": "https://bench.clerk.accounts.dev",
        "azp": "http://localhost:3000",
        "iat": now,
        "nbf": now - 5,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex[:20],
        "v": 2,
        "fva": [0, -1],
        "pla": "u:free",
        "fea": "",
        "sts": "active",
    }
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": KID, "typ": "JWT"})

