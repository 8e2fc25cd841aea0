"""The HTTP transport to Clerk's Backend API: one GET (or POST) with retries, a total deadline and a body cap.

One pooled `requests.Session` per thread, `Authorization: Bearer
CLERK_SECRET_KEY`, connect and read timeouts, bounded retries on 429 and 5xx
that honour `Retry-After` (seconds or an HTTP date), and a cap on the body
size. With a deadline, the whole call (connect, every read and the retries
together) is bounded however slowly Clerk trickles its answer; with a circuit
breaker, calls fail at once while Clerk keeps failing. Errors are split by
what the caller does next: `ClerkNotFound` (404), `Unavailable`
(accounts/clerk/errors.py: unreachable, timing out, rate limited or failing: try
again later) and `ClerkAPIError` (an answer this client cannot use).
The endpoints are `ClerkClient`'s methods in accounts/clerk/api.py (users,
organizations, memberships, the JWKS).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import requests
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter

from accounts.clerk import metrics
from accounts.clerk.answers import error_message, retry_after_seconds
from accounts.clerk.breaker import CircuitBreaker
from accounts.clerk.errors import Unavailable

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BODY_BYTES = 1024 * 1024  # one user, one organization or the JWKS: far below this
# Calls waited on with a deadline run in a pool of this many threads. A call cut by its deadline
# leaves its pool thread to finish alone: a body stops at its next receive, while headers trickled
# a byte at a time hold the pool thread (never a request) until the read timeout between bytes.
# With every pool thread held, further calls wait in the queue and fail at their deadline.
CALL_THREADS = 32


class ClerkAPIError(Exception):
    """Clerk answered something this client cannot use."""


class ClerkNotFound(ClerkAPIError):
    """Clerk answered 404."""


class ClerkHTTP:
    """GETs to Clerk's Backend API with this call policy; `get` is the one way out."""

    def __init__(
        self,
        *,
        max_retries: int = 2,
        max_wait: float = 2.0,
        timeout: tuple[float, float] = (3.05, 10.0),
        deadline: float | None = None,
        breaker: CircuitBreaker | None = None,
        throttle: Callable[[], None] | None = None,
        wait_budget: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`max_retries` retries of a 429/5xx, each waiting at most `max_wait` seconds.

        A `Retry-After` longer than `max_wait` is not slept through: the call
        fails with Unavailable carrying it, so a web request can answer
        503 at once while a batch job can allow longer waits. With `deadline`
        (seconds) the whole call, retries included, gives up with
        Unavailable when that time is spent, however slowly Clerk
        trickles its answer. With `breaker`, calls fail at once while it is open.
        `throttle()` is called before every request, retries included (a rate limiter
        sleeping until one may go). With `wait_budget` the retries of one call wait at
        most that many seconds in all. `calls` counts the requests sent.
        """
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.timeout = timeout
        self.deadline = deadline
        self.breaker = breaker
        self.throttle = throttle
        self.wait_budget = wait_budget
        self.sleep = sleep
        self.calls = 0

    def get(self, path: str, *, params: dict[str, Any] | None = None, max_bytes: int = MAX_BODY_BYTES) -> Any:
        """The JSON body of `GET {CLERK_API_URL}{path}`.

        Raises ClerkNotFound (404), Unavailable, ClerkAPIError (another error
        status, a body over `max_bytes` or not JSON), or ImproperlyConfigured
        when CLERK_SECRET_KEY is not set.
        """
        return self.request("GET", path, params=params, max_bytes=max_bytes)

    def post(self, path: str, *, json_body: dict[str, Any] | None = None) -> Any:
        """The JSON body of `POST {CLERK_API_URL}{path}`, with the same policy and errors as `get`.

        Only for calls Clerk may safely receive twice (a retried POST after a cut answer may run again).
        """
        return self.request("POST", path, json_body=json_body or {})

    def request(self, method: str, path: str, *, params=None, json_body=None, max_bytes: int = MAX_BODY_BYTES) -> Any:
        """`get` and `post`: one call to Clerk's API under this policy."""
        secret_key = settings.CLERK_SECRET_KEY
        if not secret_key:
            raise ImproperlyConfigured("CLERK_SECRET_KEY is not set: Clerk's Backend API cannot be called.")
        if self.breaker is not None:
            self.breaker.check()  # raises Unavailable while open
        try:
            result = self._call_with_retries(method, path, secret_key, params, json_body, max_bytes)
        except Unavailable as exc:
            if self.breaker is not None:
                self.breaker.failure(retry_after=exc.retry_after)
            raise
        except Exception:
            if self.breaker is not None:
                self.breaker.success()  # Clerk answered (a 404, an error it explains): it is up
            raise
        if self.breaker is not None:
            self.breaker.success()
        return result

    def _call_with_retries(self, method: str, path: str, secret_key: str, params, json_body, max_bytes: int) -> Any:
        url = f"{settings.CLERK_API_URL.rstrip('/')}{path}"
        headers = {"Authorization": f"Bearer {secret_key}", "Accept": "application/json"}
        ends_at = None if self.deadline is None else time.monotonic() + self.deadline
        waited = 0.0
        for attempt in range(self.max_retries + 1):
            if self.throttle is not None:
                self.throttle()
            self.calls += 1
            status, retry_after, body = self._attempt(
                path, (method, url, params, json_body), headers, max_bytes, ends_at
            )
            if status == 404:
                raise ClerkNotFound(path)
            if status not in RETRY_STATUSES:
                break
            wait = retry_after if retry_after is not None else 0.5 * 2**attempt
            out_of_time = ends_at is not None and time.monotonic() + wait >= ends_at
            out_of_budget = self.wait_budget is not None and waited + wait > self.wait_budget
            if attempt == self.max_retries or wait > self.max_wait or out_of_time or out_of_budget:
                raise Unavailable(f"Clerk's API answered {status}", retry_after=max(1, math.ceil(wait)))
            logger.info("Clerk API %s answered %s, retrying in %.1fs", path, status, wait)
            self.sleep(wait)
            waited += wait
        if status >= 400:
            raise ClerkAPIError(f"Clerk's API answered {status} for {path}: {error_message(body)}")
        try:
            return json.loads(body)
        except ValueError:
            raise ClerkAPIError(f"Clerk's API answered non-JSON for {path}") from None

    def _attempt(self, path: str, call: tuple, headers, max_bytes: int, ends_at: float | None):
        """One request, counted for /metrics: (status, Retry-After in seconds or None, body bytes)."""
        clock, status = time.perf_counter(), "unavailable"
        try:
            result = self._attempt_within_deadline(call, headers, max_bytes, ends_at)
            status = result[0]
            return result
        finally:
            metrics.api_request_count(path, status, time.perf_counter() - clock)

    def _attempt_within_deadline(self, call: tuple, headers, max_bytes: int, ends_at: float | None):
        """(status, Retry-After in seconds or None, body bytes), within the deadline."""
        if ends_at is None:
            return _fetch(call, headers, self.timeout, max_bytes, None)
        left = ends_at - time.monotonic()
        if left <= 0:
            raise Unavailable("Clerk's API did not answer within the deadline")
        timeout = (min(self.timeout[0], left), min(self.timeout[1], left))
        # In a thread of the pool, waited on for what is left of the deadline: a server that
        # trickles its headers or body a byte at a time cannot hold the request past it.
        future = _call_pool().submit(_fetch, call, headers, timeout, max_bytes, ends_at)
        try:
            return future.result(timeout=left)
        except FutureTimeout:
            future.cancel()
            raise Unavailable("Clerk's API did not answer within the deadline") from None


def _fetch(call: tuple, headers, timeout, max_bytes: int, ends_at: float | None):
    """`call` is (method, url, params, JSON body): (status, Retry-After seconds or None, body), the body read
    within `max_bytes` and `ends_at`."""
    method, url, params, json_body = call
    try:
        response = _session().request(
            method, url, params=params, json=json_body, headers=headers, timeout=timeout, stream=True
        )
    except requests.RequestException as exc:
        # Not retried here: a timeout already cost its full wait.
        raise Unavailable(f"Clerk's API cannot be reached: {type(exc).__name__}") from exc
    with response:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise ClerkAPIError(f"Clerk's API answered more than {max_bytes} bytes")
        body = bytearray()
        try:
            # read1: one receive at most, so the deadline is checked between receives.
            while chunk := response.raw.read1(65536, decode_content=True):
                body += chunk
                if len(body) > max_bytes:
                    raise ClerkAPIError(f"Clerk's API answered more than {max_bytes} bytes")
                if ends_at is not None and time.monotonic() > ends_at:
                    raise Unavailable("Clerk's API did not answer within the deadline")
        except (requests.RequestException, OSError, urllib3.exceptions.HTTPError) as exc:
            raise Unavailable(f"Clerk's API answer was cut: {type(exc).__name__}") from exc
        return response.status_code, retry_after_seconds(response.headers.get("Retry-After", "")), bytes(body)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _call_pool() -> ThreadPoolExecutor:
    """The process's pool for calls made with a deadline, created on first use (after gunicorn forks)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=CALL_THREADS, thread_name_prefix="clerk-api")
        return _pool


_local = threading.local()


def _session() -> requests.Session:
    """One pooled session per thread (requests.Session is not documented as thread-safe)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=16))
        session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=16))
        _local.session = session
    return session
