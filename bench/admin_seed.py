"""The admin benchmark's data: a ledger of a million Clerk events and the mirror behind it, in set-based SQL.

Every table is filled by INSERT … SELECT over generate_series (no row crosses
from Python), with ids given explicitly so that rows can be joined by number:
user n has id n, organization n id n, membership n id n. Choices are made by
`pg_temp.r(n, salt)`, a hash of n in [0, 1), so every run seeds the same data.
The payloads are the app's builder's (accounts/clerk/payloads.py), made once
in Python as templates and filled per row in SQL; rows are stored as the app
stores them (webhooks/db.py, webhooks/outcomes.py: an event with one attempt
row per delivery or replay; a user with its UserProvisioning row; a deleted
user tombstoned, erased and its events' payloads erased).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from psycopg.types.json import Jsonb

from accounts.clerk import payloads

FIRST_NAMES = (
    "Ada Grace Alan Edsger Barbara Donald Frances Ken Radia Tim Margaret Dennis Katherine John Hedy Linus Sophie "
    "Guido Anita Bjarne Shafi Leslie Joan Niklaus Annie Tony Mary Yukihiro Fran Vint Karen Chinedu Amara Wei Priya"
).split()
LAST_NAMES = (
    "Lovelace Hopper Turing Dijkstra Liskov Knuth Allen Thompson Perlman Lee Hamilton Ritchie Johnson McCarthy "
    "Lamarr Torvalds Wilson Rossum Borg Stroustrup Goldwasser Lamport Clarke Wirth Easley Hoare Keller Matsumoto "
    "Bilas Cerf Jones Okafor Mensah Zhang Sharma Garcia Novak Kowalski Nakamura Silva"
).split()
DOMAINS = "example.com example.org example.net mail.example.com corp.example.io".split()
ORG_WORDS = (
    "Acme Globex Initech Umbrella Stark Wayne Hooli Vandelay Soylent Tyrell Cyberdyne Wonka Aperture Black Mesa "
    "Oscorp Monarch Gringotts Pied Piper Dunder Mifflin Prestige Sirius Virtucon Nakatomi"
).split()
ORG_KINDS = "Labs Robotics Analytics Studio Logistics Health Capital Foods Media Energy Systems Works".split()
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/webhooks/services.py", line 112, in webhook_event_deliver\n'
    "    stored = source.handlers[event.event_type](event)\n"
    '  File "/app/accounts/clerk_source/handlers.py", line 61, in user_upserted\n'
    "    user_upsert_from_clerk(data, created_via=CreatedVia.WEBHOOK)\n"
    '  File "/app/accounts/sync/users.py", line 88, in user_upsert_from_clerk\n'
    "    with transaction.atomic():\n"
    "django.db.utils.OperationalError: could not serialize access due to concurrent update\n"
)
WINDOW_DAYS = 60  # the ledger's events are spread over this many days back from now
HISTORY_DAYS = 400  # users and organizations joined over this many days


@dataclass(frozen=True)
class Sizes:
    events: int = 1_000_000
    users: int = 200_000
    organizations: int = 20_000
    memberships: int = 200_000

    def event_counts(self) -> dict[str, int]:
        """How many events of each type: the created ones follow the rows created in the window, the rest shares."""
        recent = WINDOW_DAYS / HISTORY_DAYS
        counts = {
            "user.created": int(self.users * recent),
            "user.deleted": self.users // 20,  # every deleted user's
            "session.created": self.events // 5,
            "organization.created": int(self.organizations * recent),
            "organization.updated": self.events * 3 // 100,
            "organization.deleted": self.organizations // 100,
            "organizationMembership.created": int(self.memberships * recent),
            "organizationMembership.updated": self.events * 15 // 100,
            "organizationMembership.deleted": self.memberships // 25,
            "email.created": self.events // 50,  # a type we leave alone: stored ignored
        }
        counts["user.updated"] = max(0, self.events - sum(counts.values()))
        return counts


def templates() -> dict[str, Jsonb]:
    """The builder's objects, each filled per row in SQL (`template || jsonb_build_object(…)`)."""
    user = payloads.user_object(clerk_id="user_x", email="x@example.com", email_id="idn_x", created_at=0)
    organization = payloads.organization_data(id="org_x", created_at=0)
    membership = payloads.membership_data(id="orgmem_x", organization=organization, user_id="user_x", created_at=0)
    email = {
        "object": "email", "id": "ema_x", "slug": "verification_code", "status": "queued",
        "subject": "123456 is your verification code", "to_email_address": "x@example.com",
        "from_email_name": "notifications", "email_address_id": "idn_x", "user_id": "user_x",
        "body": "<p>Your verification code is 123456.</p>" * 8, "delivered_by_clerk": True,
    }  # fmt: skip
    return {
        "envelope": Jsonb(payloads.event_envelope("x", {}, timestamp=0, instance_id="ins_2bench0000000000000000000")),
        "user": Jsonb(user),
        "email_address": Jsonb(user["email_addresses"][0]),
        "session": Jsonb(payloads.session_object(user_id="user_x", id="sess_x", created_at=0)),
        "organization": Jsonb(organization),
        "membership": Jsonb(membership),
        "email": Jsonb(email),
    }


