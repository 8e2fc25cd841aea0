"""The ledger's tests run against its stand-in source (webhooks/tests/ledger_source.py), never Clerk's."""

from typing import Any

import pytest

from webhooks.registry import source_registered
from webhooks.tests import ledger_source
from webhooks.tests.deliveries import TEST_WEBHOOK_SECRET, deliver_to


@pytest.fixture(autouse=True)
def things(settings):
    """The stand-in source, registered for the test (through the registry's public API) with its secret set.

    Its record of runs starts empty. Tests that need another throwaway source use `webhook_source`.
    """
    settings.THINGS_WEBHOOK_SECRET = TEST_WEBHOOK_SECRET
    ledger_source.runs.clear()
    with source_registered(ledger_source.things_source) as source:
        yield source
    ledger_source.runs.clear()


@pytest.fixture
def deliver(client):
    """deliver(payload, msg_id=…, secret=…, timestamp=…, headers=…, path=…) -> response; to the stand-in by default."""

    def _deliver(payload: Any, *, path: str = ledger_source.PATH, **kwargs):
        return deliver_to(client, payload, path=path, **kwargs)

    return _deliver
