"""ClerkClient against a stand-in for Clerk's Backend API made with `responses`.

No test touches the network or really sleeps: Clerk lives at a fake base URL
and every client records its waits instead of sleeping through them.
"""

import email.utils
import time
from urllib.parse import urlsplit

import pytest
import requests
import responses
from django.core.exceptions import ImproperlyConfigured
from responses import matchers

from accounts.clerk.api import ClerkAPIError, ClerkClient, ClerkUserNotFound, clerk_batch_client, clerk_client
from accounts.clerk.errors import Unavailable
from accounts.clerk.http import retry_after_seconds

BASE = "https://api.clerk.test"
SECRET = "sk_test_x"
USERS = f"{BASE}/v1/users"
JWKS = f"{BASE}/v1/jwks"


def clerk_errors(message: str, long_message: str, code: str) -> dict:
    """The body of a Clerk error answer."""
    return {"errors": [{"message": message, "long_message": long_message, "code": code}]}


def user(user_id: str) -> dict:
    """A (much shortened) Clerk User object."""
    return {"object": "user", "id": user_id, "email_addresses": []}


def query_of(call) -> str:
    """The query string of a recorded request, exactly as sent."""
    return urlsplit(call.request.url).query


@pytest.fixture(autouse=True)
def _clerk_at_fake_url(settings):
    """Runs after conftest's `_clerk_settings`, which blanks the key and points at a dead port."""
    settings.CLERK_API_URL = BASE
    settings.CLERK_SECRET_KEY = SECRET


@pytest.fixture
def api():
    """Clerk's Backend API; every registered answer must be used, and nothing else is reachable."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def naps() -> list[float]:
    """The waits the client asked for, in order."""
    return []


@pytest.fixture
def make_client(naps):
    """make_client(**ClerkClient options) -> a client whose sleep is recorded in `naps`."""

    def _make(**options) -> ClerkClient:
        return ClerkClient(sleep=naps.append, **options)

    return _make


@pytest.fixture
def client(make_client) -> ClerkClient:
    """A client with the default retry policy (2 retries, waits up to 2 s)."""
    return make_client()


# --- user_get ------------------------------------------------------------------------------


class TestUserGet:
    def test_sends_the_secret_key_and_returns_the_user(self, api, client):
        """GET {CLERK_API_URL}/v1/users/{id} with `Authorization: Bearer <key>` answers the JSON object."""
        api.get(f"{USERS}/user_1", json=user("user_1"))

        assert client.user_get("user_1") == user("user_1")

        (call,) = api.calls
        assert call.request.url == f"{USERS}/user_1"
        assert call.request.headers["Authorization"] == f"Bearer {SECRET}"
        assert call.request.headers["Accept"] == "application/json"
        assert call.request.req_kwargs["timeout"] == (3.05, 10.0)

    @pytest.mark.parametrize("suffix", ["/", "//"])
    def test_trailing_slash_in_the_base_url_gives_no_double_slash(self, api, client, settings, suffix):
        """CLERK_API_URL may end in '/'; the path is still /v1/users/{id}, not //v1/…."""
        settings.CLERK_API_URL = BASE + suffix
        api.get(f"{USERS}/user_1", json=user("user_1"))

        client.user_get("user_1")

        assert api.calls[0].request.url == f"{USERS}/user_1"

    def test_odd_characters_in_the_id_are_quoted(self, api, client):
        """Slashes, spaces, '?', '#' and '%' in an id stay inside the one path segment."""
        api.get(f"{USERS}/user%2F..%2Fa%20b%3Fc%23d%25", json=user("odd"))

        assert client.user_get("user/../a b?c#d%") == user("odd")

        url = api.calls[0].request.url
        assert url == f"{USERS}/user%2F..%2Fa%20b%3Fc%23d%25"
        assert urlsplit(url).query == ""

    def test_404_raises_user_not_found(self, api, client, naps):
        """Clerk's 404 (with its error body) means the user does not exist: no retry."""
        api.get(
            f"{USERS}/user_gone",
            status=404,
            json=clerk_errors("not found", "User not found", "resource_not_found"),
        )

        with pytest.raises(ClerkUserNotFound) as excinfo:
            client.user_get("user_gone")

        assert str(excinfo.value) == "user_gone"
        assert not isinstance(excinfo.value, Unavailable)
        assert len(api.calls) == 1
        assert naps == []

    @pytest.mark.parametrize("body", ['[{"object": "user", "id": "user_1"}]', '"user_1"', "null"])
    def test_a_body_that_is_not_an_object_raises(self, api, client, body):
        """A JSON array (or any non-object) where a user is expected is ClerkAPIError."""
        api.get(f"{USERS}/user_1", body=body, content_type="application/json")

        with pytest.raises(ClerkAPIError, match="not a JSON object"):
            client.user_get("user_1")