# r(n, salt): a hash of n in [0, 1); ms(t): a moment as Clerk writes it; clerk_id(prefix, n): 27 characters.
FUNCTIONS = """
CREATE FUNCTION pg_temp.r(n bigint, salt int) RETURNS double precision IMMUTABLE LANGUAGE sql
    AS $$ SELECT (hashint8(n * 7919 + salt) & 2147483647) / 2147483648.0::float8 $$;
CREATE FUNCTION pg_temp.ms(t timestamptz) RETURNS bigint IMMUTABLE LANGUAGE sql
    AS $$ SELECT (extract(epoch FROM t) * 1000)::bigint $$;
CREATE FUNCTION pg_temp.clerk_id(prefix text, n bigint) RETURNS text IMMUTABLE LANGUAGE sql
    AS $$ SELECT prefix || '_2' || substr(md5(prefix || n), 1, 26) $$;
CREATE FUNCTION pg_temp.pick(a text[], x double precision) RETURNS text IMMUTABLE LANGUAGE sql
    AS $$ SELECT a[1 + floor(x * cardinality(a))::int] $$;
"""

USERS = """
INSERT INTO accounts_user (id, password, last_login, is_superuser, username, first_name, last_name, is_staff,
    is_active, date_joined, clerk_id, email, image_url, clerk_updated_at, created_via, deleted_at, banned,
    external_id, last_sign_in_at, locked, private_metadata, public_metadata, unsafe_metadata)
SELECT n, '!', CASE WHEN NOT deleted THEN seen END, false,
    CASE WHEN deleted THEN 'deleted-' || n ELSE lower(first || '.' || last) || n END,
    CASE WHEN deleted THEN '' ELSE first END, CASE WHEN deleted THEN '' ELSE last END, false,
    NOT deleted AND NOT banned, joined, clerk_id,
    CASE WHEN deleted THEN '' ELSE lower(first || '.' || last) || n || '@' || domain END,
    CASE WHEN deleted THEN '' ELSE 'https://img.clerk.com/' || clerk_id END,
    seen, via, CASE WHEN deleted THEN least(%(now)s, greatest(joined + interval '1 hour', gone)) END, banned, '',
    CASE WHEN NOT deleted THEN seen END, locked, '{}',
    CASE WHEN NOT deleted AND pg_temp.r(n, 9) < 0.3
        THEN jsonb_build_object('plan', pg_temp.pick(ARRAY['free', 'pro', 'team'], pg_temp.r(n, 10)), 'onboarded', true)
        ELSE '{}' END,
    '{}'
FROM (
    SELECT n, joined, joined + (%(now)s - joined) * pg_temp.r(n, 11) AS seen,
        pg_temp.clerk_id('user', n) AS clerk_id,
        pg_temp.pick(%(first_names)s, pg_temp.r(n, 1)) AS first, pg_temp.pick(%(last_names)s, pg_temp.r(n, 2)) AS last,
        pg_temp.pick(%(domains)s, pg_temp.r(n, 3)) AS domain,
        n %% 20 = 7 AS deleted, %(now)s - interval '1 day' * %(window)s * pg_temp.r(n, 4) AS gone,
        pg_temp.r(n, 5) < 0.003 AS banned, pg_temp.r(n, 6) < 0.002 AS locked,
        CASE WHEN pg_temp.r(n, 7) < 0.05 THEN 'sync' WHEN pg_temp.r(n, 7) < 0.07 THEN 'jit' ELSE 'webhook' END AS via
    FROM generate_series(1, %(users)s) n,
        LATERAL (SELECT %(now)s - interval '1 day' * %(history)s * (1 - n::float / %(users)s)
            - interval '1 hour' * pg_temp.r(n, 8) AS joined) j
) u
"""

