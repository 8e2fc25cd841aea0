"""JSON bodies on every error answer under /webhooks/ and /api/, whatever produced the answer."""

from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse

from config.requests import request_id_begin, request_id_end

JSON_PREFIXES = ("/webhooks/", "/api/")

# Headers of the original answer that still hold for its JSON replacement.
KEPT_HEADERS = ("Allow", "Retry-After", "Connection", "WWW-Authenticate")


class JsonErrorsMiddleware:
    """Replace an HTML (or empty) 4xx/5xx under JSON_PREFIXES by `{"error": …}` with the same status.

    Outermost in MIDDLEWARE, so it also sees the answers Django makes itself: the
    resolver's 404 (including DEBUG's technical page, which handler404 never replaces),
    `require_POST`'s empty 405, a 500 from an unhandled exception (logged by Django
    before it gets here) and anything another middleware refuses. Other paths keep
    Django's own pages. Being outermost, it also gives every request its id
    (config/requests.py), returned on the answer whichever body it has.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Not a middleware of its own: each one is two more stack frames under every view,
        # and a view decoding deeply nested JSON needs them.
        token, response = request_id_begin(request), None
        try:
            response = self._json_if_error(request, self.get_response(request))
            return response
        finally:
            request_id_end(request, response, token)

    def _json_if_error(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if (
            response.status_code < 400
            or not request.path.startswith(JSON_PREFIXES)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        replacement = JsonResponse({"error": _phrase(response.status_code)}, status=response.status_code)
        for name in KEPT_HEADERS:
            if name in response:
                replacement[name] = response[name]
        return replacement


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return f"error {status}"
