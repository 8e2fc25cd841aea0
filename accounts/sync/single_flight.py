"""At most one call at a time per key within a process; concurrent callers share its outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None


class SingleFlight(Generic[T]):
    """`run(key, call)`: the first caller for `key` runs `call`.

    Callers arriving meanwhile wait and get its result or exception.

    A caller arriving after the call finished starts a new one. Used so that
    twenty concurrent first requests of one new user make one call to Clerk.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    def run(self, key: str, call: Callable[[], T]) -> T:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()  # the leader's call is bounded by Clerk's deadline
            if flight.error is not None:
                raise flight.error
            return flight.result  # type: ignore[return-value]
        try:
            flight.result = call()
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()

    def find_or_create(self, key: str, find: Callable[[str], T | None], create: Callable[[str], T]) -> T:
        """`find(key)`, or else `create(key)` run once for all concurrent callers.

        The flight looks again before creating: a caller whose `find` missed just
        before an earlier flight stored the row starts a flight of its own once that
        one is over, and must find the row rather than create (or fetch) it again.
        """
        found = find(key)
        if found is not None:
            return found
        return self.run(key, lambda: _found_or_created(key, find, create))


def _found_or_created(key: str, find: Callable[[str], T | None], create: Callable[[str], T]) -> T:
    found = find(key)
    return found if found is not None else create(key)
