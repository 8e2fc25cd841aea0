"""What the benchmark sends: Clerk-shaped user.created events, Svix signatures and session tokens.

Shared by the load generator (load.py) and the in-process statement count
(inprocess.py). Events, their Svix headers and ids come from the app's own
builder (accounts/clerk/payloads.py, which the tests' factories and
`send_clerk_webhook` use too): a full User object with a fresh id, address and
names, signed by the svix library exactly as Clerk's deliveries are. Tokens
are RS256 JWTs shaped like Clerk's v2 session tokens.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import jwt

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # run as `python bench/….py`: the app's packages are beside bench/

from accounts.clerk import payloads as clerk_payloads  # noqa: E402 (after the path above)
from accounts.clerk.payloads import svix_headers  # noqa: E402, F401 (load.py and inprocess.py sign with it)

FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Lee")
KID = "ins_bench_key_1"


def seed_clerk_id(number: int) -> str:
    """The Clerk id of the number-th user seeded before the load (same length as Clerk's)."""
    return f"user_benchseed{number:017d}"


def user_created_body(clerk_id: str, number: int) -> str:
    """A user.created envelope (JSON text, as sent) for a brand-new Clerk user."""
    local_part = clerk_id.removeprefix("user_")
    now_ms = clerk_payloads.now_ms()
    data = clerk_payloads.user_object(
        clerk_id=clerk_id,
        email=f"{local_part.lower()}@example.org",
        email_id=f"idn_{local_part}",
        first_name=FIRST_NAMES[number % len(FIRST_NAMES)],
        last_name=LAST_NAMES[number // len(FIRST_NAMES) % len(LAST_NAMES)],
        created_at=now_ms,
        last_sign_in_at=now_ms,
    )
    event = clerk_payloads.event_envelope("user.created", data, timestamp=now_ms, user_agent="clerk-sync-bench")
    return json.dumps(event, separators=(",", ":"))


def new_msg_id() -> str:
    """A Svix message id (the ledger's event id)."""
    return clerk_payloads.new_id("msg")


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
