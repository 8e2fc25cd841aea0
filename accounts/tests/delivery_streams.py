"""What the convergence property tests share: how Svix may order deliveries, and delivering one through the ledger."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from accounts.clerk_source.handlers import clerk_source
from webhooks.inbound.payloads import webhook_payload_parse
from webhooks.services import webhook_event_deliver


@st.composite
def arrival_order(draw, count: int) -> list[int]:
    """Indexes of `count` events, each delivered at least once and some again, in any order (as Svix may)."""
    redelivered = draw(st.lists(st.integers(0, count - 1), max_size=count))
    return draw(st.permutations(list(range(count)) + redelivered))


def deliver_through_ledger(msg_id: str, payload: dict[str, Any]) -> str:
    """Deliver `payload` to the Clerk source as the endpoint hands it on (serialized, parsed back); the outcome."""
    parsed = webhook_payload_parse(json.dumps(payload), identifiers=clerk_source.identifiers)
    return webhook_event_deliver(clerk_source, event_id=msg_id, payload=parsed).outcome
