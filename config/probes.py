"""Probes answer whatever the Host header says; every other path keeps Django's host validation.

A load balancer probes `/healthz` by the instance's IP or as `localhost`, which production's
ALLOWED_HOSTS (the public name) rightly refuses: the probe would get a 400 and the instance be
taken out of service. This middleware sits before anything that reads the Host header
(SecurityMiddleware, CommonMiddleware, CSRF) and answers a GET to a path in PROBE_PATHS
straight from its view. Those views read nothing from the request but its method, so no host
is ever trusted; any other path, a probe path's near miss included (`/healthz/`,
`/healthz/x`), goes through the whole stack and its validation as before.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

# Exact paths. A path listed here that has no route yet falls through to the usual stack.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class ProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in PROBE_PATHS:
            try:
                match = resolve(request.path_info)
            except Resolver404:
                return self.get_response(request)
            return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
