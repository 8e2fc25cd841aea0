"""Just-in-time creation racing the user.created webhook, against a real PostgreSQL server.

A new Clerk user's first API requests and Clerk's webhook for the same user
arrive together: every request must be answered with that one user, the
local row must exist once, and the user must be provisioned (signal and
welcome email) exactly once, whichever path inserted the row.

Real threads, each with its own test client and database connection, are
released together by a barrier; the JWKS and the user come from the Clerk
stand-in over real HTTP. No sleeps as synchronisation: every wait is on a
barrier or an Event and is bounded, and every test asserts that all its
threads finished without raising. SQLite serialises writers and has no row
locks, so these tests are skipped there (and fail under REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.http import HttpResponse
from django.test import Client

from accounts.api.authentication import SESSION_COOKIE
from accounts.clerk import keys as signing_keys_module
from accounts.clerk import tokens
from accounts.models import User, UserProvisioning
from accounts.sync import users as services
from accounts.tests.concurrency import UserInsertHeld
from accounts.tests.factories import ClerkUserDataFactory, UserFactory, user_event
from config.tests.helpers import deliver_to
from webhooks.models import WebhookAttempt, WebhookEvent
from webhooks.tests.concurrency import BARRIER_TIMEOUT, Answer, Job, run_concurrently
from webhooks.tests.deliveries import new_msg_id

# Every test here runs real transactions, committed, in threads with connections of their own.
pytestmark = pytest.mark.django_db(transaction=True)

ME = "/api/me/"


# --- helpers ---------------------------------------------------------------------------------------


def me_with_header(token: str) -> Job:
    return "me-header", lambda client: client.get(ME, headers={"Authorization": f"Bearer {token}"})


def me_with_cookie(token: str) -> Job:
    def send(client: Client) -> HttpResponse:
        client.cookies[SESSION_COOKIE] = token
        return client.get(ME)

    return "me-cookie", send


def webhook(payload: dict, msg_id: str) -> Job:
    return "webhook", lambda client: deliver_to(client, payload, msg_id=msg_id)


def assert_one_user_provisioned_once(data: dict, mailoutbox, provisioned) -> User:
    """One row for the Clerk id, provisioned once, by the path that inserted it; returns the row."""
    clerk_id, email = data["id"], data["email_addresses"][0]["email_address"]
    assert User.objects.filter(clerk_id=clerk_id).count() == 1
    user = User.objects.get(clerk_id=clerk_id)
    assert (user.email, user.first_name, user.last_name) == (email, data["first_name"], data["last_name"])
    assert user.deleted_at is None and user.is_active

    # Whichever path won the insert, it and only it provisioned the user.
    assert user.created_via in (User.CreatedVia.JIT, User.CreatedVia.WEBHOOK)
    provisioning = UserProvisioning.objects.get(user=user)
    assert UserProvisioning.objects.count() == 1
    assert provisioning.created_via == user.created_via
    assert provisioning.welcome_email_sent_at is not None
    assert provisioned == [(clerk_id, user.created_via)]

    assert [message.to for message in mailoutbox] == [[email]]
    return user


def assert_requests_got_the_user(answers: list[Answer], user: User, count: int) -> None:
    """`count` /api/me/ answers, each 200 with this user: its Clerk id and its local id."""
    me = [answer for answer in answers if answer.name.startswith("me")]
    assert [(answer.status, answer.body.get("clerk_id"), answer.body.get("id")) for answer in me] == [
        (200, user.clerk_id, user.pk)
    ] * count, me


def webhook_outcomes(answers: list[Answer]) -> list[tuple[int, str | None]]:
    """(status, outcome) of each webhook delivery's answer, sorted."""
    return sorted((answer.status, answer.body.get("outcome")) for answer in answers if answer.name == "webhook")


def assert_the_one_event_processed(msg_id: str, *, attempts: int) -> WebhookEvent:
    """The ledger holds one event, `msg_id`, processed, after `attempts` deliveries of it; returns it."""
    event = WebhookEvent.objects.get()
    assert (event.event_id, event.status, event.attempts) == (msg_id, "processed", attempts)
    return event


# --- tests -----------------------------------------------------------------------------------------


