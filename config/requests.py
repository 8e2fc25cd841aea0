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
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# What a proxy may hand us: letters, digits and - _ . : / + = up to 64 characters; anything else is replaced.
_USABLE = re.compile(r"[A-Za-z0-9._:/+=-]{1,64}")

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class RequestIdMiddleware:
    """First in MIDDLEWARE: every later log line of the request carries the id, and every answer returns it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER, "")
        request.request_id = given if _USABLE.fullmatch(given) else uuid.uuid4().hex
        token = current_request_id.set(request.request_id)
        try:
            response = self.get_response(request)
            response[HEADER] = request.request_id
            return response
        finally:
            current_request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to each record: the id of the request it was logged in, empty outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs an error answer after the middleware returned it, with the request attached.
        request_id = getattr(getattr(record, "request", None), "request_id", "")
        record.request_id = request_id or current_request_id.get()
        return True
