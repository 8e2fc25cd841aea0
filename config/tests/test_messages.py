"""The message middleware builds its storage only for a request that uses messages, and keeps Django's behaviour."""

import pytest
from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import include, path

pytestmark = pytest.mark.django_db

built: list[object] = []


class CountedStorage(FallbackStorage):
    """Django's default storage, counting how many times a request builds it."""

    def __init__(self, *args, **kwargs):
        built.append(self)
        super().__init__(*args, **kwargs)


def add_and_redirect(request):
    messages.success(request, "saved")
    return redirect("/messages/read/")


def read(request):
    return HttpResponse(" | ".join(str(message) for message in messages.get_messages(request)))


urlpatterns = [
    path("messages/add/", add_and_redirect),
    path("messages/read/", read),
    path("", include("config.urls")),
]


@pytest.fixture(autouse=True)
def counted_storage(settings):
    settings.ROOT_URLCONF = __name__
    settings.MESSAGE_STORAGE = f"{__name__}.CountedStorage"
    built.clear()


def test_a_request_that_uses_no_messages_builds_no_storage(client):
    assert client.get("/api/me/").status_code == 401
    assert client.post("/webhooks/clerk/", b"{}", content_type="application/json").status_code == 400

    assert built == []


def test_a_message_added_before_a_redirect_is_shown_once_after_it(client):
    response = client.get("/messages/add/", follow=True)

    assert response.content == b"saved"
    assert client.get("/messages/read/").content == b""  # shown once, then gone
    assert len(built) == 3


def test_the_admin_shows_its_messages_as_before(admin_client):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert len(built) == 1  # the page's template asked for its messages
