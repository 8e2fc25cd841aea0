"""A stand-in for Clerk's Backend API: a real HTTP server on 127.0.0.1 serving users, organizations and the JWKS.

It answers like Clerk (bare JSON arrays of users, `{"data", "total_count"}`
pages of organizations and memberships, `{"errors": [...]}` bodies, 404 for a
missing user or organization, 429 with Retry-After) and counts every request,
so tests can assert how often the app called Clerk.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

# What the stand-in answers for Clerk's webhook dashboard link.
SVIX_URL = "https://app.svix.com/login-with-token#key=stand-in-one-time-key"


class ClerkStandIn:
    def __init__(self) -> None:
        self.secret_key = "sk_test_stand_in"
        self.users: dict[str, dict[str, Any]] = {}
        self.organizations: dict[str, dict[str, Any]] = {}
        self.memberships: dict[str, dict[str, Any]] = {}
        self.unlisted: set[str] = set()  # ids left out of every list, still served by their own GET
        self.jwks: dict[str, Any] = {"keys": []}
        # path prefix -> [status, headers, times left (None: always)]: answered instead of the real thing
        self.failures: dict[str, list] = {}
        self.calls: Counter[str] = Counter()
        self.authorizations: list[str] = []
        # path prefix -> Event: requests under it are held, unanswered, until the Event is set
        self.holds: dict[str, threading.Event] = {}
        self.held = 0  # requests being held right now
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="clerk-stand-in", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ClerkStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.users.clear()
            self.organizations.clear()
            self.memberships.clear()
            self.unlisted.clear()
            self.failures.clear()
            for release in self.holds.values():
                release.set()
            self.holds.clear()
            self.calls.clear()
            self.authorizations.clear()
            self.jwks = {"keys": []}

    def add_user(self, data: dict[str, Any]) -> dict[str, Any]:
        self.users[data["id"]] = data
        return data

    def add_organization(self, data: dict[str, Any]) -> dict[str, Any]:
        self.organizations[data["id"]] = data
        return data

    def add_membership(self, data: dict[str, Any]) -> dict[str, Any]:
        self.memberships[data["id"]] = data
        return data

    def fail(self, path_prefix: str, status: int, headers: dict[str, str] | None = None, *, times=None) -> None:
        """Answer `status` for paths under `path_prefix`, always or the next `times` requests."""
        self.failures[path_prefix] = [status, headers or {}, times]

    def hold(self, path_prefix: str) -> threading.Event:
        """Hold requests under `path_prefix` unanswered (Clerk hanging) until the returned Event is set."""
        release = self.holds[path_prefix] = threading.Event()
        return release

    def _handler_class(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                with stand_in._lock:
                    stand_in.calls[_route(url.path)] += 1
                    stand_in.authorizations.append(self.headers.get("Authorization", ""))
                for prefix, release in list(stand_in.holds.items()):
                    if url.path.startswith(prefix):
                        with stand_in._lock:
                            stand_in.held += 1
                        try:
                            release.wait(60)
                        finally:
                            with stand_in._lock:
                                stand_in.held -= 1
                if self.headers.get("Authorization") != f"Bearer {stand_in.secret_key}":
                    return self._errors(401, "authentication_invalid", "Invalid secret key")
                for prefix, failure in list(stand_in.failures.items()):
                    status, headers, times = failure
                    if url.path.startswith(prefix) and times != 0:
                        failure[2] = None if times is None else times - 1
                        return self._errors(status, "stand_in_failure", "failure requested by the test", headers)
                if url.path == "/v1/jwks":
                    return self._json(200, stand_in.jwks)
                if url.path == "/v1/users":
                    return self._json(200, self._user_page(parse_qs(url.query)))
                if url.path.startswith("/v1/users/"):
                    user = stand_in.users.get(url.path.removeprefix("/v1/users/"))
                    if user is None:
                        return self._errors(404, "resource_not_found", "not found")
                    return self._json(200, user)
                if url.path == "/v1/organizations":
                    return self._json(200, self._page(stand_in.organizations, parse_qs(url.query)))
                if url.path == "/v1/organization_memberships":
                    return self._json(200, self._page(stand_in.memberships, parse_qs(url.query)))
                if url.path.startswith("/v1/organizations/") and url.path.endswith("/memberships"):
                    org_id = url.path.removeprefix("/v1/organizations/").removesuffix("/memberships")
                    if org_id not in stand_in.organizations:
                        return self._errors(404, "resource_not_found", "not found")
                    members = {
                        key: item
                        for key, item in stand_in.memberships.items()
                        if (item.get("organization") or {}).get("id") == org_id
                    }
                    return self._json(200, self._page(members, parse_qs(url.query)))
                if url.path.startswith("/v1/organizations/"):
                    organization = self._organization(url.path.removeprefix("/v1/organizations/"))
                    if organization is None:
                        return self._errors(404, "resource_not_found", "not found")
                    return self._json(200, organization)
                return self._errors(404, "resource_not_found", "no such route")

            def do_POST(self) -> None:
                """Only Clerk's `POST /v1/webhooks/svix_url`: a one-time link into Svix's dashboard."""
                with stand_in._lock:
                    stand_in.calls[f"POST {self.path}"] += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != f"Bearer {stand_in.secret_key}":
                    return self._errors(401, "authentication_invalid", "Invalid secret key")
                if self.path != "/v1/webhooks/svix_url":
                    return self._errors(404, "resource_not_found", "no such route")
                return self._json(200, {"svix_url": SVIX_URL})

            def _user_page(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
                """Oldest first by created_at, or most recently updated first with `order_by=-updated_at`."""
                # Malformed entries (tests put them there) are listed too, sorted first.
                users = [user for user in stand_in.users.values() if _id(user) not in stand_in.unlisted]
                users.sort(
                    key=lambda user: (user.get("created_at") or 0, _id(user)) if isinstance(user, dict) else (0, "")
                )
                if query.get("order_by") == ["-updated_at"]:
                    users.sort(key=lambda user: user.get("updated_at") or 0, reverse=True)
                limit = int(query.get("limit", ["10"])[0])
                if "starting_after" in query:
                    ids = [_id(user) for user in users]
                    users = users[ids.index(query["starting_after"][0]) + 1 :]
                offset = int(query.get("offset", ["0"])[0])
                return users[offset : offset + limit]

            def _page(self, objects: dict[str, dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
                """Clerk's `{"data", "total_count"}` page, oldest first, by `limit` (default 10) and `offset`."""
                listed = [item for item in objects.values() if item["id"] not in stand_in.unlisted]
                ordered = sorted(listed, key=lambda item: (item.get("created_at") or 0, item["id"]))
                limit = int(query.get("limit", ["10"])[0])
                offset = int(query.get("offset", ["0"])[0])
                return {"data": ordered[offset : offset + limit], "total_count": len(ordered)}

            def _organization(self, id_or_slug: str) -> dict[str, Any] | None:
                """Clerk's GET /v1/organizations/{id} takes an id or a slug."""
                organization = stand_in.organizations.get(id_or_slug)
                if organization is None:
                    slugs = {item.get("slug"): item for item in stand_in.organizations.values()}
                    organization = slugs.get(id_or_slug)
                return organization

            def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def _errors(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
                error = {"code": code, "message": message, "long_message": message}
                self._json(status, {"errors": [error]}, headers)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that gave up on a held request (the app's deadline) is expected: no traceback."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _id(item: Any) -> str:
    return str(item.get("id")) if isinstance(item, dict) else ""


def _route(path: str) -> str:
    """Count /v1/users/<id> and /v1/organizations/<id> each under one name."""
    if path.startswith("/v1/organizations/") and path.endswith("/memberships"):
        return "/v1/organizations/{id}/memberships"
    for collection in ("/v1/users/", "/v1/organizations/"):
        if path.startswith(collection):
            return f"{collection}{{id}}"
    return path