# Provisioned as the app provisions: sent for most, not wanted for backfilled users, the newest few pending
# (some overdue), a few failed for good, some skipped (deleted before the send).
PROVISIONINGS = """
INSERT INTO accounts_userprovisioning (id, user_id, created_via, provisioned_at, welcome_email, welcome_email_sent_at,
    welcome_email_attempts, welcome_email_next_attempt_at, welcome_email_claimed_until, welcome_email_last_error)
SELECT id, id, created_via, date_joined, state, CASE WHEN state = 'sent' THEN date_joined + interval '2 seconds' END,
    CASE state WHEN 'sent' THEN 1 WHEN 'failed' THEN 8 WHEN 'skipped' THEN 1 WHEN 'pending' THEN id %% 3 ELSE 0 END,
    CASE WHEN state = 'pending' THEN
        CASE WHEN id %% 10 = 0 THEN %(now)s - interval '20 minutes' ELSE %(now)s + interval '1 minute' * (id %% 30) END
    END,
    NULL,
    CASE WHEN state = 'failed' THEN 'SMTPServerDisconnected: Connection unexpectedly closed'
        WHEN state = 'skipped' THEN 'the user was deleted in Clerk before it was sent'
        WHEN state = 'pending' AND id %% 3 > 0 THEN 'SMTPRecipientsRefused: 451 4.7.1 Try again later'
        ELSE '' END
FROM (
    SELECT id, created_via, date_joined,
        CASE WHEN created_via = 'sync' THEN 'not_wanted' WHEN id > %(users)s - 300 THEN 'pending'
            WHEN pg_temp.r(id, 20) < 0.00025 THEN 'failed'
            WHEN deleted_at IS NOT NULL AND pg_temp.r(id, 21) < 0.2 THEN 'skipped' ELSE 'sent' END AS state
    FROM accounts_user WHERE clerk_id IS NOT NULL
) p
"""

ORGANIZATIONS = """
INSERT INTO accounts_organization (id, clerk_id, name, slug, image_url, clerk_updated_at, created_via, deleted_at,
    created_at, members_count, private_metadata, public_metadata)
SELECT n, clerk_id, name, lower(replace(name, ' ', '-')) || '-' || n, 'https://img.clerk.com/' || clerk_id,
    created + (%(now)s - created) * pg_temp.r(n, 33),
    CASE WHEN pg_temp.r(n, 34) < 0.05 THEN 'sync' ELSE 'webhook' END,
    CASE WHEN n %% 100 = 42 THEN least(%(now)s,
        greatest(created + interval '1 hour', %(now)s - interval '1 day' * %(window)s * pg_temp.r(n, 35))) END,
    created, NULL, '{}', '{}'
FROM (
    SELECT n, pg_temp.clerk_id('org', n) AS clerk_id,
        pg_temp.pick(%(org_words)s, pg_temp.r(n, 31)) || ' ' || pg_temp.pick(%(org_kinds)s, pg_temp.r(n, 32)) AS name,
        %(now)s - interval '1 day' * %(history)s * (1 - n::float / %(organizations)s)
            - interval '1 hour' * pg_temp.r(n, 36) AS created
    FROM generate_series(1, %(organizations)s) n
) o
"""

# Organization sizes follow a power law (the oldest are the largest: tens of thousands of members at most
# with the defaults' ten members on average); members are any users. A membership ends with its user or
# organization, or on its own.
MEMBERSHIPS = """
INSERT INTO accounts_organizationmembership (id, clerk_id, user_clerk_id, role, permissions, clerk_updated_at,
    deleted_at, created_at, organization_id, user_id, public_metadata)
SELECT m, pg_temp.clerk_id('orgmem', m), u.clerk_id, role,
    CASE WHEN role = 'org:admin'
        THEN '["org:sys_profile:manage", "org:sys_profile:delete", "org:sys_memberships:read",
               "org:sys_memberships:manage", "org:sys_domains:read", "org:sys_domains:manage"]'::jsonb
        ELSE '["org:sys_profile:read", "org:sys_memberships:read", "org:sys_domains:read"]'::jsonb END,
    created, CASE WHEN m %% 25 = 3 THEN least(%(now)s, created + (%(now)s - created) * pg_temp.r(m, 44))
        ELSE least(u.deleted_at, o.deleted_at) END,
    created, o.id, u.id, '{}'
FROM (
    SELECT m, 1 + floor(%(organizations)s * power(pg_temp.r(m, 41), 3))::int AS org,
        1 + floor(%(users)s * pg_temp.r(m, 42))::int AS usr,
        CASE WHEN pg_temp.r(m, 43) < 0.1 THEN 'org:admin' ELSE 'org:member' END AS role
    FROM generate_series(1, %(memberships)s) m
) p
JOIN accounts_organization o ON o.id = p.org
JOIN accounts_user u ON u.id = p.usr,
LATERAL (SELECT greatest(o.created_at, u.date_joined)
    + (%(now)s - greatest(o.created_at, u.date_joined)) * pg_temp.r(m, 45) AS created) c
"""

