"""The per-process JWKS cache when Clerk is slow: cached keys never wait for the network."""

import threading

import pytest

from accounts.clerk import keys as signing_keys
from accounts.clerk.errors import Refused, Unavailable
from config.tests.helpers import CLERK_KID, jwk_of


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class BlockingClerk:
    """Stands in for clerk_client(): jwks_get blocks until released, then answers or fails."""

    def __init__(self, jwks: dict) -> None:
        self.jwks = jwks
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail = False
        self.calls = 0

    def jwks_get(self) -> dict:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(10), "the test never released the fetch"
        if self.fail:
            raise Unavailable("hanging")
        return self.jwks


@pytest.fixture
def keys(monkeypatch, rsa_private_key):
    """A fresh SigningKeys with a fake clock and a Clerk whose JWKS fetch the test controls."""
    clerk = BlockingClerk({"keys": [jwk_of(rsa_private_key)]})
    monkeypatch.setattr(signing_keys, "clerk_client", lambda: clerk)
    store = signing_keys.SigningKeys(clock=FakeClock())
    clerk.release.set()
    store.get(CLERK_KID)  # warm: one fetch
    clerk.release.clear()
    clerk.entered.clear()
    return store, clerk


def in_thread(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def assert_key_served_while_the_fetch_is_held(store, clerk, *, failure: str) -> None:
    """With a JWKS fetch started and held, store.get(CLERK_KID) returns a key without waiting for it.

    The fetch is released once the key has been asked for; `failure` says what it means when the key waited.
    """
    assert clerk.entered.wait(5), "no JWKS fetch started"
    result = {}
    done = threading.Event()

    def call():
        result["key"] = store.get(CLERK_KID)
        done.set()

    in_thread(call)
    returned = done.wait(5)
    clerk.release.set()
    assert returned, failure
    assert result["key"] is not None


def swallow(call, *args):
    try:
        call(*args)
    except Refused:
        pass


def test_known_key_is_served_while_an_unknown_kid_waits_for_clerk(keys):
    store, clerk = keys
    store.clock.now += signing_keys.REFETCH_INTERVAL_SECONDS
    waiting = in_thread(swallow, store.get, "ins_unknown")

    assert_key_served_while_the_fetch_is_held(
        store, clerk, failure="a request with a cached key waited for another request's fetch"
    )

    waiting.join(5)
    assert not waiting.is_alive()


def test_stale_key_is_served_while_another_request_refreshes_it(keys):
    store, clerk = keys
    store.clock.now += signing_keys.KEYS_MAX_AGE_SECONDS + 1
    refreshing = in_thread(store.get, CLERK_KID)

    assert_key_served_while_the_fetch_is_held(
        store, clerk, failure="a stale key was not served while another request refreshed it"
    )

    refreshing.join(5)
    assert clerk.calls == 2


def test_next_fetch_waits_an_interval_counted_from_the_end_of_a_slow_failed_one(keys, monkeypatch):
    store, clerk = keys
    clerk.fail = True
    clerk.release.set()
    store.clock.now += signing_keys.REFETCH_INTERVAL_SECONDS

    def slow_fetch():
        store.clock.now += 10  # the read timeout went by
        return BlockingClerk.jwks_get(clerk)

    monkeypatch.setattr(clerk, "jwks_get", slow_fetch)
    for _ in range(3):
        with pytest.raises(Refused):
            store.get("ins_unknown")

    assert clerk.calls == 2  # the warm-up, and one failed refetch: not one per request