@pytest.mark.postgres(
    reason="20 first API requests creating the user just in time race its user.created webhook; "
    "converging on one row provisioned once relies on INSERT … ON CONFLICT waiting on concurrent "
    "transactions and on row locks, which need PostgreSQL"
)
def test_first_requests_racing_the_created_webhook_make_one_user_provisioned_once(
    clerk_api, make_token, mailoutbox, provisioned
):
    data = clerk_api.add_user(ClerkUserDataFactory(email="jit-race@example.com"))
    token = make_token(data["id"])
    msg_id = new_msg_id()
    jobs = [me_with_header(token) for _ in range(20)] + [webhook(user_event("user.created", data), msg_id)]

    answers = run_concurrently(jobs)

    assert webhook_outcomes(answers) == [(200, "processed")], answers
    user = assert_one_user_provisioned_once(data, mailoutbox, provisioned)
    assert_requests_got_the_user(answers, user, 20)
    assert_the_one_event_processed(msg_id, attempts=1)
    # The signing keys were fetched once for all 20 requests; the user at most once for all of
    # them (one fetch at a time per user and process; none if the webhook created it first).
    assert clerk_api.calls["/v1/jwks"] == 1
    assert clerk_api.calls["/v1/users/{id}"] <= 1


@pytest.mark.postgres(
    reason="header and cookie tokens (v1 and v2) creating the user just in time race two deliveries "
    "of its user.created webhook; converging needs PostgreSQL's row locks and concurrent transactions"
)
def test_mixed_tokens_racing_a_redelivered_created_webhook_make_one_user_provisioned_once(
    clerk_api, make_token, mailoutbox, provisioned
):
    data = clerk_api.add_user(ClerkUserDataFactory(email="jit-mixed-race@example.com"))
    msg_id = new_msg_id()
    payload = user_event("user.created", data)
    jobs: list[Job] = []
    for index in range(20):
        token = make_token(data["id"], version=1 + index % 2)
        jobs.append(me_with_header(token) if index % 4 < 2 else me_with_cookie(token))
    # The same delivery twice (Svix retrying), placed among the requests.
    jobs.insert(7, webhook(payload, msg_id))
    jobs.insert(15, webhook(payload, msg_id))
    assert Counter(name for name, _ in jobs) == {"me-header": 10, "me-cookie": 10, "webhook": 2}

    answers = run_concurrently(jobs)

    # The deliveries queue on the event's row lock: one processes it, the other finds it done.
    assert webhook_outcomes(answers) == [(200, "processed"), (202, "duplicate")], answers
    user = assert_one_user_provisioned_once(data, mailoutbox, provisioned)
    assert_requests_got_the_user(answers, user, 20)
    event = assert_the_one_event_processed(msg_id, attempts=2)
    assert Counter(WebhookAttempt.objects.filter(event=event).values_list("outcome", "http_status")) == {
        ("processed", 200): 1,
        ("duplicate", 202): 1,
    }
    assert clerk_api.calls["/v1/jwks"] == 1
    assert clerk_api.calls["/v1/users/{id}"] <= 20


@pytest.mark.postgres(
    reason="runs 20 authenticated requests in parallel threads, each on its own database connection; "
    "the concurrency suite runs only on PostgreSQL (SQLite serialises the connections)"
)
def test_cold_signing_key_cache_is_fetched_once_by_20_concurrent_requests(clerk_api, make_token, monkeypatch):
    """All 20 threads are inside the key lookup before the first fetch may finish.

    The first thread to fetch is held in the JWKS call until every thread has
    entered `signing_keys.get` with the cache still cold; then it goes on.
    Only then do the others see the cache; none of them may fetch again.
    """
    users = [UserFactory() for _ in range(20)]
    threads_count = len(users)
    entered = 0
    entered_lock = threading.Lock()
    all_entered = threading.Event()
    real_get = tokens.signing_keys.get
    real_clerk_client = signing_keys_module.clerk_client

    def counting_get(kid):
        nonlocal entered
        with entered_lock:
            entered += 1
            if entered == threads_count:
                all_entered.set()
        return real_get(kid)

    class HeldClient:
        """The real client, whose JWKS call waits until every request is after the keys."""

        def __init__(self) -> None:
            self._client = real_clerk_client()

        def jwks_get(self):
            assert all_entered.wait(timeout=BARRIER_TIMEOUT), f"only {entered} of {threads_count} threads got in"
            return self._client.jwks_get()

    monkeypatch.setattr(tokens.signing_keys, "get", counting_get)
    monkeypatch.setattr(signing_keys_module, "clerk_client", HeldClient)
    jobs = [me_with_header(make_token(user.clerk_id, version=1 + index % 2)) for index, user in enumerate(users)]

    answers = run_concurrently(jobs)

    assert [(answer.status, answer.body.get("clerk_id")) for answer in answers] == [
        (200, user.clerk_id) for user in users
    ], answers
    assert all_entered.is_set()
    assert clerk_api.calls["/v1/jwks"] == 1
    assert clerk_api.calls == {"/v1/jwks": 1}  # known users: no user fetched from Clerk


