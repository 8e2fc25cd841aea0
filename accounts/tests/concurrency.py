"""Clerk's side of the races: holding one transaction's uncommitted user row while others queue behind it.

Built on webhooks/tests/concurrency.py; used by accounts/tests/test_jit_concurrency.py and
accounts/tests/test_clerk_delivery_concurrency.py.
"""

from __future__ import annotations

import threading
import traceback
from contextlib import contextmanager

from django.db import connection

from webhooks.tests.concurrency import BARRIER_TIMEOUT, wait_until_waiting_on_locks


class UserInsertHeld:
    """Makes thread 0 the leader: its transaction inserts the user row, then waits (uncommitted)
    until every other thread is blocked on that row in PostgreSQL, then goes on.

    Pass `around` to run_concurrently, then call `assert_happened()`.
    """

    def __init__(self, racers: int) -> None:
        self.racers = racers
        self.leader_inserted = threading.Event()
        self.racer_pids: list[int] = []
        self.inserts: list[str] = []
        self.hold_errors: list[str] = []
        self._lock = threading.Lock()

    def around(self, index: int):
        return connection.execute_wrapper(self._hold_after_user_insert) if index == 0 else self._racer()

    def assert_happened(self) -> None:
        assert not self.hold_errors, self.hold_errors[0]
        assert self.inserts, "the leader never inserted the user"

    def _hold_after_user_insert(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not self.inserts and sql.lstrip().startswith('INSERT INTO "accounts_user"'):
            self.inserts.append(sql)
            self.leader_inserted.set()
            try:
                wait_until_waiting_on_locks(self.racer_pids, self.racers)
            except AssertionError:  # the view would turn it into a 500 or 503; keep the reason
                self.hold_errors.append(traceback.format_exc())
                raise
        return result

    @contextmanager
    def _racer(self):
        with self._lock:
            self.racer_pids.append(connection.connection.info.backend_pid)
        assert self.leader_inserted.wait(timeout=BARRIER_TIMEOUT), "the leader never inserted the user"
        yield
