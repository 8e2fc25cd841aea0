"""Django's MessageMiddleware, with the message storage built the first time a request uses it.

Messages are the admin's ("3 events queued for replay"). Django's middleware
builds the storage for every request: a cookie signer and a session-backed
store, 0.02 ms, a twentieth of what a known user's `/api/me/` costs in
process. The API and the webhook never use it. A request that never touches
its messages now builds nothing (an unused storage would have stored nothing
on the way out either); one that does (the admin) gets Django's storage and
behaviour unchanged. The admin's system check accepts a subclass of Django's
middleware.
"""

from __future__ import annotations

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty


class LazyMessageMiddleware(MessageMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response  # never used: nothing to store, nothing to expire
        return super().process_response(request, response)
