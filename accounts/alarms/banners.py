"""The alarm banners atop the admin index and the sync health page: a context processor (settings.TEMPLATES).

The ledger's templates show `raised_alarms` without the ledger importing
anything of accounts. It is lazy: only the pages that show it query. The sync
health page evaluates the alarms as it is opened; the index shows their state
as the workers last stored it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.alarms.evaluate import alarms_evaluate, alarms_raised
from accounts.alarms.registry import ADVICE

HEALTH_PAGE = "webhooks_webhookevent_health"


@dataclass(frozen=True)
class Banner:
    name: str
    detail: str
    since: object
    advice: str


def raised_alarms(request: HttpRequest) -> dict[str, object]:
    def banners() -> list[Banner]:
        user = getattr(request, "user", None)
        if user is None or not user.is_staff:
            return []
        try:
            match = request.resolver_match
            if match is not None and match.url_name == HEALTH_PAGE:
                alarms_evaluate()
            return [Banner(row.name, row.detail, row.since, ADVICE.get(row.name, "")) for row in alarms_raised()]
        except DatabaseError:
            return []  # the page shows what it can; the workers keep evaluating

    return {"raised_alarms": SimpleLazyObject(banners)}