# --- retries -------------------------------------------------------------------------------


class TestRetries:
    def test_429_honours_retry_after_then_succeeds(self, api, client, naps):
        """429 with `Retry-After: 1`, then 200: the user is returned after one 1-second wait."""
        api.get(f"{USERS}/user_1", status=429, headers={"Retry-After": "1"}, json=clerk_errors("", "", "too_many"))
        api.get(f"{USERS}/user_1", json=user("user_1"))

        assert client.user_get("user_1") == user("user_1")

        assert naps == [1.0]
        assert len(api.calls) == 2

    @pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
    def test_each_retry_status_is_retried(self, api, client, naps, status):
        """429 and the 5xx gateways/failures are retried; the second answer is used."""
        api.get(f"{USERS}/user_1", status=status)
        api.get(f"{USERS}/user_1", json=user("user_1"))

        assert client.user_get("user_1") == user("user_1")
        assert naps == [0.5]

    def test_503_without_retry_after_backs_off_exponentially(self, api, make_client, naps):
        """Two 503s then 200 with max_retries=2: waits 0.5 s, then 1.0 s."""
        api.get(f"{USERS}/user_1", status=503)
        api.get(f"{USERS}/user_1", status=503)
        api.get(f"{USERS}/user_1", json=user("user_1"))

        assert make_client(max_retries=2).user_get("user_1") == user("user_1")

        assert naps == [0.5, 1.0]
        assert len(api.calls) == 3

    def test_500_every_time_gives_up_after_max_retries(self, api, make_client, naps):
        """500 on every attempt: max_retries + 1 calls, then Unavailable."""
        api.get(f"{USERS}/user_1", status=500)  # answers every call

        with pytest.raises(Unavailable, match="500"):
            make_client(max_retries=2).user_get("user_1")

        assert len(api.calls) == 3
        assert naps == [0.5, 1.0]

    def test_retry_after_above_max_wait_fails_at_once(self, api, make_client, naps):
        """A 429 asking for 30 s with max_wait=2 is not slept through: Unavailable(retry_after=30)."""
        api.get(f"{USERS}/user_1", status=429, headers={"Retry-After": "30"})

        with pytest.raises(Unavailable) as excinfo:
            make_client(max_wait=2.0).user_get("user_1")

        assert excinfo.value.retry_after == 30
        assert naps == []
        assert len(api.calls) == 1

    @pytest.mark.parametrize("retry_after", ["soon", "Wed, 21 Oct 2015 07:28:00", ""])
    def test_unreadable_retry_after_falls_back_to_backoff(self, api, client, naps, retry_after):
        """A Retry-After that is neither seconds nor an HTTP date (a word, a date without GMT) uses the backoff."""
        api.get(f"{USERS}/user_1", status=429, headers={"Retry-After": retry_after})
        api.get(f"{USERS}/user_1", json=user("user_1"))

        assert client.user_get("user_1") == user("user_1")
        assert naps == [0.5]

    def test_retry_after_as_an_http_date_is_the_seconds_until_then(self, api, make_client, naps):
        """RFC 9110 allows an HTTP date: a minute from now is waited (the backoff would be 0.5 s)."""
        when = email.utils.formatdate(time.time() + 60, usegmt=True)  # whole seconds: 59 to 60 s ahead
        api.get(f"{USERS}/user_1", status=503, headers={"Retry-After": when})
        api.get(f"{USERS}/user_1", json=user("user_1"))

        assert make_client(max_wait=120.0).user_get("user_1") == user("user_1")
        assert len(naps) == 1 and 1 < naps[0] <= 60

    def test_retry_after_date_far_ahead_fails_at_once_with_its_seconds(self, api, client, naps):
        when = email.utils.formatdate(time.time() + 120, usegmt=True)
        api.get(f"{USERS}/user_1", status=429, headers={"Retry-After": when})

        with pytest.raises(Unavailable) as excinfo:
            client.user_get("user_1")

        assert 110 <= excinfo.value.retry_after <= 120
        assert naps == []

    @pytest.mark.parametrize(
        ("value", "seconds"),
        [
            ("30", 30.0),
            (" 7 ", 7.0),
            ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: retry now
            ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),
            ("-5", 0.0),
            ("99999999", 3600.0),
            ("", None),
            ("soon", None),
            ("nan", None),
        ],
    )
    def test_retry_after_parsing(self, value, seconds):
        assert retry_after_seconds(value) == seconds

    @pytest.mark.parametrize("retry_after", ["inf", "1e400"])
    def test_infinite_retry_after_is_unavailable(self, api, client, naps, retry_after):
        """A Retry-After that parses to infinity is still Unavailable, not a crash."""
        api.get(f"{USERS}/user_1", status=429, headers={"Retry-After": retry_after})

        with pytest.raises(Unavailable):
            client.user_get("user_1")
        assert naps == []