MEMBERS_COUNTED = """
UPDATE accounts_organization o SET members_count = c.members
FROM (SELECT organization_id, count(*) AS members FROM accounts_organizationmembership
      WHERE deleted_at IS NULL GROUP BY organization_id) c
WHERE o.id = c.organization_id AND o.deleted_at IS NULL
"""

# The `data` of each kind of event, from the row it is about (u: a user, o: an organization, m: a membership).
USER_DATA = """%(user)s || jsonb_build_object(
    'id', u.clerk_id, 'first_name', u.first_name, 'last_name', u.last_name,
    'image_url', u.image_url, 'profile_image_url', u.image_url, 'has_image', true,
    'email_addresses', jsonb_build_array(%(email_address)s || jsonb_build_object(
        'id', 'idn_2' || substr(md5(u.clerk_id), 1, 26), 'email_address', u.email)),
    'primary_email_address_id', 'idn_2' || substr(md5(u.clerk_id), 1, 26),
    'public_metadata', u.public_metadata, 'banned', u.banned, 'locked', u.locked,
    'created_at', pg_temp.ms(u.date_joined), 'updated_at', pg_temp.ms(at),
    'last_sign_in_at', pg_temp.ms(u.last_sign_in_at))"""
ORGANIZATION_DATA = """%(organization)s || jsonb_build_object(
    'id', o.clerk_id, 'name', o.name, 'slug', o.slug, 'image_url', o.image_url,
    'members_count', coalesce(o.members_count, 1), 'created_at', pg_temp.ms(o.created_at),
    'updated_at', pg_temp.ms(at))"""
MEMBERSHIP_DATA = f"""%(membership)s || jsonb_build_object(
    'id', m.clerk_id, 'role', m.role, 'role_name', initcap(substr(m.role, 5)), 'permissions', m.permissions,
    'organization', {ORGANIZATION_DATA},
    'public_user_data', jsonb_build_object('user_id', u.clerk_id, 'first_name', u.first_name,
        'last_name', u.last_name, 'image_url', u.image_url, 'has_image', true, 'identifier', u.email),
    'created_at', pg_temp.ms(m.created_at), 'updated_at', pg_temp.ms(at))"""
SESSION_DATA = """%(session)s || jsonb_build_object(
    'id', 'sess_2' || substr(md5('sess' || k), 1, 26), 'user_id', u.clerk_id,
    'client_id', 'client_2' || substr(md5('client' || k), 1, 26), 'last_active_at', pg_temp.ms(at),
    'expire_at', pg_temp.ms(at + interval '7 days'), 'created_at', pg_temp.ms(at), 'updated_at', pg_temp.ms(at))"""
EMAIL_DATA = """%(email)s || jsonb_build_object(
    'id', 'ema_2' || substr(md5('ema' || k), 1, 26), 'to_email_address', u.email, 'user_id', u.clerk_id,
    'email_address_id', 'idn_2' || substr(md5(u.clerk_id), 1, 26))"""

