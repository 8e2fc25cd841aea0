"""Fixtures for the welcome email's tests: a local SMTP server, the database task backend, a receiver."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import Group

from accounts.signals import user_provisioned
from accounts.tests.smtp_server import SmtpServer
from config.tests.helpers import connected

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def smtp(settings):
    """A local SMTP server (accepting until told otherwise); Django's SMTP backend points at it."""
    server = SmtpServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 2
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    yield server
    server.stop()


@pytest.fixture
def database_tasks(settings):
    """TASKS_BACKEND=database: work is stored with the data and waits for a worker."""
    settings.TASKS = DATABASE_TASKS


@pytest.fixture
def workspaces():
    """A `user_provisioned` receiver that writes a row per user (a Group named after the Clerk id).

    It inserts without looking first, so a second signal for one user raises
    (the name is unique): the row existing once is the proof.
    Yields the names of the rows it created, thread-safe.
    """
    created: list[str] = []
    lock = threading.Lock()

    def create_workspace(sender, user, created_via, **kwargs):
        name = f"workspace-{user.clerk_id}"
        Group.objects.create(name=name)
        with lock:
            created.append(name)

    with connected(user_provisioned, create_workspace):
        yield created


@pytest.fixture
def unthrottled(settings, monkeypatch):
    """Reconciliation passes without the rate cap, their retries waiting for nothing (both have their own tests)."""
    settings.CLERK_RECONCILE_RATE = 100_000
    monkeypatch.setattr("accounts.clerk.api.time.sleep", lambda seconds: None)
