"""A URLconf with no probe routes: a probe path without a view is refused like any other (test_healthz.py)."""

from django.urls import path

from config.views import home

urlpatterns = [path("", home, name="home")]