# Each kind of event: (type, salt, subject, data, FROM … yielding k (a number for the hashes) and `at`, when it was
# received). The created and deleted ones are those of the rows created or deleted in the window; the rest are
# spread over it, `%(count)s` of them, about rows picked by a hash (large organizations more often).
SPREAD = "generate_series(1, %(count)s) g(n), LATERAL (SELECT g.n * 16 + {salt} AS k, " + (
    "%(now)s - interval '1 day' * %(window)s * pg_temp.r(g.n, {salt}) AS at) t"
)
PICK_USER = "JOIN accounts_user u ON u.id = 1 + floor(%(users)s * pg_temp.r(k, 1))::int"
PICK_ORGANIZATION = (
    "JOIN accounts_organization o ON o.id = 1 + floor(%(organizations)s * power(pg_temp.r(k, 2), 2))::int"
)
PICK_MEMBERSHIP = (
    "JOIN accounts_organizationmembership m ON m.id = 1 + floor(%(memberships)s * pg_temp.r(k, 3))::int "
    "JOIN accounts_organization o ON o.id = m.organization_id JOIN accounts_user u ON u.id = m.user_id"
)
MEMBERSHIP_ROWS = (
    "accounts_organizationmembership m JOIN accounts_organization o ON o.id = m.organization_id "
    "JOIN accounts_user u ON u.id = m.user_id"
)
EVENT_KINDS = [
    ("user.created", 1, "u.clerk_id", USER_DATA,
     "accounts_user u, LATERAL (SELECT u.id * 16 + 1 AS k, u.date_joined AS at) t "
     "WHERE u.clerk_id IS NOT NULL AND u.date_joined > %(since)s"),
    ("user.deleted", 2, "u.clerk_id", "jsonb_build_object('object', 'user', 'id', u.clerk_id, 'deleted', true)",
     "accounts_user u, LATERAL (SELECT u.id * 16 + 2 AS k, u.deleted_at AS at) t WHERE u.deleted_at > %(since)s"),
    ("organization.created", 3, "o.clerk_id", ORGANIZATION_DATA,
     "accounts_organization o, LATERAL (SELECT o.id * 16 + 3 AS k, o.created_at AS at) t "
     "WHERE o.created_at > %(since)s"),
    ("organization.deleted", 4, "o.clerk_id",
     "jsonb_build_object('object', 'organization', 'id', o.clerk_id, 'slug', o.slug, 'deleted', true)",
     "accounts_organization o, LATERAL (SELECT o.id * 16 + 4 AS k, o.deleted_at AS at) t "
     "WHERE o.deleted_at > %(since)s"),
    ("organizationMembership.created", 5, "o.clerk_id", MEMBERSHIP_DATA,
     f"{MEMBERSHIP_ROWS}, LATERAL (SELECT m.id * 16 + 5 AS k, m.created_at AS at) t WHERE m.created_at > %(since)s"),
    ("organizationMembership.deleted", 6, "o.clerk_id", MEMBERSHIP_DATA,
     f"{MEMBERSHIP_ROWS}, LATERAL (SELECT m.id * 16 + 6 AS k, m.deleted_at AS at) t "
     "WHERE m.deleted_at > %(since)s AND m.id %% 25 = 3"),
    ("session.created", 7, "u.clerk_id", SESSION_DATA, f"{SPREAD.format(salt=7)} {PICK_USER}"),
    ("email.created", 8, "u.clerk_id", EMAIL_DATA, f"{SPREAD.format(salt=8)} {PICK_USER} WHERE u.email <> ''"),
    ("organization.updated", 9, "o.clerk_id", ORGANIZATION_DATA, f"{SPREAD.format(salt=9)} {PICK_ORGANIZATION}"),
    ("organizationMembership.updated", 10, "o.clerk_id", MEMBERSHIP_DATA,
     f"{SPREAD.format(salt=10)} {PICK_MEMBERSHIP}"),
    ("user.updated", 11, "u.clerk_id", USER_DATA, f"{SPREAD.format(salt=11)} {PICK_USER}"),
]  # fmt: skip
# Shares of all events, for the kinds spread over the window; user.updated takes what is left.
SHARES = {"session.created": 0.2, "email.created": 0.02, "organization.updated": 0.03,
          "organizationMembership.updated": 0.15}  # fmt: skip

