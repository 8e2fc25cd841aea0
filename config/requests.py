"""A request id for every request: taken from X-Request-ID or made, returned on the answer, in its log lines.

The webhook view stores it on the ledger attempt the delivery produced
(`request.request_id`, read by webhooks/views.py), so an operator goes from a
log line to the attempt and back.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
# What a proxy may hand us: letters, digits and - _ . : / + = up to 64 characters; anything else is replaced.
_USABLE = re.compile(r"[A-Za-z0-9._:/+=-]{1,64}")

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def request_id_begin(request: HttpRequest) -> contextvars.Token:
    """Give `request` its id (`request.request_id`) and carry it into log lines until request_id_end."""
    # META, not request.headers: that would build a dict of every header on every request, for one.
    given = request.META.get(META_KEY, "")
    request.request_id = given if _USABLE.fullmatch(given) else uuid.uuid4().hex
    return current_request_id.set(request.request_id)


def request_id_end(request: HttpRequest, response: HttpResponse | None, token: contextvars.Token) -> None:
    """Return the id on the answer (when there is one) and stop carrying it."""
    if response is not None:
        response[HEADER] = request.request_id
    current_request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to each record: the id of the request it was logged in, empty outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs an error answer after the middleware returned it, with the request attached.
        request_id = getattr(getattr(record, "request", None), "request_id", "")
        record.request_id = request_id or current_request_id.get()
        return True