# --- errors --------------------------------------------------------------------------------


class TestErrors:
    @pytest.mark.parametrize(
        "failure",
        [
            requests.ConnectionError("connection refused"),
            requests.ConnectTimeout("connect timed out"),
            requests.ReadTimeout("read timed out"),
        ],
        ids=["connection-error", "connect-timeout", "read-timeout"],
    )
    def test_unreachable_clerk_is_unavailable_and_not_retried(self, api, client, naps, failure):
        """A transport failure is Unavailable at once (a timeout already cost its full wait)."""
        api.get(f"{USERS}/user_1", body=failure)

        with pytest.raises(Unavailable, match=type(failure).__name__) as excinfo:
            client.user_get("user_1")

        assert excinfo.value.retry_after == 5
        assert isinstance(excinfo.value.__cause__, requests.RequestException)
        assert len(api.calls) == 1
        assert naps == []

    def test_401_raises_api_error_with_clerks_long_message(self, api, client, naps):
        """A 401 is ClerkAPIError (not Unavailable) carrying Clerk's long_message, and is not retried."""
        api.get(
            f"{USERS}/user_1",
            status=401,
            json=clerk_errors(
                "Invalid authentication",
                "The provided secret key is invalid. Check your Clerk dashboard.",
                "authentication_invalid",
            ),
        )

        with pytest.raises(ClerkAPIError) as excinfo:
            client.user_get("user_1")

        assert not isinstance(excinfo.value, Unavailable)
        assert "401" in str(excinfo.value)
        assert "The provided secret key is invalid. Check your Clerk dashboard." in str(excinfo.value)
        assert len(api.calls) == 1
        assert naps == []

    def test_error_without_a_json_body_reports_the_text(self, api, client):
        """A 403 from something in front of Clerk (HTML, not JSON) still says what came back."""
        api.get(f"{USERS}/user_1", status=403, body="<h1>Forbidden by proxy</h1>", content_type="text/html")

        with pytest.raises(ClerkAPIError, match="Forbidden by proxy"):
            client.user_get("user_1")
        assert len(api.calls) == 1

    def test_non_json_200_raises_api_error(self, api, client):
        """A 200 whose body is not JSON is ClerkAPIError."""
        api.get(f"{USERS}/user_1", body="<html>maintenance</html>", content_type="text/html")

        with pytest.raises(ClerkAPIError, match="non-JSON"):
            client.user_get("user_1")

    @pytest.mark.parametrize("secret_key", ["", None])
    def test_missing_secret_key_is_improperly_configured(self, api, client, settings, secret_key):
        """Without CLERK_SECRET_KEY nothing is sent: ImproperlyConfigured."""
        settings.CLERK_SECRET_KEY = secret_key

        with pytest.raises(ImproperlyConfigured, match="CLERK_SECRET_KEY"):
            client.user_get("user_1")

        assert len(api.calls) == 0


