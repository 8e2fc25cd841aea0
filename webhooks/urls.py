from django.urls import re_path

from webhooks.views import webhook_receive

app_name = "webhooks"

urlpatterns = [
    # The trailing slash is optional: an endpoint URL pasted into Clerk's dashboard without it
    # must not meet APPEND_SLASH's redirect, which Svix counts as a failure (and DEBUG turns into a 500).
    re_path(r"^(?P<source_name>[-a-zA-Z0-9_]+)/?$", webhook_receive, name="receive"),
]
