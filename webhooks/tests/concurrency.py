"""Helpers for the tests that race real threads against a real PostgreSQL server.

`run_concurrently` runs jobs (a request each, sent with a fresh test client)
in threads released together by one barrier; `wait_until_waiting_on_locks`
observes, through pg_stat_activity, that other transactions are blocked. No
sleeps as synchronisation: every wait here is on a barrier or a condition and
is bounded, and a runner fails the test if any thread raised or hung.

Used by the ledger's webhooks/tests/test_concurrency.py and by Clerk's concurrency tests under accounts/tests.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import psycopg
from django.db import connection
from django.http import HttpResponse
from django.test import Client

# Bounds for waits that only trip when something hangs (a deadlock, a lost thread);
# generous, because a busy 2-core machine can stall a healthy thread for many seconds.
BARRIER_TIMEOUT = 60
JOIN_TIMEOUT = 120


@dataclass
class Answer:
    name: str
    status: int
    body: dict


# A job is a label and a callable that sends one request with the client it is given and returns the response.
Send = Callable[[Client], HttpResponse]
Job = tuple[str, Send]
# Given a thread's index, a context manager entered in that thread just before its request.
Around = Callable[[int], AbstractContextManager]


def no_around(index: int) -> AbstractContextManager:
    return nullcontext()


def run_concurrently(jobs: Sequence[Job], *, around: Around = no_around) -> list[Answer]:
    """Run every job in its own thread, all released by one barrier; answers in input order.

    Each thread has its own Client and database connection (opened before the
    barrier so the requests, not the connects, race) and closes the
    connection when done. `around(index)` is a context manager entered in
    thread `index` just before its request (to order the threads). Any
    exception in a thread, or a thread still running after JOIN_TIMEOUT,
    fails the test.
    """
    barrier = threading.Barrier(len(jobs))
    answers: list[Answer | None] = [None] * len(jobs)
    errors: list[str] = []
    errors_lock = threading.Lock()

    def worker(index: int, name: str, send: Send) -> None:
        try:
            client = Client()
            connection.ensure_connection()
            barrier.wait(timeout=BARRIER_TIMEOUT)
            with around(index):
                response = send(client)
            answers[index] = Answer(name, response.status_code, json.loads(response.content or b"{}"))
        except BaseException:
            barrier.abort()  # free the others instead of letting them wait out the timeout
            with errors_lock:
                errors.append(f"thread {index} ({name}):\n{traceback.format_exc()}")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(index, name, send), name=f"{name}-{index}", daemon=True)
        for index, (name, send) in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT)
    alive = [thread.name for thread in threads if thread.is_alive()]
    assert not alive, f"threads still running after {JOIN_TIMEOUT}s (deadlock?): {alive}"
    assert not errors, "\n".join(errors)
    assert all(answer is not None for answer in answers)
    return answers  # type: ignore[return-value]


def wait_until_waiting_on_locks(backend_pids: list[int], count: int) -> None:
    """Return once `count` backends are listed and each waits on a lock; fail after BARRIER_TIMEOUT.

    Polls pg_stat_activity on a connection of our own: the only way to know
    another transaction is blocked, and a condition, not a guessed delay.
    """
    params = connection.settings_dict
    deadline = time.monotonic() + BARRIER_TIMEOUT
    with psycopg.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"] or None,
        autocommit=True,  # pg_stat_activity is a snapshot per transaction
    ) as direct:
        while True:
            pids = list(backend_pids)
            waiting = direct.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s) AND wait_event_type = 'Lock'", [pids]
            ).fetchone()[0]
            if len(pids) == count and waiting == count:
                return
            assert time.monotonic() < deadline, f"{waiting} of {count} backends waiting on a lock"
            time.sleep(0.005)
