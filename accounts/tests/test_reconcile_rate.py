"""A pass keeps to CLERK_RECONCILE_RATE and honours Clerk's 429 Retry-After, on a virtual clock (no real waiting)."""

from __future__ import annotations

import pytest

from accounts.clerk.api import clerk_reconcile_client
from accounts.clerk.throttle import RateLimiter
from accounts.models import ReconcilePass
from accounts.reconcile.passes import reconcile_pass
from accounts.tests.factories import ClerkUserDataFactory

pytestmark = pytest.mark.django_db


class VirtualClock:
    """time.monotonic and time.sleep for the pass: sleeping moves the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def sent_at(clock: VirtualClock, client) -> list[float]:
    """Record the virtual time each request is sent at (the limiter's say, then the send)."""
    times: list[float] = []
    throttle = client.throttle

    def recording() -> None:
        throttle()
        times.append(clock.now)

    client.throttle = recording
    return times


def test_a_pass_sends_at_most_the_rate_in_any_ten_seconds(clerk_api):
    for n in range(30):
        clerk_api.add_user(ClerkUserDataFactory(created_at=n))
    clock = VirtualClock()
    client = clerk_reconcile_client(4, sleep=clock.sleep, clock=clock.clock)
    times = sent_at(clock, client)

    record = reconcile_pass(full=True, trigger="command", client=client, page_size=2)

    assert record.outcome == "completed" and record.users_created == 30
    assert record.clerk_calls == len(times) == 16 + 2  # 16 user pages, one organization and one membership list
    assert max(sum(1 for t in times if start <= t < start + 10) for start in times) == 4
    assert times[-1] - times[0] == 10 * ((len(times) - 1) // 4)  # it waited rather than sending faster


def test_the_limiter_lets_a_burst_through_then_spaces_requests_to_the_window():
    clock = VirtualClock()
    limiter = RateLimiter(3, 10.0, clock=clock.clock, sleep=clock.sleep)
    sent = []
    for _ in range(7):
        limiter()
        sent.append(clock.now)
        clock.now += 1  # each request takes a second

    assert sent == [1000, 1001, 1002, 1010, 1011, 1012, 1020]


def test_429_is_honoured_with_retry_after_and_the_pass_completes(clerk_api):
    clerk_api.add_user(ClerkUserDataFactory())
    clerk_api.fail("/v1/organizations", 429, {"Retry-After": "7"}, times=3)
    clock = VirtualClock()

    record = reconcile_pass(
        full=False, trigger="command", client=clerk_reconcile_client(1000, sleep=clock.sleep, clock=clock.clock)
    )

    assert record.outcome == "completed" and record.users_created == 1
    assert clock.slept == [7, 7, 7]
    assert clerk_api.calls["/v1/organizations"] == 4


def test_rate_limits_that_do_not_relent_within_two_minutes_fail_the_pass(clerk_api):
    clerk_api.add_user(ClerkUserDataFactory())
    clerk_api.fail("/v1/organization_memberships", 429, {"Retry-After": "50"})
    clock = VirtualClock()

    record = reconcile_pass(
        full=True, trigger="command", client=clerk_reconcile_client(1000, sleep=clock.sleep, clock=clock.clock)
    )

    assert clock.slept == [50, 50]  # a third wait would pass 120 seconds
    assert record.outcome == "failed" and "429" in record.error
    assert ReconcilePass.objects.get().outcome == "failed"