@pytest.mark.postgres(
    reason="holds one path's uncommitted user row while the other path's requests block on it in "
    "INSERT … ON CONFLICT DO NOTHING, observed through pg_stat_activity: PostgreSQL only"
)
@pytest.mark.parametrize("leader", ["jit", "webhook"], ids=["jit-first", "webhook-first"])
def test_path_losing_to_an_uncommitted_insert_converges_on_the_winner(
    leader, clerk_api, make_token, mailoutbox, provisioned
):
    """Forces each winner the races above only pick by timing.

    The leader (a first /api/me/ request, or the webhook) inserts the user row
    and holds its transaction open until the racer (the webhook, or a first
    /api/me/ request) is blocked inserting the same clerk_id; then it commits.
    The racer must converge on the leader's row, and only the leader's path
    provisions the user.
    """
    data = clerk_api.add_user(ClerkUserDataFactory(email=f"jit-{leader}-first@example.com"))
    msg_id = new_msg_id()
    hook = webhook(user_event("user.created", data), msg_id)
    requests = [me_with_header(make_token(data["id"]))]
    # One racer per path: a process fetches and inserts a new user once at a time, so further
    # requests would wait for that fetch, not block in the database
    # (test_20_concurrent_first_requests_of_a_new_user_make_one_clerk_call).
    jobs = [hook, requests[0]] if leader == "webhook" else [requests[0], hook]
    racers = len(jobs) - 1
    hold = UserInsertHeld(racers)
    answers = run_concurrently(jobs, around=hold.around)
    hold.assert_happened()
    assert webhook_outcomes(answers) == [(200, "processed")], answers
    user = assert_one_user_provisioned_once(data, mailoutbox, provisioned)
    assert user.created_via == leader
    assert_requests_got_the_user(answers, user, len(requests))
    assert_the_one_event_processed(msg_id, attempts=1)
    assert clerk_api.calls["/v1/jwks"] == 1


@pytest.mark.postgres(
    reason="20 first requests of one new user in parallel threads, each on its own database connection; "
    "the concurrency suite runs only on PostgreSQL (SQLite serialises the connections)"
)
def test_20_concurrent_first_requests_of_a_new_user_make_one_clerk_call(clerk_api, make_token, mailoutbox, provisioned):
    data = clerk_api.add_user(ClerkUserDataFactory(email="single-flight@example.com"))
    jobs = [me_with_header(make_token(data["id"], version=1 + index % 2)) for index in range(20)]

    answers = run_concurrently(jobs)

    user = assert_one_user_provisioned_once(data, mailoutbox, provisioned)
    assert_requests_got_the_user(answers, user, 20)
    assert clerk_api.calls["/v1/users/{id}"] == 1


@pytest.mark.django_db
def test_a_lookup_that_missed_just_before_another_flight_committed_asks_clerk_nothing(clerk_api, monkeypatch):
    # The window concurrent first requests can hit: this caller's lookup ran before an earlier
    # flight committed the user, and its own flight starts once that one has ended.
    existing = UserFactory(clerk_id="user_committed_meanwhile")
    real_lookup, misses = services.user_by_clerk_id, [True]

    def lookup_missing_once(clerk_id, **kwargs):
        if misses and misses.pop():
            return None
        return real_lookup(clerk_id, **kwargs)

    monkeypatch.setattr(services, "user_by_clerk_id", lookup_missing_once)

    user = services.get_or_create_from_clerk("user_committed_meanwhile")

    assert misses == []  # the first lookup did miss
    assert user.pk == existing.pk
    assert clerk_api.calls["/v1/users/{id}"] == 0