# What came of each event, as the ledger records it: processed (ignored for a type left alone) after one
# delivery, some after a redelivery answered as a duplicate, some after a failed first try (Svix retries after
# 5 s; a few were replayed by staff); in the last three days a few still failed, or received and never finished.
EVENTS = """
INSERT INTO bench_staged_events (source, event_id, event_type, subject_id, payload, status, attempts, last_error,
    received_at, processed_at)
SELECT 'clerk', 'msg_2' || substr(md5('msg' || k), 1, 26), %(type)s::text, subject,
    %(envelope)s || jsonb_build_object('type', %(type)s::text, 'timestamp', pg_temp.ms(at), 'data', data,
        'event_attributes', jsonb_build_object('http_request', jsonb_build_object(
            'client_ip', '203.0.113.' || (k %% 250), 'user_agent', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)'))),
    s.status, s.attempts,
    CASE WHEN s.status = 'failed' THEN 'OperationalError: could not serialize access due to concurrent update'
        ELSE '' END,
    at, CASE WHEN s.status IN ('processed', 'ignored') THEN at + s.took END
FROM (SELECT k, at, {subject} AS subject, {data} AS data FROM {rows}) x,
LATERAL (SELECT
    CASE WHEN at > %(now)s - interval '3 days' AND pg_temp.r(k, 51) < 0.01 THEN 'failed'
        WHEN at > %(now)s - interval '3 days' AND pg_temp.r(k, 51) < 0.012 THEN 'received'
        WHEN %(type)s::text = 'email.created' THEN 'ignored' ELSE 'processed' END AS status,
    CASE WHEN pg_temp.r(k, 51) < 0.012 AND at > %(now)s - interval '3 days' THEN 1 + (k %% 3)
        WHEN pg_temp.r(k, 52) < 0.04 THEN 2 ELSE 1 END AS attempts,
    CASE WHEN pg_temp.r(k, 52) BETWEEN 0.03 AND 0.04 THEN interval '5.05 seconds'
        ELSE interval '1 millisecond' * (5 + floor(60 * pg_temp.r(k, 53))) END AS took
) s
"""

# The ledger is written as events arrive: its rows (and ids) are in the order received, as the admin reads them.
STAGED = """
DROP TABLE IF EXISTS bench_staged_events;
CREATE UNLOGGED TABLE bench_staged_events (source text, event_id text, event_type text, subject_id text, payload jsonb,
    status text, attempts int, last_error text, received_at timestamptz, processed_at timestamptz)
"""
EVENTS_IN_ORDER = """
INSERT INTO webhooks_webhookevent (source, event_id, event_type, subject_id, payload, status, attempts, last_error,
    received_at, processed_at)
SELECT source, event_id, event_type, subject_id, payload, status, attempts, last_error, received_at, processed_at
FROM bench_staged_events ORDER BY received_at
"""

# One row per delivery or replay, as webhooks/outcomes.py writes them; an event received and never finished
# has none yet. An event processed at its second attempt more than a second after it arrived had failed first.
ATTEMPTS = """
INSERT INTO webhooks_webhookattempt (event_id, kind, outcome, http_status, started_at, duration_ms, error, request_id)
SELECT e.id, a.kind, a.outcome,
    CASE WHEN a.kind = 'replay' THEN NULL WHEN a.outcome = 'failed' THEN 500 WHEN a.outcome = 'duplicate' THEN 202
        ELSE 200 END,
    e.received_at + CASE WHEN g.k = 1 THEN interval '0 seconds' WHEN a.retried THEN interval '5 seconds'
        WHEN e.status = 'failed' THEN interval '5 minutes' * (g.k - 1) ELSE interval '61 seconds' END,
    5 + floor(60 * pg_temp.r(e.id, g.k)), CASE WHEN a.outcome = 'failed' THEN %(traceback)s ELSE '' END,
    substr(md5(e.event_id || g.k), 1, 32)
FROM webhooks_webhookevent e,
LATERAL generate_series(1, CASE WHEN e.status = 'received' THEN 0 ELSE e.attempts END) g(k),
LATERAL (SELECT retried,
    CASE WHEN e.status = 'failed' OR (g.k = 1 AND e.attempts = 2 AND retried) THEN 'failed'
        WHEN g.k = 2 AND NOT retried THEN 'duplicate'
        WHEN e.status = 'ignored' THEN 'ignored' ELSE 'processed' END AS outcome,
    CASE WHEN g.k = 2 AND retried AND e.id %% 5 = 0 THEN 'replay' ELSE 'delivery' END AS kind
    FROM (SELECT e.processed_at - e.received_at > interval '1 second' AS retried) x
) a
"""