# --- user_list / user_iter -----------------------------------------------------------------


def cursor_page(api, users: list[dict], *, limit: int, starting_after: str | None = None) -> None:
    """Register one page of GET /v1/users, answered only to exactly these query parameters."""
    params = {"limit": str(limit), "order_by": "created_at"}
    if starting_after is not None:
        params["starting_after"] = starting_after
    api.get(USERS, json=users, match=[matchers.query_param_matcher(params)])


class TestUserList:
    def test_sends_limit_and_created_at_order(self, api, client):
        """The first page asks for `limit` users, oldest first, with no cursor."""
        cursor_page(api, [user("user_1")], limit=500)

        assert client.user_list() == [user("user_1")]
        assert query_of(api.calls[0]) == "limit=500&order_by=created_at"
        assert api.calls[0].request.headers["Authorization"] == f"Bearer {SECRET}"

    def test_sends_starting_after_when_given(self, api, client):
        """A later page carries the `starting_after` cursor."""
        cursor_page(api, [user("user_4")], limit=3, starting_after="user_3")

        assert client.user_list(limit=3, starting_after="user_3") == [user("user_4")]
        assert query_of(api.calls[0]) == "limit=3&order_by=created_at&starting_after=user_3"

    @pytest.mark.parametrize("body", ['{"data": [], "total_count": 0}', "null", '"users"'])
    def test_a_page_that_is_not_an_array_raises(self, api, client, body):
        """Clerk's list is a bare JSON array; anything else (e.g. a {data, total_count} wrapper) is an error."""
        api.get(USERS, body=body, content_type="application/json")

        with pytest.raises(ClerkAPIError, match="not a JSON array"):
            client.user_list()


class TestUserIter:
    def test_walks_pages_with_the_cursor_until_a_short_page(self, api, client):
        """5 users, page_size=2: pages of 2, 2, 1, each after the last id of the previous page."""
        users = [user(f"user_{n}") for n in range(1, 6)]
        cursor_page(api, users[0:2], limit=2)
        cursor_page(api, users[2:4], limit=2, starting_after="user_2")
        cursor_page(api, users[4:5], limit=2, starting_after="user_4")

        assert list(client.user_iter(page_size=2)) == users

        assert [query_of(call) for call in api.calls] == [
            "limit=2&order_by=created_at",
            "limit=2&order_by=created_at&starting_after=user_2",
            "limit=2&order_by=created_at&starting_after=user_4",
        ]

    def test_a_full_last_page_costs_one_empty_page(self, api, client):
        """4 users, page_size=2: the third request answers [] and ends the walk."""
        users = [user(f"user_{n}") for n in range(1, 5)]
        cursor_page(api, users[0:2], limit=2)
        cursor_page(api, users[2:4], limit=2, starting_after="user_2")
        cursor_page(api, [], limit=2, starting_after="user_4")

        assert list(client.user_iter(page_size=2)) == users
        assert len(api.calls) == 3

    def test_empty_first_page_yields_nothing(self, api, client):
        """No users at all: one request, nothing yielded."""
        cursor_page(api, [], limit=2)

        assert list(client.user_iter(page_size=2)) == []
        assert len(api.calls) == 1

    def test_a_non_array_page_raises(self, api, client):
        """A page that is not a JSON array stops the walk with ClerkAPIError."""
        cursor_page(api, [user("user_1"), user("user_2")], limit=2)
        api.get(
            USERS,
            json={"data": [], "total_count": 2},
            match=[matchers.query_param_matcher({"starting_after": "user_2"}, strict_match=False)],
        )

        walk = client.user_iter(page_size=2)
        assert [next(walk), next(walk)] == [user("user_1"), user("user_2")]
        with pytest.raises(ClerkAPIError, match="not a JSON array"):
            next(walk)


