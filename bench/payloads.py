"""What the benchmark sends: Clerk-shaped user.created events, Svix signatures and session tokens.

Shared by the load generator (load.py), the seed and the in-process statement
count (inprocess.py) and the email benchmark (mail.py). Events, their Svix
headers and ids come from the app's own builder (accounts/clerk/payloads.py,
which the tests' factories and `send_clerk_webhook` use too): a full User
object with a fresh id, address and names, signed by the svix library exactly
as Clerk's deliveries are. Tokens are RS256 JWTs shaped like Clerk's v2
session tokens, with the `o` claim when they name an active organization.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import uuid
from pathlib import Path

import jwt
from rawhttp import http_post

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # run as `python bench/….py`: the app's packages are beside bench/

from accounts.clerk import payloads as clerk_payloads  # noqa: E402 (after the path above)
from accounts.clerk.payloads import svix_headers  # noqa: E402 (inprocess.py signs with it too)

FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Lee")
KID = "ins_bench_key_1"
# What a seeded member may do, as Clerk grants it (role without `org:`: permission keys) and as a v2 token
# encodes it: one organization feature in `fea`, its permission names in `o.per`, a bitmask in `o.fpm`.
MEMBER_PERMISSIONS = {"admin": ["org:members:read", "org:members:manage"], "member": ["org:members:read"]}
TOKEN_FEATURES, TOKEN_PERMISSION_NAMES = "o:members", "read,manage"
TOKEN_MASKS = {"admin": "3", "member": "1"}


def seed_clerk_id(number: int) -> str:
    """The Clerk id of the number-th user seeded before the load (same length as Clerk's)."""
    return f"user_benchseed{number:017d}"


def seed_organization_clerk_id(number: int) -> str:
    """The Clerk id of the number-th organization seeded before the load."""
    return f"org_benchseed{number:016d}"


def seed_membership(user_number: int, organizations: int) -> tuple[int, str]:
    """(organization number, role without `org:`) of the number-th seeded user, a member of exactly one
    of the `organizations`: user n belongs to organization n % organizations, whose first member is its admin."""
    return user_number % organizations, "admin" if user_number < organizations else "member"


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


def new_user_events(prefix: str, count: int) -> list[tuple[str, str]]:
    """`count` (svix id, body) of user.created for users never seen: Clerk ids `prefix` + a number, 32 long."""
    return [
        (new_msg_id(), user_created_body(f"{prefix}{number:0{32 - len(prefix)}d}", number)) for number in range(count)
    ]


def delivery_request(host: str, secret: str, msg_id: str, body: str, when: dt.datetime | None = None) -> bytes:
    """The raw HTTP request of one Svix delivery to /webhooks/clerk/, signed at `when` (default now)."""
    headers = svix_headers(body, secret=secret, msg_id=msg_id, timestamp=when or dt.datetime.now(dt.UTC))
    return http_post(host, "/webhooks/clerk/", body, headers)


def session_token(
    private_key, clerk_id: str, *, organization: tuple[int, str] | None = None, lifetime: int = 600
) -> str:
    """A Clerk v2 session token for `clerk_id`, valid for `lifetime` seconds from now.

    `organization`: (seeded organization number, role) of the active organization, carried in `o` as
    Clerk does (id, slug, role without `org:`, permission names and masks); none when None.
    """
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
    if organization is not None:
        number, role = organization
        claims["fea"] = TOKEN_FEATURES
        claims["o"] = {
            "id": seed_organization_clerk_id(number),
            "slg": f"bench-{number}",
            "rol": role,
            "per": TOKEN_PERMISSION_NAMES,
            "fpm": TOKEN_MASKS[role],
        }
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": KID, "typ": "JWT"})