# A deleted user's events keep only what accounts/erasure/payloads.py keeps (membership events lose the user's
# part), marked erased; their erasure is recorded done.
USER_EVENTS_ERASED = """
UPDATE bench_staged_events e SET payload = jsonb_build_object(
    'type', e.payload -> 'type', 'object', e.payload -> 'object', 'timestamp', e.payload -> 'timestamp',
    'instance_id', e.payload -> 'instance_id', 'erased_at', to_jsonb(u.deleted_at + interval '1 minute'),
    'data', jsonb_strip_nulls(jsonb_build_object('id', e.payload #> '{data,id}',
        'object', e.payload #> '{data,object}', 'user_id', e.payload #> '{data,user_id}',
        'deleted', e.payload #> '{data,deleted}', 'created_at', e.payload #> '{data,created_at}',
        'updated_at', e.payload #> '{data,updated_at}')))
FROM accounts_user u
WHERE u.deleted_at IS NOT NULL AND e.subject_id = u.clerk_id AND e.event_type NOT LIKE 'organization%%'
"""
MEMBERSHIP_EVENTS_ERASED = """
UPDATE bench_staged_events e SET payload = (e.payload - 'event_attributes') || jsonb_build_object(
    'data', (e.payload -> 'data') || jsonb_build_object('public_user_data', jsonb_build_object('user_id', u.clerk_id)),
    'erased_at', to_jsonb(u.deleted_at + interval '1 minute'))
FROM accounts_user u
WHERE u.deleted_at IS NOT NULL AND e.event_type LIKE 'organizationMembership.%%'
    AND e.payload #>> '{data,public_user_data,user_id}' = u.clerk_id
"""
ERASURES = """
INSERT INTO accounts_usererasure (user_id, requested_at, erased_at, last_event_pk, events_erased)
SELECT u.id, u.deleted_at, u.deleted_at + interval '1 minute', (SELECT max(id) FROM webhooks_webhookevent),
    (SELECT count(*) FROM webhooks_webhookevent e WHERE e.subject_id = u.clerk_id)
FROM accounts_user u WHERE u.deleted_at IS NOT NULL
"""

REJECTIONS = """
INSERT INTO webhooks_webhookrejection (source, reason, hour, count, last_seen_at, last_detail, last_event_id)
SELECT DISTINCT ON (reason, hour) 'clerk', reason, hour, 1 + floor(20 * pg_temp.r(n, 73)),
    hour + interval '1 minute' * floor(60 * pg_temp.r(n, 74)),
    CASE reason WHEN 'bad_signature' THEN 'No matching signature found'
        WHEN 'bad_timestamp' THEN 'Message timestamp too old' ELSE 'Missing required headers' END,
    'msg_2' || substr(md5('refused' || n), 1, 26)
FROM (SELECT n, pg_temp.pick(ARRAY['bad_signature', 'bad_timestamp', 'missing_signature'], pg_temp.r(n, 71)) AS reason,
    date_trunc('hour', %(now)s - interval '1 day' * %(window)s * pg_temp.r(n, 72)) AS hour
    FROM generate_series(1, 400) n) x
ORDER BY reason, hour
"""

# The schedule's passes: incremental every 15 minutes, full daily; a few failed, a few repaired drift.
PASSES = """
INSERT INTO accounts_reconcilepass (kind, trigger, started_at, finished_at, outcome, error, worker, lease_expires_at,
    users_created, users_updated, users_tombstoned, organizations_created, organizations_updated,
    organizations_tombstoned, memberships_created, memberships_updated, memberships_tombstoned, skipped,
    clerk_calls, repairs, drift)
SELECT kind, 'schedule', started,
    started + CASE WHEN kind = 'full' THEN interval '9 minutes' ELSE interval '2 seconds' END,
    CASE WHEN failed THEN 'failed' ELSE 'completed' END,
    CASE WHEN failed THEN 'Clerk''s API failed: 503 Service Unavailable' ELSE '' END,
    'worker-' || (n %% 2) || ':' || (4000 + n %% 7), NULL,
    0, CASE WHEN drift THEN 1 ELSE 0 END, 0, 0, 0, 0, 0, 0, 0, 0,
    CASE WHEN kind = 'full' THEN %(users)s / 500 + %(organizations)s / 500 + %(memberships)s / 500 ELSE 3 END,
    CASE WHEN drift THEN jsonb_build_array(jsonb_build_object('kind', 'users', 'action', 'updated',
        'clerk_id', pg_temp.clerk_id('user', 1 + n %% %(users)s))) ELSE '[]' END,
    drift
FROM (SELECT n, %(now)s - interval '15 minutes' * n AS started,
    CASE WHEN n %% 96 = 0 THEN 'full' ELSE 'incremental' END AS kind,
    pg_temp.r(n, 81) < 0.01 AS failed, pg_temp.r(n, 82) < 0.005 AS drift
    FROM generate_series(1, %(window)s * 96) n) p
"""