# --- jwks_get ------------------------------------------------------------------------------


class TestJwksGet:
    def test_returns_the_key_set(self, api, client):
        """GET {CLERK_API_URL}/v1/jwks answers the key set as is."""
        jwks = {"keys": [{"use": "sig", "kty": "RSA", "kid": "ins_1", "alg": "RS256", "n": "abc", "e": "AQAB"}]}
        api.get(JWKS, json=jwks)

        assert client.jwks_get() == jwks
        assert api.calls[0].request.headers["Authorization"] == f"Bearer {SECRET}"

    @pytest.mark.parametrize("body", [{}, {"keys": None}, {"keys": {"kid": "ins_1"}}, [{"kid": "ins_1"}]])
    def test_a_body_without_a_keys_list_raises(self, api, client, body):
        """No `keys` list (missing, null, an object, or a bare array) is ClerkAPIError."""
        api.get(JWKS, json=body)

        with pytest.raises(ClerkAPIError, match="JWKS without keys"):
            client.jwks_get()


# --- clerk_client() ------------------------------------------------------------------------


class TestRequestPathClient:
    def test_allows_one_retry_and_one_second_of_waiting(self):
        """The client used while a web request waits: max_retries=1, max_wait=1.0, real sleep, 5 s in all."""
        request_client = clerk_client()

        assert isinstance(request_client, ClerkClient)
        assert request_client.max_retries == 1
        assert request_client.max_wait == 1.0
        assert request_client.sleep is time.sleep
        assert request_client.timeout == (2.0, 5.0)
        assert request_client.deadline == 5.0
        assert request_client.breaker is not None

    def test_gives_up_after_the_second_failure(self, api, naps):
        """Two 503s: one 0.5 s wait between them, then Unavailable."""
        request_client = clerk_client()
        request_client.sleep = naps.append
        api.get(f"{USERS}/user_1", status=503)

        with pytest.raises(Unavailable):
            request_client.user_get("user_1")

        assert len(api.calls) == 2
        assert naps == [0.5]

    def test_does_not_wait_two_seconds(self, api, naps):
        """`Retry-After: 2` is over its one second: Unavailable(retry_after=2) without waiting."""
        request_client = clerk_client()
        request_client.sleep = naps.append
        api.get(f"{USERS}/user_1", status=429, headers={"Retry-After": "2"})

        with pytest.raises(Unavailable) as excinfo:
            request_client.user_get("user_1")

        assert excinfo.value.retry_after == 2
        assert naps == []


# --- clerk_batch_client() ------------------------------------------------------------------


class TestBatchClient:
    """The one client of both sync commands: nobody waits on them, so Clerk's rate limit is waited out."""

    def test_waits_out_a_retry_after_the_request_path_would_answer_503_for(self, api, naps):
        batch_client = clerk_batch_client()
        batch_client.sleep = naps.append
        api.get(f"{USERS}/user_1", status=429, headers={"Retry-After": "30"})
        api.get(f"{USERS}/user_1", json=user("user_1"))

        assert batch_client.user_get("user_1") == user("user_1")
        assert naps == [30.0]

    def test_gives_up_after_five_retries_with_no_deadline_and_no_breaker(self, api, naps):
        batch_client = clerk_batch_client()
        batch_client.sleep = naps.append
        api.get(f"{BASE}/v1/organizations", status=503)

        with pytest.raises(Unavailable):
            batch_client.organization_list(offset=0)

        assert len(api.calls) == 6
        assert len(naps) == 5
        assert (batch_client.deadline, batch_client.breaker) == (None, None)