# The task library's queue keeps results TASK_RESULTS_RETENTION_DAYS (7): the erasures of the users deleted that week
# (welcome emails are no tasks with the database backend: the workers' mailers poll their rows).
TASKS = """
INSERT INTO django_tasks_database_dbtaskresult (id, status, args_kwargs, priority, task_path, queue_name,
    backend_name, run_after, enqueued_at, started_at, finished_at, return_value, exception_class_path, traceback,
    worker_ids)
SELECT gen_random_uuid(), 'SUCCESSFUL', jsonb_build_object('args', jsonb_build_array(e.id), 'kwargs', '{}'::jsonb), 0,
    'accounts.erasure.tasks.user_erasure_run', 'default', 'default', '9999-01-01 00:00:00+00', e.requested_at,
    e.requested_at + interval '1 second', e.erased_at, to_jsonb(e.events_erased), '', '', '["worker-1:4001"]'::jsonb
FROM accounts_usererasure e WHERE e.requested_at > %(now)s - interval '7 days'
"""

IDENTITIES_AFTER_SEED = """
SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), (SELECT max(id) FROM accounts_user));
SELECT setval(pg_get_serial_sequence('accounts_userprovisioning', 'id'),
    (SELECT max(id) FROM accounts_userprovisioning));
SELECT setval(pg_get_serial_sequence('accounts_organization', 'id'), (SELECT max(id) FROM accounts_organization));
SELECT setval(pg_get_serial_sequence('accounts_organizationmembership', 'id'),
    (SELECT max(id) FROM accounts_organizationmembership));
"""


def seed(connection, sizes: Sizes, now: dt.datetime, say=print) -> None:
    """Fill the migrated, empty tables of `connection` (a psycopg connection, autocommit); `say` reports each step."""
    params = {
        "now": now, "since": now - dt.timedelta(days=WINDOW_DAYS), "window": WINDOW_DAYS, "history": HISTORY_DAYS,
        "users": sizes.users, "organizations": sizes.organizations, "memberships": sizes.memberships,
        "first_names": FIRST_NAMES, "last_names": LAST_NAMES, "domains": DOMAINS, "org_words": ORG_WORDS,
        "org_kinds": ORG_KINDS, "traceback": TRACEBACK, **templates(),
    }  # fmt: skip
    connection.execute("SET synchronous_commit = off")  # a seed lost to a crash is seeded again
    connection.execute(FUNCTIONS)

    def step(name: str, sql: str, **extra) -> int:
        started = time.perf_counter()
        rows = connection.execute(sql, params | extra).rowcount
        say(f"  {name:<34} {rows:>9,} rows {time.perf_counter() - started:6.1f} s")
        return rows

    step("users", USERS)
    step("welcome emails (provisionings)", PROVISIONINGS)
    step("organizations", ORGANIZATIONS)
    step("memberships", MEMBERSHIPS)
    step("organizations' members_count", MEMBERS_COUNTED)
    connection.execute(IDENTITIES_AFTER_SEED)
    connection.execute(STAGED)
    stored = 0
    for event_type, _salt, subject, data, rows in EVENT_KINDS:
        count = int(sizes.events * SHARES.get(event_type, 0))
        if event_type == "user.updated":
            count = max(0, sizes.events - stored)
        sql = EVENTS.format(subject=subject, data=data, rows=rows)
        stored += step(f"events {event_type}", sql, type=event_type, count=count)
    step("erased payloads (user events)", USER_EVENTS_ERASED)
    step("erased payloads (membership events)", MEMBERSHIP_EVENTS_ERASED)
    step("events, in the order received", EVENTS_IN_ORDER)
    connection.execute("DROP TABLE bench_staged_events")
    step("attempts", ATTEMPTS)
    step("erasures", ERASURES)
    step("refused deliveries", REJECTIONS)
    step("reconciliation passes", PASSES)
    step("task results", TASKS)
    started = time.perf_counter()
    connection.execute("VACUUM ANALYZE")
    say(f"  {'VACUUM ANALYZE':<34} {'':>14} {time.perf_counter() - started:6.1f} s")
